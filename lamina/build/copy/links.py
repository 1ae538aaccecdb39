"""Files already in committed layers, by content and metadata, for COPY to hard-link.

A COPY that reruns because one file of a large context changed would otherwise write
every other file again. Files in a committed layer never change (layers are
immutable; a container that writes to one gets its own copy in its upper dir), so a
file whose content digest, size, mode, owner and mtime are those of a layer's file
can be a hard link to it: the same bytes on disk, and the same entry in the new
layer's tar (tar records owner, mode and mtime, which the key holds, not the inode).

The index lives in the daemon's memory; a file that was removed with its layer fails
to link and is copied instead. Two paths of one COPY never share an inode unless the
source's did, so a layer's tar does not depend on what the index held.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

# (content digest, size, mode, uid, gid, mtime_ns) of a regular file
FileKey = tuple[str, int, int, int, int, int]
_LIMIT = 1_000_000  # entries kept before starting over (~200 MB at most)


class LinkIndex:
    def __init__(self) -> None:
        self._files: dict[FileKey, str] = {}
        self._lock = threading.Lock()

    def find(self, key: FileKey) -> str | None:
        with self._lock:
            return self._files.get(key)

    def forget(self, key: FileKey) -> None:
        with self._lock:
            self._files.pop(key, None)

    def add(self, layer_dir: Path, files: Iterable[tuple[FileKey, str]]) -> None:
        """Index files of a committed layer (`files`: key and path inside the layer)."""
        with self._lock:
            if len(self._files) > _LIMIT:
                self._files.clear()
            for key, rel in files:
                self._files.setdefault(key, f"{layer_dir}/{rel}")

"""How much disk a tree takes, counted as Docker counts it for `system df`.

One definition for everything `system df` and prune report (layers, blobs, volumes,
containers' writable layers), so the figures add up and match what the collector frees.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path


def tree_size(path: Path) -> int:
    """Bytes used under `path` as Docker counts them: apparent sizes of non-directories,
    each inode once (hard links are not counted twice), symlinks not followed."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [str(path)]
    while stack:
        with contextlib.suppress(FileNotFoundError), os.scandir(stack.pop()) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    stack.append(entry.path)
                elif (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_size
    return total

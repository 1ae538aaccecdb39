"""Volume directories on disk, each made and removed with one rename.

On disk (under `root`, nothing outside it)
    <name>/_data       the volume's content: what a container mounts
    <name>/_copyup/    image content being copied in; moved into _data once complete
    .new-<random>/     a volume being created, renamed to <name> when its _data exists
    .gone-<random>/    a volume being removed: renamed away first, then deleted

A volume name never starts with ".", so temporary entries cannot collide with a
volume. A crash leaves either the whole directory under its name or a dot-entry that
`sweep()` removes; the service reconciles what is left with the metadata rows.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
from pathlib import Path

from lamina.errors import Internal, map_errors
from lamina.store.durable import fsync_dir, syncfs
from lamina.store.layers.copy import copy_tree
from lamina.store.usage import tree_size

DATA = "_data"
COPYUP = "_copyup"
_TEMP_PREFIXES = (".new-", ".gone-")


class VolumeDirs:
    def __init__(self, root: Path) -> None:
        self.root = root
        # 0701 as Docker: other users may reach a _data they know, not list volume names.
        root.mkdir(parents=True, exist_ok=True, mode=0o701)

    def data(self, name: str) -> Path:
        return self.root / name / DATA

    def exists(self, name: str) -> bool:
        return self.data(name).is_dir()

    def names(self) -> list[str]:
        """The volume directories present, temporaries aside."""
        return sorted(
            entry.name
            for entry in os.scandir(self.root)
            if entry.is_dir(follow_symlinks=False) and not entry.name.startswith(".")
        )

    def make(self, name: str) -> None:
        """Create `<name>/_data`, appearing all at once."""
        temp = self.root / f".new-{secrets.token_hex(8)}"
        try:
            (temp / DATA).mkdir(parents=True, mode=0o755)
            temp.chmod(0o701)  # as Docker's volumes/<name>: only _data is for a container
            os.rename(temp, self.root / name)
        except OSError as err:
            shutil.rmtree(temp, ignore_errors=True)
            raise Internal(f"create volume directory {self.root / name}: {err}") from err
        fsync_dir(self.root)

    def discard(self, name: str) -> None:
        """Remove `<name>` and everything in it; the name is gone after one rename."""
        self.purge(self.retire(name))

    def retire(self, name: str) -> Path | None:
        """Rename `<name>` to a temporary name (None if absent); purge() deletes it."""
        path = self.root / name
        if not path.exists():
            return None
        trash = self.root / f".gone-{secrets.token_hex(8)}"
        with map_errors({OSError: Internal}, what=f"remove volume directory {path}"):
            os.rename(path, trash)
        fsync_dir(self.root)
        return trash

    def purge(self, trash: Path | None) -> None:
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)

    def sweep(self) -> list[str]:
        """Delete what creations and removals in flight left behind; say what it was."""
        swept = []
        for entry in os.scandir(self.root):
            if entry.name.startswith(_TEMP_PREFIXES):
                shutil.rmtree(entry.path, ignore_errors=True)
                swept.append(entry.name)
        return swept

    def is_empty(self, name: str) -> bool:
        with os.scandir(self.data(name)) as entries:
            return next(entries, None) is None

    def size(self, name: str) -> int:
        return tree_size(self.data(name))

    # -- copy-up: staged whole, then moved in ---------------------------------

    def stage_copy(self, name: str, source: Path) -> bool:
        """Copy the tree under `source` into `<name>/_copyup`; False if there is nothing
        to copy (no such directory, or an empty one)."""
        try:
            if not stat.S_ISDIR(source.lstat().st_mode) or not any(source.iterdir()):
                return False
        except (FileNotFoundError, NotADirectoryError):
            return False
        staging = self.root / name / COPYUP
        self.drop_copy(name)
        staging.mkdir()
        try:
            copy_tree(source, staging)
        except BaseException:
            self.drop_copy(name)
            raise
        syncfs(staging)  # the copy is on disk before the service records it as made
        return True

    def has_copy(self, name: str) -> bool:
        return (self.root / name / COPYUP).is_dir()

    def drop_copy(self, name: str) -> None:
        shutil.rmtree(self.root / name / COPYUP, ignore_errors=True)

    def finish_copy(self, name: str) -> None:
        """Move the staged entries into `_data` and give `_data` the owner and mode of
        the image directory, as Docker does. Safe to run again after a crash."""
        staging, data = self.root / name / COPYUP, self.data(name)
        with map_errors({OSError: Internal}, what=f"copy image content into volume {name}"):
            for entry in os.scandir(staging):
                target = data / entry.name
                if not target.exists() and not target.is_symlink():
                    os.rename(entry.path, target)
            st = staging.lstat()
            os.chown(data, st.st_uid, st.st_gid)
            data.chmod(stat.S_IMODE(st.st_mode))
        self.drop_copy(name)
        fsync_dir(data)

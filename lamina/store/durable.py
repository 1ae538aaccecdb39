"""Making writes durable: the directory fsync after a rename, and syncfs for whole trees.

Every atomic commit in lamina (blobs, layers, volumes) ends with a rename, and a rename
is only durable once its directory entry reaches the disk.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

_libc = ctypes.CDLL(None, use_errno=True)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def syncfs(path: Path) -> None:
    """Flush the filesystem holding `path`: one call for a whole extracted or copied
    tree, where fsync per file would cost a seek each."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _libc.syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)

"""Private by default (DESIGN.md, invariant 8): the modes of an instance's files.

Nothing of a container (its environment, its files, its output) may be readable by
another user of the host, whoever started the daemon and whatever their umask. Docker's
layout is the reference:

    <root>                  0710   (/var/lib/docker: others cannot even look inside)
    <run dir>               0700   (/run/docker's exec-root)
    content, layers, build  0700
    containers/<id>         0700   config, logs 0600; hosts/hostname/resolv.conf 0644
    volumes, volumes/<name> 0701   _data keeps the mode the image or its owner gave it
    lamina.db (+wal, shm)   0600   and every other SQLite file, log and lock

hosts, hostname and resolv.conf stay 0644 because they are bind-mounted into the
container, where a non-root user must read them: a bind mount shows the file's own
mode, and no directory above it, so their 0700 folder keeps other host users out.

The daemon sets its umask to 022 (`normal_umask`), so what it makes for containers
(upper dirs, mount points, volume folders) has the modes a container expects even when
it was started with umask 077; everything private gets an explicit mode here instead.
This module is imported by the CLI's daemon autostart: the standard library's `os` only.
"""

from __future__ import annotations

import contextlib
import os

ROOT_MODE = 0o710
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
VOLUMES_MODE = 0o701  # Docker's: a _data may be reached by a path, no name is listed
DAEMON_UMASK = 0o022
_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

    Pathish = str | os.PathLike[str]


def normal_umask() -> None:
    """The daemon's umask, whoever started it (Docker sets its own too)."""
    os.umask(DAEMON_UMASK)


def mkdir(path: Pathish, mode: int = PRIVATE_DIR) -> None:
    """`path` (and missing parents, with the umask's modes) as a directory with exactly
    `mode`: an existing one, made by an older lamina or another umask, is tightened."""
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)


def tighten(path: Pathish, mode: int) -> None:
    """Give an existing `path` exactly `mode` (a missing one is no error). The mode is
    read first: a chmod that changes nothing still dirties the inode, and a start
    tightens every container's files."""
    with contextlib.suppress(FileNotFoundError):
        if os.stat(path).st_mode & 0o7777 != mode:
            os.chmod(path, mode)


def tighten_tree(folder: Pathish, *, keep: frozenset[str] = frozenset()) -> None:
    """`folder` 0700, and below it every folder 0700 and regular file 0600, except the
    entries of `folder` named in `keep`, which keep their modes and are not entered.
    Symbolic links and special files are left alone (nothing is followed)."""
    tighten(folder, PRIVATE_DIR)
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.scandir(folder):
            if entry.name in keep:
                continue
            if entry.is_dir(follow_symlinks=False):
                tighten_tree(entry.path)
            elif entry.is_file(follow_symlinks=False):
                tighten(entry.path, PRIVATE_FILE)


def create_file(path: Pathish) -> None:
    """Create `path` empty and 0600 if it is missing; an existing one is made 0600."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE))
    os.chmod(path, PRIVATE_FILE)


def sqlite_file(path: Pathish) -> None:
    """Make a SQLite database 0600 before it is opened. SQLite gives its -wal and -shm
    files the database file's mode, so they follow; those an older lamina made are
    tightened here too."""
    create_file(path)
    for suffix in _SQLITE_COMPANIONS:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(f"{os.fspath(path)}{suffix}", PRIVATE_FILE)


def open_append(path: Pathish) -> BinaryIO:
    """A log file opened for appending, created 0600 (an existing one is tightened)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)
    return open(fd, "ab")


def write_file(path: Pathish, data: bytes) -> None:
    """Write `path` whole with mode 0600 (callers rename it into place)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, PRIVATE_FILE)
    with open(fd, "wb") as f:
        os.fchmod(fd, PRIVATE_FILE)
        f.write(data)

"""One daemon per data root: an exclusive flock on `<root>/lamina.lock`.

The daemon takes the lock before the Engine looks at anything on disk (it sweeps temp
files, ingests and devices that would be a live daemon's) and holds it until it exits;
the kernel releases it when the process ends, however it ends, so a crash never leaves a
stale lock, and a pid reused by another program never blocks a start, as a pid file did.
The file holds the holder's pid, for the message the next daemon prints, and for people.

The descriptor is close-on-exec: monitors, runc and the fork server, which outlive the
daemon by design, must not inherit the lock.
"""

from __future__ import annotations

import fcntl
import os

from lamina import private
from lamina.config import Paths
from lamina.errors import Conflict

LOCK_NAME = "lamina.lock"


class RootLock:
    """A held lock on a data root; `release()` (or the process's end) lets it go."""

    def __init__(self, fd: int, path: str) -> None:
        self.fd = fd
        self.path = path

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def claim(paths: Paths) -> RootLock:
    """Lock `paths.root` for this process, or raise Conflict naming the root and the
    pid of the daemon that serves it. Makes the root (0710) if it is missing."""
    private.mkdir(paths.root, private.ROOT_MODE)
    path = str(paths.root / LOCK_NAME)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, private.PRIVATE_FILE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        who = f"pid {holder}" if holder else "another process"
        raise Conflict(
            f"another lamina daemon ({who}) is serving {paths.root}: it holds {path}"
        ) from None
    _write_pid(fd)
    return RootLock(fd, path)


def _write_pid(fd: int) -> None:
    # Overwrite, then cut: a reader never sees an empty file between the two (an old,
    # longer pid's tail is cut off; the first line is always a whole pid).
    data = f"{os.getpid()}\n".encode()
    os.fchmod(fd, private.PRIVATE_FILE)
    os.pwrite(fd, data, 0)
    os.ftruncate(fd, len(data))


def _holder(fd: int) -> int | None:
    """The pid that holds the lock on `fd`'s file, as the kernel lists it; else the pid
    the file names (a holder writes it just after it takes the lock)."""
    st = os.fstat(fd)
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii") as f:
            for line in f:  # "1: FLOCK  ADVISORY  WRITE 4242 fe:00:1234 0 EOF"
                fields = line.split()
                if "FLOCK" in fields and "->" not in fields and inode in fields:
                    return int(fields[fields.index(inode) - 1])
    except (OSError, ValueError):
        pass
    first = os.pread(fd, 32, 0).split(b"\n", 1)[0].strip()
    return int(first) if first.isdigit() else None

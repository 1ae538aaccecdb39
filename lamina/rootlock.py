"""One daemon per data root, and per socket: exclusive flocks on `<root>/lamina.lock`
and `<run dir>/lamina.lock`.

The daemon takes both before the Engine looks at anything on disk (it sweeps temp
files, ingests and devices that would be a live daemon's) and holds them until it
exits; the kernel releases them when the process ends, however it ends, so a crash
never leaves a stale lock, and a pid reused by another program never blocks a start,
as a pid file did. Each file holds its holder's pid, for the message the next daemon
prints, and for people; the run dir's names the holder's root too.

Why the run dir (the socket's folder, `config.Paths.run_dir`) needs a lock of its own:
two daemons on two roots given one socket share it. Without the lock the second would
replace the first's socket, stop its fork server, and sweep the first's namespaces and
port proxies as a crashed daemon's leftovers, while the first's containers run.

The descriptors are close-on-exec: monitors, runc and the fork server, which outlive
the daemon by design, must not inherit a lock.
"""

from __future__ import annotations

import fcntl
import os

from lamina import private
from lamina.config import Paths
from lamina.errors import Conflict

LOCK_NAME = "lamina.lock"


class RootLock:
    """A held lock on a data root (and, in `run`, on its socket's run dir); `release()`
    (or the process's end) lets them go."""

    def __init__(self, fd: int, path: str, *, run: RootLock | None = None) -> None:
        self.fd = fd
        self.path = path
        self.run = run

    def release(self) -> None:
        if self.run is not None:
            self.run.release()
            self.run = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def claim(paths: Paths) -> RootLock:
    """Lock `paths.root`, then its socket's run dir, for this process; or raise Conflict
    naming the root or the socket another daemon serves, and that daemon's pid. Makes
    the root (0710) and the run dir (0700) if they are missing."""
    private.mkdir(paths.root, private.ROOT_MODE)
    path = str(paths.root / LOCK_NAME)
    fd = _take(path, serving=str(paths.root))
    _write(fd, f"{os.getpid()}\n")
    try:
        return RootLock(fd, path, run=_claim_run_dir(paths))
    except BaseException:
        os.close(fd)
        raise


def _claim_run_dir(paths: Paths) -> RootLock | None:
    # A shared folder (/tmp for LAMINA_HOST=unix:///tmp/lamina.sock) keeps its mode:
    # only a missing run dir is made, 0700; engine.make_private sees to the rest.
    os.makedirs(paths.run_dir, mode=private.PRIVATE_DIR, exist_ok=True)
    if os.path.samefile(paths.run_dir, paths.root):  # its lock is the root's
        return None
    path = str(paths.run_dir / LOCK_NAME)
    hint = "; give each data root a socket of its own (LAMINA_HOST)"
    fd = _take(path, serving=paths.host, hint=hint)
    _write(fd, f"{os.getpid()}\n{paths.root}\n")
    return RootLock(fd, path)


def _take(path: str, *, serving: str, hint: str = "") -> int:
    """A descriptor holding the lock on `path`; else Conflict, naming who holds it ("pid
    N", with its root when the file names one) and what it serves."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, private.PRIVATE_FILE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        who = _holder(fd)
        os.close(fd)
        message = f"another lamina daemon ({who}) is serving {serving}: it holds {path}"
        raise Conflict(message + hint) from None
    return fd


def _write(fd: int, text: str) -> None:
    # Overwrite, then cut: a reader never sees an empty file between the two (an old,
    # longer pid's tail is cut off; the first line is always a whole pid).
    data = text.encode()
    os.fchmod(fd, private.PRIVATE_FILE)
    os.pwrite(fd, data, 0)
    os.ftruncate(fd, len(data))


def _holder(fd: int) -> str:
    """Who holds the lock on `fd`'s file: the pid the kernel lists, else the one the
    file names (a holder writes it just after it takes the lock); and the root the file
    names after it, if any."""
    lines = os.pread(fd, 4096, 0).decode(errors="replace").splitlines()
    named = lines[0].strip() if lines else ""
    pid = _kernel_holder(fd) or (int(named) if named.isdigit() else None)
    who = f"pid {pid}" if pid else "another process"
    return f"{who}, root {lines[1]}" if len(lines) > 1 and lines[1] else who


def _kernel_holder(fd: int) -> int | None:
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
    return None

"""Facts about host processes that several parts of lamina need."""

from __future__ import annotations

import os
import select


def alive(pid: int) -> bool:
    """Whether a process with this pid exists (it may belong to another user, or be a
    zombie: right for pid files and locks, whose owner may not have been reaped)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running(pid: int) -> bool:
    """Whether `pid` runs: it exists and is not a zombie (an ended child not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def runs(pid: int, marker: bytes) -> bool:
    """Whether `pid` runs a command line containing `marker`: not when it has ended
    (a zombie's command line is empty) nor when the pid now belongs to another program."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return marker in f.read()
    except OSError:
        return False


def command_lines(marker: bytes) -> dict[int, list[bytes]]:
    """Every running process whose command line contains `marker`: pid → its argv.
    (One read of /proc per process: a few milliseconds for a few hundred.)"""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                line = f.read()
        except OSError:  # ended meanwhile
            continue
        if marker in line:
            found[int(entry.name)] = line.rstrip(b"\0").split(b"\0")
    return found


def wait_exit(pid: int, timeout: float, *, marker: bytes | None = None) -> None:
    """Block until `pid` has ended, for at most `timeout` seconds (any process, child or
    not: a pidfd). With `marker`, return at once when it does not run `marker`."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if marker is None or runs(pid, marker):
            select.select([fd], [], [], timeout)
    finally:
        os.close(fd)


CAP_CHOWN = 0
CAP_MKNOD = 27


def effective_capabilities(*, unknown: int | None = None) -> int:
    """This process's effective capability set (CapEff) as a bit mask. Where /proc does
    not say: `unknown`, by default all of them for root and none for others."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    if unknown is not None:
        return unknown
    return -1 if os.geteuid() == 0 else 0

"""The monitor as a parent: it adopts the container's process and collects its exit.

runc forks the container's init and exits, and `runc exec --detach` does the same for
an exec'd process. Orphans go to the nearest *subreaper* ancestor rather than to pid 1,
so a monitor that declares itself one inherits the process and alone can wait() for
its exit status — which is what the monitor exists to record.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

from lamina.containers.monitor.loop import Wakeup

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    import ctypes  # no stdlib binding for prctl(2)

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def watch_children(on_child: Callable[[], None]) -> Wakeup:
    """A channel that calls `on_child` after SIGCHLD, from the event loop (not the handler)."""
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    # A handler, not SIG_IGN: ignoring SIGCHLD makes the kernel reap children itself,
    # and the exit status would be lost.
    signal.signal(signal.SIGCHLD, lambda *_: None)
    return Wakeup(wake_r, on_child)


def reap(watched: int) -> int | None:
    """Reap every child that has exited (runtime leftovers too); return `watched`'s exit
    code if it was among them, Docker-style: the status, or 128+N for signal N.

    Call it only while no `subprocess` call is waiting on a child of its own.
    """
    code = None
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return code
        if pid == 0:
            return code
        if pid == watched:
            exit_code = os.waitstatus_to_exitcode(status)
            code = 128 - exit_code if exit_code < 0 else exit_code

"""Watching a running container: a thread blocked in its monitor's `wait`.

The monitor, not the daemon, holds the container's process, so the daemon learns of an
exit by asking the monitor: one thread per running container waits on its control
socket and hands the final state on. A monitor that vanishes without a final state (it
was killed) counts as an exit with status 255 and says so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from subprocess import Popen

from lamina.containers.monitor.state import MonitorFiles
from lamina.containers.monitor.state import State as MonitorState
from lamina.containers.monitor.state import Status as MonitorStatus
from lamina.errors import Unavailable
from lamina.timestamps import rfc3339

OnExit = Callable[[MonitorState], None]
Wait = Callable[[MonitorFiles], MonitorState]
Log = Callable[[str], None]


def watch(
    cid: str,
    files: MonitorFiles,
    on_exit: OnExit,
    *,
    process: Popen[bytes] | None,
    wait: Wait,
    log: Log,
) -> None:
    """Call `on_exit(final state)` on a thread of its own once the container ends (as
    `wait`, the monitors' own, says); `process` is its monitor when this process spawned
    it (reaped here)."""

    def run() -> None:
        try:
            final = wait(files)
        except (Unavailable, OSError) as err:
            log(f"container {cid[:12]}: lost its monitor: {err}")
            final = lost_monitor(str(err))
        if process is not None:
            process.wait()  # reap the monitor we spawned (an adopted one is not our child)
        on_exit(final)

    threading.Thread(target=run, daemon=True, name=f"watch-{cid[:12]}").start()


def lost_monitor(error: str) -> MonitorState:
    """The exit recorded for a container whose monitor is gone without saying how it ended."""
    return MonitorState(
        MonitorStatus.EXITED, exit_code=255, finished_at=rfc3339(time.time()), error=error
    )

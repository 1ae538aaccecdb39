"""How the daemon keeps its containers' processes: through their monitors.

The daemon never holds a container's process; a monitor does (lamina.containers.monitor)
and the daemon starts it, waits on it and sends it requests through `Monitors`. The real
one (`launcher.MonitorLauncher`) runs each monitor as a process of its own, which drives
the runtime rebuilt from the binary and root in its options.

A runtime that keeps its processes in the daemon's own process (a test's fake) cannot be
rebuilt in another process: it says so by being a `SupervisingRuntime` and supplies the
`Monitors` that drive it.
"""

from __future__ import annotations

from pathlib import Path
from subprocess import Popen
from typing import Any, Protocol, runtime_checkable

from lamina.containers.monitor.options import Options
from lamina.containers.monitor.state import MonitorFiles
from lamina.containers.monitor.state import State as MonitorState


class Monitors(Protocol):
    def start(self, opts: Options, stderr: Path) -> tuple[Popen[bytes] | None, MonitorState]:
        """Start a monitor; its first state, and the Popen when it is this process's
        child (to reap), else None."""
        ...

    def wait(self, files: MonitorFiles) -> MonitorState:
        """Block until the monitored process ends; its final state."""
        ...

    def control(self, files: MonitorFiles, op: str, **fields: Any) -> None:
        """A control request: `start` (a --wait-attach process), `resize`, `close-stdin`."""
        ...

    def alive(self, state: MonitorState) -> bool:
        """Whether the monitor that wrote `state` still runs (after a daemon restart)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class SupervisingRuntime(Protocol):
    def monitors(self) -> Monitors: ...

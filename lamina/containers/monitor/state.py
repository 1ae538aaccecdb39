"""The state file a monitor keeps, and where a monitor's files and sockets live.

A monitor writes its state document at every transition, atomically (temp file, then
rename), so a reader — the daemon, or a new daemon adopting the container after a crash
— sees either the previous state or the next one:

    created        (only with --wait-attach) runtime created the process; not started
    running        the process runs; `pid` and `started_at` are set
    exited         the process ended; `exit_code`, `finished_at`, `oom_killed` are set,
                   the log is complete. The monitor then has the runtime delete the
                   container and exits: the runtime forgets the id once it has gone.
    create-failed  the runtime refused to create/exec it; `error` and `exit_code`
                   (127 not found, 126 not executable, 128 anything else)

Every document carries every field, so readers never guess at missing keys.

No fsync: the file lives in the run dir and describes processes, which a host crash
ends anyway; a daemon's crash loses nothing that reached the page cache. (Three
publishes with two fsyncs each cost every container start ~7 ms on a disk.)
"""

from __future__ import annotations

import enum
import json
import os
from pathlib import Path
from typing import Any, NamedTuple


class Status(enum.StrEnum):
    CREATED = "created"
    RUNNING = "running"
    EXITED = "exited"
    CREATE_FAILED = "create-failed"


class State(NamedTuple):
    status: Status
    pid: int = 0
    monitor_pid: int = 0
    started_at: str = ""
    finished_at: str = ""
    exit_code: int | None = None
    oom_killed: bool = False
    error: str = ""

    @property
    def final(self) -> bool:
        """The monitor has nothing more to record: the process ended or never began."""
        return self.status in (Status.EXITED, Status.CREATE_FAILED)

    def to_json(self) -> dict[str, Any]:
        return {**self._asdict(), "status": str(self.status)}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> State:
        known = {k: doc[k] for k in cls._fields if k in doc}
        return cls(**{**known, "status": Status(doc["status"])})


class MonitorFiles(NamedTuple):
    """Names of one monitor's files in its state directory.

    A container's monitor uses `state.json`, `attach.sock`, `control.sock`; an exec's
    monitor, given the same directory, prefixes every name with `exec-<id>.` so the
    execs of a container sit beside it and the daemon can find them all by globbing.
    """

    dir: Path
    exec_id: str | None = None

    def _name(self, name: str) -> Path:
        return self.dir / (f"exec-{self.exec_id}.{name}" if self.exec_id else name)

    @property
    def state(self) -> Path:
        return self.dir / f"exec-{self.exec_id}.json" if self.exec_id else self.dir / "state.json"

    @property
    def attach(self) -> Path:
        return self._name("attach.sock")

    @property
    def control(self) -> Path:
        return self._name("control.sock")

    @property
    def console(self) -> Path:
        return self._name("console.sock")

    @property
    def pid_file(self) -> Path:
        return self._name("pid")

    @property
    def sockets(self) -> tuple[Path, ...]:
        return (self.attach, self.control, self.console)


def write_state(path: Path, state: State) -> None:
    """Replace `path` with `state`, atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = json.dumps(state.to_json(), separators=(",", ":")).encode() + b"\n"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_state(path: Path) -> State | None:
    """The last state written at `path`, or None if the monitor has written none yet (or
    none that can be read: writes are atomic, so only a damaged file is unreadable, and
    every reader treats a missing state as a lost monitor)."""
    try:
        return State.from_json(json.loads(path.read_bytes()))
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None

"""A container as lamina records it: identity, the configs it was created with, its state.

Docker's API splits a container's configuration into `Config` (what the image could
also say: Cmd, Env, User, …) and `HostConfig` (what only the host decides: binds,
limits, restart policy, …). We keep both as the JSON the API received, normalised, so
`inspect` shows them back as Docker does; the engine reads typed views of them.

Lifecycle (Docker's `State.Status`):

    created ──start──▶ running ──exit/stop/kill──▶ exited ──start──▶ running …
       │                  │                           │
       └───────rm─────────┴────────(rm -f)────────────┴──▶ (gone)

`restarting` is a running container whose restart policy is bringing it back;
`dead` is one whose removal failed half-way.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any

DEFAULT_STOP_TIMEOUT = 10  # seconds, as dockerd


class Status(enum.StrEnum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    REMOVING = "removing"
    EXITED = "exited"
    DEAD = "dead"


@dataclass(frozen=True)
class State:
    status: Status = Status.CREATED
    pid: int = 0
    exit_code: int = 0
    started_at: str = "0001-01-01T00:00:00Z"
    finished_at: str = "0001-01-01T00:00:00Z"
    error: str = ""
    oom_killed: bool = False
    restart_count: int = 0
    # Set by stop/kill so a restart policy does not bring the container back.
    stopped_by_user: bool = False

    @property
    def running(self) -> bool:
        return self.status in (Status.RUNNING, Status.RESTARTING, Status.PAUSED)

    def to_api(self) -> dict[str, Any]:
        return {
            "Status": str(self.status),
            "Running": self.running,
            "Paused": self.status == Status.PAUSED,
            "Restarting": self.status == Status.RESTARTING,
            "OOMKilled": self.oom_killed,
            "Dead": self.status == Status.DEAD,
            "Pid": self.pid,
            "ExitCode": self.exit_code,
            "Error": self.error,
            "StartedAt": self.started_at,
            "FinishedAt": self.finished_at,
        }


@dataclass(frozen=True)
class MountPoint:
    """A resolved mount of a container, as `inspect` shows it in `Mounts`."""

    type: str  # "volume" | "bind" | "tmpfs"
    destination: str
    source: str = ""  # host path (bind), volume mountpoint (volume), "" (tmpfs)
    name: str = ""  # the volume's name
    rw: bool = True
    mode: str = ""
    anonymous: bool = False
    options: tuple[str, ...] = ()

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Type": self.type,
            "Source": self.source,
            "Destination": self.destination,
            "Mode": self.mode,
            "RW": self.rw,
            "Propagation": "rprivate" if self.type == "bind" else "",
        }
        if self.type == "volume":
            out.update(Name=self.name, Driver="local")
        return out


@dataclass(frozen=True)
class Container:
    id: str
    name: str  # without Docker's leading "/"
    image: str  # what the user asked for ("busybox")
    image_id: str
    created: str  # RFC 3339
    config: dict[str, Any]
    host_config: dict[str, Any]
    mounts: tuple[MountPoint, ...] = ()
    state: State = field(default_factory=State)
    path: str = ""  # the process's argv[0] …
    args: tuple[str, ...] = ()  # … and the rest, as Docker's inspect shows them

    def with_state(self, **changes: Any) -> Container:
        return replace(self, state=replace(self.state, **changes))

    @property
    def tty(self) -> bool:
        return bool(self.config.get("Tty"))

    @property
    def auto_remove(self) -> bool:
        return bool(self.host_config.get("AutoRemove"))

    @property
    def restart_policy(self) -> tuple[str, int]:
        policy = self.host_config.get("RestartPolicy") or {}
        return str(policy.get("Name") or "no"), int(policy.get("MaximumRetryCount") or 0)

    @property
    def wants_restart(self) -> bool:
        """Whether its restart policy restarts it after the exit its state records."""
        policy, retries = self.restart_policy
        if self.state.stopped_by_user or policy == "no":
            return False
        if policy == "on-failure":
            return self.state.exit_code != 0 and (not retries or self.state.restart_count < retries)
        return True

    @property
    def restart_delay(self) -> float:
        """Seconds before the next restart: Docker's doubling backoff, capped at 10."""
        return min(0.1 * 2.0**self.state.restart_count, 10.0)

    @property
    def stop_timeout(self) -> int:
        """Seconds `stop` waits before SIGKILL: --stop-timeout, else Docker's 10 (0 is 0)."""
        configured = self.config.get("StopTimeout")
        return DEFAULT_STOP_TIMEOUT if configured is None else int(configured)

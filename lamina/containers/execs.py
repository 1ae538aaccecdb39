"""Exec instances: extra processes in a running container (`docker exec`).

As Docker does, an exec is created first (its configuration is remembered, in memory)
and started later. Each started exec gets its own monitor, in the container's monitor
directory, which records its exit code; output goes to attached clients only, never to
the container's log.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
from dataclasses import dataclass, field, replace
from subprocess import Popen
from typing import Any

from lamina.containers.bundle import spec_input
from lamina.containers.create import merge_env
from lamina.containers.model import Container
from lamina.containers.monitor import client as monitor
from lamina.containers.monitor.options import Options
from lamina.containers.monitor.state import MonitorFiles, read_state
from lamina.containers.monitor.state import Status as MonitorStatus
from lamina.containers.monitor.stdio import AttachRequest
from lamina.containers.service import ContainerService, StartFailed, start_waiting
from lamina.containers.supervision import Monitors
from lamina.errors import Conflict, InvalidArgument, NotFound
from lamina.runtime.spec import build_process


@dataclass
class Exec:
    id: str
    container_id: str
    config: dict[str, Any]
    started: bool = False
    pid: int = 0
    exit_code: int | None = None
    done: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class AttachedExec:
    """An exec started waiting for its attach: `sock` is attached to its stdio, and
    `go` lets the process run (after the caller is ready to copy its output)."""

    sock: socket.socket
    files: MonitorFiles
    stdin: bool
    monitors: Monitors

    def go(self) -> None:
        start_waiting(self.monitors, self.files)


class ExecService:
    def __init__(self, containers: ContainerService) -> None:
        self.containers = containers
        self.execs: dict[str, Exec] = {}
        self.lock = threading.Lock()

    def create(self, ref: str, body: dict[str, Any]) -> Exec:
        c = self.containers.get(ref)
        if not c.state.running:
            raise Conflict(f"container {c.id} is not running")
        cmd = body.get("Cmd")
        if not cmd or not isinstance(cmd, list):
            raise InvalidArgument("No exec command specified")
        ex = Exec(id=secrets.token_hex(32), container_id=c.id, config=body)
        with self.lock:
            self.execs[ex.id] = ex
        return ex

    def get(self, exec_id: str) -> Exec:
        with self.lock:
            ex = self.execs.get(exec_id)
        if ex is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return ex

    def for_container(self, cid: str) -> list[str]:
        with self.lock:
            return [e.id for e in self.execs.values() if e.container_id == cid]

    def files(self, ex: Exec) -> MonitorFiles:
        return self.containers.runner.files(ex.container_id, ex.id[:16])

    def start(self, exec_id: str, *, attached: bool, tty: bool | None = None) -> Exec:
        """Spawn the exec's monitor; when `attached`, it waits for an attach + start."""
        ex = self.get(exec_id)
        with self.lock:
            if ex.started:
                raise Conflict(f"Error: Exec command {exec_id} has already run")
            ex.started = True
        c = self.containers.get(ex.container_id)
        if not c.state.running:
            raise Conflict(f"container {c.id} is not running")
        files = self.files(ex)
        process_path = files.dir / f"exec-{ex.id[:16]}.process.json"
        process_path.write_text(json.dumps(self._process(ex, c, tty)))
        cfg = ex.config
        size = cfg.get("ConsoleSize") or None
        opts = Options(
            id=c.id,
            state_dir=files.dir,
            runtime_root=self.containers.runner.runtime.root,
            runtime=self.containers.runner.runtime.binary,
            tty=self._tty(ex, tty),
            stdin=bool(cfg.get("AttachStdin")),
            stdin_once=True,
            exec_process=process_path,
            exec_id=ex.id[:16],
            wait_attach=attached,
            console_size=(int(size[0]), int(size[1])) if size and all(size) else None,
        )
        process, state = self.containers.runner.monitors.start(
            opts, self.containers.runner.dir(c.id) / "monitor.log"
        )
        if state.status == MonitorStatus.CREATE_FAILED:
            if process is not None:
                process.wait()
            ex.exit_code = state.exit_code if state.exit_code is not None else 126
            ex.done.set()
            raise StartFailed(state.error, ex.exit_code)
        ex.pid = state.pid
        threading.Thread(target=self._wait, args=(ex, process), daemon=True).start()
        return ex

    def start_attached(self, exec_id: str, *, tty: bool | None = None) -> AttachedExec:
        """Start it waiting for its attach, and attach: the process runs once the
        caller is ready for its output (`AttachedExec.go`)."""
        ex = self.start(exec_id, attached=True, tty=tty)
        files = self.files(ex)
        request = AttachRequest(stdin=bool(ex.config.get("AttachStdin")), stdout=True, stderr=True)
        sock = monitor.attach(files, request)
        monitors = self.containers.runner.monitors
        return AttachedExec(sock, files, stdin=request.stdin, monitors=monitors)

    def resize(self, exec_id: str, *, height: int, width: int) -> None:
        """Set its terminal's size; nothing for an exec not started or ended."""
        ex = self.get(exec_id)
        if ex.started and not ex.done.is_set():
            monitors = self.containers.runner.monitors
            monitors.control(self.files(ex), "resize", height=height, width=width)

    def tty(self, exec_id: str, asked: bool | None) -> bool:
        """Whether a start gets a terminal: what it asks, else what the create asked."""
        return self._tty(self.get(exec_id), asked)

    def _tty(self, ex: Exec, tty: bool | None) -> bool:
        return bool(ex.config.get("Tty")) if tty is None else tty

    def _process(self, ex: Exec, c: Container, tty: bool | None) -> dict[str, Any]:
        runner = self.containers.runner
        cfg = ex.config
        base = spec_input(c, runner.rootfs(c.id), list(cfg["Cmd"]))
        inp = replace(
            base,
            env=merge_env(list(c.config.get("Env") or []), list(cfg.get("Env") or [])),
            cwd=cfg.get("WorkingDir") or base.cwd,
            user=cfg.get("User") or base.user,
            terminal=self._tty(ex, tty),
            privileged=bool(cfg.get("Privileged")) or base.privileged,
            init=None,
        )
        return build_process(inp)

    def _wait(self, ex: Exec, process: Popen[bytes] | None) -> None:
        files = self.files(ex)
        try:
            final = self.containers.runner.monitors.wait(files)
            ex.exit_code = final.exit_code if final.exit_code is not None else 126
            ex.pid = final.pid or ex.pid
        except Exception as err:  # the exec's monitor vanished: report what the file says
            state = read_state(files.state)
            ex.exit_code = state.exit_code if state and state.exit_code is not None else 126
            self.containers.log(f"exec {ex.id[:12]}: {err}")
        if process is not None:
            process.wait()
        ex.done.set()

    def settled(self, exec_id: str) -> Exec:
        """The exec, once an exit that is moments away is recorded (inspect right after
        its stream ended must see it)."""
        ex = self.get(exec_id)
        if ex.started and not ex.done.is_set():
            ex.done.wait(2.0)
        return ex

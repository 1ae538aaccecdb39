"""Exec instances: extra processes in a running container (`docker exec`).

As Docker does, an exec is created first (its configuration is remembered, in memory)
and started later. Each started exec gets its own monitor, in the container's monitor
directory, which records its exit code; output goes to attached clients only, never to
the container's log.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field, replace
from subprocess import Popen
from typing import Any

from lamina.containers.bundle import spec_input
from lamina.containers.create import merge_env
from lamina.containers.monitor.options import Options
from lamina.containers.service import ContainerService, StartFailed
from lamina.containers.state import MonitorFiles, read_state
from lamina.containers.state import Status as MonitorStatus
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
        process_path.write_text(json.dumps(self._process(ex, tty)))
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

    def _tty(self, ex: Exec, tty: bool | None) -> bool:
        return bool(ex.config.get("Tty")) if tty is None else tty

    def _process(self, ex: Exec, tty: bool | None) -> dict[str, Any]:
        c = self.containers.get(ex.container_id)
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

    def inspect(self, exec_id: str) -> dict[str, Any]:
        ex = self.get(exec_id)
        if ex.started and not ex.done.is_set():
            ex.done.wait(2.0)  # the stream just ended: the exit is moments away
        running = ex.started and not ex.done.is_set()
        cfg = ex.config
        return {
            "ID": ex.id,
            "ContainerID": ex.container_id,
            "Running": running,
            "ExitCode": ex.exit_code,
            "Pid": ex.pid if running else 0,
            "OpenStdin": bool(cfg.get("AttachStdin")),
            "OpenStdout": bool(cfg.get("AttachStdout")),
            "OpenStderr": bool(cfg.get("AttachStderr")),
            "CanRemove": False,
            "DetachKeys": "",
            "ProcessConfig": {
                "tty": bool(cfg.get("Tty")),
                "entrypoint": cfg["Cmd"][0],
                "arguments": cfg["Cmd"][1:],
                "privileged": bool(cfg.get("Privileged")),
                "user": cfg.get("User") or "",
            },
        }

"""Proxy processes for published ports, and what each published (`<run>/ports/<id>.json`).

The state file lives in the run dir beside the proxy: both go at reboot, and a
restarted daemon reads it to show the ports and to stop the proxy later. A proxy is
only signalled after checking its command line, so a reused pid is never killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from lamina import process
from lamina.networks import ports
from lamina.networks.ports import Binding, Published

MODULE = "lamina.networks.proxy"
_PROXY = MODULE.encode()


class Publisher:
    def __init__(self, run_dir: Path) -> None:
        self.dir = run_dir / "ports"
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def publish(
        self, container_id: str, target: IPv4Address, bindings: list[Binding]
    ) -> list[Published]:
        """Bind the host ports and start the container's proxy; raises Conflict for a
        port in use (nothing is left bound then)."""
        if not bindings:
            return []
        opened = ports.bind_all(bindings)
        try:
            specs = [f"{s.fileno()}:{p.proto}:{p.container_port}" for s, p in opened]
            label = str(self._path(container_id))  # how a restart finds it (sweep)
            proc = subprocess.Popen(
                [sys.executable, "-m", MODULE, label, str(target), *specs],
                pass_fds=[s.fileno() for s, _ in opened],
                start_new_session=True,  # the daemon's signals are not the proxy's
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        finally:
            for sock, _ in opened:
                sock.close()  # the proxy holds them now
        self._children[proc.pid] = proc
        published = [p for _, p in opened]
        self.dir.mkdir(parents=True, exist_ok=True)
        state = {"pid": proc.pid, "target": str(target), "ports": [p.to_json() for p in published]}
        tmp = self._path(container_id).with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self._path(container_id))
        return published

    def published(self, container_id: str) -> list[Published]:
        state = self._state(container_id)
        return [Published.from_json(p) for p in state.get("ports", [])] if state else []

    def running(self, container_id: str) -> bool:
        state = self._state(container_id)
        return state is not None and _is_proxy(int(state["pid"]))

    def unpublish(self, container_id: str) -> None:
        """Stop the proxy and wait until it is gone, so its ports are free again."""
        state = self._state(container_id)
        if state:
            self._stop(int(state["pid"]))
        self._path(container_id).unlink(missing_ok=True)

    def containers(self) -> list[str]:
        if not self.dir.exists():
            return []
        return [p.stem for p in self.dir.glob("*.json")]

    def sweep(self, keep: set[str]) -> list[str]:
        """At start: stop every proxy of this run dir but those of the containers in
        `keep`, and remove their state files; return the containers whose proxy went.
        A proxy is found by its state file, or by its command line when a crash came
        between its start and that file's write (then a kept container's proxy may be a
        second one, holding its ports: it goes too)."""
        swept = set()
        for pid, cid in self._proxies().items():
            if cid not in keep or self._recorded_pid(cid) != pid:
                self._stop(pid)
                swept.add(cid)
        for cid in self.containers():
            if cid not in keep:
                self.unpublish(cid)
                swept.add(cid)
        for partial in self.dir.glob("*.tmp") if self.dir.exists() else ():
            partial.unlink(missing_ok=True)
        return sorted(swept)

    def _stop(self, pid: int) -> None:
        child = self._children.pop(pid, None)
        if child is None and not _is_proxy(pid):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if child is not None:
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            return
        process.wait_exit(pid, 5, marker=_PROXY)  # adopted after a restart: not our child

    def _proxies(self) -> dict[int, str]:
        """The running proxies labelled with a state file in this run dir: pid → the
        container's id. (Those an older lamina started carry no label: their state
        files find them.)"""
        found = {}
        for pid, argv in process.command_lines(_PROXY).items():
            after = argv[argv.index(_PROXY) + 1 :] if argv.count(_PROXY) == 1 else []
            path = Path(os.fsdecode(after[0] if after else b""))
            if path.parent == self.dir and path.suffix == ".json":
                found[pid] = path.stem
        return found

    def _recorded_pid(self, container_id: str) -> int | None:
        state = self._state(container_id)
        return int(state["pid"]) if state else None

    def _state(self, container_id: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self._path(container_id).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _path(self, container_id: str) -> Path:
        return self.dir / f"{container_id}.json"


def _is_proxy(pid: int) -> bool:
    return process.runs(pid, _PROXY)

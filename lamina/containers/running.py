"""Running containers: start, stop, kill and restart, and what happens when they end.

The daemon never holds a container's processes or stdio: each running container has a
monitor (lamina.containers.monitor) that owns them and records the exit. A start mounts
the root filesystem, attaches the network, writes the bundle and spawns the monitor; a
thread per running container waits on that monitor (lamina.containers.watching), and
when it returns the exit is recorded, the root filesystem unmounted and the network
released, waiters woken, and --rm or the restart policy applied.

`ContainerLifecycle` holds the state the container service shares (records, the lock and
its condition, the registered waits) and this running side; `ContainerService`
(lamina.containers.service) adds create, remove, wait and restore on top of it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from subprocess import Popen
from typing import Any

from lamina.containers import linked, watching
from lamina.containers.bundle import write_bundle
from lamina.containers.model import Container, Status
from lamina.containers.monitor.state import MonitorFiles, read_state
from lamina.containers.monitor.state import State as MonitorState
from lamina.containers.monitor.state import Status as MonitorStatus
from lamina.containers.networking import Networking, NoNetworking
from lamina.containers.records import ContainerRecords
from lamina.containers.runner import Runner
from lamina.containers.supervision import Monitors
from lamina.containers.waiting import Waits
from lamina.errors import Conflict, InvalidArgument, LaminaError, NotFound
from lamina.images.service import ImageService
from lamina.timestamps import rfc3339
from lamina.volumes import VolumeService

Log = Callable[[str], None]
ZERO_TIME = "0001-01-01T00:00:00Z"


class StartFailed(InvalidArgument):
    """The runtime refused to start the process; `exit_code` is Docker's (126, 127, …)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ContainerLifecycle:
    """The running side of the container service (ContainerService builds on it)."""

    def __init__(
        self,
        records: ContainerRecords,
        images: ImageService,
        volumes: VolumeService,
        runner: Runner,
        *,
        networking: Networking | None = None,
        log: Log = lambda _m: None,
    ) -> None:
        self.records = records
        self.images = images
        self.volumes = volumes
        self.runner = runner
        self.runtime = runner.runtime
        self.log = log
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.waits = Waits()  # registered /wait requests, settled under `lock`
        self.attach_hooks: dict[str, list[Callable[[MonitorState], None]]] = {}
        self.networking: Networking = networking or NoNetworking()

    def get(self, ref: str) -> Container:
        return self.records.find(ref)

    def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> None:
        """--rm's removal, once a container ended (ContainerService's)."""
        raise NotImplementedError

    # -- start / stop ---------------------------------------------------------

    def start(self, ref: str) -> bool:
        """Start it, connecting the attaches waiting for it; False when it already ran
        (Docker's 304)."""
        with self.lock:
            c = self.get(ref)
            if c.state.running:
                return False
            try:
                self._start(c, self.attach_hooks.pop(c.id, []))
            except LaminaError:
                # As Docker: a --rm container that cannot start goes, whatever stopped it
                # (a bad seccomp profile as much as runc), or `docker run --rm` waits on.
                if c.auto_remove:
                    self._remove_quietly(c.id)
                raise
        return True

    def _start(self, c: Container, hooks: list[Callable[[MonitorState], None]]) -> None:
        rootfs = self.runner.mount_rootfs(c)
        try:
            network = self.networking.attach(c)
            self.runner.copy_up_volumes(c, rootfs)
            pid_ns = linked.pid_namespace(c, self.get)
            bundle = write_bundle(
                self.runner.dir(c.id),
                c,
                rootfs,
                network,
                pid_ns=pid_ns,
                cgroup_parent=self.runner.paths.cgroup_parent,
            )
            process, state = self.runner.spawn(c, bundle, wait_attach=bool(hooks))
        except BaseException:
            self._release(c.id)
            raise
        for hook in hooks:
            hook(state)
        if state.status == MonitorStatus.CREATE_FAILED:
            if process is not None:
                process.wait()
            self._record_failed_start(c, state)  # raises
        if hooks:
            start_waiting(self.runner.monitors, self.runner.files(c.id))
            state = read_state(self.runner.files(c.id).state) or state
        self._record(
            c.id,
            status=Status.RUNNING,
            pid=state.pid,
            started_at=state.started_at or rfc3339(time.time()),
            finished_at=ZERO_TIME,
            error="",
            stopped_by_user=False,
            exit_code=0,
        )
        self._watch(c.id, process)

    def _release(self, cid: str) -> None:
        """What a container holds only while it runs: its root mount, its network."""
        self.runner.unmount(cid)
        try:
            self.networking.detach(self.records.get(cid))
        except NotFound:
            pass
        except LaminaError as err:
            self.log(f"container {cid[:12]}: releasing its network failed: {err}")

    def _record_failed_start(self, c: Container, state: MonitorState) -> None:
        self._release(c.id)
        code = state.exit_code if state.exit_code is not None else 128
        self._record(
            c.id,
            status=Status.EXITED if c.state.status != Status.CREATED else Status.CREATED,
            exit_code=code,
            error=state.error,
        )
        raise StartFailed(state.error or "the runtime failed to start the container", code)

    def stop(self, ref: str, *, timeout: int | None = None, signal: str | None = None) -> bool:
        """SIGTERM (or the container's StopSignal), then SIGKILL after `timeout` seconds.
        Returns False when it was not running (Docker's 304)."""
        c = self.get(ref)
        if not c.state.running:
            return False
        self._record(c.id, stopped_by_user=True)
        grace = timeout if timeout is not None else c.stop_timeout
        self._signal(c, signal or c.config.get("StopSignal") or "SIGTERM")
        if grace < 0 or not self._wait_stopped(c.id, grace):
            self._signal(c, "SIGKILL")
            self._wait_stopped(c.id, 30)
        return True

    def kill(self, ref: str, *, signal: str = "SIGKILL") -> None:
        c = self.get(ref)
        if not c.state.running:
            raise Conflict(f"Cannot kill container: {ref}: Container {c.id} is not running")
        self._record(c.id, stopped_by_user=True)
        self._signal(c, signal or "SIGKILL")

    def restart(self, ref: str, *, timeout: int | None = None, signal: str | None = None) -> None:
        self.stop(ref, timeout=timeout, signal=signal)
        self.start(ref)

    def _signal(self, c: Container, signal: str) -> None:
        name = signal if signal.isdigit() or signal.startswith("SIG") else f"SIG{signal}"
        # Not running any more, or already deleted by its monitor: it ended meanwhile.
        with contextlib.suppress(Conflict, NotFound):
            self.runtime.kill(c.id, name, all=False)

    def _wait_stopped(self, cid: str, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        with self.changed:
            while self.records.get(cid).state.running:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(min(left, 3600))  # a huge `t` would overflow wait()
        return True

    # -- exit handling --------------------------------------------------------

    def _watch(self, cid: str, process: Popen[bytes] | None = None) -> None:
        def exited(final: MonitorState) -> None:
            self._exited(cid, final)

        files = self.runner.files(cid)
        monitors = self.runner.monitors
        watching.watch(cid, files, exited, process=process, wait=monitors.wait, log=self.log)

    def _exited(self, cid: str, final: MonitorState) -> None:
        with self.lock:
            try:
                c = self.records.get(cid)
            except NotFound:
                return
            self._release(cid)
            c = self._record(
                cid,
                status=Status.EXITED,
                pid=0,
                exit_code=final.exit_code if final.exit_code is not None else 255,
                finished_at=final.finished_at or rfc3339(time.time()),
                oom_killed=final.oom_killed,
                error=final.error,
            )
            self.waits.exited(cid, c.state.exit_code)
            self.changed.notify_all()
        if c.auto_remove:
            self._remove_quietly(cid)
        elif c.wants_restart:
            threading.Thread(
                target=self._restart_later, args=(c,), daemon=True, name=f"restart-{cid[:12]}"
            ).start()

    def _restart_later(self, c: Container) -> None:
        time.sleep(c.restart_delay)
        with self.lock:
            try:
                current = self.records.get(c.id)
            except NotFound:
                return
            if current.state.running or current.state.stopped_by_user:
                return
            self._record(c.id, restart_count=current.state.restart_count + 1)
            try:
                self._start(self.records.get(c.id), [])
            except LaminaError as err:
                self.log(f"container {c.id[:12]}: restart failed: {err}")

    def _remove_quietly(self, cid: str) -> None:
        try:
            self.remove(cid, force=True, volumes=True)
        except LaminaError as err:
            self.log(f"container {cid[:12]}: auto-remove failed: {err}")

    def _record(self, cid: str, **changes: Any) -> Container:
        with self.lock:
            c = self.records.get(cid)
            updated = c.with_state(**changes)
            self.records.save_state(cid, updated.state)
            self.changed.notify_all()
            return updated


def start_waiting(monitors: Monitors, files: MonitorFiles) -> None:
    """Start a --wait-attach process. The first attach already starts it, so a monitor
    that is gone (the process ran and ended) is not an error."""
    try:
        monitors.control(files, "start")
    except (Conflict, OSError):
        if not files.state.exists():
            raise

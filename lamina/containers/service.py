"""The container service: Docker's container lifecycle over runc and per-container monitors.

The daemon never holds a container's processes or stdio: each running container has a
monitor (lamina.containers.monitor) that owns them and records the exit. The service
keeps one watcher thread per running container, blocked in the monitor's `wait`; when
it returns, the service records the exit, unmounts the root filesystem, wakes waiters,
and applies --rm and the restart policy. A restarted daemon finds monitors by their
state files (`restore`), so containers outlive the daemon.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from subprocess import Popen
from typing import Any

from lamina.containers import hostopts, linked
from lamina.containers.bundle import write_bundle
from lamina.containers.create import (
    check_name,
    check_platform,
    command_of,
    merge_config,
    parse_restart_policy,
)
from lamina.containers.logs import config as logconfig
from lamina.containers.model import Container, State, Status
from lamina.containers.monitor import client as monitor
from lamina.containers.mounts import resolve_mounts
from lamina.containers.names import generate
from lamina.containers.networking import Networking, NoNetworking
from lamina.containers.options import refuse_unhonoured
from lamina.containers.records import ContainerRecords
from lamina.containers.runner import Runner
from lamina.containers.runtime import Runtime
from lamina.containers.state import MonitorFiles, read_state
from lamina.containers.state import State as MonitorState
from lamina.containers.state import Status as MonitorStatus
from lamina.errors import Conflict, InvalidArgument, LaminaError, NotFound, Unavailable
from lamina.filters import labels_match, timestamp
from lamina.images.service import ImageService, ImageUser
from lamina.oci.image import parse_rfc3339, rfc3339
from lamina.volumes import VolumeService

Log = Callable[[str], None]
ZERO_TIME = "0001-01-01T00:00:00Z"
DEFAULT_STOP_TIMEOUT = 10  # seconds, as dockerd


class StartFailed(InvalidArgument):
    """The runtime refused to start the process; `exit_code` is Docker's (126, 127, …)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ContainerService:
    def __init__(
        self,
        records: ContainerRecords,
        images: ImageService,
        volumes: VolumeService,
        runner: Runner,
        *,
        log: Log = lambda _m: None,
    ) -> None:
        self.records = records
        self.images = images
        self.volumes = volumes
        self.runner = runner
        self.runtime = Runtime(runner.runtime, root=runner.runtime_root)
        self.log = log
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.exits: dict[str, int] = {}  # container → how many exits seen (for next-exit waits)
        self.attach_hooks: dict[str, list[Callable[[MonitorState], None]]] = {}
        self.networking: Networking = NoNetworking()
        # The last state of removed containers, for `wait --condition removed`.
        self.last_exit: dict[str, State] = {}

    # -- lookup ---------------------------------------------------------------

    def get(self, ref: str) -> Container:
        return self.records.find(ref)

    def all(self) -> list[Container]:
        return sorted(self.records.all(), key=lambda c: c.created, reverse=True)

    def using_image(self, image_id: str) -> list[ImageUser]:
        return [ImageUser(c.id, c.state.running) for c in self.records.using_image(image_id)]

    def using_volume(self, name: str) -> list[str]:
        return [
            c.id
            for c in self.records.all()
            if any(m.type == "volume" and m.name == name for m in c.mounts)
        ]

    # -- create ---------------------------------------------------------------

    def create(self, body: dict[str, Any], *, name: str | None, platform: str = "") -> Container:
        """Everything is checked before anything is made: a refused create changes nothing."""
        refuse_unhonoured(body)
        image_ref = str(body.get("Image") or "")
        if not image_ref:
            raise InvalidArgument("config: image name must be given")
        image = self.images.get(image_ref)
        if platform:
            check_platform(platform, image_ref, image.config)
        host_config = dict(body.get("HostConfig") or {})
        host_config["RestartPolicy"] = parse_restart_policy(host_config)
        host_config["LogConfig"] = logconfig.normalize(host_config.get("LogConfig"))
        config = merge_config(
            {k: v for k, v in body.items() if k not in ("HostConfig", "NetworkingConfig")},
            image.config.get("config") or {},
        )
        config["Image"] = image_ref
        argv = command_of(config)
        hostopts.check(config, host_config, runtime=self.runner.runtime)
        cid = secrets.token_hex(32)
        with self.lock:
            taken = {c.name for c in self.records.all()}
            chosen = check_name(name) if name else generate(taken)
            if chosen in taken:
                raise self.records.name_conflict(chosen)
            linked.check_links(host_config, self.get)
            host_config["PidMode"] = linked.pid_mode(host_config, self.get)
            inherited = linked.inherited_mounts(host_config, self.get)
            mounts = resolve_mounts(config, host_config, self.volumes, inherited=inherited)
            container = Container(
                id=cid,
                name=chosen,
                image=image_ref,
                image_id=image.id,
                created=rfc3339(time.time()),
                config=config,
                host_config=host_config,
                mounts=tuple(mounts),
                path=argv[0],
                args=tuple(argv[1:]),
            )
            # The lease keeps the layers from the moment they are read until the row's
            # own reference holds them, whatever an `rmi -f` does meanwhile.
            with self.images.lease_layers(image.id, name=image_ref) as layer:
                try:
                    self.runner.prepare(cid, layer)
                    self.records.add(container, layer=layer)
                except BaseException:
                    self.runner.destroy(cid)
                    raise
        return container

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
        rootfs = self.runner.mount_rootfs(c, self.records.layer(c.id))
        try:
            network = self.networking.attach(c)
            self.runner.copy_up_volumes(c, rootfs)
            pid_ns = linked.pid_namespace(c, self.get)
            bundle = write_bundle(self.runner.dir(c.id), c, rootfs, network, pid_ns=pid_ns)
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
            start_waiting(self.runner.files(c.id))
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
        grace = timeout if timeout is not None else stop_timeout(c)
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
        threading.Thread(
            target=self._watcher, args=(cid, process), daemon=True, name=f"watch-{cid[:12]}"
        ).start()

    def _watcher(self, cid: str, process: Popen[bytes] | None) -> None:
        files = self.runner.files(cid)
        try:
            final = monitor.wait(files)
        except (Unavailable, OSError) as err:
            self.log(f"container {cid[:12]}: lost its monitor: {err}")
            final = MonitorState(
                MonitorStatus.EXITED,
                exit_code=255,
                finished_at=rfc3339(time.time()),
                error=str(err),
            )
        if process is not None:
            process.wait()  # reap the monitor we spawned (an adopted one is not our child)
        self._exited(cid, final)

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
            self.exits[cid] = self.exits.get(cid, 0) + 1
            self.changed.notify_all()
        if c.auto_remove:
            self._remove_quietly(cid)
        elif self._should_restart(c):
            threading.Thread(target=self._restart_later, args=(c,), daemon=True).start()

    def _should_restart(self, c: Container) -> bool:
        policy, retries = c.restart_policy
        if c.state.stopped_by_user or policy == "no":
            return False
        if policy == "on-failure":
            return c.state.exit_code != 0 and (not retries or c.state.restart_count < retries)
        return True

    def _restart_later(self, c: Container) -> None:
        time.sleep(min(0.1 * 2**c.state.restart_count, 10))  # Docker's backoff, capped
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

    def wait(
        self, ref: str, *, condition: str = "not-running", timeout: float | None = None
    ) -> dict[str, Any]:
        """Docker's /wait: block until the condition, then report the exit code."""
        c = self.get(ref)
        if condition not in ("not-running", "next-exit", "removed"):
            raise InvalidArgument(f"invalid condition: {condition!r}")
        with self.changed:
            seen = self.exits.get(c.id, 0)
            while True:
                current = self._current(c.id)
                if condition == "removed" and current is None:
                    break
                if condition == "next-exit" and self.exits.get(c.id, 0) > seen:
                    break
                if condition == "not-running" and (current is None or not current.state.running):
                    break
                self.changed.wait(timeout)
            last = self.last_exit.get(c.id) if current is None else current.state
        # The start error is reported by start itself; Error here is for wait failures.
        return {"StatusCode": last.exit_code if last else 0, "Error": None}

    def _current(self, cid: str) -> Container | None:
        try:
            return self.records.get(cid)
        except NotFound:
            return None

    # -- remove / rename ------------------------------------------------------

    def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> None:
        c = self.get(ref)
        if c.state.running:
            if not force:
                raise Conflict(
                    f'cannot remove container "/{c.name}": container is running: stop the '
                    "container before removing or force remove"
                )
            self._record(c.id, stopped_by_user=True)
            self._signal(c, "SIGKILL")
            self._wait_stopped(c.id, 30)
        with self.lock:
            c = self.records.get(c.id)
            self.runner.unmount(c.id)
            self.records.delete(c.id)
            self.last_exit[c.id] = c.state
            self.changed.notify_all()
        # Its files after its record, so `wait --condition removed` (every `run --rm`)
        # does not wait for them; a crash in between leaves a folder restore() sweeps.
        self.runner.destroy(c.id)
        if self.images.records.get(c.image_id) is None:
            self.images.collect()  # its image was force-removed: it held the last reference
        if volumes:
            for point in c.mounts:
                if point.type == "volume" and point.anonymous:
                    try:
                        self.volumes.remove(point.name)
                    except LaminaError as err:
                        self.log(f"container {c.id[:12]}: keeping volume {point.name}: {err}")

    def rename(self, ref: str, new_name: str) -> None:
        c = self.get(ref)
        name = check_name(new_name)
        if name == c.name:
            raise InvalidArgument("Renaming a container with the same name as its current name")
        self.records.rename(c.id, name)

    def prune(self, filters: Mapping[str, list[str]] | None = None) -> tuple[list[str], int]:
        """Remove the stopped containers that Docker's prune filters (`label`, `label!`,
        `until`) select; all of them without filters."""
        filters = filters or {}
        limits = [timestamp(u) for u in filters.get("until", [])]
        removed = []
        for c in self.all():
            if c.state.running:
                continue
            labels = c.config.get("Labels") or {}
            if not labels_match(labels, filters.get("label", []), filters.get("label!", [])):
                continue
            if any(parse_rfc3339(c.created) >= limit for limit in limits):
                continue
            self.remove(c.id)
            removed.append(c.id)
        return removed, 0

    # -- restore after a daemon restart ---------------------------------------

    def restore(self) -> None:
        """Adopt running containers' monitors; record exits that happened meanwhile;
        remove the files of containers whose removal a crash interrupted."""
        known = {c.id for c in self.records.all()}
        for cid in self.runner.container_dirs():
            if cid not in known:
                self.runner.destroy(cid)
        for c in self.records.all():
            if not c.state.running:
                self._release(c.id)
                continue
            state = read_state(self.runner.files(c.id).state)
            if state is not None and not state.final and monitor.monitor_alive(state):
                self._watch(c.id)
                continue
            if state is None or not state.final:
                state = MonitorState(
                    MonitorStatus.EXITED,
                    exit_code=255,
                    finished_at=rfc3339(time.time()),
                    error="the container's monitor was lost",
                )
            self._exited(c.id, state)

    def _record(self, cid: str, **changes: Any) -> Container:
        with self.lock:
            c = self.records.get(cid)
            updated = c.with_state(**changes)
            self.records.save_state(cid, updated.state)
            self.changed.notify_all()
            return updated


def stop_timeout(c: Container) -> int:
    """The container's --stop-timeout; Docker's 10 s when none was given (0 is 0)."""
    configured = c.config.get("StopTimeout")
    return DEFAULT_STOP_TIMEOUT if configured is None else int(configured)


def start_waiting(files: MonitorFiles) -> None:
    """Start a --wait-attach process. The first attach already starts it, so a monitor
    that is gone (the process ran and ended) is not an error."""
    try:
        monitor.control(files, "start")
    except (Conflict, OSError):
        if not files.state.exists():
            raise

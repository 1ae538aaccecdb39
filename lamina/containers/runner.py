"""Running a container's files: its writable layer, its root filesystem mount, its monitor.

What it runs with (the bundle) is written by lamina.containers.bundle, and monitors are
started by lamina.containers.launcher; this module prepares, mounts, spawns and removes.

Layout of one container:

    <root>/layers/active/container-<id>/  its writable layer: an active snapshot the
                                          layer store owns (an older lamina kept its
                                          upper and work dirs in containers/<id>/;
                                          `adopt_legacy` moves them there)
    <root>/containers/<id>/rootfs         where the root filesystem is mounted while it runs
    <root>/containers/<id>/bundle/        config.json for the runtime
    <root>/containers/<id>/hosts, hostname, resolv.conf
    <root>/containers/<id>/<id>-json.log  its log (json-file driver), rotated into .1, .2 …
    <root>/containers/<id>/local-logs/    its log with the local driver (none: no log)
    <run>/c/<id[:16]>/                    its monitor's state file and sockets (short path:
                                          unix socket names are limited to 107 bytes)

The root filesystem is mounted in the host's mount namespace (as Docker does) so `cp`,
`export` and volume copy-up can reach it; it is unmounted when the container stops. The
runtime's mounter mounts it; the runtime's `Monitors` (lamina.containers.supervision)
start the monitors.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from subprocess import Popen

from lamina import private, process
from lamina.config import Paths
from lamina.containers import logplace
from lamina.containers.launcher import MonitorLauncher
from lamina.containers.model import Container
from lamina.containers.monitor import client as monitor
from lamina.containers.monitor.logs import config as logconfig
from lamina.containers.monitor.options import Options
from lamina.containers.monitor.state import MonitorFiles, read_state
from lamina.containers.monitor.state import State as MonitorState
from lamina.containers.supervision import Monitors, SupervisingRuntime
from lamina.errors import InvalidArgument, LaminaError, NotFound
from lamina.oci.digest import Digest
from lamina.runtime.protocol import Runtime
from lamina.store.layers.store import LayerStore
from lamina.store.rootpath import resolve_in_root
from lamina.volumes import VolumeService

MONITOR_EXIT_TIMEOUT = 10.0  # seconds; a finishing monitor needs a few milliseconds


class Runner:
    def __init__(
        self, paths: Paths, layers: LayerStore, volumes: VolumeService, *, runtime: Runtime
    ) -> None:
        self.paths = paths
        self.layers = layers
        self.volumes = volumes
        self.runtime = runtime
        self.root = paths.root / "containers"
        self.root.mkdir(parents=True, exist_ok=True)
        self.monitors: Monitors = (
            runtime.monitors()
            if isinstance(runtime, SupervisingRuntime)
            else MonitorLauncher(paths)
        )

    # -- where things are -----------------------------------------------------

    def dir(self, cid: str) -> Path:
        return self.root / cid

    def rootfs(self, cid: str) -> Path:
        return self.dir(cid) / "rootfs"

    def files(self, cid: str, exec_id: str | None = None) -> MonitorFiles:
        return MonitorFiles(self.paths.run_dir / "c" / cid[:16], exec_id)

    # -- create / remove ------------------------------------------------------

    def snapshot(self, cid: str) -> str:
        """The key of the container's writable layer in the layer store."""
        return f"container-{cid}"

    def upper(self, cid: str) -> Path:
        """Where the container's writes land (for `SizeRw` and `inspect`)."""
        return self.layers.upper(self.snapshot(cid))

    def work(self, cid: str) -> Path:
        """overlayfs's work dir of the container's writable layer (for `inspect`)."""
        return self.layers.work(self.snapshot(cid))

    def prepare(self, cid: str, chain_id: Digest | None) -> None:
        """Make the container's folder and writable layer (done once, at create)."""
        base = self.dir(cid)
        private.mkdir(base)  # its config (environment), logs and files: the owner's only
        for name in ("rootfs", "bundle"):
            (base / name).mkdir(parents=True, exist_ok=True)
        self.layers.prepare(self.snapshot(cid), chain_id)

    def adopt_legacy(self, cid: str, chain_id: Digest | None) -> None:
        """Move the writable layer an older lamina kept in the container's folder into
        the layer store. Safe while it is mounted: the mount holds the dirs, not their
        names; the next start mounts them from the store."""
        upper, work = self.dir(cid) / "upper", self.dir(cid) / "work"
        # Not whole: a crash cut the move short, and what is left of it is finished.
        if upper.is_dir() or work.is_dir() or not self.layers.has(self.snapshot(cid)):
            self.layers.adopt(self.snapshot(cid), chain_id, upper=upper, work=work)

    def container_dirs(self) -> list[str]:
        """The ids of the containers that have files here."""
        return [entry.name for entry in os.scandir(self.root) if entry.is_dir()]

    def destroy(self, cid: str) -> None:
        self.unmount(cid)
        with contextlib.suppress(NotFound):
            self.layers.remove(self.snapshot(cid))
        shutil.rmtree(self.dir(cid), ignore_errors=True)
        if self.dir(cid).exists():  # its monitor, past the exit, still wrote (a log's .gz)
            self._await_last_monitor(cid, self.files(cid))
            shutil.rmtree(self.dir(cid), ignore_errors=True)
        shutil.rmtree(self.files(cid).dir, ignore_errors=True)

    # -- start ----------------------------------------------------------------

    def mount_rootfs(self, c: Container) -> Path:
        rootfs = self.rootfs(c.id)
        mounter = self.runtime.mounter
        if mounter.is_mounted(rootfs):
            return rootfs
        mounter.mount(self.layers.mounts(self.snapshot(c.id)), rootfs)
        return rootfs

    def unmount(self, cid: str) -> None:
        self.runtime.mounter.unmount(self.rootfs(cid))

    def copy_up_volumes(self, c: Container, rootfs: Path) -> None:
        """Fill empty volumes from the image's content at their destination, as Docker."""
        for point in c.mounts:
            if point.type != "volume" or "nocopy" in point.options:
                continue
            try:
                source = resolve_in_root(rootfs, point.destination)
            except InvalidArgument:
                continue
            if source.is_dir():
                self.volumes.copy_up(point.name, source)

    def spawn(
        self, c: Container, bundle: Path, *, wait_attach: bool
    ) -> tuple[Popen[bytes] | None, MonitorState]:
        files = self.files(c.id)
        self._await_last_monitor(c.id, files)
        shutil.rmtree(files.dir, ignore_errors=True)
        files.dir.mkdir(parents=True)
        size = c.host_config.get("ConsoleSize") or None
        opts = Options(
            id=c.id,
            state_dir=files.dir,
            runtime_root=self.runtime.root,
            bundle=bundle,
            log=logplace.current_file(self.dir(c.id), c),
            log_config=logconfig.parse(c.host_config.get("LogConfig")),
            runtime=self.runtime.binary,
            tty=c.tty,
            stdin=bool(c.config.get("OpenStdin")),
            stdin_once=bool(c.config.get("StdinOnce")),
            wait_attach=wait_attach,
            console_size=(int(size[0]), int(size[1])) if size and all(size) else None,
        )
        return self.monitors.start(opts, self.dir(c.id) / "monitor.log")

    def _await_last_monitor(self, cid: str, files: MonitorFiles) -> None:
        """A monitor publishes the exit first and has the runtime delete the container
        after (~6 ms): before the id is used again, let that monitor finish, and delete
        the container ourselves if it died before it could."""
        last = read_state(files.state)
        if last is not None and last.monitor_pid:
            process.wait_exit(last.monitor_pid, MONITOR_EXIT_TIMEOUT, marker=monitor.COMMAND)
        if (self.runtime.root / cid).exists():
            with contextlib.suppress(LaminaError):
                self.runtime.delete(cid, force=True)

    def close(self) -> None:
        self.monitors.close()

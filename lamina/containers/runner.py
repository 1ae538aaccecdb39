"""Starting a container: mount its root filesystem, write its bundle, spawn its monitor.

Layout of one container:

    <root>/containers/<id>/upper, work    its writable layer (overlay) or full copy (copy)
    <root>/containers/<id>/rootfs         where the root filesystem is mounted while it runs
    <root>/containers/<id>/bundle/        config.json for the runtime
    <root>/containers/<id>/hosts, hostname, resolv.conf
    <root>/containers/<id>/<id>-json.log  its log (json-file driver), rotated into .1, .2 …
    <root>/containers/<id>/local-logs/    its log with the local driver (none: no log)
    <run>/c/<id[:16]>/                    its monitor's state file and sockets (short path:
                                          unix socket names are limited to 107 bytes)

The root filesystem is mounted in the host's mount namespace (as Docker does) so `cp`,
`export` and volume copy-up can reach it; it is unmounted when the container stops.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from subprocess import Popen
from typing import Any

from lamina import process
from lamina.config import Paths
from lamina.containers import etcfiles
from lamina.containers.logs import config as logconfig
from lamina.containers.logs import place as logplace
from lamina.containers.model import Container
from lamina.containers.monitor import client as monitor
from lamina.containers.monitor.options import Options
from lamina.containers.mounts import runtime_mounts
from lamina.containers.networking import NetworkAttachment
from lamina.containers.runtime import Runtime
from lamina.containers.spec import MountSpec, Resources, SpecInput, build_spec
from lamina.containers.state import MonitorFiles, read_state
from lamina.containers.state import State as MonitorState
from lamina.errors import InvalidArgument, LaminaError
from lamina.oci.digest import Digest
from lamina.store.layers.store import LayerStore
from lamina.store.mount import Mount, is_mounted, mount, unmount_all
from lamina.store.rootpath import resolve_in_root
from lamina.volumes import VolumeService

INIT_BINARY = Path("/usr/bin/tini-static")
MONITOR_EXIT_TIMEOUT = 10.0  # seconds; a finishing monitor needs a few milliseconds


class Runner:
    def __init__(
        self, paths: Paths, layers: LayerStore, volumes: VolumeService, *, runtime: str = "runc"
    ) -> None:
        self.paths = paths
        self.layers = layers
        self.volumes = volumes
        self.runtime = runtime
        self.root = paths.root / "containers"
        self.runtime_root = paths.run_dir / "runc"
        self.root.mkdir(parents=True, exist_ok=True)
        self._forkserver: Popen[bytes] | None = None
        self._stop_stale_forkserver()

    # -- where things are -----------------------------------------------------

    def dir(self, cid: str) -> Path:
        return self.root / cid

    def rootfs(self, cid: str) -> Path:
        return self.dir(cid) / "rootfs"

    def files(self, cid: str, exec_id: str | None = None) -> MonitorFiles:
        return MonitorFiles(self.paths.run_dir / "c" / cid[:16], exec_id)

    # -- create / remove ------------------------------------------------------

    def prepare(self, cid: str, chain_id: Digest | None) -> None:
        """Make the container's writable layer (done once, at create)."""
        base = self.dir(cid)
        for name in ("upper", "work", "rootfs", "bundle"):
            (base / name).mkdir(parents=True, exist_ok=True)
        if chain_id:
            self.layers.prepare_rw(chain_id, base / "upper", base / "work")

    def container_dirs(self) -> list[str]:
        """The ids of the containers that have files here."""
        return [entry.name for entry in os.scandir(self.root) if entry.is_dir()]

    def destroy(self, cid: str) -> None:
        self.unmount(cid)
        shutil.rmtree(self.dir(cid), ignore_errors=True)
        if self.dir(cid).exists():  # its monitor, past the exit, still wrote (a log's .gz)
            self._await_last_monitor(cid, self.files(cid))
            shutil.rmtree(self.dir(cid), ignore_errors=True)
        shutil.rmtree(self.files(cid).dir, ignore_errors=True)

    # -- start ----------------------------------------------------------------

    def mount_rootfs(self, c: Container, chain_id: Digest | None) -> Path:
        rootfs = self.rootfs(c.id)
        if is_mounted(rootfs):
            return rootfs
        if chain_id is None:  # FROM scratch: an empty root, writable in upper
            mount_spec = [_bind(self.dir(c.id) / "upper")]
        else:
            base = self.dir(c.id)
            mount_spec = self.layers.mounts(chain_id, base / "upper", base / "work")
        for m in mount_spec:
            mount(m, rootfs)
        return rootfs

    def unmount(self, cid: str) -> None:
        unmount_all(self.rootfs(cid))

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

    def write_bundle(
        self, c: Container, rootfs: Path, argv: list[str], network: NetworkAttachment | None = None
    ) -> Path:
        base = self.dir(c.id)
        network = network or NetworkAttachment()
        etc = etcfiles.write_etc_files(
            base,
            hostname=_hostname(c),
            addresses=network.addresses,
            extra_hosts=c.host_config.get("ExtraHosts") or [],
            dns=c.host_config.get("Dns") or list(network.dns),
            dns_search=c.host_config.get("DnsSearch") or [],
        )
        etc_mounts = tuple(
            MountSpec(dest, "bind", str(src), ("rbind", "rprivate"))
            for dest, src in etc.items()
            if dest not in {p.destination for p in c.mounts}
        )
        spec = build_spec(
            replace(self.spec_input(c, rootfs, argv, etc_mounts), netns=network.netns)
        )
        path = base / "bundle" / "config.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(spec))
        os.replace(tmp, path)
        return path.parent

    def spec_input(
        self, c: Container, rootfs: Path, argv: list[str], extra: tuple[MountSpec, ...] = ()
    ) -> SpecInput:
        hc = c.host_config
        security = hc.get("SecurityOpt") or []
        return SpecInput(
            args=argv,
            env=list(c.config.get("Env") or []),
            cwd=c.config.get("WorkingDir") or "/",
            user=c.config.get("User") or "",
            rootfs=rootfs,
            hostname=_hostname(c),
            terminal=c.tty,
            readonly_rootfs=bool(hc.get("ReadonlyRootfs")),
            mounts=(*extra, *runtime_mounts(list(c.mounts))),
            resources=_resources(hc),
            privileged=bool(hc.get("Privileged")),
            cap_add=tuple(hc.get("CapAdd") or ()),
            cap_drop=tuple(hc.get("CapDrop") or ()),
            no_new_privileges=any(
                o.split("=")[0].split(":")[0] == "no-new-privileges" and not o.endswith("false")
                for o in security
            ),
            seccomp=_seccomp(security),
            host_network=hc.get("NetworkMode") == "host",
            cgroups_path=f"/lamina/{c.id}",
            init=str(INIT_BINARY) if hc.get("Init") else None,
            shm_size=int(hc.get("ShmSize") or 64 * 1024 * 1024),
            annotations={"org.lamina.container.name": c.name},
        )

    def spawn(
        self, c: Container, bundle: Path, *, wait_attach: bool
    ) -> tuple[Popen[bytes] | None, MonitorState]:
        files = self.files(c.id)
        self._await_last_monitor(c.id, files)
        shutil.rmtree(files.dir, ignore_errors=True)
        files.dir.mkdir(parents=True)
        size = c.host_config.get("ConsoleSize") or None
        logging = logconfig.parse(c.host_config.get("LogConfig"))
        opts = Options(
            id=c.id,
            state_dir=files.dir,
            runtime_root=self.runtime_root,
            bundle=bundle,
            log=logplace.current_file(self.dir(c.id), c),
            log_max_size=logging.max_size,
            log_max_files=logging.max_files,
            log_compress=logging.compress,
            log_buffer=logging.buffer_size,
            runtime=self.runtime,
            tty=c.tty,
            stdin=bool(c.config.get("OpenStdin")),
            stdin_once=bool(c.config.get("StdinOnce")),
            wait_attach=wait_attach,
            console_size=(int(size[0]), int(size[1])) if size and all(size) else None,
        )
        return self.start_monitor(opts, self.dir(c.id) / "monitor.log")

    def _await_last_monitor(self, cid: str, files: MonitorFiles) -> None:
        """A monitor publishes the exit first and has the runtime delete the container
        after (~6 ms): before the id is used again, let that monitor finish, and delete
        the container ourselves if it died before it could."""
        last = read_state(files.state)
        if last is not None and last.monitor_pid:
            process.wait_exit(last.monitor_pid, MONITOR_EXIT_TIMEOUT, marker=monitor.COMMAND)
        if (self.runtime_root / cid).exists():
            with contextlib.suppress(LaminaError):
                Runtime(self.runtime, root=self.runtime_root).delete(cid, force=True)

    # -- monitors -------------------------------------------------------------

    def start_monitor(
        self, opts: Options, stderr: Path
    ) -> tuple[Popen[bytes] | None, MonitorState]:
        """Through the fork server when it answers (fast); else a new interpreter."""
        for _ in range(2):
            server = self._forkserver_socket()
            if server is None:
                break
            try:
                return None, monitor.spawn_forked(server, opts, stderr=stderr)
            except (OSError, ValueError):
                self._forkserver = None  # gone or broken: start another, once
        return monitor.spawn(opts, stderr=stderr)

    def _forkserver_socket(self) -> Path | None:
        path = self.paths.run_dir / "monitors.sock"
        if self._forkserver is not None and self._forkserver.poll() is None:
            return path
        self._stop_stale_forkserver()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        log = open(self.paths.root / "forkserver.log", "ab")  # noqa: SIM115 (child keeps it)
        with log:
            self._forkserver = Popen(
                [sys.executable, "-m", "lamina.containers.monitor.forkserver", str(path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
                cwd="/",
            )
        (self.paths.run_dir / "forkserver.pid").write_text(str(self._forkserver.pid))
        deadline = time.monotonic() + 10
        while not path.exists():
            if self._forkserver.poll() is not None or time.monotonic() > deadline:
                self._forkserver = None
                return None
            time.sleep(0.005)
        return path

    def _stop_stale_forkserver(self) -> None:
        """A crashed daemon's fork server: stop it (its monitors are not its children)."""
        with contextlib.suppress(OSError, ValueError):
            pid = int((self.paths.run_dir / "forkserver.pid").read_text())
            if process.runs(pid, b"monitor.forkserver"):
                os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        if self._forkserver is not None:
            self._forkserver.kill()
            self._forkserver.wait()
            self._forkserver = None


def _bind(source: Path) -> Mount:
    return Mount("bind", str(source), options=("rbind", "rw"))


def _hostname(c: Container) -> str:
    return str(c.config.get("Hostname") or c.id[:12])


def _resources(hc: dict[str, Any]) -> Resources:
    memory = int(hc.get("Memory") or 0) or None
    swap = int(hc.get("MemorySwap") or 0)
    if memory and swap == 0:
        swap = 2 * memory  # Docker's default: as much swap as memory
    return Resources(
        memory=memory,
        memory_swap=swap or None,
        nano_cpus=int(hc.get("NanoCpus") or 0) or None,
        cpu_shares=int(hc.get("CpuShares") or 0) or None,
        pids_limit=int(hc.get("PidsLimit") or 0) or None,
    )


def _seccomp(security: list[str]) -> str:
    for option in security:
        # "key=value", else the old "key:value"; never split on a colon of inline JSON.
        key, sep, value = option.partition("=")
        if not sep:
            key, _, value = option.partition(":")
        if key == "seccomp":
            return value
    return "builtin"

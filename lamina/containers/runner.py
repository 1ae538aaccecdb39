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

from lamina import private, process
from lamina.config import Paths
from lamina.containers import devices, etcfiles, hostopts, securityopts
from lamina.containers.logs import config as logconfig
from lamina.containers.logs import place as logplace
from lamina.containers.model import Container
from lamina.containers.monitor import client as monitor
from lamina.containers.monitor.options import Options
from lamina.containers.mounts import runtime_mounts
from lamina.containers.networking import NetworkAttachment
from lamina.containers.resources import Resources
from lamina.containers.runtime import Runtime
from lamina.containers.spec import MountSpec, SpecInput, build_spec
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
        private.mkdir(base)  # its config (environment), logs and files: the owner's only
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
        self,
        c: Container,
        rootfs: Path,
        argv: list[str],
        network: NetworkAttachment | None = None,
        *,
        pid_ns: str | None = None,
    ) -> Path:
        """`pid_ns`: "host" or another container's namespace to join (None: its own)."""
        base = self.dir(c.id)
        network = network or NetworkAttachment()
        etc = etcfiles.write_etc_files(
            base,
            hostname=_hostname(c),
            domainname=str(c.config.get("Domainname") or ""),
            addresses=network.addresses,
            extra_hosts=[*_extra_hosts(c, network), *network.hosts],
            resolv=_resolv(c, network),
        )
        etc_mounts = tuple(
            MountSpec(dest, "bind", str(src), ("rbind", "rprivate"))
            for dest, src in etc.items()
            if dest not in {p.destination for p in c.mounts}
        )
        inp = self.spec_input(c, rootfs, argv, etc_mounts)
        spec = build_spec(
            replace(inp, netns=network.netns, env=[*network.env, *inp.env], pid_ns=pid_ns)
        )
        path = base / "bundle" / "config.json"
        tmp = path.with_suffix(".tmp")
        private.write_file(tmp, json.dumps(spec).encode())
        os.replace(tmp, path)
        return path.parent

    def spec_input(
        self, c: Container, rootfs: Path, argv: list[str], extra: tuple[MountSpec, ...] = ()
    ) -> SpecInput:
        hc = c.host_config
        security = dict(securityopts.parse(hc))
        base = SpecInput(
            args=argv,
            env=list(c.config.get("Env") or []),
            cwd=c.config.get("WorkingDir") or "/",
            user=c.config.get("User") or "",
            rootfs=rootfs,
            hostname=_hostname(c),
            terminal=c.tty,
            readonly_rootfs=bool(hc.get("ReadonlyRootfs")),
            mounts=(*extra, *runtime_mounts(list(c.mounts))),
            resources=Resources.from_host_config(hc),
            privileged=bool(hc.get("Privileged")),
            cap_add=tuple(hc.get("CapAdd") or ()),
            cap_drop=tuple(hc.get("CapDrop") or ()),
            no_new_privileges=security.get("no-new-privileges") in ("true", "1"),
            seccomp=security.get("seccomp", "builtin"),
            host_network=hc.get("NetworkMode") == "host",
            cgroups_path=_cgroups_path(c),
            init=str(INIT_BINARY) if hc.get("Init") else None,
            shm_size=int(hc.get("ShmSize") or 64 * 1024 * 1024),
            annotations={**(hc.get("Annotations") or {}), "org.lamina.container.name": c.name},
        )
        return _with_host_options(base, c)

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
            runtime_root=self.runtime_root,
            bundle=bundle,
            log=logplace.current_file(self.dir(c.id), c),
            log_config=logconfig.parse(c.host_config.get("LogConfig")),
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
        log = private.open_append(self.paths.root / "forkserver.log")
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


def _with_host_options(base: SpecInput, c: Container) -> SpecInput:
    """The HostConfig options read through lamina.containers.hostopts."""
    hc = c.host_config
    unconfined = ("systempaths", "unconfined") in securityopts.parse(hc)
    ipc = hostopts.namespace_mode(hc, "IpcMode")[0]
    mounts = base.mounts
    if ipc == "host":  # the host's /dev/shm with its IPC namespace, as Docker
        mounts = (MountSpec("/dev/shm", "bind", "/dev/shm", ("rbind", "rprivate")), *mounts)
    nodes, rules = _devices(hc)
    return replace(
        base,
        mounts=mounts,
        oom_score_adj=int(hc["OomScoreAdj"]) if hc.get("OomScoreAdj") else None,
        sysctls=hostopts.sysctls(hc),
        rlimits=hostopts.ulimits(hc),
        group_add=hostopts.group_add(hc),
        devices=nodes,
        device_rules=(*rules, *hostopts.device_rules(hc)),
        ipc_ns=ipc if ipc in ("host", "none") else None,
        cgroup_ns=hostopts.namespace_mode(hc, "CgroupnsMode")[0],
        domainname=str(c.config.get("Domainname") or ""),
        masked_paths=() if unconfined else _paths(hc.get("MaskedPaths")),
        readonly_paths=() if unconfined else _paths(hc.get("ReadonlyPaths")),
    )


def _cgroups_path(c: Container) -> str:
    """Under /lamina, or the --cgroup-parent asked for (a path, as Docker's cgroupfs
    driver takes it; ".." cannot climb above the cgroup root)."""
    parent = str(c.host_config.get("CgroupParent") or "/lamina")
    return os.path.normpath(os.path.join("/", parent, c.id))


def _devices(hc: dict[str, Any]) -> tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]:
    nodes: list[dict[str, Any]] = []
    rules: list[dict[str, Any]] = []
    for mapping in hostopts.device_mappings(hc):
        found, allowed = devices.from_path(mapping)
        nodes += found
        rules += allowed
    return tuple(nodes), tuple(rules)


def _paths(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(str(p) for p in value)


def _extra_hosts(c: Container, network: NetworkAttachment) -> list[tuple[str, str]]:
    """--add-host entries; host-gateway is the default bridge's gateway, as Docker."""
    out = []
    for name, ip in hostopts.extra_hosts(c.host_config):
        if ip == hostopts.HOST_GATEWAY:
            if not network.host_gateway:
                raise InvalidArgument("unable to derive the IP value for host-gateway")
            ip = network.host_gateway
        out.append((name, ip))
    return out


def _resolv(c: Container, network: NetworkAttachment) -> etcfiles.Resolv:
    hc = c.host_config
    return etcfiles.Resolv(
        nameservers=tuple(hc.get("Dns") or network.dns),
        search=tuple(hc["DnsSearch"]) if hc.get("DnsSearch") else None,
        options=tuple(hc["DnsOptions"]) if hc.get("DnsOptions") else None,
        internal=bool(network.dns) and not hc.get("Dns"),
    )

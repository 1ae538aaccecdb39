"""The composition root: one `Engine` wires the stores and services of an instance.

The API layer and the tests hold an Engine; nothing below it knows the Engine exists.
Its caller builds the OCI runtime (lamina.runtime: the daemon from LAMINA_RUNTIME, a test
a fake) and the Engine hands that one to the containers, their execs and the builder.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from lamina import private
from lamina.build.builder import Builder
from lamina.config import Paths
from lamina.containers.execs import ExecService
from lamina.containers.records import ContainerRecords
from lamina.containers.runner import Runner
from lamina.containers.service import ContainerService
from lamina.errors import FailedPrecondition
from lamina.images.records import ImageRecords
from lamina.images.service import ImageService
from lamina.networks import NetworkService
from lamina.runtime.protocol import Runtime
from lamina.store.content import ContentStore
from lamina.store.gc import Collector
from lamina.store.layers.copy import CopyDriver
from lamina.store.layers.driver import Driver
from lamina.store.layers.overlay import OverlayDriver
from lamina.store.layers.store import LayerStore
from lamina.store.metadata import Metadata
from lamina.volumes.service import VolumeService

VERSION = "0.1.0"
API_VERSION = "1.45"
MIN_API_VERSION = "1.24"


class Engine:
    def __init__(
        self,
        paths: Paths,
        *,
        storage_driver: str | None = None,
        runtime: Runtime,
        log: Callable[[str], None] = lambda _m: None,
    ) -> None:
        self.paths = paths
        make_private(paths)
        self.content = ContentStore(paths.root / "content")
        self.metadata = Metadata(paths.root / "lamina.db")
        layers_root = paths.root / "layers"
        self.driver = choose_driver(
            storage_driver or os.environ.get("LAMINA_STORAGE_DRIVER"), layers_root
        )
        self.layers = LayerStore(layers_root, self.driver)
        image_records = ImageRecords(self.metadata)
        self.collector = Collector(self.content, self.layers, image_records, log=log)
        # Images, volumes and networks ask who uses them; only the container records know.
        container_records = ContainerRecords(self.metadata)
        self.collector.add_roots(container_records.mark_roots)
        self.images = ImageService(
            self.content,
            self.layers,
            image_records,
            self.collector,
            containers_using=container_records.image_users,
        )
        self.volumes = VolumeService(
            paths.root / "volumes", self.metadata, users=container_records.volume_users
        )
        self.networks = NetworkService(paths, self.metadata, container_records, log=log)
        runner = Runner(paths, self.layers, self.volumes, runtime=runtime)
        self.containers = ContainerService(
            container_records,
            self.images,
            self.volumes,
            runner,
            networking=self.networks.networking,
            log=log,
        )
        self.execs = ExecService(self.containers)
        self.builder = Builder(
            root=paths.root / "build",
            images=self.images,
            runtime=runtime,
            cgroup_parent=paths.cgroup_parent,
        )

    def restore(self) -> None:
        """After a daemon (re)start: adopt running containers, record exits meanwhile;
        then free what a crash left that nothing references (store/gc.py)."""
        self.networks.restore()  # first: bridges up, a crashed daemon's leftovers gone
        self.containers.restore()
        # No build runs yet: every active snapshot but the containers' is a leftover.
        self.layers.sweep(held=self.containers.snapshots())
        self.collector.collect()

    def close(self) -> None:
        self.networks.shutdown()
        self.builder.close()
        self.containers.runner.close()
        self.metadata.close()


# What lamina keeps in its run dir; a folder holding anything else is shared with others.
# (A new entry belongs here: tests/integration/test_private.py checks the list.)
RUN_DIR_ENTRIES = frozenset(
    {"lamina.sock", "lamina.lock", "monitors.sock", "forkserver.pid", "c", "runc", "netns"}
    | {"ports", "lamina.pid"}  # lamina.pid: an older lamina's
)


# What a container sees of its folder (runner.py's layout): the rootfs mount point, the
# writable layer an older lamina kept there (upper, work: restore moves them into the
# layer store, after this runs) and the /etc files bind-mounted into it, which a
# non-root user in it must read, keep their modes. Everything else there
# (bundle/config.json with the environment, logs, local-logs/, monitor.log) is private:
# 0700 folders, 0600 files.
CONTAINER_SHARED = frozenset({"upper", "work", "rootfs", "hosts", "hostname", "resolv.conf"})


def make_private(paths: Paths) -> None:
    """Docker's modes for the root and everything lamina keeps in it (lamina.private),
    set before the stores open: an older lamina, or a umask, may have made them readable
    by others. Files made later get their modes as they are made; this tightens what is
    already there, at a stat (and a chmod where one is needed) per file."""
    root = paths.root
    private.mkdir(root, private.ROOT_MODE)
    for store in ("content", "layers", "containers", "build"):
        private.mkdir(root / store)
    private.mkdir(root / "volumes", private.VOLUMES_MODE)
    private.sqlite_file(root / "lamina.db")
    for log in ("daemon.log", "forkserver.log"):
        private.tighten(root / log, private.PRIVATE_FILE)
    for entry in os.scandir(root / "containers"):
        if entry.is_dir(follow_symlinks=False):
            private.tighten_tree(entry.path, keep=CONTAINER_SHARED)
    for entry in os.scandir(root / "volumes"):
        if entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
            private.tighten(entry.path, private.VOLUMES_MODE)
    make_run_dir_private(paths.run_dir)


def make_run_dir_private(run_dir: Path) -> None:
    """The run dir 0700 when it is lamina's own. The folder of a socket named lamina.sock
    is the run dir, and that may be /run or /tmp (LAMINA_HOST=unix:///tmp/lamina.sock):
    such a shared folder keeps its mode, and lamina's folders in it are made private."""
    if not run_dir.exists() or {e.name for e in os.scandir(run_dir)} <= RUN_DIR_ENTRIES:
        private.mkdir(run_dir)
        return
    for name in ("c", "runc", "netns", "ports"):
        private.mkdir(run_dir / name)


def choose_driver(name: str | None, layers_root: Path) -> Driver:
    """The named storage driver, or overlay where the kernel offers it, else copy."""
    layers_root.mkdir(parents=True, exist_ok=True)
    if name in (None, "", "overlay", "overlay2"):
        overlay = OverlayDriver(layers_root)
        if overlay.supported():
            return overlay
        if name:
            raise FailedPrecondition("storage driver overlay is not supported on this host")
        return CopyDriver(layers_root)
    if name in ("copy", "vfs"):
        return CopyDriver(layers_root)
    raise FailedPrecondition(f"unknown storage driver {name!r}: choose overlay or copy")

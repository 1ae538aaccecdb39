"""The container service: Docker's container lifecycle over runc and per-container monitors.

Built on lamina.containers.running (start, stop, kill, restart, exits), it adds what is
not about a running process: lookup, create (lamina.containers.creation), wait,
remove, rename, prune, and `restore` after a daemon restart, which finds the monitors of
running containers by their state files, so containers outlive the daemon.
"""

from __future__ import annotations

import functools
import secrets
import socket
from collections.abc import Mapping
from pathlib import Path

from lamina.containers import attaching, creation, listing, logplace, watching
from lamina.containers.create import check_name
from lamina.containers.model import Container
from lamina.containers.monitor.state import read_state
from lamina.containers.monitor.stdio import AttachRequest
from lamina.containers.names import generate
from lamina.containers.running import ContainerLifecycle, StartFailed, start_waiting
from lamina.containers.spec import ContainerSpec
from lamina.containers.waiting import Condition, Wait
from lamina.errors import Conflict, InvalidArgument, LaminaError
from lamina.filters import labels_match, timestamp
from lamina.oci.digest import Digest
from lamina.store.usage import tree_size
from lamina.timestamps import parse_rfc3339

__all__ = ["ContainerService", "StartFailed", "start_waiting"]


class ContainerService(ContainerLifecycle):
    """Docker's containers: `create` … `remove`, with the running side it inherits."""

    # -- lookup ---------------------------------------------------------------

    def all(self) -> list[Container]:
        return sorted(self.records.all(), key=lambda c: c.created, reverse=True)

    def matching(
        self, *, all_: bool = False, limit: int = -1, filters: listing.Filters | None = None
    ) -> list[Container]:
        """`GET /containers/json`: the newest first, running ones only unless `all_` or
        a `limit` is given (Docker's `ps -n` counts stopped ones too), those Docker's
        `filters` select (lamina.containers.listing), at most `limit`."""
        filters = filters or {}
        listing.check(filters)
        resolve = functools.cache(self.images.resolve)  # each ancestor once, not per container
        found = [
            c
            for c in listing.between(self.all(), filters, self.get)
            if listing.matches(
                c,
                filters,
                all_=all_ or limit > 0,
                resolve_image=resolve,
                joined=self.networking.joined,
            )
        ]
        return found[:limit] if limit > 0 else found

    def snapshots(self) -> set[str]:
        """The layer store keys of every container's writable layer."""
        return {self.runner.snapshot(c.id) for c in self.records.all()}

    # -- its files --------------------------------------------------------------

    def folder(self, c: Container) -> Path:
        """The container's folder (lamina.containers.runner's layout)."""
        return self.runner.dir(c.id)

    def log_files(self, c: Container) -> logplace.LogFiles:
        """Where `logs` reads; Docker's 501 (Unsupported) when its driver keeps none."""
        return logplace.log_files(self.runner.dir(c.id), c)

    def log_path(self, c: Container) -> str:
        """inspect's `LogPath`: the json-file log's path, else ""."""
        return logplace.shown_path(self.runner.dir(c.id), c)

    def layer_dirs(self, c: Container) -> tuple[Path, Path]:
        """Its writable layer's upper and work folders in the layer store (inspect's
        GraphDriver)."""
        return self.runner.upper(c.id), self.runner.work(c.id)

    def layer_size(self, c: Container) -> int:
        """The bytes in the container's writable layer (`system df`'s SizeRw)."""
        return tree_size(self.runner.upper(c.id))

    # -- stdio ----------------------------------------------------------------

    def attach(
        self, ref: str, request: AttachRequest
    ) -> socket.socket | attaching.PendingAttach | None:
        """Attach to its stdio: now if it runs, else at its next start
        (lamina.containers.attaching); None when it can do neither."""
        return attaching.attach(self, ref, request)

    def resize(self, ref: str, *, height: int, width: int) -> None:
        """Set its terminal's size; nothing for a container that is not running."""
        c = self.get(ref)
        if c.state.running:
            self.runner.monitors.control(
                self.runner.files(c.id), "resize", height=height, width=width
            )

    # -- create ---------------------------------------------------------------

    def create(self, spec: ContainerSpec) -> Container:
        """Docker's container create, from a spec the API decoded (lamina.containers.spec):
        its values checked, the container made, then joined to its networks. Everything
        is checked before anything is made: a refused create changes nothing
        (lamina.containers.creation says in which order)."""
        self.networking.check_create(spec.host_config, spec.endpoints, mac=spec.mac_address)
        container = self._create(spec)
        self.networking.created(container, spec.endpoints)
        return container

    def _create(self, spec: ContainerSpec) -> Container:
        runtime = self.runner.runtime.binary
        request = creation.checked_request(spec, self.images, runtime=runtime)
        with self.lock:
            container = creation.new_container(
                request,
                cid=secrets.token_hex(32),
                name=self._free_name(spec.name),
                find=self.get,
                volumes=self.volumes,
            )
            self._store(container, request.image.id)
        return container

    def _free_name(self, name: str | None) -> str:
        """`name` if it is valid and no container has it; a generated one for None."""
        taken = {c.name for c in self.records.all()}
        chosen = check_name(name) if name else generate(taken)
        if chosen in taken:
            raise self.records.name_conflict(chosen)
        return chosen

    def _store(self, c: Container, image_id: Digest) -> None:
        """Make its writable layer and record it with its layer reference."""
        # The lease keeps the layers from the moment they are read until the row's own
        # reference holds them, whatever an `rmi -f` does meanwhile.
        with self.images.lease_layers(image_id, name=c.image) as layer:
            try:
                self.runner.prepare(c.id, layer)
                self.records.add(c, layer=layer)
            except BaseException:
                self.runner.destroy(c.id)
                raise

    def wait(self, ref: str, *, condition: str = "not-running") -> Wait:
        """Register Docker's /wait on a container (lamina.containers.waiting): the event
        it waits for is fixed by the time this returns; `result()` blocks until it.
        NotFound for an unknown container, InvalidArgument for an unknown condition."""
        wanted = Condition.parse(condition)
        with self.lock:
            c = self.get(ref)
            return self.waits.register(
                c.id, wanted, running=c.state.running, exit_code=c.state.exit_code
            )

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
            self.waits.removed(c.id, c.state.exit_code)
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
        remove the files of containers whose removal a crash interrupted; move the
        writable layers an older lamina kept into the layer store."""
        recorded = self.records.all()  # read once: nothing before the last loop changes them
        known = {c.id for c in recorded}
        for cid in self.runner.container_dirs():
            if cid not in known:
                self.runner.destroy(cid)
        for cid in known:
            self.runner.adopt_legacy(cid, self.records.layer(cid))
        for c in recorded:
            if not c.state.running:
                self._release(c.id)
                continue
            state = read_state(self.runner.files(c.id).state)
            if state is not None and not state.final and self.runner.monitors.alive(state):
                self._watch(c.id)
                continue
            if state is None or not state.final:
                state = watching.lost_monitor("the container's monitor was lost")
            self._exited(c.id, state)

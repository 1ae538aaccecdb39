"""The volume service: directories that outlive containers, as Docker's `local` driver.

Terms
    volume     A name, a row in the `volumes` table and a directory `<root>/<name>/_data`
               that containers bind-mount. Only the `local` driver exists.
    anonymous  A volume made without a name: it gets 64 random hex digits and the label
               `com.docker.volume.anonymous` (Docker 23+), which is what plain prune removes.
    users      The containers that mount a volume. Only the container service knows them,
               so it is injected as `users(name) -> [container ID]`. A volume with users is
               in use (it cannot be removed or pruned); one without is dangling. The
               service calls it holding `lock`, so it must answer from the container
               service's records without waiting on a lock held while calling in here.
    copy-up    On first use, the image's content at the mount path is copied into an
               empty volume (how `-v data:/var/lib/postgresql` starts with the image's
               files). It happens once in a volume's life: emptied later, it stays empty.

Lifecycle
    create   makes the directory with one rename (disk.py), then records the row. A name
             that exists is returned as it is: Docker's create is idempotent.
    copy_up  stages the copy beside `_data`, records that the volume is populated, then
             moves the staged entries in; a crash mid-move is finished on the next start.
    remove   renames the directory away, deletes the row, then deletes the files.

A crash can leave a directory without a row or a row without a directory; the
constructor reconciles them (and logs what it did): rows whose directory is gone are
deleted; a directory without a row is deleted when its `_data` is empty (a create cut
short) and adopted as a volume otherwise, because deleting data a user may want is
the one mistake that cannot be undone.

Mutations, and container code that must see a volume stay put while it records a mount,
hold `lock`.
"""

from __future__ import annotations

import builtins
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lamina.errors import Conflict, InvalidArgument, LaminaError, NotFound
from lamina.filters import bool_filter, labels_match
from lamina.labels import check_labels
from lamina.store.metadata import Metadata
from lamina.volumes.disk import VolumeDirs
from lamina.volumes.records import VolumeRecords, VolumeRow

ANONYMOUS_LABEL = "com.docker.volume.anonymous"
NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]"
_NAME = re.compile(NAME_CHARS + "+")
# The options Docker's local driver takes (`size` only on xfs with quotas).
LOCAL_OPTIONS = ("type", "device", "o", "size")
LIST_FILTERS = frozenset({"name", "label", "driver", "dangling"})

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Volume:
    name: str
    driver: str
    mountpoint: Path
    created: float
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    populated: float | None = None

    @property
    def anonymous(self) -> bool:
        return ANONYMOUS_LABEL in self.labels


class VolumeService:
    def __init__(
        self, root: Path, db: Metadata, *, users: Callable[[str], list[str]] = lambda name: []
    ) -> None:
        self.dirs = VolumeDirs(root)
        self.records = VolumeRecords(db)
        self.users = users
        self.lock = threading.RLock()
        self.reconciled = self.reconcile()

    # -- lookup ---------------------------------------------------------------

    def get(self, name: str) -> Volume:
        return self._volume(self._row(name))

    def list(self, filters: Mapping[str, Sequence[str]] | None = None) -> list[Volume]:
        """Volumes sorted by name that pass every filter, as `GET /volumes` takes them:
        name (a regular expression searched in the name), driver, label (key or
        key=value) and dangling (true: no container uses it, false: some do)."""
        filters = filters or {}
        unknown = sorted(set(filters) - LIST_FILTERS)
        if unknown:
            raise InvalidArgument(f"invalid filter '{unknown[0]}'")
        dangling = bool_filter(filters, "dangling")
        out = []
        for row in self.records.all():
            if not _names_match(row.name, filters.get("name", ())):
                continue
            if filters.get("driver") and row.driver not in filters["driver"]:
                continue
            if not labels_match(row.labels, filters.get("label", ())):
                continue
            if dangling is not None and dangling == bool(self.users(row.name)):
                continue
            out.append(self._volume(row))
        return out

    def mountpoint(self, name: str) -> Path:
        return self.dirs.data(self._row(name).name)

    def size(self, name: str) -> int:
        """Bytes in the volume, as `system df` reports them."""
        return self.dirs.size(self._row(name).name)

    # -- changes --------------------------------------------------------------

    def create(
        self,
        name: str | None = None,
        *,
        driver: str = "local",
        labels: Mapping[str, str] | None = None,
        options: Mapping[str, str] | None = None,
    ) -> Volume:
        """Make a volume, or return the one of that name; no name makes an anonymous one."""
        check_labels(labels, "Labels")
        labels, options = dict(labels or {}), dict(options or {})
        if not name:
            name = secrets.token_hex(32)
            labels[ANONYMOUS_LABEL] = ""
        driver = driver or "local"
        _check_name(name)
        if driver != "local":
            raise InvalidArgument(
                f'create {name}: error looking up volume plugin {driver}: plugin "{driver}" '
                'not found (lamina has only the "local" volume driver)'
            )
        with self.lock:
            existing = self.records.get(name)
            if existing is not None:
                return self._volume(existing)
            _check_options(name, options)
            row = VolumeRow(name, driver, time.time(), labels, options)
            self.dirs.make(name)
            try:
                self.records.insert(row)
            except BaseException:
                self.dirs.discard(name)
                raise
        return self._volume(row)

    def remove(self, name: str, *, force: bool = False) -> None:
        """Remove an unused volume and its data. `force` forgives a missing volume, as
        Docker's does; it never removes a volume a container uses."""
        with self.lock:
            if self.records.get(name) is None:
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            users = self.users(name)
            if users:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
            self._delete(name)

    def prune(
        self, *, all: bool = False, labels: Sequence[str] = (), without_labels: Sequence[str] = ()
    ) -> tuple[builtins.list[str], int]:
        """Remove volumes no container uses: anonymous ones only, or every one with
        `all` (Docker 23+). `labels` must all match, `without_labels` none of them.
        Returns the names removed and the bytes freed."""
        deleted: list[str] = []
        reclaimed = 0
        with self.lock:
            for row in self.records.all():
                if not all and ANONYMOUS_LABEL not in row.labels:
                    continue
                if not labels_match(row.labels, labels, without_labels) or self.users(row.name):
                    continue
                size = self.dirs.size(row.name)
                try:
                    self._delete(row.name)
                except LaminaError as err:  # one stuck volume must not stop the rest
                    log.warning("prune: volume %s: %s", row.name, err)
                    continue
                deleted.append(row.name)
                reclaimed += size
        return deleted, reclaimed

    def copy_up(self, name: str, source: Path) -> bool:
        """Copy the image directory `source` into the volume if its data is empty and it
        was never filled before; True if it copied. Owners, modes, times, symlinks, hard
        links, xattrs and device nodes are kept, and `_data` takes `source`'s owner and
        mode. `source` is a directory inside a container's rootfs, already resolved there
        by the caller; symlinks below it are copied as links, never followed."""
        with self.lock:
            row = self._row(name)
            if row.populated is not None or not self.dirs.is_empty(name):
                return False
            if not self.dirs.stage_copy(name, source):
                return False
            self.records.mark_populated(name, time.time())
            self.dirs.finish_copy(name)
            return True

    # -- crash recovery -------------------------------------------------------

    def reconcile(self) -> builtins.list[str]:
        """Make rows and directories agree after a crash; returns (and logs) what it did."""
        done = [f"removed unfinished {entry}" for entry in self.dirs.sweep()]
        with self.lock:
            rows = {row.name: row for row in self.records.all()}
            on_disk = set(self.dirs.names())
            for name, row in rows.items():
                if name not in on_disk or not self.dirs.exists(name):
                    self.dirs.discard(name)  # a <name>/ without _data would block a new one
                    self.records.delete(name)
                    done.append(f"volume {name}: its directory is gone, record removed")
                elif self.dirs.has_copy(name):
                    done.append(self._resume_copy(row))
            for name in sorted(on_disk - rows.keys()):
                if _NAME.fullmatch(name):
                    done.append(self._orphan(name))
        for line in done:
            log.warning("volumes: %s", line)
        return done

    def _resume_copy(self, row: VolumeRow) -> str:
        if row.populated is None:
            self.dirs.drop_copy(row.name)
            return f"volume {row.name}: dropped an unfinished copy of image content"
        self.dirs.finish_copy(row.name)
        return f"volume {row.name}: finished moving copied image content in"

    def _orphan(self, name: str) -> str:
        if not self.dirs.exists(name) or (
            self.dirs.is_empty(name) and not self.dirs.has_copy(name)
        ):
            self.dirs.discard(name)
            return f"volume {name}: directory without a record (a create cut short), removed"
        created = self.dirs.data(name).stat().st_mtime
        self.records.insert(VolumeRow(name, "local", created))
        return f"volume {name}: directory with data but no record, adopted as a volume"

    # -- helpers --------------------------------------------------------------

    def _row(self, name: str) -> VolumeRow:
        row = self.records.get(name)
        if row is None:
            raise NotFound(f"get {name}: no such volume")
        return row

    def _volume(self, row: VolumeRow) -> Volume:
        return Volume(
            row.name,
            row.driver,
            self.dirs.data(row.name),
            row.created,
            dict(row.labels),
            dict(row.options),
            row.populated,
        )

    def _delete(self, name: str) -> None:
        # Renamed away before the row goes: a crash in between leaves a row without a
        # directory (reconciled) rather than data without a row (which would be adopted).
        trash = self.dirs.retire(name)
        self.records.delete(name)
        self.dirs.purge(trash)


def _check_name(name: str) -> None:
    if len(name) == 1:
        raise InvalidArgument(
            f"create {name}: volume name is too short, names should be at "
            "least two alphanumeric characters"
        )
    if not _NAME.fullmatch(name):
        raise InvalidArgument(
            f'create {name}: "{name}" includes invalid characters for a local volume name, '
            f'only "{NAME_CHARS}" are allowed. If you intended to pass a host directory, '
            "use absolute path"
        )


def _check_options(name: str, options: Mapping[str, str]) -> None:
    for key in options:
        if key not in LOCAL_OPTIONS:
            raise InvalidArgument(f'create {name}: invalid option key: "{key}"')
    if options:
        raise InvalidArgument(
            f"create {name}: local volume options ({', '.join(sorted(options))}) are not "
            "supported yet: lamina's local volumes are plain directories"
        )


def _names_match(name: str, patterns: Sequence[str]) -> bool:
    """Docker matches `name` filters as regular expressions searched in the name."""
    if not patterns:
        return True
    for pattern in patterns:
        try:
            if re.search(pattern, name):
                return True
        except re.error:
            if pattern in name:
                return True
    return False

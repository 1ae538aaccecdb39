"""The volume service against a temporary root and database: no daemon, no mounts."""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from lamina.errors import Conflict, InvalidArgument, NotFound
from lamina.store.metadata import Metadata
from lamina.volumes import ANONYMOUS_LABEL, VolumeService


class Users:
    """The container service's answer to "who mounts this volume", settable by a test."""

    def __init__(self) -> None:
        self.by_volume: dict[str, list[str]] = {}

    def __call__(self, name: str) -> list[str]:
        return self.by_volume.get(name, [])


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Metadata]:
    metadata = Metadata(tmp_path / "lamina.db")
    yield metadata
    metadata.close()


@pytest.fixture
def users() -> Users:
    return Users()


@pytest.fixture
def service(tmp_path: Path, db: Metadata, users: Users) -> VolumeService:
    return VolumeService(tmp_path / "volumes", db, users=users)


def entries(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir())


# -- create, get ---------------------------------------------------------------


def test_create_makes_data_dir_and_record(service: VolumeService, tmp_path: Path) -> None:
    volume = service.create("data", labels={"a": "1"})
    assert volume.name == "data" and volume.driver == "local"
    assert volume.mountpoint == tmp_path / "volumes" / "data" / "_data"
    assert volume.mountpoint.is_dir() and not any(volume.mountpoint.iterdir())
    assert volume.labels == {"a": "1"} and volume.options == {}
    assert not volume.anonymous and volume.populated is None
    assert service.get("data") == volume
    assert service.mountpoint("data") == volume.mountpoint


def test_create_is_idempotent(service: VolumeService) -> None:
    first = service.create("data", labels={"a": "1"})
    again = service.create("data", labels={"other": "x"})
    assert again == first  # Docker returns the existing volume unchanged


def test_volumes_survive_a_new_service(
    tmp_path: Path, db: Metadata, service: VolumeService
) -> None:
    made = service.create("keep", labels={"k": "v"})
    reopened = VolumeService(tmp_path / "volumes", db)
    assert reopened.get("keep") == made
    assert reopened.reconciled == []


def test_anonymous_volume_has_random_name_and_label(service: VolumeService) -> None:
    one, two = service.create(), service.create()
    assert re.fullmatch(r"[0-9a-f]{64}", one.name) and one.name != two.name
    assert one.labels == {ANONYMOUS_LABEL: ""} and one.anonymous


@pytest.mark.parametrize("name", ["a@b", "-lead", "with space", "../up", "a/b", ".hidden"])
def test_bad_names_are_refused_with_dockers_message(
    service: VolumeService, tmp_path: Path, name: str
) -> None:
    with pytest.raises(InvalidArgument) as err:
        service.create(name)
    assert str(err.value) == (
        f'create {name}: "{name}" includes invalid characters for a local volume name, only '
        '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
        "use absolute path"
    )
    assert entries(tmp_path / "volumes") == [] and service.list() == []


def test_one_letter_name_is_too_short(service: VolumeService) -> None:
    with pytest.raises(InvalidArgument, match="create x: volume name is too short"):
        service.create("x")


def test_only_the_local_driver(service: VolumeService) -> None:
    with pytest.raises(InvalidArgument, match='plugin "nfs" not found'):
        service.create("data", driver="nfs")
    assert service.create("data", driver="").driver == "local"


def test_driver_options_are_refused_for_now(service: VolumeService, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"options \(device, o, type\) are not supported"):
        service.create("tmp", options={"type": "tmpfs", "device": "tmpfs", "o": "size=100m"})
    with pytest.raises(InvalidArgument, match='invalid option key: "colour"'):
        service.create("tmp", options={"colour": "blue"})
    assert entries(tmp_path / "volumes") == []


def test_get_missing(service: VolumeService) -> None:
    with pytest.raises(NotFound, match=r"^get nosuch: no such volume$"):
        service.get("nosuch")
    with pytest.raises(NotFound):
        service.size("nosuch")


# -- list and filters ----------------------------------------------------------


def names(service: VolumeService, **filters: list[str]) -> list[str]:
    return [v.name for v in service.list(filters)]


def test_list_filters(service: VolumeService, users: Users) -> None:
    service.create("web-data", labels={"app": "web", "tier": "front"})
    service.create("db-data", labels={"app": "db"})
    service.create("cache")
    users.by_volume["db-data"] = ["c1"]
    assert names(service) == ["cache", "db-data", "web-data"]
    assert names(service, name=["data"]) == ["db-data", "web-data"]
    assert names(service, name=["^web"]) == ["web-data"]
    assert names(service, label=["app"]) == ["db-data", "web-data"]
    assert names(service, label=["app=web"]) == ["web-data"]
    assert names(service, label=["app=web", "tier=back"]) == []
    assert names(service, driver=["local"]) == ["cache", "db-data", "web-data"]
    assert names(service, driver=["nfs"]) == []
    assert names(service, dangling=["true"]) == ["cache", "web-data"]
    assert names(service, dangling=["0"]) == ["db-data"]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"until": ["1h"]}, "invalid filter 'until'"),
        ({"dangling": ["maybe"]}, "invalid filter 'dangling=maybe'"),
    ],
)
def test_bad_filters(service: VolumeService, filters: dict[str, list[str]], message: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        service.list(filters)


# -- remove --------------------------------------------------------------------


def test_remove_deletes_data_and_record(service: VolumeService, tmp_path: Path) -> None:
    volume = service.create("data")
    (volume.mountpoint / "file").write_text("x")
    service.remove("data")
    assert entries(tmp_path / "volumes") == []
    with pytest.raises(NotFound):
        service.get("data")


def test_remove_missing(service: VolumeService) -> None:
    with pytest.raises(NotFound, match=r"^get nosuch: no such volume$"):
        service.remove("nosuch")
    service.remove("nosuch", force=True)  # Docker forgives a missing volume when forced


def test_volume_in_use_is_not_removed_even_forced(service: VolumeService, users: Users) -> None:
    volume = service.create("data")
    (volume.mountpoint / "keep").write_text("x")
    users.by_volume["data"] = ["abc123", "def456"]
    for force in (False, True):
        with pytest.raises(Conflict) as err:
            service.remove("data", force=force)
        assert str(err.value) == "remove data: volume is in use - [abc123, def456]"
    assert (volume.mountpoint / "keep").read_text() == "x"


# -- prune ---------------------------------------------------------------------


def test_prune_removes_unused_anonymous_volumes_only(service: VolumeService, users: Users) -> None:
    named = service.create("named")
    free, busy = service.create(), service.create()
    users.by_volume[busy.name] = ["c1"]
    (free.mountpoint / "f").write_bytes(b"x" * 1000)
    deleted, reclaimed = service.prune()
    assert deleted == [free.name] and reclaimed == 1000
    assert {v.name for v in service.list()} == {named.name, busy.name}


def test_prune_all_removes_every_unused_volume(service: VolumeService, users: Users) -> None:
    service.create("one")
    service.create("two")
    service.create("busy")
    users.by_volume["busy"] = ["c1"]
    deleted, _ = service.prune(all=True)
    assert sorted(deleted) == ["one", "two"]
    assert names(service) == ["busy"]


def test_prune_label_filters(service: VolumeService) -> None:
    service.create("keep", labels={"keep": "yes"})
    service.create("tmp1", labels={"stage": "tmp"})
    service.create("tmp2", labels={"stage": "tmp", "keep": "yes"})
    service.create("other", labels={"stage": "prod"})
    assert service.prune(all=True, labels=["stage=tmp"], without_labels=["keep"])[0] == ["tmp1"]
    assert service.prune(all=True, without_labels=["stage=tmp", "keep"])[0] == ["other"]
    assert names(service) == ["keep", "tmp2"]
    assert service.prune() == ([], 0)  # named volumes are spared without all


def test_size_counts_each_inode_once(service: VolumeService) -> None:
    data = service.create("data").mountpoint
    (data / "a").write_bytes(b"x" * 300)
    os.link(data / "a", data / "hard")
    (data / "sub").mkdir()
    (data / "sub" / "b").write_bytes(b"y" * 200)
    (data / "link").symlink_to("a")  # counted as the link itself: one byte of target
    assert service.size("data") == 300 + 200 + 1


# -- copy-up -------------------------------------------------------------------


def image_dir(tmp_path: Path) -> Path:
    src = tmp_path / "rootfs" / "var" / "lib" / "app"
    (src / "conf").mkdir(parents=True)
    (src / "conf" / "app.conf").write_text("setting=1\n")
    (src / "run.sh").write_text("#!/bin/sh\n")
    (src / "run.sh").chmod(0o4755)
    (src / "conf").chmod(0o750)
    os.link(src / "run.sh", src / "run-again.sh")
    (src / "current").symlink_to("conf/app.conf")
    (src / "dangling").symlink_to("/nowhere/at/all")
    os.utime(src / "conf" / "app.conf", (1_600_000_000, 1_600_000_000))
    src.chmod(0o700)
    return src


def test_copy_up_keeps_modes_links_and_times(service: VolumeService, tmp_path: Path) -> None:
    src = image_dir(tmp_path)
    data = service.create("data").mountpoint
    assert service.copy_up("data", src) is True
    assert sorted(os.listdir(data)) == ["conf", "current", "dangling", "run-again.sh", "run.sh"]
    assert stat.S_IMODE((data / "run.sh").stat().st_mode) == 0o4755
    assert stat.S_IMODE((data / "conf").stat().st_mode) == 0o750
    assert stat.S_IMODE(data.stat().st_mode) == 0o700  # _data takes the image dir's mode
    assert (data / "run.sh").stat().st_ino == (data / "run-again.sh").stat().st_ino
    assert os.readlink(data / "current") == "conf/app.conf"
    assert os.readlink(data / "dangling") == "/nowhere/at/all"
    assert (data / "conf" / "app.conf").stat().st_mtime == 1_600_000_000
    assert service.get("data").populated is not None
    assert not (data.parent / "_copyup").exists()


def test_copy_up_keeps_xattrs(service: VolumeService, tmp_path: Path) -> None:
    src = image_dir(tmp_path)
    try:
        os.setxattr(src / "run.sh", "user.origin", b"image")
    except OSError as err:
        if err.errno in (errno.ENOTSUP, errno.EPERM):
            pytest.skip(f"no user xattrs on {tmp_path}")
        raise
    data = service.create("data").mountpoint
    service.copy_up("data", src)
    assert os.getxattr(data / "run.sh", "user.origin") == b"image"


def test_copy_up_happens_once(service: VolumeService, tmp_path: Path) -> None:
    src = image_dir(tmp_path)
    data = service.create("data").mountpoint
    assert service.copy_up("data", src)
    for child in data.iterdir():  # the user empties the volume
        if child.is_dir() and not child.is_symlink():
            for inner in child.iterdir():
                inner.unlink()
            child.rmdir()
        else:
            child.unlink()
    assert service.copy_up("data", src) is False
    assert list(data.iterdir()) == []


def test_no_copy_into_a_volume_with_data(service: VolumeService, tmp_path: Path) -> None:
    src = image_dir(tmp_path)
    data = service.create("data").mountpoint
    (data / "mine").write_text("user data")
    assert service.copy_up("data", src) is False
    assert os.listdir(data) == ["mine"]


def test_nothing_to_copy_leaves_the_volume_fillable(service: VolumeService, tmp_path: Path) -> None:
    service.create("data")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert service.copy_up("data", tmp_path / "missing") is False
    assert service.copy_up("data", empty) is False
    assert service.get("data").populated is None
    assert service.copy_up("data", image_dir(tmp_path)) is True


# -- crash recovery ------------------------------------------------------------


def test_reconcile_after_a_crash(
    tmp_path: Path, db: Metadata, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "volumes"
    service = VolumeService(root, db)
    service.create("intact")
    service.create("lost-dir")
    service.create("mid-copy")
    service.create("early-copy")
    service.create("no-data")
    # A create cut short after the rename, and one before it; a remove cut short.
    (root / "no-row" / "_data").mkdir(parents=True)
    (root / ".new-0123" / "_data").mkdir(parents=True)
    (root / ".gone-4567" / "_data" / "old").mkdir(parents=True)
    # Data without a row (the database was lost): kept and adopted.
    (root / "adopt-me" / "_data").mkdir(parents=True)
    (root / "adopt-me" / "_data" / "precious").write_text("x")
    # A row whose directory is gone.
    os.rename(root / "lost-dir", tmp_path / "elsewhere")
    (root / "no-data" / "_data").rmdir()  # and one whose _data is gone
    # copy-up: recorded as populated while moving entries in; staged but not recorded.
    mid = root / "mid-copy"
    (mid / "_copyup" / "b").mkdir(parents=True)
    (mid / "_data" / "a").write_text("moved already")
    service.records.mark_populated("mid-copy", 1.0)
    (root / "early-copy" / "_copyup" / "half").mkdir(parents=True)
    (root / "lost+found").mkdir()  # not a volume name: left alone

    with caplog.at_level(logging.WARNING, logger="lamina.volumes.service"):
        again = VolumeService(root, db)
    assert names(again) == ["adopt-me", "early-copy", "intact", "mid-copy"]
    assert entries(root) == ["adopt-me", "early-copy", "intact", "lost+found", "mid-copy"]
    assert (root / "adopt-me" / "_data" / "precious").read_text() == "x"
    assert sorted(os.listdir(mid / "_data")) == ["a", "b"] and not (mid / "_copyup").exists()
    assert not (root / "early-copy" / "_copyup").exists()
    assert again.get("early-copy").populated is None
    assert len(again.reconciled) == 8
    logged = caplog.text
    for word in (
        "lost-dir",
        "no-row",
        "adopt-me",
        ".new-0123",
        ".gone-4567",
        "mid-copy",
        "early-copy",
    ):
        assert word in logged

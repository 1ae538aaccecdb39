"""Files only root's capabilities make: other owners (CAP_CHOWN), device nodes
(CAP_MKNOD) and overlay's trusted.* xattrs (CAP_SYS_ADMIN), through layer tars, build
contexts, COPY and volume copy-up. No daemon; the unprivileged side of each lives in
tests/unit, which `make test` runs with every capability dropped."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from lamina.build.context.folder import BuildContext
from lamina.build.context.statcache import StatCache
from lamina.build.copy.apply import apply_copies
from lamina.build.copy.links import LinkIndex
from lamina.build.copy.select import select_copies
from lamina.store.archive import write_tar
from lamina.store.metadata import Metadata
from lamina.volumes import VolumeService
from tests.conftest import needs_root
from tests.support import jail as hostile
from tests.support.builds import aged_tree, write_tree
from tests.support.tars import (
    apply,
    build_tar,
    entry,
    read_members,
    reference_tar,
    roundtrip,
    source_tree,
    varied_tree,
)

pytestmark = [pytest.mark.root, needs_root()]


# -- layer tars ------------------------------------------------------------------


def test_roundtrip_keeps_numeric_owners(tmp_path: Path) -> None:
    tree = source_tree(tmp_path / "src")
    os.lchown(tree / "etc" / "shadow", 1234, 5678)
    os.lchown(tree / "etc" / "shell", 42, 43)
    os.chown(tree / "tmp", 7, 8)
    os.chmod(tree / "bin" / "sh", 0o6755)  # chown drops setuid, the extractor must not
    os.chown(tree / "bin" / "sh", 99, 99)
    os.chmod(tree / "bin" / "sh", 0o6755)
    roundtrip(tree, tmp_path / "dst")
    dst = tmp_path / "dst"
    assert (os.lstat(dst / "etc/shadow").st_uid, os.lstat(dst / "etc/shadow").st_gid) == (
        1234,
        5678,
    )
    assert (os.lstat(dst / "etc/shell").st_uid, os.lstat(dst / "etc/shell").st_gid) == (42, 43)
    assert (os.stat(dst / "tmp").st_uid, os.stat(dst / "tmp").st_gid) == (7, 8)
    assert stat.S_IMODE(os.stat(dst / "bin/sh").st_mode) == 0o6755


@pytest.mark.parametrize("epoch", [None, 1_000_000_000])
def test_same_bytes_as_tarfile_with_owners_and_devices(tmp_path: Path, epoch: int | None) -> None:
    varied = varied_tree(tmp_path / "tree", owners_and_devices=True)
    out = io.BytesIO()
    write_tar(varied, out, source_date_epoch=epoch)
    assert out.getvalue() == reference_tar(varied, epoch=epoch)


def test_whiteouts_overlay_mode_become_devices_and_xattrs(tmp_path: Path) -> None:
    tar = build_tar(
        entry("dir/.wh.gone"), entry("opq/", tarfile.DIRTYPE), entry("opq/.wh..wh..opq")
    )
    apply(tar, tmp_path, "overlay")
    st = os.lstat(tmp_path / "dir/gone")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(tmp_path / "opq", "trusted.overlay.opaque") == b"y"
    assert not (tmp_path / "dir/.wh.gone").exists()


def test_write_tar_overlay_upper_dir_emits_oci_whiteouts(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    (upper / "opq").mkdir(parents=True)
    (upper / "opq" / "z-new").write_text("new")
    os.setxattr(upper / "opq", "trusted.overlay.opaque", b"y")
    os.mknod(upper / "gone", stat.S_IFCHR, os.makedev(0, 0))
    os.link(upper / "gone", upper / "gone2")  # overlayfs shares one whiteout inode
    out = io.BytesIO()
    write_tar(upper, out, whiteouts="overlay")
    members = read_members(out.getvalue())
    assert [m.name for m in members] == [
        ".wh.gone",
        ".wh.gone2",
        "opq",
        "opq/.wh..wh..opq",
        "opq/z-new",
    ]
    assert all(m.isreg() for m in members if ".wh." in m.name)
    assert not any(
        k.startswith("SCHILY.xattr.trusted.overlay") for m in members for k in m.pax_headers
    )
    again = tmp_path / "again"
    again.mkdir()
    apply(out.getvalue(), again, "overlay")
    assert os.getxattr(again / "opq", "trusted.overlay.opaque") == b"y"
    assert stat.S_ISCHR(os.lstat(again / "gone2").st_mode)


def test_device_nodes_are_created_as_root(tmp_path: Path) -> None:
    apply(
        build_tar(entry("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666)), tmp_path
    )
    st = os.lstat(tmp_path / "dev/null")
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3
    assert stat.S_IMODE(st.st_mode) == 0o666


def test_dir_replacing_a_whiteout_is_opaque_in_overlay_mode(tmp_path: Path) -> None:
    apply(build_tar(entry(".wh.d"), entry("d/", tarfile.DIRTYPE)), tmp_path, "overlay")
    assert os.getxattr(tmp_path / "d", "trusted.overlay.opaque") == b"y"


# -- hostile tars ----------------------------------------------------------------


def test_overlay_whiteouts_through_symlinks_stay_inside(
    jail: hostile.Jail, untouched: Callable[[], None]
) -> None:
    jail.apply(hostile.whiteouts_through_symlinks(jail), "overlay")
    untouched()


def test_device_nodes_are_made_inside_only(
    jail: hostile.Jail, untouched: Callable[[], None]
) -> None:
    tar = hostile.build_tar(
        hostile.symlink("dev", str(jail.outside)),
        hostile.entry("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3),
        hostile.entry("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0),
    )
    jail.apply(tar)
    assert stat.S_ISCHR(jail.inside(str(jail.outside / "null")).lstat().st_mode)
    assert stat.S_ISBLK(jail.inside(str(jail.outside / "sda")).lstat().st_mode)
    untouched()


# -- build context and COPY --------------------------------------------------------


def test_chown_changes_the_checksum_unless_ownership_is_reset(tmp_path: Path) -> None:
    root = aged_tree(tmp_path / "ctx", {"Dockerfile": "FROM scratch\n", "src/index.ts": "1\n"})
    before = BuildContext(root).checksum()
    reset_before = BuildContext(root, reset_ownership=True).checksum().checksum
    os.chown(root / "src/index.ts", 1000, 1000)
    after = BuildContext(root).checksum()
    assert after.checksum != before.checksum
    assert after.files["src/index.ts"].split()[2] == "1000:1000"
    assert BuildContext(root, reset_ownership=True).checksum().checksum == reset_before


def test_unchanged_files_are_hard_links_to_a_layer(tmp_path: Path) -> None:
    context = BuildContext(aged_tree(tmp_path / "ctx", {"a.txt": "a", "b.txt": "b", "c.txt": "b"}),
                           reset_ownership=True, stat_cache=StatCache(None))  # fmt: skip
    index = LinkIndex()
    first = tmp_path / "layer1"
    first.mkdir()
    copies = select_copies(context, ["."], "/", dest_is_dir=lambda _: False)
    index.add(first, apply_copies(copies, first, view=None, owner=None, index=index))
    second = tmp_path / "upper2"
    second.mkdir()
    apply_copies(copies, second, view=None, owner=(0, 0), index=index)
    for name in ("a.txt", "b.txt"):
        assert (second / name).stat().st_ino == (first / name).stat().st_ino
    # c.txt is b.txt's twin: one COPY never makes two paths share an inode by itself
    assert (second / "b.txt").stat().st_ino != (second / "c.txt").stat().st_ino
    other_owner = tmp_path / "upper3"
    other_owner.mkdir()
    apply_copies(copies, other_owner, view=None, owner=(1000, 1000), index=index)
    assert (other_owner / "a.txt").stat().st_ino != (first / "a.txt").stat().st_ino


# -- volumes ---------------------------------------------------------------------


def test_volume_copy_up_keeps_owners_and_device_nodes(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "rootfs/var/lib/app", {"conf/app.conf": "setting=1\n"})
    (src / "current").symlink_to("conf/app.conf")
    os.chown(src, 999, 999)
    os.chown(src / "conf" / "app.conf", 1000, 1001)
    os.lchown(src / "current", 1002, 1003)
    os.mknod(src / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mkfifo(src / "pipe", 0o640)
    db = Metadata(tmp_path / "lamina.db")
    try:
        service = VolumeService(tmp_path / "volumes", db, users=lambda _name: [])
        data = service.create("data").mountpoint
        service.copy_up("data", src)
    finally:
        db.close()
    assert (data.stat().st_uid, data.stat().st_gid) == (999, 999)
    owned = (data / "conf" / "app.conf").stat()
    assert (owned.st_uid, owned.st_gid) == (1000, 1001)
    link = (data / "current").lstat()
    assert (link.st_uid, link.st_gid) == (1002, 1003)
    null = (data / "null").lstat()
    assert stat.S_ISCHR(null.st_mode) and null.st_rdev == os.makedev(1, 3)
    assert stat.S_ISFIFO((data / "pipe").lstat().st_mode)

"""lamina.store.archive: layer tars written and applied faithfully."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path
from typing import Any

import pytest

from lamina.errors import InvalidArgument
from lamina.store.archive import apply_layer, open_layer, write_tar

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="needs root (chown, mknod, trusted.* xattrs)")

Member = tuple[tarfile.TarInfo, bytes | None]


def entry(name: str, kind: bytes = tarfile.REGTYPE, **attrs: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.mtime = 1_600_000_000
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


def build_tar(*members: tarfile.TarInfo | Member) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for item in members:
            info, data = item if isinstance(item, tuple) else (item, None)
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def read_members(tar: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        return tf.getmembers()


def file(name: str, data: bytes, **attrs: Any) -> Member:
    return entry(name, **attrs), data


def apply(tar: bytes, target: Path, whiteouts: str = "delete") -> None:
    apply_layer(io.BytesIO(tar), target, whiteouts=whiteouts)  # type: ignore[arg-type]


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Everything a layer must carry, per path; hard links show as a shared group."""
    inodes: dict[int, str] = {}
    out: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath, name)
            st = path.lstat()
            rel = str(path.relative_to(root))
            group = inodes.setdefault(st.st_ino, rel) if not stat.S_ISDIR(st.st_mode) else rel
            body: object = None
            if stat.S_ISREG(st.st_mode):
                body = path.read_bytes()
            elif stat.S_ISLNK(st.st_mode):
                body = os.readlink(path)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                body = st.st_rdev
            xattrs = {
                k: os.getxattr(path, k, follow_symlinks=False)
                for k in sorted(os.listxattr(path, follow_symlinks=False))
            }
            out[rel] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, body, group, xattrs)
    return out


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A small rootfs with every kind of entry a layer can hold."""
    src = tmp_path / "src"
    (src / "bin").mkdir(parents=True)
    (src / "bin" / "sh").write_bytes(b"#!shell\n")
    (src / "bin" / "sh").chmod(0o4755)
    os.link(src / "bin" / "sh", src / "bin" / "ash")
    (src / "tmp").mkdir()
    (src / "tmp").chmod(0o1777)
    (src / "etc").mkdir()
    (src / "etc" / "shadow").write_text("root:*:\n")
    (src / "etc" / "shadow").chmod(0o600)
    os.setxattr(src / "etc" / "shadow", "user.note", b"\xffbinary\x00value")
    os.symlink("../bin/sh", src / "etc" / "shell")
    os.symlink("/nowhere/at/all", src / "dangling")
    os.mkfifo(src / "tmp" / "fifo")
    for path in [*src.rglob("*"), src]:
        os.utime(
            path, ns=(1_500_000_000_000_000_000, 1_500_000_000_000_000_000), follow_symlinks=False
        )
    return src


def roundtrip(src: Path, dst: Path, **kwargs: object) -> bytes:
    out = io.BytesIO()
    write_tar(src, out, **kwargs)  # type: ignore[arg-type]
    dst.mkdir()
    apply(out.getvalue(), dst)
    return out.getvalue()


def test_roundtrip_keeps_modes_links_xattrs_and_times(tree: Path, tmp_path: Path) -> None:
    roundtrip(tree, tmp_path / "dst")
    dst = tmp_path / "dst"
    assert snapshot(dst) == snapshot(tree)
    assert stat.S_IMODE(os.stat(dst / "bin/sh").st_mode) == 0o4755
    assert stat.S_IMODE(os.stat(dst / "tmp").st_mode) == 0o1777
    assert os.stat(dst / "bin/sh").st_ino == os.stat(dst / "bin/ash").st_ino


@needs_root
def test_roundtrip_keeps_numeric_owners(tree: Path, tmp_path: Path) -> None:
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


def test_dir_and_symlink_mtimes_survive_their_contents(tmp_path: Path) -> None:
    tar = build_tar(
        entry("d/", tarfile.DIRTYPE, mtime=1000, mode=0o555),
        file("d/f", b"x", mtime=2000),
        entry("d/l", tarfile.SYMTYPE, linkname="f", mtime=3000),
        entry("d/sub/", tarfile.DIRTYPE, mtime=4000),
        file("d/sub/g", b"y"),
    )
    apply(tar, tmp_path)
    assert os.stat(tmp_path / "d").st_mtime == 1000
    assert stat.S_IMODE(os.stat(tmp_path / "d").st_mode) == 0o555
    assert os.lstat(tmp_path / "d/l").st_mtime == 3000
    assert os.stat(tmp_path / "d/sub").st_mtime == 4000


def test_diff_id_is_sha256_of_the_whole_uncompressed_stream(tmp_path: Path) -> None:
    tar = build_tar(file("a", b"hello" * 1000), entry("d/", tarfile.DIRTYPE))
    tar += b"\0" * 8192  # trailing padding beyond the end-of-archive blocks counts too
    result = apply_layer(io.BytesIO(tar), tmp_path, whiteouts="delete")
    assert result.diff_id == "sha256:" + hashlib.sha256(tar).hexdigest()
    assert result.size == len(tar)


def test_open_layer_sniffs_gzip_and_plain(tmp_path: Path) -> None:
    tar = build_tar(file("a", b"data"))
    assert open_layer(io.BytesIO(gzip.compress(tar))).read() == tar
    assert open_layer(io.BytesIO(tar)).read() == tar
    assert open_layer(io.BytesIO(b"ab")).read() == b"ab"
    result = apply_layer(open_layer(io.BytesIO(gzip.compress(tar))), tmp_path, whiteouts="delete")
    assert result.diff_id == "sha256:" + hashlib.sha256(tar).hexdigest()


def test_open_layer_zstd_without_module_is_a_clear_error() -> None:
    try:
        import zstandard  # type: ignore[import-not-found]  # noqa: F401

        pytest.skip("zstandard is installed")
    except ImportError:
        pass
    with pytest.raises(InvalidArgument, match="zstd layers are not supported yet"):
        open_layer(io.BytesIO(b"\x28\xb5\x2f\xfd" + b"\0" * 16))


@pytest.mark.parametrize(
    "data", [b"", b"not a tar at all" * 64, build_tar(file("a", b"x" * 5000))[:1500]]
)
def test_corrupt_or_truncated_tar_is_invalid_argument(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(InvalidArgument, match="layer tar"):
        apply(data, tmp_path)


def test_write_tar_is_deterministic(tree: Path, tmp_path: Path) -> None:
    first, second = io.BytesIO(), io.BytesIO()
    write_tar(tree, first, source_date_epoch=1_000_000_000)
    for path in tree.rglob("*"):
        os.utime(path, follow_symlinks=False)  # now: later than the epoch
    write_tar(tree, second, source_date_epoch=1_000_000_000)
    assert first.getvalue() == second.getvalue()
    members = read_members(first.getvalue())
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert all(m.mtime == 1_000_000_000 and m.uname == "" and m.gname == "" for m in members)
    links = [m for m in members if m.islnk()]
    assert [(m.name, m.linkname) for m in links] == [("bin/sh", "bin/ash")]
    shadow = next(m for m in members if m.name == "etc/shadow")
    assert "SCHILY.xattr.user.note" in shadow.pax_headers


def test_write_tar_same_tree_elsewhere_same_bytes(tree: Path, tmp_path: Path) -> None:
    once = roundtrip(tree, tmp_path / "copy")
    again = io.BytesIO()
    write_tar(tmp_path / "copy", again)
    assert again.getvalue() == once


def lower(tmp_path: Path) -> Path:
    root = tmp_path / "layer"
    for rel in ("keep", "gone", "dir/gone-too", "dir/stay", "opq/old", "opq/sub/old2"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    return root


def test_whiteouts_delete_mode_removes_lower_entries(tmp_path: Path) -> None:
    root = lower(tmp_path)
    apply(build_tar(entry(".wh.gone"), entry("dir/.wh.gone-too"), entry(".wh.absent")), root)
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == sorted(
        ["keep", "dir", "dir/stay", "opq", "opq/old", "opq/sub", "opq/sub/old2"]
    )


def test_whiteout_of_a_directory_removes_it_recursively(tmp_path: Path) -> None:
    root = lower(tmp_path)
    apply(build_tar(entry(".wh.opq")), root)
    assert not (root / "opq").exists()


def test_whiteout_spares_entries_of_its_own_layer(tmp_path: Path) -> None:
    apply(build_tar(file("new", b"mine"), entry(".wh.new")), tmp_path)
    assert (tmp_path / "new").read_bytes() == b"mine"


def test_opaque_delete_mode_keeps_only_this_layers_entries(tmp_path: Path) -> None:
    root = lower(tmp_path)
    tar = build_tar(
        entry("opq/", tarfile.DIRTYPE),
        file("opq/before", b"b"),  # this layer, ahead of the marker: must survive
        file("opq/sub/mine", b"m"),
        entry("opq/.wh..wh..opq"),
        file("opq/after", b"a"),
    )
    apply(tar, root)
    assert sorted(str(p.relative_to(root / "opq")) for p in (root / "opq").rglob("*")) == [
        "after",
        "before",
        "sub",
        "sub/mine",
    ]
    assert (root / "keep").exists() and (root / "dir/stay").exists()


@needs_root
def test_whiteouts_overlay_mode_become_devices_and_xattrs(tmp_path: Path) -> None:
    tar = build_tar(
        entry("dir/.wh.gone"), entry("opq/", tarfile.DIRTYPE), entry("opq/.wh..wh..opq")
    )
    apply(tar, tmp_path, "overlay")
    st = os.lstat(tmp_path / "dir/gone")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(tmp_path / "opq", "trusted.overlay.opaque") == b"y"
    assert not (tmp_path / "dir/.wh.gone").exists()


@needs_root
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


def test_entries_replace_what_was_there(tmp_path: Path) -> None:
    root = lower(tmp_path)
    tar = build_tar(
        file("dir", b"now a file"),  # replaces a whole directory
        entry("opq/", tarfile.DIRTYPE, mode=0o700),  # a dir over a dir keeps its children
        entry("keep", tarfile.SYMTYPE, linkname="opq"),
    )
    apply(tar, root)
    assert (root / "dir").read_bytes() == b"now a file"
    assert (root / "opq/old").exists() and stat.S_IMODE(os.stat(root / "opq").st_mode) == 0o700
    assert os.readlink(root / "keep") == "opq"


def test_xattr_the_filesystem_refuses_is_skipped(tmp_path: Path) -> None:
    link = entry("l", tarfile.SYMTYPE, linkname="x")
    link.pax_headers = {"SCHILY.xattr.user.k": "v"}  # user.* is not allowed on symlinks
    apply(build_tar(link), tmp_path)
    assert os.readlink(tmp_path / "l") == "x"


def test_forged_overlay_xattrs_are_dropped(tmp_path: Path) -> None:
    d = entry("d/", tarfile.DIRTYPE)
    d.pax_headers = {"SCHILY.xattr.trusted.overlay.redirect": "/etc", "SCHILY.xattr.user.ok": "1"}
    apply(build_tar(d), tmp_path, "delete")
    assert os.listxattr(tmp_path / "d") == ["user.ok"]


@needs_root
def test_device_nodes_are_created_as_root(tmp_path: Path) -> None:
    apply(
        build_tar(entry("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666)), tmp_path
    )
    st = os.lstat(tmp_path / "dev/null")
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3
    assert stat.S_IMODE(st.st_mode) == 0o666


def test_dir_replacing_a_whiteout_hides_the_lower_dir(tmp_path: Path) -> None:
    root = lower(tmp_path)
    apply(build_tar(entry(".wh.opq"), entry("opq/", tarfile.DIRTYPE), file("opq/new", b"n")), root)
    assert sorted(os.listdir(root / "opq")) == ["new"]


@needs_root
def test_dir_replacing_a_whiteout_is_opaque_in_overlay_mode(tmp_path: Path) -> None:
    apply(build_tar(entry(".wh.d"), entry("d/", tarfile.DIRTYPE)), tmp_path, "overlay")
    assert os.getxattr(tmp_path / "d", "trusted.overlay.opaque") == b"y"

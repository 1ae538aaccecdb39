"""lamina.store.archive: layer tars written and applied faithfully."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from lamina.errors import InvalidArgument
from lamina.store.archive import apply_layer, open_layer, write_tar
from tests.support.tars import (
    apply,
    build_tar,
    entry,
    file,
    read_members,
    roundtrip,
    snapshot,
    source_tree,
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return source_tree(tmp_path / "src")


def test_roundtrip_keeps_modes_links_xattrs_and_times(tree: Path, tmp_path: Path) -> None:
    roundtrip(tree, tmp_path / "dst")
    dst = tmp_path / "dst"
    assert snapshot(dst) == snapshot(tree)
    assert stat.S_IMODE(os.stat(dst / "bin/sh").st_mode) == 0o4755
    assert stat.S_IMODE(os.stat(dst / "tmp").st_mode) == 0o1777
    assert os.stat(dst / "bin/sh").st_ino == os.stat(dst / "bin/ash").st_ino


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


def test_dir_replacing_a_whiteout_hides_the_lower_dir(tmp_path: Path) -> None:
    root = lower(tmp_path)
    apply(build_tar(entry(".wh.opq"), entry("opq/", tarfile.DIRTYPE), file("opq/new", b"n")), root)
    assert sorted(os.listdir(root / "opq")) == ["new"]

"""write_tar's own header writer gives exactly the bytes `tarfile` gives (layer diffIDs
must not depend on which of the two wrote them)."""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from lamina.store import archive
from lamina.store.archive import write_tar


def reference_tar(root: Path, *, epoch: int | None = None, overlay: bool = False) -> bytes:
    """The same rules written with `tarfile.TarFile.addfile`, as write_tar first was."""
    out = io.BytesIO()
    links: dict[tuple[int, int], str] = {}
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8",
                      errors="surrogateescape") as tf:  # fmt: skip
        for rel, path, st in archive._walk(os.fspath(root), ""):
            info = tarfile.TarInfo(rel)
            info.mode, info.uid, info.gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
            info.uname = info.gname = ""
            info.mtime = int(st.st_mtime) if epoch is None else min(int(st.st_mtime), epoch)
            if overlay and stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                head, _, name = rel.rpartition("/")
                info.name, info.mode = (f"{head}/" if head else "") + ".wh." + name, 0o600
                tf.addfile(info)
                continue
            info.pax_headers = archive._xattrs(path)
            if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
                first = links.setdefault((st.st_dev, st.st_ino), rel)
                if first != rel:
                    info.type, info.linkname, info.pax_headers = tarfile.LNKTYPE, first, {}
                    tf.addfile(info)
                    continue
            if stat.S_ISREG(st.st_mode):
                info.size = st.st_size
                with open(path, "rb") as data:
                    tf.addfile(info, data)
                continue
            info.type = archive._TYPES[stat.S_IFMT(st.st_mode)]
            if stat.S_ISLNK(st.st_mode):
                info.linkname = os.readlink(path)
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            tf.addfile(info)
    return out.getvalue()


@pytest.fixture
def varied(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "dir" / "sub").mkdir(parents=True)
    (root / "dir" / "file.txt").write_text("hello\n")
    (root / "exactly-512").write_bytes(b"x" * 512)
    (root / "empty").write_bytes(b"")
    (root / ("n" * 100)).write_text("a name of 100 characters")
    (root / ("d" * 100)).mkdir()  # + "/" is 101: a pax path header
    (root / "dir" / ("long" * 40)).write_text("a name over 100 characters")
    (root / "dir" / "naïve-ünïcode.txt").write_text("non-ASCII name")
    os.symlink("dir/file.txt", root / "link")
    os.symlink("t" * 120, root / "long-link")
    os.link(root / "dir" / "file.txt", root / "hardlink")
    os.mkfifo(root / "fifo")
    (root / "exec").write_text("#!/bin/sh\n")
    (root / "exec").chmod(0o4755)
    os.utime(root / "dir" / "file.txt", (1_700_000_000.7, 1_700_000_000.7))
    with contextlib.suppress(OSError):  # a filesystem without user xattrs: the rest counts
        os.setxattr(root / "dir" / "file.txt", "user.note", b"kept")
    if os.geteuid() == 0:
        os.chown(root / "dir" / "sub", 2_000_000_000, 12)  # over 8**7: a pax uid
        os.mknod(root / "dev", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    return root


@pytest.mark.parametrize("epoch", [None, 1_000_000_000])
def test_same_bytes_as_tarfile(varied: Path, epoch: int | None) -> None:
    out = io.BytesIO()
    write_tar(varied, out, source_date_epoch=epoch)
    assert out.getvalue() == reference_tar(varied, epoch=epoch)
    assert len(out.getvalue()) % tarfile.RECORDSIZE == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="whiteout devices need root")
def test_same_bytes_for_an_overlay_upper_dir(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    (upper / "etc").mkdir(parents=True)
    os.mknod(upper / "etc" / "gone", stat.S_IFCHR, os.makedev(0, 0))
    (upper / "etc" / "new").write_text("n")
    out = io.BytesIO()
    write_tar(upper, out, whiteouts="overlay")
    assert out.getvalue() == reference_tar(upper, overlay=True)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        names = tar.getnames()
    assert names == ["etc", "etc/.wh.gone", "etc/new"]

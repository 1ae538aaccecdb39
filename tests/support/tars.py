"""Layer tars for tests: entries and tars built by hand, a tree of every kind of entry,
and snapshots that compare what a tar carried."""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tarfile
from pathlib import Path
from typing import Any

from lamina.store import archive
from lamina.store.archive import apply_layer, write_tar

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


def source_tree(src: Path) -> Path:
    """A small rootfs at `src` with every kind of entry a layer can hold (all owned by
    the user running the tests)."""
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


def varied_tree(root: Path, *, owners_and_devices: bool = False) -> Path:
    """Entries of every kind and every header shape: long names, non-ASCII, links, a
    FIFO, setuid; with `owners_and_devices` (needs root) a uid over 8**7, which needs
    a pax header, and a device node."""
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
    if owners_and_devices:
        os.chown(root / "dir" / "sub", 2_000_000_000, 12)  # over 8**7: a pax uid
        os.mknod(root / "dev", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    return root

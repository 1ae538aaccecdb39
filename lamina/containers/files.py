"""Files in a container's filesystem, for `docker cp` (the /archive endpoints) and `top`.

A running container's view (root filesystem plus its volumes and binds) is reached
through /proc/<pid>/root; a stopped one's root filesystem is mounted for the call.
Every path is resolved inside that root as a chroot would (symlinks included), so a
container cannot make `cp` read or write the host's files.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, BinaryIO

from lamina.containers.model import Container
from lamina.containers.service import ContainerService
from lamina.errors import InvalidArgument, NotFound
from lamina.store.archive import apply_layer
from lamina.store.rootpath import resolve_in_root
from lamina.timestamps import rfc3339

_GO_DIR = 1 << 31
_GO_SYMLINK = 1 << 27


@contextmanager
def container_root(service: ContainerService, c: Container) -> Iterator[Path]:
    if c.state.running and c.state.pid:
        yield Path(f"/proc/{c.state.pid}/root")
        return
    with service.lock:
        rootfs = service.runner.mount_rootfs(c)
        try:
            yield rootfs
        finally:
            service.runner.unmount(c.id)


def resolve(root: Path, path: str, *, follow: bool = True) -> Path:
    """`path` inside the container; the last component is followed only if `follow`."""
    if not path.startswith("/"):
        path = "/" + path
    parent, name = os.path.split(path.rstrip("/") or "/")
    if not name:
        return resolve_in_root(root, "/")
    base = resolve_in_root(root, parent)
    target = base / name
    return (
        resolve_in_root(root, str(Path(parent) / name))
        if follow and target.is_symlink()
        else target
    )


def path_stat(root: Path, path: str) -> dict[str, Any]:
    """Docker's ContainerPathStat for the X-Docker-Container-Path-Stat header."""
    target = resolve(root, path, follow=False)
    try:
        st = target.lstat()
    except FileNotFoundError as err:
        raise NotFound(f"Could not find the file {path} in container") from err
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISDIR(st.st_mode):
        mode |= _GO_DIR
    link = ""
    if stat.S_ISLNK(st.st_mode):
        mode |= _GO_SYMLINK
        link = os.readlink(target)
    return {
        "name": target.name or "/",
        "size": st.st_size,
        "mode": mode,
        "mtime": rfc3339(st.st_mtime),
        "linkTarget": link,
    }


def stat_header(info: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(info).encode()).decode()


def read_archive(root: Path, path: str) -> IO[bytes]:
    """A tar of `path` (named by its base name, as Docker does), rewound for reading."""
    target = resolve(root, path, follow=not path.endswith("/."))
    if not os.path.lexists(target):
        raise NotFound(f"Could not find the file {path} in container")
    out = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 (returned open)
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(str(target), arcname=target.name or ".", recursive=True)
    out.seek(0)
    return out


def write_archive(root: Path, path: str, stream: BinaryIO) -> None:
    """Extract the tar in `stream` into the directory `path` of the container."""
    target = resolve(root, path)
    if not target.exists():
        raise NotFound(f"Could not find the file {path} in container")
    if not target.is_dir():
        raise InvalidArgument(f"extraction point is not a directory: {path}")
    apply_layer(stream, target, whiteouts="keep")


def top(service: ContainerService, c: Container, ps_args: str) -> dict[str, Any]:
    """Docker's `top`: the host's `ps` output, only the container's processes."""
    if not c.state.running:
        raise InvalidArgument(f"container {c.id} is not running")
    pids = _pids(c)
    out = subprocess.run(
        ["ps", *(ps_args or "-ef").split()], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise InvalidArgument(f"ps: {out.stderr.strip()}")
    lines = out.stdout.splitlines()
    titles = lines[0].split()
    if "PID" not in titles:
        raise InvalidArgument("couldn't find PID field in ps output")
    col = titles.index("PID")
    rows = [line.split(None, len(titles) - 1) for line in lines[1:]]
    return {
        "Titles": titles,
        "Processes": [r for r in rows if len(r) > col and r[col].isdigit() and int(r[col]) in pids],
    }


def _pids(c: Container) -> set[int]:
    """The container's processes: every process in its init's PID namespace."""
    try:
        ns = os.readlink(f"/proc/{c.state.pid}/ns/pid")
    except OSError:
        return set()
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == ns:
                    found.add(int(entry))
            except OSError:
                continue
    return found

"""`cp`: copy files between a container and the host, through the /archive endpoints."""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import tarfile

from lamina.cli.client import Client
from lamina.cli.main import UsageError


def copy(client: Client, source: str, dest: str) -> int:
    src_container, src_path = _split(source)
    dst_container, dst_path = _split(dest)
    if src_container and dst_container:
        raise UsageError("copying between containers is not supported")
    if src_container:
        return _from_container(client, src_container, src_path, dst_path)
    if dst_container:
        return _to_container(client, src_path, dst_container, dst_path)
    raise UsageError("must specify at least one container source")


def _split(arg: str) -> tuple[str, str]:
    if arg.startswith((".", "/")) or ":" not in arg:
        return "", arg
    container, _, path = arg.partition(":")
    return container, path


def _from_container(client: Client, container: str, path: str, dest: str) -> int:
    reply = client.request("GET", f"/containers/{container}/archive", query={"path": path})
    stat = json.loads(
        base64.b64decode(reply.headers.get("x-docker-container-path-stat", "") or b"e30=")
    )
    data = io.BytesIO(reply.read())
    reply.close()
    with tarfile.open(fileobj=data, mode="r:") as tar:
        members = tar.getmembers()
        root = members[0].name if members else stat.get("name", "")
        target = dest
        if os.path.isdir(dest):
            target = os.path.join(dest, root)
        for member in members:
            member.name = (
                target + member.name[len(root) :]
                if member.name.startswith(root)
                else os.path.join(target, member.name)
            )
            tar.extract(member, path="/" if os.path.isabs(target) else ".", filter="tar")
    return 0


def _to_container(client: Client, path: str, container: str, dest: str) -> int:
    if not os.path.lexists(path):
        raise UsageError(f"lstat {os.path.abspath(path)}: no such file or directory")
    base = os.path.basename(os.path.normpath(path))
    target_dir, name = dest, base
    stat = _stat(client, container, dest)
    if stat is None or not stat["mode"] & (1 << 31):
        target_dir, name = (
            os.path.dirname(dest.rstrip("/")) or "/",
            os.path.basename(dest.rstrip("/")) or base,
        )
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(path, arcname=name)
    buf.seek(0)
    client.request(
        "PUT",
        f"/containers/{container}/archive",
        query={"path": target_dir},
        body=buf.getvalue(),
        headers={"Content-Type": "application/x-tar"},
    ).close()
    print(
        f"Successfully copied {buf.getbuffer().nbytes / 1000:.3g}kB to {container}:{dest}",
        file=sys.stderr,
    )
    return 0


def _stat(client: Client, container: str, path: str) -> dict[str, int] | None:
    from lamina.cli.client import DaemonError

    try:
        reply = client.request("HEAD", f"/containers/{container}/archive", query={"path": path})
    except DaemonError as err:
        if err.status == 404:
            return None
        raise
    header = reply.headers.get("x-docker-container-path-stat", "")
    reply.close()
    return json.loads(base64.b64decode(header)) if header else None

"""What a container takes from other containers: --volumes-from, --link, --pid container:.

Resolved at create, as Docker does: the other containers must exist then (a missing
one is a 400 and nothing is created), --volumes-from copies their mounts into the new
container's own (so `inspect` shows them and they outlive the other container), and a
`container:<name>` PID mode is stored with the other container's ID. At start a shared
PID namespace needs the other container running.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from lamina.containers import hostopts
from lamina.containers.model import Container, MountPoint
from lamina.errors import Conflict, InvalidArgument, NotFound

Find = Callable[[str], Container]


def check_links(hc: Mapping[str, Any], find: Find) -> None:
    for name, _alias in hostopts.links(hc):
        _other(find, name, f"could not get container for {name}")


def inherited_mounts(hc: Mapping[str, Any], find: Find) -> list[MountPoint]:
    """The mounts of the --volumes-from containers: read-only with ":ro", writable with
    ":rw" where they were, as they were without a mode (moby's `registerMountPoints`)."""
    out: list[MountPoint] = []
    for ref, mode in hostopts.volumes_from(hc):
        other = _other(find, ref, "")
        for point in other.mounts:
            rw = point.rw and "ro" not in mode.split(",")
            # Not anonymous here: `rm -v` of this container must leave the other's volumes.
            out.append(replace(point, rw=rw, mode=mode, anonymous=False))
    return out


def pid_mode(hc: Mapping[str, Any], find: Find) -> str:
    """HostConfig.PidMode as stored: a `container:<name>` becomes `container:<id>`."""
    kind, ref = hostopts.namespace_mode(hc, "PidMode")
    if kind != "container":
        return str(hc.get("PidMode") or "")
    return f"container:{_other(find, ref, 'failed to join PID namespace').id}"


def pid_namespace(c: Container, find: Find) -> str | None:
    """For the spec: None (its own), "host", or the running PID container's namespace."""
    kind, ref = hostopts.namespace_mode(c.host_config, "PidMode")
    if kind == "host":
        return "host"
    if kind != "container":
        return None
    other = _other(find, ref, "failed to join PID namespace")
    if not other.state.running or not other.state.pid:
        raise Conflict(f"cannot join PID of a non running container: {other.id}")
    return f"/proc/{other.state.pid}/ns/pid"


def _other(find: Find, ref: str, context: str) -> Container:
    try:
        return find(ref)
    except NotFound as err:
        # As Docker: a 400, not a 404, which clients would read as a missing image.
        raise InvalidArgument(f"{context}: {err}" if context else str(err)) from None

"""The /etc/hosts, /etc/hostname and /etc/resolv.conf lamina writes for each container.

Each is a file in the container's directory, bind-mounted over the image's, as Docker
does, so a container can edit them without touching the image and networks can add
entries later.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

_HOSTS_BASE = """127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
"""


def write_etc_files(
    directory: Path,
    *,
    hostname: str,
    addresses: Sequence[str] = (),
    extra_hosts: Sequence[str] = (),
    dns: Sequence[str] = (),
    dns_search: Sequence[str] = (),
    host_resolv: Path = Path("/etc/resolv.conf"),
) -> dict[str, Path]:
    """Write the three files; return {container path: host file} for bind mounts."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "/etc/hostname": (directory / "hostname", f"{hostname}\n"),
        "/etc/hosts": (directory / "hosts", _hosts(hostname, addresses, extra_hosts)),
        "/etc/resolv.conf": (directory / "resolv.conf", _resolv(dns, dns_search, host_resolv)),
    }
    for path, text in files.values():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    return {dest: path for dest, (path, _) in files.items()}


def _hosts(hostname: str, addresses: Sequence[str], extra_hosts: Sequence[str]) -> str:
    lines = [_HOSTS_BASE.rstrip("\n")]
    for entry in extra_hosts:
        name, _, address = entry.partition(":")
        lines.append(f"{address}\t{name}")
    lines += [f"{address}\t{hostname}" for address in addresses]
    return "\n".join(lines) + "\n"


def _resolv(dns: Sequence[str], search: Sequence[str], host_resolv: Path) -> str:
    """The host's resolv.conf without loopback resolvers (unreachable from a container)."""
    if dns or search:
        lines = [f"nameserver {server}" for server in dns]
        if search:
            lines.append("search " + " ".join(search))
        return "\n".join(lines) + "\n"
    try:
        host = host_resolv.read_text().splitlines()
    except OSError:
        host = []
    kept = [line for line in host if not _loopback_nameserver(line)]
    return "\n".join(kept) + "\n" if kept else ""


def _loopback_nameserver(line: str) -> bool:
    parts = line.split()
    return (
        len(parts) >= 2
        and parts[0] == "nameserver"
        and (parts[1].startswith("127.") or parts[1] == "::1")
    )

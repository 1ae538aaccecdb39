"""The /etc/hosts, /etc/hostname and /etc/resolv.conf lamina writes for each container.

Each is a file in the container's directory, bind-mounted over the image's, as Docker
does, so a container can edit them without touching the image and networks can add
entries later.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_HOSTS_BASE = """127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
"""


@dataclass(frozen=True)
class Resolv:
    """What a container's resolv.conf is made of, Docker's way: the host's file with
    --dns, --dns-search and --dns-option replacing its nameservers, search domains and
    options; `internal` when `nameservers` is the embedded resolver, which needs
    `ndots:0` unless an ndots option is set."""

    nameservers: tuple[str, ...] = ()  # empty: the host's, less loopback ones
    search: tuple[str, ...] | None = None  # None: the host's; "." alone clears them
    options: tuple[str, ...] | None = None  # None: the host's
    internal: bool = False


def write_etc_files(
    directory: Path,
    *,
    hostname: str,
    domainname: str = "",
    addresses: Sequence[str] = (),
    extra_hosts: Sequence[tuple[str, str]] = (),
    resolv: Resolv | None = None,
    host_resolv: Path = Path("/etc/resolv.conf"),
) -> dict[str, Path]:
    """Write the three files; return {container path: host file} for bind mounts.
    `extra_hosts` are (names, address) lines before the container's own, which name it
    by its FQDN and its bare host name, as Docker's do."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "/etc/hostname": (directory / "hostname", f"{hostname}\n"),
        "/etc/hosts": (
            directory / "hosts",
            _hosts(_own_names(hostname, domainname), addresses, extra_hosts),
        ),
        "/etc/resolv.conf": (
            directory / "resolv.conf",
            resolv_text(resolv or Resolv(), host_resolv),
        ),
    }
    for path, text in files.values():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    return {dest: path for dest, (path, _) in files.items()}


def _own_names(hostname: str, domainname: str) -> str:
    fqdn = f"{hostname}.{domainname}" if domainname else hostname
    return f"{fqdn} {fqdn.split('.', 1)[0]}" if "." in fqdn else fqdn


def _hosts(hostname: str, addresses: Sequence[str], extra_hosts: Sequence[tuple[str, str]]) -> str:
    lines = [_HOSTS_BASE.rstrip("\n")]
    lines += [f"{address}\t{name}" for name, address in extra_hosts]
    lines += [f"{address}\t{hostname}" for address in addresses]
    return "\n".join(lines) + "\n"


def resolv_text(resolv: Resolv, host_resolv: Path = Path("/etc/resolv.conf")) -> str:
    host = _read_host(host_resolv)
    servers = list(resolv.nameservers) or [s for s in host["nameserver"] if not _loopback(s)]
    search = host["search"] if resolv.search is None else [d for d in resolv.search if d != "."]
    options = host["options"] if resolv.options is None else list(resolv.options)
    if resolv.internal and not any(o.partition(":")[0] == "ndots" for o in options):
        options = [*options, "ndots:0"]
    lines = [f"nameserver {server}" for server in servers]
    if search:
        lines.append("search " + " ".join(search))
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n" if lines else ""


def _read_host(path: Path) -> dict[str, list[str]]:
    """nameserver, search (the last search or domain line wins) and options."""
    found: dict[str, list[str]] = {"nameserver": [], "search": [], "options": []}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        words = line.split("#", 1)[0].split()
        if len(words) < 2:
            continue
        if words[0] == "nameserver":
            found["nameserver"].append(words[1])
        elif words[0] in ("search", "domain"):
            found["search"] = words[1:]
        elif words[0] == "options":
            found["options"] += words[1:]
    return found


def _loopback(server: str) -> bool:
    return server.startswith("127.") or server == "::1"

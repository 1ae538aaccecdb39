"""Names of what lamina puts on the host: devices, firewall-rule comments.

Linux limits device names to 15 bytes; the instance prefix is at most 5, so each name
is prefix + one letter + 8 hex digits (or prefix + "0" for the default bridge).
"""

from __future__ import annotations

import hashlib

IFNAMSIZ = 15


def bridge(prefix: str, network_id: str, *, default: bool = False) -> str:
    return _check(f"{prefix}0" if default else f"{prefix}-{network_id[:8]}")


def host_veth(prefix: str, container_id: str, network_id: str) -> str:
    return _check(f"{prefix}v{_pair_hash(container_id, network_id)}")


def peer_veth(prefix: str, container_id: str, network_id: str) -> str:
    """The container end's name while it is still on the host (renamed ethN inside)."""
    return _check(f"{prefix}p{_pair_hash(container_id, network_id)}")


def rule_comment(prefix: str, network_id: str) -> str:
    """Every firewall rule's comment: the instance (teardown, crash sweep) and network."""
    return f"{instance_tag(prefix)}{network_id[:12]}"


def instance_tag(prefix: str) -> str:
    return f"lamina {prefix} "


def _pair_hash(container_id: str, network_id: str) -> str:
    return hashlib.sha256(f"{container_id}/{network_id}".encode()).hexdigest()[:8]


def _check(name: str) -> str:
    if len(name) > IFNAMSIZ:
        raise ValueError(f"device name {name!r} is longer than {IFNAMSIZ} bytes")
    return name

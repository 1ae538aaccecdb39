"""`--security-opt`: which lamina applies, which it may ignore as dockerd does, which it
refuses (moby's `parseSecurityOpt` messages)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lamina.errors import InvalidArgument

SELINUX = "/sys/fs/selinux/enforce"
APPARMOR = "/sys/module/apparmor/parameters/enabled"


def parse(hc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """--security-opt as (key, value): seccomp and no-new-privileges are applied,
    systempaths=unconfined unmasks /proc and /sys; label and apparmor, see `_check_lsm`;
    others are refused (moby's `parseSecurityOpt` messages)."""
    out = []
    for opt in hc.get("SecurityOpt") or []:
        text = str(opt)
        if text == "no-new-privileges":
            out.append((text, "true"))
            continue
        # "key=value", else the old "key:value"; never split on a colon of inline JSON.
        key, sep, value = text.partition("=")
        if not sep:
            key, sep, value = text.partition(":")
        if not sep:
            raise InvalidArgument(f'invalid --security-opt 1: "{text}"')
        if key == "writable-cgroups":
            raise InvalidArgument(
                f'HostConfig.SecurityOpt "{text}" is not supported: lamina mounts cgroups read-only'
            )
        if key not in ("seccomp", "no-new-privileges", "label", "apparmor", "systempaths"):
            raise InvalidArgument(f'invalid --security-opt 2: "{text}"')
        if (key == "systempaths" and value != "unconfined") or (
            key == "no-new-privileges" and value not in ("true", "false", "1", "0")
        ):
            raise InvalidArgument(f'invalid --security-opt 2: "{text}"')
        _check_lsm(key, value, text)
        if key == "seccomp" and value.lstrip().startswith("{"):
            _check_profile(value)
        out.append((key, value))
    return out


def _check_profile(text: str) -> None:
    """An inline profile (what both CLIs send for seccomp=<file>) is decoded at create,
    so a broken one is a 400 then, not a failed start."""
    from lamina.containers.seccomp import seccomp_from_json
    from lamina.containers.security import DEFAULT_CAPABILITIES

    seccomp_from_json(text, DEFAULT_CAPABILITIES)


def _check_lsm(key: str, value: str, text: str) -> None:
    """lamina applies no SELinux label and no AppArmor profile: asking for none is
    honoured, and on a host without that module dockerd ignores the option too, so
    lamina does; asking for one where the module is active is refused."""
    if key == "label" and value != "disable" and _enabled(SELINUX):
        raise InvalidArgument(
            f'HostConfig.SecurityOpt "{text}" is not supported: lamina applies no SELinux labels'
        )
    if key == "apparmor" and value != "unconfined" and _enabled(APPARMOR):
        raise InvalidArgument(
            f'HostConfig.SecurityOpt "{text}" is not supported: lamina applies no AppArmor profiles'
        )


def _enabled(path: str) -> bool:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip() in ("1", "Y")
    except OSError:
        return False

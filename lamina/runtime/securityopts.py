"""`--security-opt`: which lamina applies, which it may ignore as dockerd does, which it
refuses (moby's `parseSecurityOpt` messages).

`parse` reads the options into a `SecurityOptions` value once: at create, to refuse a
bad one before anything exists, and once per start, where the runner hands the value
to everything that needs it. Parsing reads the host's SELinux and AppArmor switches and
decodes an inline seccomp profile, which is why it is not done more often than that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lamina.errors import InvalidArgument
from lamina.runtime.seccomp import profile_from_json

SELINUX = "/sys/fs/selinux/enforce"
APPARMOR = "/sys/module/apparmor/parameters/enabled"
_KEYS = ("seccomp", "no-new-privileges", "label", "apparmor", "systempaths")


@dataclass(frozen=True)
class SecurityOptions:
    """What a container's --security-opt asked for, checked."""

    no_new_privileges: bool = False
    # "builtin" | "unconfined" | a profile's path on this host | an inline profile,
    # decoded and checked (what both CLIs send for seccomp=<file>): SpecInput.seccomp
    seccomp: str | Mapping[str, Any] = "builtin"
    unconfined_paths: bool = False  # systempaths=unconfined: nothing masked or read-only


def parse(hc: Mapping[str, Any]) -> SecurityOptions:
    """HostConfig.SecurityOpt: seccomp and no-new-privileges are applied, systempaths=
    unconfined unmasks /proc and /sys; label and apparmor, see `_check_lsm`; others are
    refused (moby's `parseSecurityOpt` messages). A later option wins over an earlier."""
    found: dict[str, str] = {}
    for text in hc.get("SecurityOpt") or []:
        key, value = _split(text)
        _check_lsm(key, value, text)
        found[key] = value
    seccomp = found.get("seccomp", "builtin")
    return SecurityOptions(
        no_new_privileges=found.get("no-new-privileges") in ("true", "1"),
        seccomp=profile_from_json(seccomp) if seccomp.lstrip().startswith("{") else seccomp,
        unconfined_paths=found.get("systempaths") == "unconfined",
    )


def _split(text: str) -> tuple[str, str]:
    """One option as (key, value), refused unless lamina knows what to do with it."""
    if text == "no-new-privileges":
        return text, "true"
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
    if (
        key not in _KEYS
        or (key == "systempaths" and value != "unconfined")
        or (key == "no-new-privileges" and value not in ("true", "false", "1", "0"))
    ):
        raise InvalidArgument(f'invalid --security-opt 2: "{text}"')
    return key, value


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

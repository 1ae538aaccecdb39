"""A Docker-format seccomp profile → the OCI `linux.seccomp` for this host and container.

Docker's format extends the OCI one: each rule may be conditional (`includes`/`excludes`
by capability, architecture and minimum kernel), and `archMap` lists architectures with
their sub-architectures. Converting keeps the rules whose conditions hold for the
container's capabilities (its bounding set), this machine's architecture and kernel, and
the native architecture's `archMap` entry, as moby's `setupSeccomp` does.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lamina.errors import InvalidArgument, map_errors
from lamina.runtime.seccomp.profile_check import check_profile, kernel_version

# platform.machine() → (the name Docker's `arches` conditions use, its SCMP_ARCH_*).
_ARCHES = {
    "x86_64": ("amd64", "SCMP_ARCH_X86_64"),
    "aarch64": ("arm64", "SCMP_ARCH_AARCH64"),
    "i686": ("x86", "SCMP_ARCH_X86"),
    "armv7l": ("arm", "SCMP_ARCH_ARM"),
    "ppc64le": ("ppc64le", "SCMP_ARCH_PPC64LE"),
    "s390x": ("s390x", "SCMP_ARCH_S390X"),
    "riscv64": ("riscv64", "SCMP_ARCH_RISCV64"),
}


def _selected(
    rule: Mapping[str, Any], caps: Sequence[str], arch: str, kernel: tuple[int, int]
) -> bool:
    """Whether a profile rule applies here (moby's includes/excludes semantics)."""
    exc, inc = rule.get("excludes") or {}, rule.get("includes") or {}
    if arch in (exc.get("arches") or ()) or any(c in caps for c in exc.get("caps") or ()):
        return False
    if exc.get("minKernel") and kernel >= kernel_version(exc["minKernel"]):
        return False
    if inc.get("arches") and arch not in inc["arches"]:
        return False
    if any(c not in caps for c in inc.get("caps") or ()):
        return False
    return not (inc.get("minKernel") and kernel < kernel_version(inc["minKernel"]))


def _oci_syscall(rule: Mapping[str, Any]) -> dict[str, Any]:
    names = [rule["name"]] if rule.get("name") else list(rule["names"])
    out: dict[str, Any] = {"names": names, "action": rule["action"]}
    if rule.get("errnoRet") is not None:
        out["errnoRet"] = rule["errnoRet"]
    if rule.get("args"):
        out["args"] = [
            {
                "index": a.get("index", 0),
                "value": a.get("value", 0),
                "valueTwo": a.get("valueTwo", 0),
                "op": a["op"],
            }
            for a in rule["args"]
        ]
    return out


def _architectures(profile: Mapping[str, Any], native: str) -> list[str]:
    if profile.get("architectures"):
        return list(profile["architectures"])
    for entry in profile.get("archMap") or ():
        if entry.get("architecture") == native:
            return [native, *(entry.get("subArchitectures") or ())]
    return []


def seccomp_from_profile(
    profile: Mapping[str, Any],
    caps: Sequence[str],
    *,
    machine: str | None = None,
    kernel: tuple[int, int] | None = None,
) -> dict[str, Any] | None:
    """Convert a Docker-format profile into OCI `linux.seccomp`; None when it is empty.

    `profile` is lamina's default or one `profile_from_json` returned (checked, so the
    conversion cannot fail). `machine` (as `platform.machine()` names it) and `kernel`
    default to this host's.
    """
    if not profile.get("defaultAction") and not profile.get("syscalls"):
        return None  # as Docker: an empty profile means no filter
    arch, native = _ARCHES.get(machine or platform.machine(), ("", ""))
    kernel = kernel or kernel_version(os.uname().release)
    out: dict[str, Any] = {"defaultAction": profile.get("defaultAction") or "SCMP_ACT_ALLOW"}
    for key in ("defaultErrnoRet", "flags", "listenerPath", "listenerMetadata"):
        if profile.get(key) is not None:
            out[key] = profile[key]
    if architectures := _architectures(profile, native):
        out["architectures"] = architectures
    out["syscalls"] = [
        _oci_syscall(rule)
        for rule in profile.get("syscalls") or ()
        if _selected(rule, caps, arch, kernel)
    ]
    return out


def profile_from_json(text: str, origin: str = "") -> dict[str, Any]:
    """A user's Docker-format profile, decoded and checked field by field (InvalidArgument
    naming what is wrong); `origin` names where it came from in messages."""
    try:
        profile = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidArgument(f"decoding seccomp profile {origin}failed: {err}") from err
    if not isinstance(profile, dict):
        raise InvalidArgument(f"decoding seccomp profile {origin}failed: not a JSON object")
    check_profile(profile)
    return profile


def load_seccomp(path: Path, caps: Sequence[str]) -> dict[str, Any] | None:
    """Read a Docker-format profile from `path` and convert it for `caps`."""
    failed = f"opening seccomp profile ({path}) failed"
    with map_errors({(OSError, UnicodeDecodeError): InvalidArgument}, what=failed):
        text = path.read_text()
    return seccomp_from_profile(profile_from_json(text, f"{path} "), caps)

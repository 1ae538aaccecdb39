"""A user's Docker-format seccomp profile, checked field by field before it is converted.

The structure alone is not enough: `{"defaultAction": 5}` or `"names": "read"` (which
would become the syscalls 'r', 'e', 'a', 'd') pass a structural look and fail only when
runc loads the filter, at every start. Checking the value of every field moby's profile
types define (profiles/seccomp: Seccomp, Architecture, Syscall, Arg, Filter) makes such
a profile a 400 at create instead, naming the field. Fields moby does not define are
ignored, as Go's decoder ignores them, and `null` is a field's zero value.

Actions, comparison operators and flags are the runtime spec's names (anything else runc
refuses); syscall and architecture names are only checked to be strings, since runc skips
syscalls its libseccomp does not know.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from lamina.errors import InvalidArgument


def _names(prefix: str, names: str) -> frozenset[str]:
    return frozenset(prefix + name for name in names.split())


ACTIONS = _names("SCMP_ACT_", "KILL KILL_PROCESS KILL_THREAD TRAP ERRNO TRACE ALLOW LOG NOTIFY")
OPERATORS = _names("SCMP_CMP_", "NE LT LE EQ GE GT MASKED_EQ")
FLAGS = _names("SECCOMP_FILTER_FLAG_", "TSYNC LOG SPEC_ALLOW WAIT_KILLABLE_RECV")
MAX_ARG_INDEX = 5  # a syscall has six arguments
UINT32, UINT64 = 2**32 - 1, 2**64 - 1

Check = Callable[[Any, str], None]


def kernel_version(text: str) -> tuple[int, int]:
    """ "5.3", "6.18.44-fc" → (major, minor), read as moby reads them (`%d.%d`)."""
    match = re.match(r"(\d+)\.(\d+)", text)
    if not match:
        raise InvalidArgument(f"seccomp profile: invalid kernel version {text!r}")
    return int(match[1]), int(match[2])


def check_profile(profile: Mapping[str, Any]) -> None:
    """Raise InvalidArgument naming the first field of `profile` whose value runc (or the
    conversion) could not use."""
    _PROFILE(profile, "")
    if profile.get("architectures") and profile.get("archMap"):
        raise InvalidArgument(
            "seccomp profile: 'architectures' and 'archMap' were both specified, use one"
        )
    for i, rule in enumerate(profile.get("syscalls") or ()):
        if rule.get("name") and rule.get("names"):
            raise InvalidArgument(f"seccomp profile: syscalls[{i}] has both 'name' and 'names'")
        if not rule.get("name") and not rule.get("names"):
            raise InvalidArgument(f"seccomp profile: syscalls[{i}] needs 'names'")


def _refuse(where: str, expected: str, value: Any) -> None:
    found = "it is missing" if value is None else f"not {json.dumps(value)}"
    raise InvalidArgument(f"seccomp profile: {where}: must be {expected}, {found}")


def _string(value: Any, where: str) -> None:
    if not isinstance(value, str):
        _refuse(where, "a string", value)


def _one_of(names: frozenset[str]) -> Check:
    def check(value: Any, where: str) -> None:
        if not isinstance(value, str) or value not in names:
            _refuse(where, "one of " + ", ".join(sorted(names)), value)

    return check


def _uint(most: int) -> Check:
    def check(value: Any, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
            _refuse(where, f"an integer from 0 to {most}", value)

    return check


def _kernel(value: Any, where: str) -> None:
    _string(value, where)
    kernel_version(value)


def _list(item: Check) -> Check:
    def check(value: Any, where: str) -> None:
        if not isinstance(value, list):
            _refuse(where, "an array", value)
        for i, element in enumerate(value):
            item(element, f"{where}[{i}]")

    return check


def _object(fields: Mapping[str, Check], *, required: tuple[str, ...] = ()) -> Check:
    def check(value: Any, where: str) -> None:
        if not isinstance(value, dict):
            _refuse(where or "the profile", "an object", value)
        for name, field in fields.items():
            if value.get(name) is not None or name in required:
                field(value.get(name), f"{where}.{name}" if where else name)

    return check


_FILTER = _object(
    {"caps": _list(_string), "arches": _list(_string), "minKernel": _kernel},
)
_ARG = _object(
    {
        "index": _uint(MAX_ARG_INDEX),
        "value": _uint(UINT64),
        "valueTwo": _uint(UINT64),
        "op": _one_of(OPERATORS),
    },
    required=("op",),
)
_SYSCALL = _object(
    {
        "name": _string,
        "names": _list(_string),
        "action": _one_of(ACTIONS),
        "errnoRet": _uint(UINT32),
        "args": _list(_ARG),
        "comment": _string,
        "includes": _FILTER,
        "excludes": _FILTER,
    },
    required=("action",),
)
_PROFILE = _object(
    {
        "defaultAction": _one_of(ACTIONS),
        "defaultErrnoRet": _uint(UINT32),
        "listenerPath": _string,
        "listenerMetadata": _string,
        "architectures": _list(_string),
        "archMap": _list(
            _object({"architecture": _string, "subArchitectures": _list(_string)}),
        ),
        "syscalls": _list(_SYSCALL),
        "flags": _list(_one_of(FLAGS)),
    },
)

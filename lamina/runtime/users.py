"""Resolve a Docker `--user` string against a container's own /etc/passwd and /etc/group.

The files are read INSIDE the root filesystem, following symlinks as a process chrooted
into it would: an image whose /etc/passwd is a symlink to `/../../etc/passwd` reads
`<rootfs>/etc/passwd`, never the host's. The rules follow runc's `user.GetExecUser`,
which Docker uses: a numeric uid needs no passwd entry, a name does; an explicit group
replaces the primary gid and suppresses supplementary groups; otherwise the user's
supplementary groups are the /etc/group entries that list the user's name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from lamina.errors import InvalidArgument
from lamina.store.rootpath import resolve_in_root

_MAX_ID = 2**31 - 1  # runc's range for uids and gids
_NUMBER = re.compile(r"[+-]?[0-9]+", re.ASCII)

T = TypeVar("T")


@dataclass(frozen=True)
class PasswdEntry:
    name: str
    uid: int
    gid: int
    home: str


@dataclass(frozen=True)
class GroupEntry:
    name: str
    gid: int
    members: tuple[str, ...]


def _read_entries(
    rootfs: Path, path: str, parse: Callable[[list[str]], T | None]
) -> list[T] | None:
    """Parse a colon-separated database in the rootfs; None when the file is absent."""
    host_path = resolve_in_root(rootfs, path)
    try:
        # O_NOFOLLOW: the last component was resolved above; refuse one swapped in since.
        fd = os.open(host_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None
    with os.fdopen(fd, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    entries = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        entry = parse(line.split(":"))
        if entry is not None:
            entries.append(entry)
    return entries


def _parse_passwd(fields: list[str]) -> PasswdEntry | None:
    if len(fields) < 4 or not fields[2].isdigit() or not fields[3].isdigit():
        return None  # malformed lines are skipped rather than read as uid 0
    home = fields[5] if len(fields) > 5 else ""
    return PasswdEntry(fields[0], int(fields[2]), int(fields[3]), home)


def _parse_group(fields: list[str]) -> GroupEntry | None:
    if len(fields) < 3 or not fields[2].isdigit():
        return None
    members = tuple(m for m in (fields[3].split(",") if len(fields) > 3 else []) if m)
    return GroupEntry(fields[0], int(fields[2]), members)


def _numeric(value: str) -> int | None:
    if not _NUMBER.fullmatch(value):
        return None  # as Go's strconv.Atoi: no spaces, no underscores
    number = int(value)
    if not 0 <= number <= _MAX_ID:
        raise InvalidArgument(f"uids and gids must be in range 0-{_MAX_ID}")
    return number


def _find_user(rootfs: Path, user_arg: str) -> tuple[int, int, str]:
    """Return uid, primary gid and the matched passwd name ("" when none matched)."""
    uid_arg = _numeric(user_arg) if user_arg else 0
    entries = _read_entries(rootfs, "/etc/passwd", _parse_passwd) or []
    for entry in entries:
        if (entry.uid == uid_arg) if uid_arg is not None else (entry.name == user_arg):
            return entry.uid, entry.gid, entry.name  # the first match wins, as runc
    if uid_arg is None:
        raise InvalidArgument(f"unable to find user {user_arg}: no matching entries in passwd file")
    return uid_arg, 0, ""


def resolve_user(rootfs: Path, user: str) -> tuple[int, int, list[int]]:
    """Resolve "", "name", "uid", "uid:gid", "name:group" to (uid, gid, supplementary gids).

    Raises InvalidArgument, with Docker's wording, for a name the image does not know.
    """
    user_arg, _, rest = user.partition(":")
    group_arg = rest.split(":", 1)[0]
    uid, gid, name = _find_user(rootfs, user_arg)
    if not group_arg and not name:
        return uid, gid, []
    groups = _read_entries(rootfs, "/etc/group", _parse_group) or []
    if not group_arg:
        return uid, gid, [g.gid for g in groups if name in g.members]
    gid_arg = _numeric(group_arg)
    for group in groups:
        if (group.gid == gid_arg) if gid_arg is not None else (group.name == group_arg):
            return uid, group.gid, []
    if gid_arg is None:
        raise InvalidArgument(
            f"unable to find group {group_arg}: no matching entries in group file"
        )
    return uid, gid_arg, []


def additional_groups(rootfs: Path, names: Sequence[str]) -> list[int]:
    """--group-add: each a group name from the rootfs's /etc/group or a numeric gid (runc's
    `GetAdditionalGroups`, which Docker uses)."""
    if not names:
        return []
    groups = _read_entries(rootfs, "/etc/group", _parse_group) or []
    gids = []
    for name in names:
        found = next((g.gid for g in groups if g.name == name), None)
        if found is None:
            found = _numeric(name)
        if found is None:
            raise InvalidArgument(f"Unable to find group {name}: no matching entries in group file")
        gids.append(found)
    return gids

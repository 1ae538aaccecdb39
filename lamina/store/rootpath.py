"""Paths inside a root filesystem, resolved as a chroot would resolve them.

The one implementation of "follow this path's symlinks with `root` as /": layer
extraction, the container user lookup and `cp` all need it, and it is the line
between a container's files and the host's, so it lives in exactly one place.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from pathlib import Path

from lamina.errors import InvalidArgument

MAX_LINKS = 255  # the kernel's limit on symlinks followed in one lookup


class TooManyLinks(InvalidArgument):
    """A symlink loop (or a chain longer than the kernel would follow)."""


def resolve_relative(root: str, path: str) -> str:
    """`path` resolved inside `root`, as a path relative to `root` ("" for root itself).

    Symlinks are followed with `root` as "/", ".." never climbs above it, and missing
    components resolve lexically (the result may not exist).
    """
    pending = deque(_components(path))
    done: list[str] = []
    links = 0
    while pending:
        part = pending.popleft()
        if part == "..":
            if done:
                done.pop()
            continue
        here = os.path.join(root, *done, part)
        try:
            is_link = stat.S_ISLNK(os.lstat(here).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            is_link = False
        if not is_link:
            done.append(part)
            continue
        links += 1
        if links > MAX_LINKS:
            raise TooManyLinks(f"too many levels of symbolic links resolving {path}")
        target = os.readlink(here)
        if target.startswith("/"):
            done.clear()
        pending.extendleft(reversed(_components(target)))
    return "/".join(done)


def resolve_in_root(root: Path, path: str) -> Path:
    """The host path that `path` names inside `root` (see `resolve_relative`)."""
    relative = resolve_relative(str(root), path)
    return root / relative if relative else root


def _components(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]

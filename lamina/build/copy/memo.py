"""The copies of COPYs from the context, remembered while nothing they saw has changed.

Selecting the copies of `COPY . .` walks the whole context, builds an entry per file and
checksums the selection; for a context that has not changed since the last build, all
of that gives the same copies again. Remembered copies are reused when every entry they hold
(files, and the directories it walked or globbed in, whose times change when an entry
is added, removed or renamed) still has the same size, mtime, ctime, inode and device
(ctime also moves on any chmod or chown), so a no-op rebuild costs one lstat per entry.

Not remembered, so selected afresh every time: sources that pass through a symlink or
use a wildcard below their first wildcard component, contexts whose .dockerignore has
`!` exceptions (an excluded directory may then hide a re-included file from the
check), and copies holding an entry changed within the stat cache's racy window.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lamina.build.context.folder import BuildContext, Entry, clean_relpath
from lamina.build.context.statcache import RACY_WINDOW_NS, StatKey, stat_key
from lamina.build.copy.select import Copies, contains_wildcards, select_copies

_LIMIT = 256  # copies kept


@dataclass(frozen=True)
class _Memo:
    copies: Copies
    paths: tuple[str, ...]  # the watched entries' absolute paths
    keys: list[StatKey]  # and their stat keys, in the same order
    answers: tuple[tuple[str, bool], ...]  # dest_is_dir questions and their answers


class CopiesMemo:
    def __init__(self, *, racy_window_ns: int = RACY_WINDOW_NS) -> None:
        self._racy_ns = racy_window_ns
        self._selected: dict[tuple[object, ...], _Memo] = {}
        self._lock = threading.Lock()

    def select(
        self,
        tree: BuildContext,
        sources: Sequence[str],
        dest: str,
        *,
        workdir: str,
        add: bool,
        chown: str | None,
        chmod: str | None,
        dest_is_dir: Callable[[str], bool],
        tree_name: str,
    ) -> Copies:
        """`select_copies` with the same arguments, from memory when still valid."""
        key = (tree.abspath(""), tuple(tree.ignore.patterns), tuple(sources), dest, workdir,
               add, chown, chmod)  # fmt: skip
        with self._lock:
            memo = self._selected.get(key)
        if memo is not None and _still_valid(memo, dest_is_dir):
            return memo.copies
        answers: list[tuple[str, bool]] = []

        def asking(path: str) -> bool:
            answer = dest_is_dir(path)
            answers.append((path, answer))
            return answer

        copies = select_copies(tree, sources, dest, workdir=workdir, add=add, chown=chown,
                         chmod=chmod, dest_is_dir=asking, tree_name=tree_name)  # fmt: skip
        watched = _watched(tree, sources, copies, self._racy_ns)
        if watched is not None:
            prefix = tree.abspath("")
            paths = tuple(f"{prefix}/{e.relpath}" if e.relpath else prefix for e in watched)
            memo = _Memo(copies, paths, [e.stat_key for e in watched], tuple(answers))
            with self._lock:
                if len(self._selected) >= _LIMIT:
                    self._selected.clear()
                self._selected[key] = memo
        return copies


def _still_valid(memo: _Memo, dest_is_dir: Callable[[str], bool]) -> bool:
    # map() and attrgetter keep the per-entry work in C: this loop is most of a
    # no-op rebuild's time in the daemon.
    try:
        keys = list(map(stat_key, map(os.lstat, memo.paths)))
    except OSError:
        return False
    if keys != memo.keys:
        return False
    return all(dest_is_dir(path) == answer for path, answer in memo.answers)


def _watched(
    tree: BuildContext, sources: Sequence[str], copies: Copies, racy_ns: int
) -> tuple[Entry, ...] | None:
    """What must not change for `copies` to hold, or None if it cannot be remembered."""
    if any(pattern.startswith("!") for pattern in tree.ignore.patterns):
        return None
    watched = [item.entry for item in copies.items]
    for source in sources:
        rel = clean_relpath(source)
        if contains_wildcards(rel):
            parts = rel.split("/")
            fixed = next(i for i, part in enumerate(parts) if contains_wildcards(part))
            if fixed != len(parts) - 1:
                return None  # globbed through several levels
            rel = "/".join(parts[:fixed])
        if tree.resolve(rel) != rel:
            return None  # through a symlink: its target would need watching too
        base = tree.lstat(rel)
        if base is None:
            return None
        watched.append(base)
    horizon = time.time_ns() - racy_ns
    if any(max(e.mtime_ns, e.ctime_ns) > horizon for e in watched):
        return None
    return tuple(watched)

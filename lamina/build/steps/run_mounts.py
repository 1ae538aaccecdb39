"""`RUN --mount=...` as runtime mounts, and as the words the cache key holds.

    type=cache   a directory kept across builds in `<build>/cache-mounts/<id>`,
                 shared by every build of the daemon; its contents are deliberately
                 not keyed (that is its point). `sharing=locked` (and `private`, the
                 same here) lets one step at a time use it; `shared` lets all.
    type=bind    files of the build context, a stage or an image; keyed by the
                 checksum of what it exposes. Read-only unless `rw`, which writes to
                 a throw-away copy, never to the user's folder.
    type=tmpfs   an empty tmpfs.
    type=secret, type=ssh   refused: not supported yet.

Targets are expanded with the stage's ARG/ENV; a relative one is under WORKDIR.
`CacheMounts` is the daemon's: its folders and locks are shared by every build.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import threading
from dataclasses import dataclass
from pathlib import Path

from lamina.build.context.folder import BuildContext, clean_relpath
from lamina.build.copy.apply import apply_copies
from lamina.build.copy.select import select_copies
from lamina.build.imagestate import ImageState
from lamina.build.progress.events import Progress
from lamina.build.sandbox.scratch import Scratch
from lamina.build.scope import Scope
from lamina.build.sources import Sources, Tree
from lamina.dockerfile.config import env_of
from lamina.dockerfile.mounts import Mount, MountType, Sharing
from lamina.errors import InvalidArgument
from lamina.runtime.spec import MountSpec

_LOCK_POLL = 0.1  # seconds between checks for a cancelled build while a cache is busy


@dataclass(frozen=True)
class RunMounts:
    specs: tuple[MountSpec, ...]
    keys: tuple[str, ...]  # one canonical description per mount, for run_key
    locks: tuple[str, ...] = ()  # cache folders held alone (sharing=locked|private)


class CacheMounts:
    """The `type=cache` folders under `root`, one per id, and the locks of those used
    with `sharing=locked|private`; shared by every build of the daemon."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def folder(self, mount: Mount, cache_id: str) -> Path:
        """The cache's folder, made (with the mount's mode and owner) on first use."""
        folder = self.root / cache_name(cache_id)
        if not folder.exists():
            folder.parent.mkdir(parents=True, exist_ok=True)
            try:
                folder.mkdir(mode=0o755)
            except FileExistsError:
                pass  # a concurrent build's step made it first, with its mode and owner
            else:
                folder.chmod(mount.mode if mount.mode is not None else 0o755)
                os.chown(folder, mount.uid or 0, mount.gid or 0)
        return folder

    def hold(self, mounts: RunMounts, progress: Progress, stack: contextlib.ExitStack) -> None:
        """Take the locks of `sharing=locked|private` cache mounts until the step ends:
        named by the folder each mounts (its id or target as expanded), so two spellings
        of one cache share one lock. Each once, in name order (two steps that lock the
        same two caches cannot deadlock), and while the build is not cancelled."""
        for name in sorted(set(mounts.locks)):
            with self._guard:
                lock = self._locks.setdefault(name, threading.Lock())
            while not lock.acquire(timeout=_LOCK_POLL):
                progress.check()
            stack.callback(lock.release)

    def locked(self) -> list[str]:
        """The names of the caches whose lock a step holds now."""
        with self._guard:
            return sorted(name for name, lock in self._locks.items() if lock.locked())


def cache_name(cache_id: str) -> str:
    """A cache's folder name: ids are free text ("/root/.npm", "apt-$TARGETARCH")."""
    return hashlib.sha256(cache_id.encode()).hexdigest()[:32]


def resolve_mounts(
    state: ImageState,
    scope: Scope,
    mounts: tuple[Mount, ...],
    *,
    sources: Sources,
    caches: CacheMounts,
    scratch: Scratch,
    stack: contextlib.ExitStack,
) -> RunMounts:
    """The RUN's `--mount`s as runtime mounts, their key words, and the cache locks
    they need; bind sources are mounted (or copied) until `stack` closes."""
    specs: list[MountSpec] = []
    keys: list[str] = []
    locks: list[str] = []
    env = env_of(state.env_list)
    for mount in mounts:
        target = _target(scope.word(mount.target, env), state.workdir)
        if mount.type is MountType.CACHE:
            cache_id = scope.word(mount.cache_id, env) or target
            spec, key = _cache(caches, mount, cache_id, target)
            if mount.sharing in (Sharing.LOCKED, Sharing.PRIVATE):
                locks.append(cache_name(cache_id))
        elif mount.type is MountType.TMPFS:
            options = ("nosuid", "nodev") + ((f"size={mount.size}",) if mount.size else ())
            spec = MountSpec(target, "tmpfs", "tmpfs", options)
            key = f"tmpfs {target} {mount.size}"
        elif mount.type is MountType.BIND:
            source = scope.word(mount.source, env) if mount.source else ""
            tree = sources.tree(mount.from_, stack)
            spec, key = _bind(tree, mount, source, target, scratch, stack)
        else:
            raise InvalidArgument(f"RUN --mount=type={mount.type} is not supported yet")
        specs.append(spec)
        keys.append(key)
    return RunMounts(tuple(specs), tuple(keys), tuple(locks))


def _target(target: str, workdir: str) -> str:
    if not target:
        raise InvalidArgument("RUN --mount needs a target")
    return posixpath.normpath(posixpath.join(workdir, target))


def _cache(caches: CacheMounts, mount: Mount, cache_id: str, target: str) -> tuple[MountSpec, str]:
    if mount.from_:
        raise InvalidArgument("RUN --mount=type=cache,from=... is not supported yet")
    folder = caches.folder(mount, cache_id)
    options = ("rbind", "ro" if mount.read_only else "rw")
    key = f"cache {target} id={cache_id} ro={mount.read_only}"
    return MountSpec(target, "bind", str(folder), options), key


def _bind(
    tree: Tree,
    mount: Mount,
    source: str,
    target: str,
    scratch: Scratch,
    stack: contextlib.ExitStack,
) -> tuple[MountSpec, str]:
    context = tree.context
    rel = context.resolve(clean_relpath(source))
    if context.lstat(rel) is None:
        raise InvalidArgument(f"RUN --mount: source {source or '.'!r} not found")
    selection = context.checksum(rel)
    key = f"bind {target} from={mount.from_} source={rel} rw={not mount.read_only} "
    key += selection.checksum
    private = not mount.read_only or (not mount.from_ and bool(context.ignore))
    host = _private_copy(context, rel, scratch, stack) if private else Path(context.abspath(rel))
    options = ("rbind", "ro" if mount.read_only else "rw")
    return MountSpec(target, "bind", str(host), options), key


def _private_copy(
    context: BuildContext, rel: str, scratch: Scratch, stack: contextlib.ExitStack
) -> Path:
    """A copy of what the mount exposes: writes must not reach the source, and ignored
    files must not be seen."""
    folder = scratch.folder("binds", stack)
    copies = select_copies(context, [rel or "."], "/", tree_name="bind source")
    apply_copies(copies, folder, view=None, owner=None)
    folder.chmod(0o755)
    entry = context.lstat(rel)
    is_dir = entry is not None and entry.type.value == "dir"
    return folder if is_dir else folder / posixpath.basename(rel)

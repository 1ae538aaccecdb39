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
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from lamina.build.context import BuildContext, clean_relpath
from lamina.build.copier import carry_out
from lamina.build.copysources import plan_copy
from lamina.build.imagestate import ImageState
from lamina.build.scope import Scope
from lamina.build.session import Session
from lamina.build.statcache import StatCache
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


def run_mounts(
    session: Session,
    state: ImageState,
    scope: Scope,
    mounts: tuple[Mount, ...],
    stack: contextlib.ExitStack,
) -> RunMounts:
    specs: list[MountSpec] = []
    keys: list[str] = []
    locks: list[str] = []
    env = env_of(state.env_list)
    for mount in mounts:
        target = _target(scope.word(mount.target, env), state.workdir)
        if mount.type is MountType.CACHE:
            cache_id = scope.word(mount.cache_id, env) or target
            spec, key = _cache(session, mount, cache_id, target)
            if mount.sharing in (Sharing.LOCKED, Sharing.PRIVATE):
                locks.append(_cache_name(cache_id))
        elif mount.type is MountType.TMPFS:
            options = ("nosuid", "nodev") + ((f"size={mount.size}",) if mount.size else ())
            spec = MountSpec(target, "tmpfs", "tmpfs", options)
            key = f"tmpfs {target} {mount.size}"
        elif mount.type is MountType.BIND:
            source = scope.word(mount.source, env) if mount.source else ""
            spec, key = _bind(session, mount, source, target, stack)
        else:
            raise InvalidArgument(f"RUN --mount=type={mount.type} is not supported yet")
        specs.append(spec)
        keys.append(key)
    return RunMounts(tuple(specs), tuple(keys), tuple(locks))


def hold_cache_locks(session: Session, mounts: RunMounts, stack: contextlib.ExitStack) -> None:
    """Take the locks of `sharing=locked|private` cache mounts until the step ends: named
    by the folder each mounts (its id or target as expanded), so two spellings of one
    cache share one lock. Each once, in name order (two steps that lock the same two
    caches cannot deadlock), and while the build is not cancelled."""
    for name in sorted(set(mounts.locks)):
        lock = session.locks.setdefault(name, threading.Lock())
        while not lock.acquire(timeout=_LOCK_POLL):
            session.check_cancel()
        stack.callback(lock.release)


def _target(target: str, workdir: str) -> str:
    if not target:
        raise InvalidArgument("RUN --mount needs a target")
    return posixpath.normpath(posixpath.join(workdir, target))


def _cache_name(cache_id: str) -> str:
    # Ids are free text ("/root/.npm", "apt-$TARGETARCH"); the folder name is their hash.
    return hashlib.sha256(cache_id.encode()).hexdigest()[:32]


def _cache(session: Session, mount: Mount, cache_id: str, target: str) -> tuple[MountSpec, str]:
    if mount.from_:
        raise InvalidArgument("RUN --mount=type=cache,from=... is not supported yet")
    folder = session.root / "cache-mounts" / _cache_name(cache_id)
    if not folder.exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            folder.mkdir(mode=0o755)
        except FileExistsError:
            pass  # a concurrent build's step made it first, with its mode and owner
        else:
            folder.chmod(mount.mode if mount.mode is not None else 0o755)
            os.chown(folder, mount.uid or 0, mount.gid or 0)
    options = ("rbind", "ro" if mount.read_only else "rw")
    key = f"cache {target} id={cache_id} ro={mount.read_only}"
    return MountSpec(target, "bind", str(folder), options), key


def _bind(
    session: Session, mount: Mount, source: str, target: str, stack: contextlib.ExitStack
) -> tuple[MountSpec, str]:
    if mount.from_:
        state, _ = session.source_state(mount.from_)
        tree = BuildContext(stack.enter_context(session.view(state)), stat_cache=StatCache(None))
    else:
        tree = session.context
    rel = tree.resolve(clean_relpath(source))
    if tree.lstat(rel) is None:
        raise InvalidArgument(f"RUN --mount: source {source or '.'!r} not found")
    selection = tree.checksum(rel)
    key = f"bind {target} from={mount.from_} source={rel} rw={not mount.read_only} "
    key += selection.checksum
    private = not mount.read_only or (tree is session.context and bool(tree.ignore))
    host = _private_copy(session, tree, rel, stack) if private else Path(tree.abspath(rel))
    options = ("rbind", "ro" if mount.read_only else "rw")
    return MountSpec(target, "bind", str(host), options), key


def _private_copy(
    session: Session, tree: BuildContext, rel: str, stack: contextlib.ExitStack
) -> Path:
    """A copy of what the mount exposes: writes must not reach the source, and ignored
    files must not be seen."""
    (session.root / "binds").mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=session.root / "binds"))
    stack.callback(shutil.rmtree, folder, True)
    plan = plan_copy(tree, [rel or "."], "/", tree_name="bind source")
    carry_out(plan, folder, view=None, owner=None)
    folder.chmod(0o755)
    entry = tree.lstat(rel)
    is_dir = entry is not None and entry.type.value == "dir"
    return folder if is_dir else folder / posixpath.basename(rel)

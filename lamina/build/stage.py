"""One stage: FROM, the base image's ONBUILD triggers, then each instruction as a step.

Every step follows the same protocol (`StageBuilder._step`): make its `Step` (the key,
cheaply), look the key up unless the cache is off for this stage, and on a hit take
the recorded image as the new state (CACHED). On a miss: if another build is making
the same key, wait for it and take its result (CACHED too: one run, one layer, one
image; see `singleflight`); else explain the miss if asked, execute, record the result
under the key with its detail, and go on. A miss changes the parent of every later
step, so they miss too (unless a later step reproduces an identical image, in which
case it hits again, as it should).

Metadata steps are cached like the others: their history entries carry a time, so
re-making them would change every later parent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import posixpath
from pathlib import Path

from lamina.build.cachekey import CacheKey, CacheResult, explain, meta_key
from lamina.build.copystep import copy_step
from lamina.build.imagestate import ImageState, scratch
from lamina.build.metadata import config_step, workdir_path
from lamina.build.plan import PlannedStage
from lamina.build.runinstr import run_step
from lamina.build.scope import Scope
from lamina.build.session import Session
from lamina.build.step import Result, Step
from lamina.build.workspace import mounted
from lamina.containers.users import resolve_user
from lamina.dockerfile.config import ConfigStep, ContainerChange, env_of
from lamina.dockerfile.instructions import (
    AddInstr,
    ArgInstr,
    CmdInstr,
    CopyInstr,
    Instruction,
    RunInstr,
    WorkdirInstr,
)
from lamina.dockerfile.location import DockerfileError, Location
from lamina.dockerfile.parser import parse
from lamina.dockerfile.stages import instructions_from_node
from lamina.dockerfile.words import Lexer
from lamina.errors import InvalidArgument, LaminaError
from lamina.store.rootpath import resolve_in_root


class StageBuilder:
    def __init__(self, session: Session, planned: PlannedStage) -> None:
        self.session = session
        self.planned = planned
        plan = session.plan
        self.scope = Scope(
            lexer=Lexer(plan.escape),
            build_args=plan.request.build_args,
            meta_args=plan.meta_args,
        )
        self.use_cache = session.uses_cache(planned)
        self.cmd_set = False  # CMD given in this stage (kept by a later ENTRYPOINT)

    def build(self) -> ImageState:
        stage = self.planned.stage
        state, triggers = self._from()
        steps = [*triggers, *stage.instructions]
        total = len(steps) + 1
        for k, instr in enumerate(steps, start=2):
            state = self._step(instr, state, k, total)
        return state

    def _name(self, k: int, total: int, text: str) -> str:
        multi = len(self.session.plan.stages) > 1
        prefix = f"{self.planned.stage.name or f'stage-{self.planned.index}'} " if multi else ""
        return f"[{prefix}{k}/{total}] {text}"

    def _from(self) -> tuple[ImageState, list[Instruction]]:
        session, planned = self.session, self.planned
        total = len(planned.stage.instructions) + 1
        n = session.report.start(
            self._name(1, total, f"FROM {planned.base}"),
            legacy=session.legacy_step(f"FROM {planned.base}"),
        )
        try:
            state = self._base()
            state, triggers = self._triggers(state)
        except LaminaError as err:
            session.report.failed(n, str(err))
            raise
        session.report.done(n, image=state.image_id or "")
        return state, triggers

    def _base(self) -> ImageState:
        session, planned = self.session, self.planned
        if planned.base_stage is not None:
            return session.results[planned.base_stage]
        if planned.base == "scratch":
            return scratch(session.created())
        # The image `prepare` found (and held, for a build the API started), not what
        # the name points at now.
        image_id = planned.base_id or session.images.resolve(planned.base)
        session.hold(image_id, name=planned.base)
        return session.state_of(image_id)

    def _triggers(self, state: ImageState) -> tuple[ImageState, list[Instruction]]:
        """The base image's ONBUILD triggers, run first; the new image has none."""
        texts = list(state.container.get("OnBuild") or [])
        if not texts or self.planned.base_stage is not None:
            return state, []
        at = self.planned.stage.location
        where = Location(at.file, at.first, at.first)  # a trigger runs at its FROM's line
        triggers: list[Instruction] = []
        for text in texts:
            try:
                nodes = parse(text, filename=where.file).ast.children
                found = [i for node in nodes for i in instructions_from_node(node)]
            except InvalidArgument as err:
                raise DockerfileError.at(where, f"ONBUILD {text}: {err}") from err
            triggers += [dataclasses.replace(i, location=where) for i in found]
        config = {**state.config, "config": {**state.container, "OnBuild": None}}
        return ImageState(config, state.layers, state.image_id), triggers

    def _step(self, instr: Instruction, state: ImageState, k: int, total: int) -> ImageState:
        session = self.session
        text = instr.original.strip()
        n = session.report.start(self._name(k, total, text), legacy=session.legacy_step(text))
        try:
            with contextlib.ExitStack() as stack:
                step = self._prepare(instr, state, stack, k)
                session.check_cancel()
                return self._run(step, state, n)
        except LaminaError as err:
            session.report.failed(n, str(err))
            raise

    def _run(self, step: Step, state: ImageState, n: int) -> ImageState:
        session = self.session
        if self.use_cache:
            hit = session.lookup(step.key)
            if hit is not None:
                return self._cached(step, state, hit, n)
        new, ran_here = self._once(step, n)
        if not ran_here:
            return self._cached(step, state, new, n)
        session.report.done(n, image=new.image_id or "")
        return new

    def _cached(self, step: Step, state: ImageState, hit: ImageState, n: int) -> ImageState:
        if step.link and self.session.images.records.get(hit.image_id or "") is not None:
            hit = self._rebased(state, hit)
        self.session.report.cached(n, image=hit.image_id or "")
        return hit

    def _once(self, step: Step, n: int) -> tuple[ImageState, bool]:
        """The step's result, and whether this build made it: a concurrent build that is
        making the same key is waited for instead, and its result held here before it is
        used. If that build ended and its result was removed before it could be held,
        the key is tried again (this build then makes it)."""
        while True:
            new, made, led = self._flight(step, n)
            if led:
                return new, made  # made here, or found by this build's lookup: held
            if self.session.hold_result(new):
                return new, False

    def _flight(self, step: Step, n: int) -> tuple[ImageState, bool, bool]:
        """(result, made, led): BuildKit's rule for `--no-cache`: a build that uses the
        cache may take the result of one that does not (it is fresh), never the reverse
        (it may come from the cache)."""
        session, digest = self.session, step.key.digest
        fresh = f"no-cache {digest}"
        if not self.use_cache:
            (new, _), led = session.flights.run(
                fresh, lambda: (self._execute(step, n), True), check=session.check_cancel
            )
            return new, led, led
        (new, made), led = session.flights.run(
            f"cache {digest}", lambda: self._lookup_or_execute(step, n),
            check=session.check_cancel, join=(fresh,),
        )  # fmt: skip
        return new, made and led, led

    def _lookup_or_execute(self, step: Step, n: int) -> tuple[ImageState, bool]:
        # Again, now that this build holds the key: a build that held it before may have
        # recorded its result between this build's first lookup and its claim.
        hit = self.session.lookup(step.key)
        return (hit, False) if hit is not None else (self._execute(step, n), True)

    def _execute(self, step: Step, n: int) -> ImageState:
        session = self.session
        if session.plan.request.explain:
            self._explain(n, step)
        new, diff_id = step.execute(n)
        result = CacheResult(new.chain_id or "", new.image_id or "", diff_id or "")
        session.cache.record(step.full_key(), result)
        return new

    def _rebased(self, state: ImageState, hit: ImageState) -> ImageState:
        row = self.session.images.records.get(hit.image_id or "")
        if row is not None and row.parent == state.image_id:
            return hit
        return self.session.committer.rebase(state, hit)

    def _explain(self, n: int, step: Step) -> None:
        if not self.use_cache:
            self.session.report.note(n, "cache miss: the cache is off for this stage")
            return
        key = step.full_key()
        for reason in explain(self.session.cache.nearest(key), key):
            self.session.report.note(n, f"cache miss: {reason}")

    def _prepare(
        self, instr: Instruction, state: ImageState, stack: contextlib.ExitStack, k: int
    ) -> Step:
        session, planned = self.session, self.planned
        parent_step = k - 1 if k > 2 else None
        if isinstance(instr, RunInstr):
            return run_step(
                session, planned, state, self.scope, instr, stack=stack, parent_step=parent_step
            )
        if isinstance(instr, CopyInstr | AddInstr):
            return copy_step(
                session, planned, state, self.scope, instr, stack=stack, parent_step=parent_step
            )
        try:
            return self._config_step(instr, state, parent_step)
        except DockerfileError:
            raise
        except InvalidArgument as err:
            raise DockerfileError.at(instr.location, str(err)) from err

    def _config_step(self, instr: Instruction, state: ImageState, parent_step: int | None) -> Step:
        if isinstance(instr, ArgInstr):
            text = self.scope.declare(instr, env_of(state.env_list))
            return self._meta(state, text, None, None, parent_step, instr.line)
        self.cmd_set = self.cmd_set or isinstance(instr, CmdInstr)
        cfg = config_step(instr, state, self.scope, cmd_set=self.cmd_set)
        if isinstance(instr, WorkdirInstr):
            path = workdir_path(instr, state, self.scope)
            key = self._key(state, cfg.created_by, parent_step, instr.line)
            return Step(key, lambda n: self._workdir(state, path, cfg, instr.location))
        return self._meta(state, cfg.created_by, cfg.change, cfg.author, parent_step, instr.line)

    def _key(self, state: ImageState, text: str, parent_step: int | None, line: int) -> CacheKey:
        session = self.session
        return meta_key(
            state.parent_key, text, platform=session.platform,
            site=session.site(self.planned, line), parent_step=parent_step,
        )  # fmt: skip

    def _meta(
        self,
        state: ImageState,
        text: str,
        change: ContainerChange | None,
        author: str | None,
        parent_step: int | None,
        line: int,
    ) -> Step:
        session = self.session

        def execute(n: int) -> Result:
            return session.committer.commit(
                state, created=session.created(), created_by=text, change=change, author=author
            )

        return Step(self._key(state, text, parent_step, line), execute)

    def _workdir(self, state: ImageState, path: str, cfg: ConfigStep, where: Location) -> Result:
        """WORKDIR also creates its directory (owned by USER, as BuildKit does)."""
        session = self.session
        space = session.workspace(state.chain_id)
        try:
            with mounted(space.mounts, space.rootfs) as rootfs:
                try:
                    _make_dirs(rootfs, path, state.user)
                except InvalidArgument as err:
                    raise DockerfileError.at(where, str(err)) from err
            return session.committer.commit(
                state, created=session.created(), created_by=cfg.created_by,
                change=cfg.change, snapshot=space.id, epoch=session.epoch,
            )  # fmt: skip
        finally:
            space.remove()


def _make_dirs(rootfs: Path, path: str, user: str) -> None:
    target = resolve_in_root(rootfs, path)
    if target.is_dir():
        return
    uid, gid, _ = resolve_user(rootfs, user) if user else (0, 0, [])
    missing: list[Path] = []
    current = target
    while not os.path.lexists(current) and current != rootfs:
        missing.append(current)
        current = current.parent
    if not current.is_dir():
        name = posixpath.basename(str(current))
        raise InvalidArgument(f"WORKDIR {path}: {name} is not a directory")
    for folder in reversed(missing):
        folder.mkdir(mode=0o755)
        os.chown(folder, uid, gid)

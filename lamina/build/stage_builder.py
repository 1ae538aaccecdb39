"""One stage: FROM, the base image's ONBUILD triggers, then each instruction as a step.

Each instruction becomes a `Step` (`lamina.build.steps`): RUN, COPY/ADD and the config
instructions each get the tools their kind uses. Every step then goes through the
cache the same way (`StepCache.run`); its key starts from an `Origin`: the state it
builds on, the platform, and where it is in the Dockerfile.

Metadata steps are cached like the others: their history entries carry a time, so
re-making them would change every later parent.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass

from lamina.build.cache.key import Origin
from lamina.build.imagestate import ImageState, scratch
from lamina.build.plan import BuildPlan, PlannedStage
from lamina.build.progress.events import Progress
from lamina.build.scope import Scope
from lamina.build.sources import Sources
from lamina.build.step_cache import StepCache
from lamina.build.steps.config import ConfigTools, config_step
from lamina.build.steps.copy import CopyTools, copy_step
from lamina.build.steps.run import RunTools, run_step
from lamina.build.steps.step import Step
from lamina.dockerfile.instructions import AddInstr, CmdInstr, CopyInstr, Instruction, RunInstr
from lamina.dockerfile.location import DockerfileError, Location
from lamina.dockerfile.parser import parse
from lamina.dockerfile.stages import instructions_from_node
from lamina.dockerfile.words import Lexer
from lamina.errors import InvalidArgument, LaminaError


@dataclass(frozen=True, kw_only=True)
class StepTools:
    """The tools of each kind of step, made once per build."""

    run: RunTools
    copy: CopyTools
    config: ConfigTools


class StageBuilder:
    def __init__(
        self,
        plan: BuildPlan,
        planned: PlannedStage,
        *,
        sources: Sources,
        cache: StepCache,
        tools: StepTools,
        progress: Progress,
    ) -> None:
        self.plan = plan
        self.planned = planned
        self.sources = sources
        self.cache = dataclasses.replace(cache, use_cache=plan.uses_cache(planned))
        self.tools = tools
        self.progress = progress
        self.scope = Scope(
            lexer=Lexer(plan.escape),
            build_args=plan.request.build_args,
            meta_args=plan.meta_args,
        )
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
        multi = len(self.plan.stages) > 1
        prefix = f"{self.planned.stage.name or f'stage-{self.planned.index}'} " if multi else ""
        return f"[{prefix}{k}/{total}] {text}"

    def _from(self) -> tuple[ImageState, list[Instruction]]:
        planned, report = self.planned, self.progress.report
        total = len(planned.stage.instructions) + 1
        text = f"FROM {planned.base}"
        n = report.start(self._name(1, total, text), legacy=text)
        try:
            state = self._base()
            state, triggers = self._triggers(state)
        except LaminaError as err:
            report.failed(n, str(err))
            raise
        report.done(n, image=state.image_id or "")
        return state, triggers

    def _base(self) -> ImageState:
        planned, sources = self.planned, self.sources
        if planned.base_stage is not None:
            return sources.results[planned.base_stage]
        if planned.base == "scratch":
            return scratch(self.tools.config.committer.created())
        # The image `prepare` found (and held, for a build the API started), not what
        # the name points at now.
        image_id = planned.base_id or sources.images.resolve(planned.base)
        sources.hold(image_id, name=planned.base)
        return sources.state_of(image_id)

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
        report = self.progress.report
        text = instr.original.strip()
        n = report.start(self._name(k, total, text), legacy=text)
        try:
            with contextlib.ExitStack() as stack:
                step = self._prepare(instr, state, stack, k)
                self.progress.check()
                return self.cache.run(step, state, n)
        except LaminaError as err:
            report.failed(n, str(err))
            raise

    def _prepare(
        self, instr: Instruction, state: ImageState, stack: contextlib.ExitStack, k: int
    ) -> Step:
        plan, tools = self.plan, self.tools
        origin = Origin(
            state.parent_key, platform=plan.platform, site=plan.site(self.planned, instr.line),
            parent_step=k - 1 if k > 2 else None,
        )  # fmt: skip
        if isinstance(instr, RunInstr):
            return run_step(instr, state, self.scope, origin, tools=tools.run, stack=stack)
        if isinstance(instr, CopyInstr | AddInstr):
            return copy_step(instr, state, self.scope, origin, tools=tools.copy, stack=stack)
        self.cmd_set = self.cmd_set or isinstance(instr, CmdInstr)
        return config_step(
            instr, state, self.scope, origin, tools=tools.config, cmd_set=self.cmd_set
        )

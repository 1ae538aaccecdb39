"""A build request, and the plan made from it before anything is built.

`prepare` reads and parses the Dockerfile, resolves the ARGs before the first FROM,
expands each FROM, finds the target stage and the stages it needs (its base and every
`COPY --from` / `RUN --mount=from=` it names, transitively), and resolves the base
images to their IDs: the build uses those images, whatever the names point at by the
time it runs. Everything that can be wrong with the input is found here, so a bad
Dockerfile fails before the first step runs and nothing is tagged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lamina.dockerfile.instructions import ArgInstr, CopyInstr, RunInstr, Stage
from lamina.dockerfile.location import DockerfileError
from lamina.dockerfile.parser import parse
from lamina.dockerfile.stages import split_stages
from lamina.dockerfile.words import Lexer
from lamina.errors import InvalidArgument, NotFound
from lamina.oci.digest import Digest
from lamina.oci.image import host_platform
from lamina.oci.reference import Reference, parse_normalized

# Build args Docker accepts without an ARG: proxies reach RUN steps, and
# SOURCE_DATE_EPOCH is read by the builder itself.
PREDEFINED_ARGS = frozenset(
    {"HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY"}
    | {"http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "all_proxy"}
)
EPOCH_ARG = "SOURCE_DATE_EPOCH"
# An image name to its ID, raising NotFound (the image service's `resolve`; the builder
# also holds what it finds).
Resolve = Callable[[str], Digest]


@dataclass(frozen=True, kw_only=True)
class BuildRequest:
    """What to build. `context` is a folder read in place; `dockerfile` is absolute."""

    context: Path
    dockerfile: Path
    tags: tuple[str, ...] = ()
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    no_cache_filter: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    pull: bool = False
    platform: str = ""
    network: str = "default"  # RUN's network unless the step says otherwise
    explain: bool = False
    site: str = ""  # names the Dockerfile in cache sites; default: its path
    transient: bool = False  # the context is a one-off folder (an unpacked tar)


@dataclass(frozen=True)
class PlannedStage:
    index: int
    stage: Stage
    label: str  # how progress names it: the stage name, or its index
    base: str  # the FROM value, expanded
    base_stage: int | None  # the earlier stage it builds on, if any
    base_id: Digest | None = None  # the image `base` named at prepare (needed stages)


@dataclass(frozen=True)
class BuildPlan:
    request: BuildRequest
    filename: str
    escape: str
    stages: tuple[PlannedStage, ...]
    needed: tuple[int, ...]  # stage indices to build, in order; the last is the target
    meta_args: Mapping[str, str | None]
    tags: tuple[Reference, ...]
    unused_args: tuple[str, ...]

    @property
    def target(self) -> PlannedStage:
        return self.stages[self.needed[-1]]

    def stage_named(self, ref: str) -> PlannedStage | None:
        """The stage `ref` names (its `AS` name or its index), if it names one."""
        return _stage_by_ref(self.stages, ref)

    @property
    def step_count(self) -> int:
        """Steps of the stages to build (each FROM counts), as "Step N/M" counts them."""
        return sum(1 + len(self.stages[i].stage.instructions) for i in self.needed)

    @property
    def epoch(self) -> int | None:
        """SOURCE_DATE_EPOCH: clamps file times and sets every `created` when given."""
        value = self.request.build_args.get(EPOCH_ARG)
        if value is None or value == "":
            return None
        try:
            return int(value)
        except ValueError:
            raise InvalidArgument(f"invalid {EPOCH_ARG} {value!r}: not an integer") from None

    @property
    def platform(self) -> str:
        """The cache key's `platform` input; SOURCE_DATE_EPOCH changes every step's
        result (times), so it is part of it when given."""
        text = automatic_args()["TARGETPLATFORM"]
        epoch = self.epoch
        return text if epoch is None else f"{text} source-date-epoch={epoch}"

    def site(self, stage: PlannedStage, line: int) -> str:
        """Where a step is, for explaining its misses: Dockerfile, stage and line."""
        name = self.request.site or str(self.request.dockerfile)
        return f"{name}:{stage.index}:{line}"

    def uses_cache(self, stage: PlannedStage) -> bool:
        """Whether the stage's steps may come from the cache (`--no-cache`,
        `--no-cache-filter`)."""
        if self.request.no_cache:
            return False
        names = {stage.label, str(stage.index)}
        return not names & {n.lower() for n in self.request.no_cache_filter}


def prepare(request: BuildRequest, *, resolve: Resolve) -> BuildPlan:
    filename = request.dockerfile.name
    parsed = parse(read_dockerfile(request.dockerfile), filename=filename)
    staged = split_stages(parsed)
    if not staged.stages:
        raise InvalidArgument(f"{filename}: no build stages (a Dockerfile needs a FROM)")
    lexer = Lexer(parsed.escape_token)
    meta = _meta_args(staged.meta_args, request.build_args, lexer)
    stages = _planned_stages(staged.stages, meta, lexer)
    target = _target_index(stages, request.target)
    needed = _needed(stages, target, meta, lexer)
    stages = tuple(_resolve_base(s, resolve) if s.index in needed else s for s in stages)
    declared = {a.name for a in staged.meta_args}
    for n in needed:
        declared |= {i.name for i in stages[n].stage.instructions if isinstance(i, ArgInstr)}
    unused = sorted(set(request.build_args) - declared - PREDEFINED_ARGS - {EPOCH_ARG})
    return BuildPlan(
        request, filename, parsed.escape_token, stages, needed, meta,
        tuple(_tag(t) for t in request.tags), tuple(unused),
    )  # fmt: skip


def read_dockerfile(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        raise InvalidArgument(f"Cannot locate specified Dockerfile: {path.name}") from None
    except OSError as err:
        raise InvalidArgument(f"cannot read {path}: {err.strerror}") from err


def automatic_args() -> dict[str, str]:
    """BuildKit's platform args; builds here are always for the host's platform."""
    host = host_platform()
    spec = f"{host['os']}/{host['architecture']}" + (
        f"/{host['variant']}" if host.get("variant") else ""
    )
    out = {}
    for prefix in ("BUILD", "TARGET"):
        out[f"{prefix}PLATFORM"] = spec
        out[f"{prefix}OS"] = host["os"]
        out[f"{prefix}ARCH"] = host["architecture"]
        out[f"{prefix}VARIANT"] = host.get("variant", "")
    return out


def _meta_args(
    args: tuple[ArgInstr, ...], build_args: Mapping[str, str], lexer: Lexer
) -> dict[str, str | None]:
    values: dict[str, str | None] = dict(automatic_args())
    for arg in args:
        if arg.name in build_args:
            values[arg.name] = build_args[arg.name]
        elif arg.default is not None:
            env = {k: v for k, v in values.items() if v is not None}
            values[arg.name] = lexer.process_word(arg.default, env)
        else:
            values.setdefault(arg.name, None)
    return values


def _planned_stages(
    stages: tuple[Stage, ...], meta: Mapping[str, str | None], lexer: Lexer
) -> tuple[PlannedStage, ...]:
    env = {k: v for k, v in meta.items() if v is not None}
    out: list[PlannedStage] = []
    for index, stage in enumerate(stages):
        base = lexer.process_word(stage.base, env)
        if not base:
            raise DockerfileError.at(
                stage.location, f"base name ({stage.base}) should not be blank"
            )
        found = _stage_by_ref(tuple(out), base.lower())
        label = stage.name or str(index)
        out.append(PlannedStage(index, stage, label, base, found.index if found else None))
    return tuple(out)


def _stage_by_ref(stages: tuple[PlannedStage, ...], ref: str) -> PlannedStage | None:
    ref = ref.lower()
    for planned in stages:
        if planned.stage.name == ref:
            return planned
    if ref.isdigit() and int(ref) < len(stages):
        return stages[int(ref)]
    return None


def _target_index(stages: tuple[PlannedStage, ...], target: str) -> int:
    if not target:
        return len(stages) - 1
    found = next((s for s in stages if s.stage.name == target.lower()), None)
    if found is None:
        raise InvalidArgument(f'target stage "{target}" could not be found')
    return found.index


def _needed(
    stages: tuple[PlannedStage, ...], target: int, meta: Mapping[str, str | None], lexer: Lexer
) -> tuple[int, ...]:
    """The target and the stages it depends on, transitively, in Dockerfile order."""
    env = {k: v for k, v in meta.items() if v is not None}
    seen: set[int] = set()
    todo = [target]
    while todo:
        index = todo.pop()
        if index in seen:
            continue
        seen.add(index)
        todo.extend(_dependencies(stages, stages[index], env, lexer))
    return tuple(sorted(seen))


def _dependencies(
    stages: tuple[PlannedStage, ...], planned: PlannedStage, env: dict[str, str], lexer: Lexer
) -> list[int]:
    earlier = stages[: planned.index]
    refs: list[str] = []
    for instr in planned.stage.instructions:
        if isinstance(instr, CopyInstr) and instr.from_:
            refs.append(lexer.process_word(instr.from_, env))
        elif isinstance(instr, RunInstr):
            refs.extend(m.from_ for m in instr.mounts if m.from_)
    deps = [planned.base_stage] if planned.base_stage is not None else []
    for ref in refs:
        found = _stage_by_ref(earlier, ref)
        if found is not None:
            deps.append(found.index)
    return deps


def _resolve_base(planned: PlannedStage, resolve: Resolve) -> PlannedStage:
    if planned.base_stage is not None or planned.base == "scratch":
        return planned
    try:
        return dataclasses.replace(planned, base_id=resolve(planned.base))
    except NotFound as err:  # a 404 still, naming the FROM's line as a build error does
        raise NotFound(f"{planned.stage.location}: {err}") from err
    except InvalidArgument as err:
        raise DockerfileError.at(planned.stage.location, str(err)) from err


def _tag(text: str) -> Reference:
    ref = parse_normalized(text)
    if ref.digest:
        raise InvalidArgument(f"invalid tag {text!r}: a build tag cannot have a digest")
    return ref.with_default_tag()

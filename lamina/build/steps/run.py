"""RUN steps: the command line, its environment and mounts, its key, and running it.

The command is not expanded by the builder (its shell does that), so the key's
`instruction` is the command as written, heredoc bodies included. What it sees is
keyed separately: every ENV, every build arg in scope, the SHELL, the network mode,
and each `--mount` (see `run_mounts`). The command runs in the sandbox
(`lamina.build.sandbox.runner`).

Heredocs follow BuildKit: `RUN <<EOF` alone runs the body as a script (through the
SHELL, or directly when it starts with `#!`); heredocs inside a longer command are
handed to the shell with the command, which reads them as shell heredocs.
"""

from __future__ import annotations

import codecs
import contextlib
import re
from dataclasses import dataclass

from lamina.build.cache.key import Origin, run_key
from lamina.build.commit import Committer
from lamina.build.imagestate import ImageState
from lamina.build.progress.events import Progress
from lamina.build.sandbox.runner import RunSpec, StepRunner
from lamina.build.sandbox.scratch import Scratch
from lamina.build.sandbox.stubs import prune_copied_up
from lamina.build.sandbox.workspace import Workspace
from lamina.build.scope import Scope
from lamina.build.sources import Sources
from lamina.build.steps.run_mounts import CacheMounts, RunMounts, resolve_mounts
from lamina.build.steps.step import Result, Step
from lamina.dockerfile.config import command_argv, env_of
from lamina.dockerfile.instructions import RunInstr
from lamina.dockerfile.location import DockerfileError, Location
from lamina.errors import InvalidArgument
from lamina.runtime.spec import MountSpec

_LONE_HEREDOC = re.compile(r"\s*\d*<<-?\s*(['\"]?)([^'\"\s]+)\1\s*")


class StepFailed(InvalidArgument):
    """A RUN command exited non-zero; `code` is its exit status.

    The Dockerfile's command failed, not the engine: the user's input, so an
    InvalidArgument. Clients see it in the build stream with `code` as its
    `errorDetail.code`, as Docker's builder reports it, not as an HTTP status.
    """

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class _Run:
    """A RUN step's inputs, once expanded: what its key covers and its process gets."""

    instr: RunInstr
    state: ImageState
    args: dict[str, str]  # build args in its environment
    network: str
    mounts: RunMounts
    text: str  # the history entry, also the key's instruction
    where: Location  # the RUN's, for errors


@dataclass(frozen=True, kw_only=True)
class RunTools:
    """What RUN steps use: the sources and cache folders their mounts read, scratch
    space, the runner, the committer, and where progress goes."""

    sources: Sources
    caches: CacheMounts
    scratch: Scratch
    runner: StepRunner
    committer: Committer
    progress: Progress
    network: str  # the build's default for RUN (`--network`)


def run_step(
    instr: RunInstr,
    state: ImageState,
    scope: Scope,
    origin: Origin,
    *,
    tools: RunTools,
    stack: contextlib.ExitStack,
) -> Step:
    where = instr.location
    if instr.security != "sandbox":
        raise DockerfileError.at(where, f"RUN --security={instr.security} is not allowed")
    env = env_of(state.env_list)
    network = instr.network if instr.network != "default" else tools.network
    try:
        mounts = resolve_mounts(
            state, scope, instr.mounts, sources=tools.sources, caches=tools.caches,
            scratch=tools.scratch, stack=stack,
        )  # fmt: skip
    except InvalidArgument as err:
        raise DockerfileError.at(where, str(err)) from err
    run = _Run(instr, state, scope.run_args(env), network, mounts, _history_text(instr, state),
               where)  # fmt: skip
    key = run_key(
        origin, run.text, env=env, args=run.args, shell=state.shell, network=network,
        security=instr.security, mounts=mounts.keys,
    )  # fmt: skip
    return Step(key, lambda n: _execute(tools, run, stack, n))


def _execute(tools: RunTools, run: _Run, stack: contextlib.ExitStack, n: int) -> Result:
    state = run.state
    tools.caches.hold(run.mounts, tools.progress, stack)
    space = tools.scratch.workspace(state.chain_id)
    try:
        argv, extra = _argv(run.instr, state, space)
        spec = RunSpec(
            args=argv, env=[*state.env_list, *(f"{k}={v}" for k, v in run.args.items())],
            cwd=state.workdir, user=state.user, network=run.network,
            mounts=(*run.mounts.specs, *extra),
        )  # fmt: skip
        try:
            _run(tools, n, state, space, spec)
        except InvalidArgument as err:  # from the spec: an unknown USER, a bad WORKDIR
            raise DockerfileError.at(run.where, str(err)) from err
        return tools.committer.commit(state, created_by=run.text, snapshot=space.id)
    finally:
        space.remove()


def _run(tools: RunTools, n: int, state: ImageState, space: Workspace, spec: RunSpec) -> None:
    report = tools.progress.report
    # Incremental: a chunk may end inside a multi-byte character.
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    code, stubs = tools.runner.run(
        space, spec,
        output=lambda data: report.log(n, decoder.decode(data)),
        cancel=tools.progress.cancel, started=lambda cid: report.running(n, cid),
    )  # fmt: skip
    if code != 0:
        command = " ".join(spec.args)
        raise StepFailed(f"The command '{command}' returned a non-zero code: {code}", code)
    lowers = tools.scratch.layer_dirs(state.chain_id) if state.chain_id else []
    prune_copied_up(space.upper, lowers, stubs.parents)


def _argv(
    instr: RunInstr, state: ImageState, space: Workspace
) -> tuple[list[str], list[MountSpec]]:
    """The process's argv, and the mounts a heredoc script needs."""
    if not instr.heredocs:
        return command_argv(instr.cmd, is_json=instr.is_json, shell=state.shell), []
    command = instr.cmd if isinstance(instr.cmd, str) else " ".join(instr.cmd)
    lone = _LONE_HEREDOC.fullmatch(command)
    if lone and len(instr.heredocs) == 1 and lone.group(2) == instr.heredocs[0].name:
        body = instr.heredocs[0].body
        if not body.startswith("#!"):
            return [*state.shell, body], []
        script = space.dir / "script"
        script.write_text(body)
        script.chmod(0o755)
        bind = MountSpec("/dev/pipes/script", "bind", str(script), ("rbind", "ro"))
        return ["/dev/pipes/script"], [bind]
    docs = "".join(f"{doc.content}{doc.name}\n" for doc in instr.heredocs)
    return [*state.shell, f"{command}\n{docs}"], []


def _history_text(instr: RunInstr, state: ImageState) -> str:
    """`RUN /bin/sh -c make` (BuildKit's history form), heredoc bodies included."""
    if instr.is_json and isinstance(instr.cmd, tuple):
        line = " ".join(instr.cmd)
    else:
        line = " ".join([*state.shell, str(instr.cmd)])
    docs = "".join(f"\n{doc.content}{doc.name}" for doc in instr.heredocs)
    return f"RUN {line}{docs}"

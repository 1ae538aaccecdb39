"""RUN steps: the command line, its environment and mounts, its key, and running it.

The command is not expanded by the builder (its shell does that), so the key's
`instruction` is the command as written, heredoc bodies included. What it sees is
keyed separately: every ENV, every build arg in scope, the SHELL, the network mode,
and each `--mount` (see `runmounts`).

Heredocs follow BuildKit: `RUN <<EOF` alone runs the body as a script (through the
SHELL, or directly when it starts with `#!`); heredocs inside a longer command are
handed to the shell with the command, which reads them as shell heredocs.
"""

from __future__ import annotations

import codecs
import contextlib
import re
from dataclasses import dataclass

from lamina.build import cachekey
from lamina.build.events import Reporter
from lamina.build.imagestate import ImageState
from lamina.build.plan import PlannedStage
from lamina.build.runmounts import RunMounts, hold_cache_locks, run_mounts
from lamina.build.runstep import RunSpec
from lamina.build.scope import Scope
from lamina.build.session import Session
from lamina.build.step import Result, Step
from lamina.build.stubs import prune_copied_up
from lamina.build.workspace import Workspace
from lamina.containers.spec import MountSpec
from lamina.dockerfile.config import command_argv, env_of
from lamina.dockerfile.instructions import RunInstr
from lamina.dockerfile.location import DockerfileError, Location
from lamina.errors import InvalidArgument

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


def run_step(
    session: Session,
    stage: PlannedStage,
    state: ImageState,
    scope: Scope,
    instr: RunInstr,
    *,
    stack: contextlib.ExitStack,
    parent_step: int | None,
) -> Step:
    where = instr.location
    if instr.security != "sandbox":
        raise DockerfileError.at(where, f"RUN --security={instr.security} is not allowed")
    env = env_of(state.env_list)
    network = instr.network if instr.network != "default" else session.plan.request.network
    try:
        mounts = run_mounts(session, state, scope, instr.mounts, stack)
    except InvalidArgument as err:
        raise DockerfileError.at(where, str(err)) from err
    run = _Run(instr, state, scope.run_args(env), network, mounts, _history_text(instr, state),
               where)  # fmt: skip
    key = cachekey.run_key(
        state.parent_key, run.text, env=env, args=run.args, shell=state.shell,
        network=network, security=instr.security, mounts=mounts.keys,
        platform=session.platform, site=session.site(stage, instr.line), parent_step=parent_step,
    )  # fmt: skip
    return Step(key, lambda n: _execute(session, run, stack, n))


def _execute(session: Session, run: _Run, stack: contextlib.ExitStack, n: int) -> Result:
    state = run.state
    hold_cache_locks(session, run.mounts, stack)
    space = session.workspace(state.chain_id)
    try:
        argv, extra = _argv(run.instr, state, space)
        spec = RunSpec(
            args=argv, env=[*state.env_list, *(f"{k}={v}" for k, v in run.args.items())],
            cwd=state.workdir, user=state.user, network=run.network,
            mounts=(*run.mounts.specs, *extra),
        )  # fmt: skip
        try:
            _run(session, n, state, space, spec)
        except InvalidArgument as err:  # from the spec: an unknown USER, a bad WORKDIR
            raise DockerfileError.at(run.where, str(err)) from err
        return session.committer.commit(
            state, created=session.created(), created_by=run.text, snapshot=space.id,
            epoch=session.epoch,
        )  # fmt: skip
    finally:
        space.remove()


def _run(session: Session, n: int, state: ImageState, space: Workspace, spec: RunSpec) -> None:
    report: Reporter = session.report
    layers = session.images.layers
    # Incremental: a chunk may end inside a multi-byte character.
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    code, stubs = session.runner.run(
        space.mounts, space, spec,
        output=lambda data: report.log(n, decoder.decode(data)),
        cancel=session.cancel, started=lambda cid: report.running(n, cid),
    )  # fmt: skip
    if code != 0:
        command = " ".join(spec.args)
        raise StepFailed(f"The command '{command}' returned a non-zero code: {code}", code)
    lowers = layers.chain_dirs(state.chain_id) if state.chain_id else []
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

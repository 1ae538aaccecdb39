"""Config steps: `lamina.dockerfile.config` in the stage's setting, as build steps.

What ENV, LABEL, EXPOSE, CMD, ... do to the config is the language's
(`lamina.dockerfile.config`, shared with `import --change`); the builder adds where
they run: the ARGs in scope and ENV so far, the current WORKDIR and SHELL, and whether
the stage has set CMD (which ENTRYPOINT needs). Each is a step with a key of its
parent and its text; ARG declares in the stage's scope; WORKDIR also creates its
directory.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from lamina.build.cache.key import Origin, meta_key
from lamina.build.commit import Committer
from lamina.build.imagestate import ImageState
from lamina.build.sandbox.scratch import Scratch
from lamina.build.scope import Scope
from lamina.build.steps.step import Result, Step
from lamina.dockerfile import config
from lamina.dockerfile.config import ConfigStep, ContainerChange, Setting, env_of
from lamina.dockerfile.instructions import ArgInstr, Instruction, WorkdirInstr
from lamina.dockerfile.location import DockerfileError, Location
from lamina.errors import InvalidArgument
from lamina.runtime.users import resolve_user
from lamina.store.rootpath import resolve_in_root


@dataclass(frozen=True, kw_only=True)
class ConfigTools:
    """What config steps use: the committer, and scratch space for WORKDIR's mkdir."""

    scratch: Scratch
    committer: Committer


def config_step(
    instr: Instruction,
    state: ImageState,
    scope: Scope,
    origin: Origin,
    *,
    tools: ConfigTools,
    cmd_set: bool = False,
) -> Step:
    """The step of a config instruction (anything but RUN, COPY and ADD); `cmd_set`:
    whether this stage has set CMD itself (see ENTRYPOINT)."""
    try:
        return _step(instr, state, scope, origin, tools, cmd_set)
    except DockerfileError:
        raise
    except InvalidArgument as err:
        raise DockerfileError.at(instr.location, str(err)) from err


def _step(
    instr: Instruction,
    state: ImageState,
    scope: Scope,
    origin: Origin,
    tools: ConfigTools,
    cmd_set: bool,
) -> Step:
    if isinstance(instr, ArgInstr):
        text = scope.declare(instr, env_of(state.env_list))
        return _meta(tools, state, origin, text)
    cfg = effect(instr, state, scope, cmd_set=cmd_set)
    if isinstance(instr, WorkdirInstr):
        path = workdir_path(instr, state, scope)
        key = meta_key(origin, cfg.created_by)
        return Step(key, lambda n: _workdir(tools, state, path, cfg, instr.location))
    return _meta(tools, state, origin, cfg.created_by, cfg.change, cfg.author)


def _meta(
    tools: ConfigTools,
    state: ImageState,
    origin: Origin,
    text: str,
    change: ContainerChange | None = None,
    author: str | None = None,
) -> Step:
    def execute(n: int) -> Result:
        return tools.committer.commit(state, created_by=text, change=change, author=author)

    return Step(meta_key(origin, text), execute)


def _workdir(
    tools: ConfigTools, state: ImageState, path: str, cfg: ConfigStep, where: Location
) -> Result:
    """WORKDIR also creates its directory (owned by USER, as BuildKit does)."""
    space = tools.scratch.workspace(state.chain_id)
    try:
        with space.mounted() as rootfs:
            try:
                _make_dirs(rootfs, path, state.user)
            except InvalidArgument as err:
                raise DockerfileError.at(where, str(err)) from err
        return tools.committer.commit(
            state, created_by=cfg.created_by, change=cfg.change, snapshot=space.id
        )
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


def effect(
    instr: Instruction, state: ImageState, scope: Scope, *, cmd_set: bool = False
) -> ConfigStep:
    """What a config instruction does to the config here (`cmd_set`: whether this
    stage has set CMD itself, see ENTRYPOINT)."""
    return config.config_step(instr, setting(state, scope, cmd_set=cmd_set))


def workdir_path(instr: WorkdirInstr, state: ImageState, scope: Scope) -> str:
    """WORKDIR's absolute path: expanded, and relative ones joined to the current one."""
    return config.workdir_path(instr, setting(state, scope))


def setting(state: ImageState, scope: Scope, *, cmd_set: bool = False) -> Setting:
    """Where a config instruction of this stage runs, after the steps that made `state`."""
    return Setting(
        lexer=scope.lexer,
        variables=scope.variables(env_of(state.env_list)),
        workdir=state.workdir,
        shell=tuple(state.shell),
        cmd_set=cmd_set,
    )

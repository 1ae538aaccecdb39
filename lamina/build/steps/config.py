"""Config instructions in a build: `lamina.dockerfile.config` in the stage's setting.

What ENV, LABEL, EXPOSE, CMD, ... do to the config is the language's
(`lamina.dockerfile.config`, shared with `import --change`); the builder adds where
they run: the ARGs in scope and ENV so far, the current WORKDIR and SHELL, and whether
the stage has set CMD (which ENTRYPOINT needs).
"""

from __future__ import annotations

from lamina.build.imagestate import ImageState
from lamina.build.scope import Scope
from lamina.dockerfile import config
from lamina.dockerfile.config import ConfigStep, Setting, env_of
from lamina.dockerfile.instructions import Instruction, WorkdirInstr


def config_step(
    instr: Instruction, state: ImageState, scope: Scope, *, cmd_set: bool = False
) -> ConfigStep:
    """`cmd_set`: whether this stage has set CMD itself (see ENTRYPOINT)."""
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

"""Dockerfile instructions that change only an image's config (`docker import --change`).

`apply_changes(config, ["CMD [\"sh\"]", "ENV A=1"])` returns a new container config
dict (the `config` member of an OCI image config). Each change is read by the
Dockerfile parser and applied by `lamina.dockerfile.config`, exactly as a build
applies it, so EXPOSE ranges, ENV order, quoting and `$VAR`s from the config's Env
mean the same in both. Only the instructions Docker allows for `import --change` and
`commit --change` are accepted (moby's `validCommitCommands`).
"""

from __future__ import annotations

import copy
from typing import Any

from lamina.dockerfile.config import DEFAULT_SHELL, Setting, config_step, env_of
from lamina.dockerfile.instructions import CmdInstr, Instruction
from lamina.dockerfile.location import DockerfileError
from lamina.dockerfile.parser import parse
from lamina.dockerfile.stages import instructions_from_node
from lamina.errors import InvalidArgument

ALLOWED = (
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "HEALTHCHECK",
    "LABEL",
    "ONBUILD",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
)


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    """`config` with each change applied in order; `config` itself is left as it was."""
    out = copy.deepcopy(config)
    cmd_set = False  # as in a stage: an ENTRYPOINT drops a CMD it did not set itself
    for change in changes:
        for instr in _instructions(change):
            config_step(instr, _setting(out, cmd_set=cmd_set)).change(out)
            cmd_set = cmd_set or isinstance(instr, CmdInstr)
    return out


def _instructions(change: str) -> list[Instruction]:
    """The instructions of one change; a change names no file, so errors name none."""
    keyword, _, rest = change.strip().partition(" ")
    _check_allowed(keyword)
    if not rest.strip():
        raise InvalidArgument(f"{keyword.upper()} requires at least one argument")
    try:
        nodes = parse(change).ast.children
        for node in nodes:
            _check_allowed(node.keyword)
        return [instr for node in nodes for instr in instructions_from_node(node)]
    except DockerfileError as err:
        raise InvalidArgument(err.message) from err


def _check_allowed(keyword: str) -> None:
    if keyword.upper() not in ALLOWED:
        raise InvalidArgument(f"{keyword.upper()} is not a valid change command")


def _setting(config: dict[str, Any], *, cmd_set: bool) -> Setting:
    """Where a change applies: the config's Env for `$VAR`s, its WORKDIR and SHELL."""
    return Setting(
        variables=env_of(config.get("Env")),
        workdir=str(config.get("WorkingDir") or "/"),
        shell=tuple(config.get("Shell") or DEFAULT_SHELL),
        cmd_set=cmd_set,
    )

"""Dockerfile -> `StagedDockerfile`: typed instructions grouped into build stages.

Instructions before the first FROM may only be ARGs (they parameterise FROM lines);
every FROM starts a stage that owns the instructions up to the next FROM. Errors are
`DockerfileError`s at the line where the offending instruction starts.
"""

from __future__ import annotations

import difflib

from lamina.dockerfile.convert import CONVERTERS
from lamina.dockerfile.flags import FlagError
from lamina.dockerfile.instructions import (
    ArgInstr,
    FromInstr,
    Instruction,
    InstructionError,
    Stage,
    StagedDockerfile,
)
from lamina.dockerfile.location import DockerfileError
from lamina.dockerfile.mounts import MountError
from lamina.dockerfile.parser import Node, Result, parse

_INSTRUCTION_ERRORS = (InstructionError, FlagError, MountError)


def parse_stages(text: str, *, filename: str = "Dockerfile") -> StagedDockerfile:
    """Parse Dockerfile text all the way to stages."""
    return split_stages(parse(text, filename=filename))


def split_stages(result: Result) -> StagedDockerfile:
    """Convert a parse result's instructions and group them into stages."""
    meta_args: list[ArgInstr] = []
    stages: list[_StageDraft] = []
    for node in result.ast.children:
        for instr in instructions_from_node(node):
            if isinstance(instr, FromInstr):
                _check_name_unused(instr, stages)
                stages.append(_StageDraft(instr))
            elif stages:
                stages[-1].instructions.append(instr)
            elif isinstance(instr, ArgInstr):
                meta_args.append(instr)
            else:
                raise DockerfileError.at(node.location, "no build stage in current context")
    return StagedDockerfile(tuple(meta_args), tuple(draft.freeze() for draft in stages))


def instructions_from_node(node: Node) -> list[Instruction]:
    """The typed instruction(s) for one instruction node (ARG may give several)."""
    convert = CONVERTERS.get(node.value)
    if convert is None:
        raise DockerfileError.at(node.location, _unknown_instruction(node.keyword))
    try:
        return convert(node)
    except _INSTRUCTION_ERRORS as err:
        raise DockerfileError.at(node.location, str(err)) from None


class _StageDraft:
    def __init__(self, start: FromInstr) -> None:
        self.start = start
        self.instructions: list[Instruction] = []

    def freeze(self) -> Stage:
        start = self.start
        return Stage(
            start.name, start.image, start.platform, tuple(self.instructions), start.location
        )


def _check_name_unused(instr: FromInstr, stages: list[_StageDraft]) -> None:
    if instr.name is not None and any(draft.start.name == instr.name for draft in stages):
        raise DockerfileError.at(instr.location, f'duplicate stage name "{instr.name}"')


def _unknown_instruction(keyword: str) -> str:
    message = f"unknown instruction: {keyword}"
    close = difflib.get_close_matches(keyword.lower(), list(CONVERTERS), n=1)
    return f"{message} (did you mean {close[0].upper()}?)" if close else message

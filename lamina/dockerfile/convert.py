"""One converter per instruction: a parsed `Node` -> typed instruction(s).

Each converter checks its instruction's flags and argument count and raises
`InstructionError` with buildkit's wording where it has one; `lamina.dockerfile.stages`
adds the file and line. Arguments stay as written (see `lamina.dockerfile.instructions`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lamina.dockerfile import gotext, healthcheck
from lamina.dockerfile.flags import FlagKind, Flags, FlagSpec, parse_flags
from lamina.dockerfile.heredoc import parse_marker
from lamina.dockerfile.instructions import (
    AddInstr,
    ArgInstr,
    CmdInstr,
    CommandLine,
    CopyInstr,
    EntrypointInstr,
    EnvInstr,
    ExposeInstr,
    FromInstr,
    HealthcheckInstr,
    Instruction,
    InstructionError,
    LabelInstr,
    MaintainerInstr,
    OnbuildInstr,
    RunInstr,
    ShellInstr,
    StopSignalInstr,
    UserInstr,
    VolumeInstr,
    WorkdirInstr,
)
from lamina.dockerfile.mounts import parse_mount
from lamina.dockerfile.parser import Node

_STAGE_NAME_RE = re.compile(r"[a-z][a-z0-9-_.]*")
_ONBUILD_PREFIX_RE = re.compile(r"^\s*ONBUILD\s*", re.IGNORECASE | re.ASCII)
_NETWORKS = frozenset({"default", "none", "host"})
_SECURITY = frozenset({"sandbox", "insecure"})

_STR, _BOOL, _LIST = FlagKind.STRING, FlagKind.BOOL, FlagKind.LIST
_FROM_FLAGS: FlagSpec = {"platform": _STR}
_RUN_FLAGS: FlagSpec = {"mount": _LIST, "network": _STR, "security": _STR}
_COPY_FLAGS: FlagSpec = {"from": _STR, "chown": _STR, "chmod": _STR, "link": _BOOL}
_ADD_FLAGS: FlagSpec = {
    "chown": _STR,
    "chmod": _STR,
    "link": _BOOL,
    "checksum": _STR,
    "keep-git-dir": _BOOL,
}


def _loc(node: Node) -> dict[str, Any]:
    return {"location": node.location, "original": node.original}


def _flags(node: Node, spec: FlagSpec | None = None) -> Flags:
    return parse_flags(node.flags, spec or {})


def _exactly_one(node: Node, keyword: str) -> str:
    _flags(node)
    if len(node.args) != 1:
        raise InstructionError(f"{keyword} requires exactly one argument")
    return node.args[0]


def _at_least_one(node: Node, keyword: str) -> tuple[str, ...]:
    if not node.args:
        raise InstructionError(f"{keyword} requires at least one argument")
    return node.args


def _command_line(node: Node, args: tuple[str, ...] | None = None) -> CommandLine:
    args = node.args if args is None else args
    return args if node.is_json else " ".join(args)


def _from(node: Node) -> list[Instruction]:
    args = node.args
    name = None
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _STAGE_NAME_RE.fullmatch(name):
            raise InstructionError(
                f"invalid name for build stage: {gotext.quote(args[2])}, "
                "name can't start with a number or contain symbols"
            )
    elif len(args) != 1:
        raise InstructionError("FROM requires either one or three arguments")
    platform = _flags(node, _FROM_FLAGS).string("platform")
    return [FromInstr(**_loc(node), image=args[0], name=name, platform=platform)]


def _run(node: Node) -> list[Instruction]:
    flags = _flags(node, _RUN_FLAGS)
    network = flags.string("network") or "default"
    if network not in _NETWORKS:
        raise InstructionError(f"invalid network mode {gotext.quote(network)}")
    security = flags.string("security") or "sandbox"
    if security not in _SECURITY:
        raise InstructionError(f"unsupported security mode {gotext.quote(security)}")
    mounts = tuple(parse_mount(spec) for spec in flags.strings("mount"))
    return [
        RunInstr(
            **_loc(node),
            cmd=_command_line(node),
            is_json=node.is_json,
            mounts=mounts,
            network=network,
            security=security,
            heredocs=node.heredocs,
        )
    ]


def _sources_and_dest(node: Node, keyword: str) -> dict[str, Any]:
    """Split COPY/ADD arguments into paths, heredoc sources and the destination."""
    if len(node.args) < 2:
        raise InstructionError(
            f"{keyword} requires at least two arguments, but only one was provided. "
            "Destination could not be determined"
        )
    *sources, dest = node.args
    if parse_marker(dest) is not None:
        raise InstructionError(f"{keyword} cannot accept a heredoc as a destination")
    by_name = {doc.name: doc for doc in node.heredocs}
    markers = [parse_marker(source) for source in sources]
    docs = tuple(by_name[m.name] for m in markers if m is not None and m.name in by_name)
    paths = tuple(src for src, marker in zip(sources, markers, strict=True) if marker is None)
    return {"sources": paths, "dest": dest, "heredocs": docs}


def _copy(node: Node) -> list[Instruction]:
    flags = _flags(node, _COPY_FLAGS)
    return [
        CopyInstr(
            **_loc(node),
            **_sources_and_dest(node, "COPY"),
            from_=flags.string("from"),
            chown=flags.string("chown"),
            chmod=flags.string("chmod"),
            link=flags.boolean("link"),
        )
    ]


def _add(node: Node) -> list[Instruction]:
    flags = _flags(node, _ADD_FLAGS)
    return [
        AddInstr(
            **_loc(node),
            **_sources_and_dest(node, "ADD"),
            chown=flags.string("chown"),
            chmod=flags.string("chmod"),
            link=flags.boolean("link"),
            checksum=flags.string("checksum"),
            keep_git_dir=flags.boolean("keep-git-dir"),
        )
    ]


def _key_values(node: Node, keyword: str) -> tuple[tuple[str, str], ...]:
    """ENV/LABEL arguments come as (key, value, separator) triples from the parser."""
    _flags(node)
    args = _at_least_one(node, keyword)
    pairs = tuple((args[i], args[i + 1]) for i in range(0, len(args) - 2, 3))
    if any(not key for key, _ in pairs):
        raise InstructionError(f"{keyword} names can not be blank")
    return pairs


def _arg(node: Node) -> list[Instruction]:
    _flags(node)
    result: list[Instruction] = []
    for word in _at_least_one(node, "ARG"):
        name, has_default, default = word.partition("=")
        if has_default and not name:
            raise InstructionError("ARG names can not be blank")
        result.append(ArgInstr(**_loc(node), name=name, default=default if has_default else None))
    return result


def _healthcheck(node: Node) -> list[Instruction]:
    kind, *rest = _at_least_one(node, "HEALTHCHECK")
    flags = _flags(node, healthcheck.FLAGS)
    test = healthcheck.health_test(kind, rest, is_json=node.is_json)
    if test == ("NONE",):
        return [HealthcheckInstr(**_loc(node), test=test)]
    return [
        HealthcheckInstr(
            **_loc(node),
            test=test,
            interval_ns=healthcheck.duration(flags, "interval"),
            timeout_ns=healthcheck.duration(flags, "timeout"),
            start_period_ns=healthcheck.duration(flags, "start-period"),
            start_interval_ns=healthcheck.duration(flags, "start-interval"),
            retries=healthcheck.retries(flags),
        )
    ]


def _shell(node: Node) -> list[Instruction]:
    _flags(node)
    if not node.args:
        raise InstructionError("SHELL requires at least one argument")
    if not node.is_json:
        raise InstructionError("SHELL requires the arguments to be in JSON form")
    return [ShellInstr(**_loc(node), shell=node.args)]


def _volume(node: Node) -> list[Instruction]:
    _flags(node)
    paths = tuple(gotext.trim_space(path) for path in _at_least_one(node, "VOLUME"))
    if not all(paths):
        raise InstructionError("VOLUME specified can not be an empty string")
    return [VolumeInstr(**_loc(node), paths=paths)]


def _onbuild(node: Node) -> list[Instruction]:
    _flags(node)
    if node.trigger is None:
        raise InstructionError("ONBUILD requires at least one argument")
    trigger = node.trigger.keyword.upper()
    if trigger == "ONBUILD":
        raise InstructionError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise InstructionError(f"{trigger} isn't allowed as an ONBUILD trigger")
    expression = _ONBUILD_PREFIX_RE.sub("", node.original, count=1)
    for doc in node.heredocs:
        expression += "\n" + doc.content + doc.name
    return [OnbuildInstr(**_loc(node), expression=expression)]


def _env(node: Node) -> list[Instruction]:
    return [EnvInstr(**_loc(node), pairs=_key_values(node, "ENV"))]


def _label(node: Node) -> list[Instruction]:
    return [LabelInstr(**_loc(node), pairs=_key_values(node, "LABEL"))]


def _workdir(node: Node) -> list[Instruction]:
    return [WorkdirInstr(**_loc(node), path=_exactly_one(node, "WORKDIR"))]


def _user(node: Node) -> list[Instruction]:
    return [UserInstr(**_loc(node), user=_exactly_one(node, "USER"))]


def _stopsignal(node: Node) -> list[Instruction]:
    return [StopSignalInstr(**_loc(node), signal=_exactly_one(node, "STOPSIGNAL"))]


def _maintainer(node: Node) -> list[Instruction]:
    return [MaintainerInstr(**_loc(node), maintainer=_exactly_one(node, "MAINTAINER"))]


def _expose(node: Node) -> list[Instruction]:
    _flags(node)
    return [ExposeInstr(**_loc(node), ports=_at_least_one(node, "EXPOSE"))]


def _cmd(node: Node) -> list[Instruction]:
    _flags(node)
    return [CmdInstr(**_loc(node), cmd=_command_line(node), is_json=node.is_json)]


def _entrypoint(node: Node) -> list[Instruction]:
    _flags(node)
    return [EntrypointInstr(**_loc(node), cmd=_command_line(node), is_json=node.is_json)]


Converter = Callable[[Node], list[Instruction]]

# Keyed by the lowercased keyword; ARG yields one instruction per name.
CONVERTERS: dict[str, Converter] = {
    "add": _add,
    "arg": _arg,
    "cmd": _cmd,
    "copy": _copy,
    "entrypoint": _entrypoint,
    "env": _env,
    "expose": _expose,
    "from": _from,
    "healthcheck": _healthcheck,
    "label": _label,
    "maintainer": _maintainer,
    "onbuild": _onbuild,
    "run": _run,
    "shell": _shell,
    "stopsignal": _stopsignal,
    "user": _user,
    "volume": _volume,
    "workdir": _workdir,
}

"""What the config instructions do to an image's container config.

ENV, LABEL, EXPOSE, CMD, ENTRYPOINT, USER, VOLUME, HEALTHCHECK, SHELL, STOPSIGNAL,
ONBUILD, MAINTAINER and WORKDIR's config half change only the `config` member of an
image config. `config_step(instr, setting)` returns that change (a function over the
container config) and its history text, in BuildKit's style (`ENV A=1`,
`CMD ["node" "dist/index.js"]`, `EXPOSE map[80/tcp:{}]`). The builder and
`import --change` both apply instructions through it, so the two agree on EXPOSE
ranges, ENV order and quoting. Words are expanded where Docker expands them (not in
CMD, ENTRYPOINT, SHELL, HEALTHCHECK or ONBUILD).
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lamina.dockerfile.instructions import (
    CmdInstr,
    CommandLine,
    EntrypointInstr,
    EnvInstr,
    ExposeInstr,
    HealthcheckInstr,
    Instruction,
    LabelInstr,
    MaintainerInstr,
    OnbuildInstr,
    ShellInstr,
    StopSignalInstr,
    UserInstr,
    VolumeInstr,
    WorkdirInstr,
)
from lamina.dockerfile.words import Lexer
from lamina.errors import InvalidArgument

ContainerChange = Callable[[dict[str, Any]], None]
DEFAULT_SHELL = ("/bin/sh", "-c")


@dataclass(frozen=True)
class Setting:
    """What a config instruction sees where it runs: the variables `$NAME` expands to
    (ARGs overridden by ENV), the current WORKDIR and SHELL, and whether this stage
    (or this list of changes) has set CMD itself, which ENTRYPOINT needs."""

    lexer: Lexer = field(default_factory=Lexer)
    variables: Mapping[str, str] = field(default_factory=dict)
    workdir: str = "/"
    shell: tuple[str, ...] = DEFAULT_SHELL
    cmd_set: bool = False

    def word(self, text: str) -> str:
        return self.lexer.process_word(text, self.variables)

    def words(self, text: str) -> list[str]:
        return self.lexer.process_words(text, self.variables)


@dataclass(frozen=True)
class ConfigStep:
    created_by: str
    change: ContainerChange
    author: str | None = None


def config_step(instr: Instruction, setting: Setting) -> ConfigStep:
    """The change `instr` makes to a container config, and its history text."""
    if isinstance(instr, EnvInstr | LabelInstr):
        return _pairs(instr, setting)
    if isinstance(instr, ExposeInstr):
        return _expose(instr, setting)
    if isinstance(instr, CmdInstr | EntrypointInstr):
        return _command(instr, setting)
    if isinstance(instr, WorkdirInstr):
        path = workdir_path(instr, setting)
        return ConfigStep(f"WORKDIR {path}", _setter("WorkingDir", path))
    if isinstance(instr, UserInstr):
        user = setting.word(instr.user)
        return ConfigStep(f"USER {user}", _setter("User", user))
    if isinstance(instr, StopSignalInstr):
        signal = setting.word(instr.signal)
        return ConfigStep(f"STOPSIGNAL {signal}", _setter("StopSignal", signal))
    if isinstance(instr, VolumeInstr):
        return _volume(instr, setting)
    if isinstance(instr, HealthcheckInstr):
        return _healthcheck(instr)
    if isinstance(instr, ShellInstr):
        return ConfigStep(f"SHELL [{' '.join(instr.shell)}]", _setter("Shell", list(instr.shell)))
    if isinstance(instr, OnbuildInstr):
        return ConfigStep(f"ONBUILD {instr.expression}", _append("OnBuild", instr.expression))
    if isinstance(instr, MaintainerInstr):
        text = setting.word(instr.maintainer)
        return ConfigStep(f"MAINTAINER {text}", _noop, author=text)
    raise TypeError(f"not a config instruction: {type(instr).__name__}")


def workdir_path(instr: WorkdirInstr, setting: Setting) -> str:
    """WORKDIR's absolute path: expanded, and relative ones joined to the current one."""
    path = setting.word(instr.path)
    if not path:
        raise InvalidArgument("WORKDIR requires a path")
    joined = posixpath.join(setting.workdir, path) if not path.startswith("/") else path
    return posixpath.normpath(joined).replace("//", "/")


def command_argv(cmd: CommandLine, *, is_json: bool, shell: Sequence[str]) -> list[str]:
    """Exec form as given; shell form wrapped in the stage's SHELL."""
    if is_json and isinstance(cmd, tuple):
        return list(cmd)
    return [*shell, cmd if isinstance(cmd, str) else " ".join(cmd)]


def go_list(items: list[str]) -> str:
    """A string list as Go's `%q` prints it: `["a" "b"]` (BuildKit's history text)."""
    return "[" + " ".join(json.dumps(item, ensure_ascii=False) for item in items) + "]"


def env_of(entries: list[str] | None) -> dict[str, str]:
    """An image config's `Env` list as a mapping (later entries win)."""
    out: dict[str, str] = {}
    for entry in entries or []:
        key, _, value = entry.partition("=")
        out[key] = value
    return out


def _pairs(instr: EnvInstr | LabelInstr, setting: Setting) -> ConfigStep:
    keyword = "ENV" if isinstance(instr, EnvInstr) else "LABEL"
    pairs = [(setting.word(key), setting.word(value)) for key, value in instr.pairs]
    for key, _ in pairs:
        if not key:
            raise InvalidArgument(f"{keyword} names can not be blank")
    text = f"{keyword} " + " ".join(f"{k}={v}" for k, v in pairs)
    if keyword == "LABEL":
        return ConfigStep(
            text, lambda c: c.update(Labels={**(c.get("Labels") or {}), **dict(pairs)})
        )

    def set_env(container: dict[str, Any]) -> None:
        values = env_of(container.get("Env"))
        values.update(pairs)  # an existing key keeps its place, as Docker's
        container["Env"] = [f"{k}={v}" for k, v in values.items()]

    return ConfigStep(text, set_env)


def _expose(instr: ExposeInstr, setting: Setting) -> ConfigStep:
    ports: dict[str, dict[str, Any]] = {}
    for word in instr.ports:
        for port in setting.words(word):
            ports.update({key: {} for key in _port_keys(port)})
    listed = " ".join(f"{key}:{{}}" for key in sorted(ports))
    return ConfigStep(
        f"EXPOSE map[{listed}]",
        lambda c: c.update(ExposedPorts={**(c.get("ExposedPorts") or {}), **ports}),
    )


def _port_keys(text: str) -> list[str]:
    port, _, proto = text.partition("/")
    proto = (proto or "tcp").lower()
    low, _, high = port.partition("-")
    if not low.isdigit() or (high and not high.isdigit()) or proto not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f"invalid containerPort: {text}")
    last = int(high) if high else int(low)
    if last < int(low) or last > 65535:
        raise InvalidArgument(f"invalid containerPort: {text}")
    return [f"{number}/{proto}" for number in range(int(low), last + 1)]


def _command(instr: CmdInstr | EntrypointInstr, setting: Setting) -> ConfigStep:
    argv = command_argv(instr.cmd, is_json=instr.is_json, shell=setting.shell)
    if isinstance(instr, CmdInstr):
        return ConfigStep(f"CMD {go_list(argv)}", _setter("Cmd", argv))

    def set_entrypoint(container: dict[str, Any]) -> None:
        container["Entrypoint"] = argv
        if not setting.cmd_set:
            # Docker: a CMD inherited from the base image was meant for the base's
            # ENTRYPOINT, so a new ENTRYPOINT drops it; one set in this stage stays.
            container.pop("Cmd", None)

    return ConfigStep(f"ENTRYPOINT {go_list(argv)}", set_entrypoint)


def _volume(instr: VolumeInstr, setting: Setting) -> ConfigStep:
    paths = [setting.word(path) for path in instr.paths]
    if not paths or any(not p.strip() for p in paths):
        raise InvalidArgument("VOLUME specified can not be an empty string")
    return ConfigStep(
        f"VOLUME [{' '.join(paths)}]",
        lambda c: c.update(Volumes={**(c.get("Volumes") or {}), **{p: {} for p in paths}}),
    )


def _healthcheck(instr: HealthcheckInstr) -> ConfigStep:
    check: dict[str, Any] = {"Test": list(instr.test)}
    for key, value in (
        ("Interval", instr.interval_ns),
        ("Timeout", instr.timeout_ns),
        ("StartPeriod", instr.start_period_ns),
        ("StartInterval", instr.start_interval_ns),
        ("Retries", instr.retries),
    ):
        if value:
            check[key] = value
    return ConfigStep(f"HEALTHCHECK {go_list(list(instr.test))}", _setter("Healthcheck", check))


def _setter(key: str, value: Any) -> ContainerChange:
    return lambda container: container.update({key: value})


def _append(key: str, value: str) -> ContainerChange:
    return lambda container: container.update({key: [*(container.get(key) or []), value]})


def _noop(container: dict[str, Any]) -> None:
    return None

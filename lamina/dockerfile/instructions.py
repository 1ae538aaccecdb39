"""Typed Dockerfile instructions and the stages they form.

These are what the builder consumes. Each instruction is a frozen value carrying its
source lines; arguments are kept as written in the Dockerfile (quotes, escapes and
`$VARS` included) except where parsing needs them resolved (JSON arrays are decoded,
flags are split off and checked). The builder expands each word with
`lamina.dockerfile.words.Lexer` using the stage's ARG and ENV values at that point.

Command lines are a `str` in shell form (`RUN make all`, run via the stage's SHELL) and
a tuple in exec (JSON) form (`RUN ["make", "all"]`); `is_json` says which.

`lamina.dockerfile.stages.parse_stages` produces a `StagedDockerfile` from Dockerfile text.
"""

from __future__ import annotations

from dataclasses import dataclass

from lamina.dockerfile.heredoc import Heredoc
from lamina.dockerfile.location import Location
from lamina.dockerfile.mounts import Mount

CommandLine = tuple[str, ...] | str


class InstructionError(ValueError):
    """An instruction is malformed; `lamina.dockerfile.stages` adds file and line."""


@dataclass(frozen=True, kw_only=True)
class Instruction:
    location: Location  # file, first and last line (the last heredoc delimiter, if any)
    original: str  # the instruction as written, continuation lines joined

    @property
    def line(self) -> int:
        """The 1-based line where the instruction starts, the one its errors name."""
        return self.location.first


@dataclass(frozen=True, kw_only=True)
class FromInstr(Instruction):
    image: str  # may contain $ARGs declared before the first FROM
    name: str | None = None  # `AS name`, lowercased
    platform: str | None = None


@dataclass(frozen=True, kw_only=True)
class RunInstr(Instruction):
    cmd: CommandLine
    is_json: bool
    mounts: tuple[Mount, ...] = ()
    network: str = "default"  # default | none | host
    security: str = "sandbox"  # sandbox | insecure
    heredocs: tuple[Heredoc, ...] = ()  # inline files; `RUN <<EOF` runs the first


@dataclass(frozen=True, kw_only=True)
class CopyInstr(Instruction):
    sources: tuple[str, ...]  # paths (heredoc sources are in `heredocs`)
    dest: str
    from_: str | None = None  # stage name, stage index or image
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    heredocs: tuple[Heredoc, ...] = ()  # `COPY <<EOF /dest`: files named after the heredoc


@dataclass(frozen=True, kw_only=True)
class AddInstr(Instruction):
    sources: tuple[str, ...]  # paths or URLs
    dest: str
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    checksum: str | None = None  # expected digest of a URL source
    keep_git_dir: bool = False
    heredocs: tuple[Heredoc, ...] = ()


@dataclass(frozen=True, kw_only=True)
class WorkdirInstr(Instruction):
    path: str


@dataclass(frozen=True, kw_only=True)
class EnvInstr(Instruction):
    pairs: tuple[tuple[str, str], ...]  # (key, value) as written, quotes included


@dataclass(frozen=True, kw_only=True)
class ArgInstr(Instruction):
    """One ARG name; `ARG a=1 b` gives two ArgInstr with the same lines."""

    name: str
    default: str | None = None  # as written; None when the ARG has no `=`


@dataclass(frozen=True, kw_only=True)
class LabelInstr(Instruction):
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True, kw_only=True)
class ExposeInstr(Instruction):
    ports: tuple[str, ...]  # `80`, `53/udp`, `8000-8010`, or `$PORT`


@dataclass(frozen=True, kw_only=True)
class CmdInstr(Instruction):
    cmd: CommandLine
    is_json: bool


@dataclass(frozen=True, kw_only=True)
class EntrypointInstr(Instruction):
    cmd: CommandLine
    is_json: bool


@dataclass(frozen=True, kw_only=True)
class UserInstr(Instruction):
    user: str


@dataclass(frozen=True, kw_only=True)
class VolumeInstr(Instruction):
    paths: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class HealthcheckInstr(Instruction):
    """`test` is ("NONE",), ("CMD", arg, ...) or ("CMD-SHELL", command), as in image
    configs. Durations are nanoseconds; 0 means "not set" (use the default)."""

    test: tuple[str, ...]
    interval_ns: int = 0
    timeout_ns: int = 0
    start_period_ns: int = 0
    start_interval_ns: int = 0
    retries: int = 0


@dataclass(frozen=True, kw_only=True)
class ShellInstr(Instruction):
    shell: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class StopSignalInstr(Instruction):
    signal: str


@dataclass(frozen=True, kw_only=True)
class OnbuildInstr(Instruction):
    """A trigger stored in the image config and run when a build uses it as a base."""

    expression: str  # the trigger instruction as written (heredoc bodies appended)


@dataclass(frozen=True, kw_only=True)
class MaintainerInstr(Instruction):
    maintainer: str


@dataclass(frozen=True)
class Stage:
    """A FROM and the instructions up to the next FROM."""

    name: str | None  # lowercased `AS` name; stages are also addressed by index
    base: str  # image reference, stage name or "scratch", unexpanded
    platform: str | None
    instructions: tuple[Instruction, ...]
    location: Location  # the FROM's

    @property
    def line(self) -> int:
        """The FROM's first line, the one errors about the base image name."""
        return self.location.first


@dataclass(frozen=True)
class StagedDockerfile:
    """The stages of a Dockerfile, plus the ARGs declared before the first FROM."""

    meta_args: tuple[ArgInstr, ...]
    stages: tuple[Stage, ...]

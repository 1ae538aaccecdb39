"""Where a piece of a Dockerfile came from, and the error that says so.

buildkit attaches a location to a Dockerfile error (`parser.WithLocation`) and prints
file and line from it; lamina does the same, so no caller has to read a message to
learn whether it already names its line.
"""

from __future__ import annotations

from dataclasses import dataclass

from lamina.errors import InvalidArgument


@dataclass(frozen=True)
class Location:
    """An instruction's place: the file's name and its first and last line (1-based,
    inclusive; the last is the last heredoc delimiter's for an instruction with one)."""

    file: str
    first: int
    last: int

    def __str__(self) -> str:
        """`Dockerfile:3`, the prefix every located message starts with."""
        return f"{self.file}:{self.first}"


class DockerfileError(InvalidArgument):
    """A Dockerfile is malformed or asks for something not allowed, at `file`:`line`.

    `str()` is `<file>:<line>: <message>`, the text Docker prints; `message` alone is
    what went wrong there.
    """

    def __init__(self, message: str, *, file: str, line: int) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.message = message
        self.file = file
        self.line = line

    @classmethod
    def at(cls, location: Location, message: str) -> DockerfileError:
        """The error for `message` at an instruction's first line."""
        return cls(message, file=location.file, line=location.first)

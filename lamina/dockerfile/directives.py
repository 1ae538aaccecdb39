"""Parser directives: the `# name=value` comments a Dockerfile may open with.

Directives are only recognised in the unbroken run of `#` lines at the very top of the
file; the first line that is not a recognised directive (an instruction, a blank line,
an ordinary comment, an unknown `# foo=bar`) ends the run, and later look-alikes are
plain comments. Each directive may appear once. Known directives: `syntax` (a frontend
image reference; lamina records it but always uses its own parser), `escape` (the
escape and line-continuation character, `\\` or a backtick) and `check` (lint
configuration, recorded only).
"""

from __future__ import annotations

import re

from lamina.dockerfile import gotext

KNOWN_DIRECTIVES = frozenset({"syntax", "escape", "check"})
DEFAULT_ESCAPE = "\\"
ESCAPE_TOKENS = frozenset({"\\", "`"})

# buildkit's pattern; \s is ASCII-only in Go, hence re.ASCII.
_DIRECTIVE_RE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*\Z", re.ASCII)


class DirectiveError(ValueError):
    """A directive is repeated or has a bad value; the caller adds file and line."""


def check_escape_token(value: str) -> str:
    """Return `value` if it is a valid escape token, else raise DirectiveError."""
    if value not in ESCAPE_TOKENS:
        raise DirectiveError(f"invalid escape token '{value}' does not match ` or \\")
    return value


class DirectiveScanner:
    """Feeds lines in order; collects directives until the first line that is not one."""

    def __init__(self) -> None:
        self.done = False
        self.found: dict[str, str] = {}

    def feed(self, line: str) -> tuple[str, str] | None:
        """Return `(name, value)` if `line` is a directive, else None (and stop looking).

        `line` is a physical line with its newline removed.
        """
        if self.done:
            return None
        match = _DIRECTIVE_RE.match(gotext.trim_left_space(line[1:])) if line[:1] == "#" else None
        name = match.group(1).lower() if match else ""
        if match is None or name not in KNOWN_DIRECTIVES:
            self.done = True
            return None
        if name in self.found:
            raise DirectiveError(f"only one {name} parser directive can be used")
        value = match.group(2)
        if name == "escape":
            check_escape_token(value)
        self.found[name] = value
        return name, value

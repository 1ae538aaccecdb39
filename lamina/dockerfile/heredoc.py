"""Heredocs in RUN, COPY and ADD: `<<EOF`, `<<-EOF`, `<<'EOF'`, `3<<EOF`.

The parser finds heredoc markers in an instruction line and then reads each body, in
the order the markers appear, from the lines that follow, up to a line that is exactly
the delimiter (for `<<-`, after leading tabs are removed). A quoted delimiter (any part
of it in quotes) means the body is not variable-expanded. The body is kept exactly as
written; `Heredoc.body` applies the `<<-` tab stripping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lamina.dockerfile.words import Lexer
from lamina.errors import InvalidArgument

# Instructions whose shell-form line may carry heredocs, and ONBUILD, whose trigger may.
HEREDOC_INSTRUCTIONS = frozenset({"add", "copy", "run"})

# \d and \s are ASCII-only in Go's regexp, as here.
_MARKER_RE = re.compile(r"(\d*)<<(-?)\s*([^<]*)", re.ASCII)
_MAX_FD = (1 << 64) - 1
_LEADING_TABS_RE = re.compile(r"^\t+", re.MULTILINE)


@dataclass(frozen=True)
class Heredoc:
    """One heredoc attached to an instruction."""

    name: str  # the delimiter word, quotes removed
    content: str  # the body as written, each line with its newline
    expand: bool  # False when the delimiter was quoted
    chomp: bool  # True for `<<-`
    fd: int = 0  # the `3` of `3<<EOF`; 0 when absent

    @property
    def body(self) -> str:
        """The content to use: leading tabs removed from each line when `chomp`."""
        return chomp_tabs(self.content) if self.chomp else self.content


def chomp_tabs(content: str) -> str:
    return _LEADING_TABS_RE.sub("", content)


def parse_marker(word: str) -> Heredoc | None:
    """The heredoc a single shell word opens (without content), or None if it is not one.

    Raises InvalidArgument for a marker with an unbalanced quote (`<<'EOF`).
    """
    match = _MARKER_RE.fullmatch(word)
    if match is None or not match.group(3):
        return None
    fd_text, dash, rest = match.groups()
    # Lexing twice, with and without quotes kept, and comparing the quote counts tells
    # whether a quote did any quoting; escaped quotes count the same in both.
    plain = Lexer(skip_unset_env=True).process_words(rest, {})
    if len(plain) != 1:
        return None
    raw = Lexer(skip_unset_env=True, raw_quotes=True).process_words(rest, {})
    if len(raw) != 1:
        raise InvalidArgument(f"internal lexing of heredoc produced inconsistent results: {rest}")
    expand = _quote_count(plain[0]) == _quote_count(raw[0])
    fd = int(fd_text) if fd_text else 0
    if fd > _MAX_FD:
        fd = 0  # Go's ParseUint fails on overflow and buildkit ignores the error
    return Heredoc(name=plain[0], content="", expand=expand, chomp=dash == "-", fd=fd)


def markers_in_line(line: str) -> list[Heredoc]:
    """Heredoc markers in an instruction line, in order (content still empty).

    The line is split with quotes, escapes and unset variables all kept as written,
    so `"<<EOF"` is a quoted word and not a marker. Always with a backslash escape,
    whatever `# escape=` says, as buildkit does.
    """
    lexer = Lexer(raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    try:
        words = lexer.process_words(line, {})
    except InvalidArgument:
        return []  # an unlexable line has no heredocs; its instruction reports the problem
    markers = (parse_marker(word) for word in words)
    return [marker for marker in markers if marker is not None]


def _quote_count(text: str) -> int:
    return text.count("'") + text.count('"')

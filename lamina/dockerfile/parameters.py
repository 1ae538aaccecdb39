"""`${...}` parameter expansion for the shell lexer.

Forms: `${V}`; defaults and alternatives `${V:-w}` `${V-w}` `${V:+w}` `${V+w}`; checks
`${V:?msg}` `${V?msg}`; trims `${V#p}` `${V##p}` `${V%p}` `${V%%p}`; replacements
`${V/p/r}` `${V//p/r}`. The colon forms treat an empty value as unset. Operands may
themselves contain quotes and expansions; patterns are read with their escapes kept
(`\\*` is a literal star, see `patterns`).

The lexer drives this through the small `Cursor` interface, so this module needs
nothing else from it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from lamina.dockerfile import patterns

_EOF = ""  # what Cursor.peek and Cursor.next return at the end of the word


class ExpansionError(Exception):
    """A word cannot be expanded; the lexer wraps this with the word it concerns."""


class Cursor(Protocol):
    """A position in the word being expanded, with the environment it expands from."""

    @property
    def skip_unset_env(self) -> bool: ...

    def peek(self) -> str: ...

    def next(self) -> str: ...

    def name(self) -> str:
        """Read a variable name at the cursor ("" if there is none)."""
        ...

    def lookup(self, name: str) -> tuple[str, bool]:
        """The variable's value and whether it is set."""
        ...

    def until(self, stop: str, *, raw_escapes: bool) -> tuple[str, list[str]]:
        """Expand up to the unquoted `stop` (consumed); ExpansionError at the end."""
        ...


def expand_braced(cur: Cursor) -> str:
    """Expand one `${...}`; `cur` is just past the `{` and ends past the `}`."""
    if cur.peek() == _EOF:
        raise ExpansionError("syntax error: missing '}'")
    if cur.peek() in ("{", "}", ":"):
        raise ExpansionError("syntax error: bad substitution")
    name = cur.name()
    op = cur.next()
    if op == "}":
        value, found = cur.lookup(name)
        return f"${{{name}}}" if not found and cur.skip_unset_env else value
    if op == "/":
        return _substitution(cur, name)
    if op == _EOF:
        raise ExpansionError("syntax error: missing '}'")
    null_is_unset = op == ":"
    if null_is_unset:
        op += cur.next()
    if not null_is_unset and op not in ("+", "-", "?", "#", "%"):
        raise ExpansionError(f"unsupported modifier ({op}) in substitution")
    return _modifier(cur, name, op)


def _modifier(cur: Cursor, name: str, op: str) -> str:
    kind = op[-1]
    # Patterns keep their escapes (\* is a literal star), so read them raw.
    word = _read_operand(cur, "}", raw=kind in ("#", "%"), missing="'}'")
    value, found = cur.lookup(name)
    if cur.skip_unset_env and not found:
        return f"${{{name}{op}{word}}}"
    unset = not found or (op[0] == ":" and value == "")
    if kind == "-":
        return word if unset else value
    if kind == "+":
        return "" if unset else word
    if kind == "?":
        if unset:
            default = "is not allowed to be unset" if not found else "is not allowed to be empty"
            raise ExpansionError(f"{name}: {word or default}")
        return value
    if kind in ("#", "%"):
        greedy = word.startswith(kind)
        pattern = word[1:] if greedy else word
        trim = patterns.trim_prefix if kind == "#" else patterns.trim_suffix
        return _with_pattern(pattern, lambda: trim(pattern, value, greedy=greedy))
    raise ExpansionError(f"unsupported modifier ({op}) in substitution")


def _substitution(cur: Cursor, name: str) -> str:
    replace_all = cur.peek() == "/"
    if replace_all:
        cur.next()
    pattern = _read_operand(cur, "/", raw=True, missing="'/' in ${}")
    replacement = _read_operand(cur, "}", raw=True, missing="'}'")
    value, found = cur.lookup(name)
    if cur.skip_unset_env and not found:
        return f"${{{name}/{pattern}/{replacement}}}"
    if replace_all:
        return _with_pattern(pattern, lambda: patterns.replace_all(pattern, value, replacement))
    return _with_pattern(pattern, lambda: patterns.replace_first(pattern, value, replacement))


def _read_operand(cur: Cursor, stop: str, *, raw: bool, missing: str) -> str:
    try:
        text, _ = cur.until(stop, raw_escapes=raw)
    except ExpansionError:
        if cur.peek() == _EOF:
            raise ExpansionError(f"syntax error: missing {missing}") from None
        raise
    return text


def _with_pattern(pattern: str, apply: Callable[[], str]) -> str:
    try:
        return apply()
    except patterns.PatternError as err:
        raise ExpansionError(f"invalid pattern ({pattern}) in substitution: {err}") from None

"""Shell wildcard patterns for `${V#pat}`, `${V%pat}` and `${V/pat/repl}`.

A pattern knows `*` (any run of characters), `?` (one character) and backslash escapes
of `*`, `?` and `\\`; bracket expressions are not supported (as in buildkit). Patterns
become regular expressions; Go's and Python's engines agree on leftmost-first matching
for the small regex subset produced here, but replace-all does not agree (empty
matches, `$` in the replacement), so that loop is written out to follow Go.
"""

from __future__ import annotations

import re

# Characters that are literal in a shell pattern but special in a regex.
_REGEX_SPECIALS = frozenset("[]{}.+()|^$")
# Go prints the end-of-input rune as U+FFFD in the bad-escape message.
_NO_CHAR = "\ufffd"


class PatternError(ValueError):
    """The pattern cannot be turned into a regex (a bad escape)."""


def to_regex(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """Compile a shell pattern; `greedy` picks longest `*` matches, `anchored` pins to ^."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(star)
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            nxt = pattern[i] if i < len(pattern) else ""
            if nxt in ("}", "/"):
                # Escaped to get past ${...} parsing; the escape is not part of the pattern.
                continue
            if nxt not in ("*", "?", "\\"):
                shown = nxt or _NO_CHAR
                raise PatternError(f"invalid escape '\\{shown}'")
            out.append("\\" + nxt)
            i += 1
        elif ch in _REGEX_SPECIALS:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return re.compile("".join(out))


def trim_prefix(pattern: str, value: str, *, greedy: bool) -> str:
    """`${V#pat}` / `${V##pat}`: drop the shortest (or longest) matching prefix."""
    match = to_regex(pattern, greedy=greedy, anchored=True).search(value)
    return value[match.end() :] if match else value


def trim_suffix(pattern: str, value: str, *, greedy: bool) -> str:
    """`${V%pat}` / `${V%%pat}`: drop the shortest (or longest) matching suffix.

    A regex finds leftmost matches, not shortest rightmost ones, so both the pattern
    and the value are reversed and the prefix is trimmed instead.
    """
    return trim_prefix(reverse_pattern(pattern), value[::-1], greedy=greedy)[::-1]


def reverse_pattern(pattern: str) -> str:
    """Reverse a pattern, keeping each `\\x` escape pair in order (a\\*c -> c\\*a)."""
    pieces: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            pieces.append(pattern[i : i + 2])
            i += 2
        else:
            pieces.append(pattern[i])
            i += 1
    return "".join(reversed(pieces))


def replace_first(pattern: str, value: str, replacement: str) -> str:
    """`${V/pat/repl}`: replace the first (longest) match, taking `replacement` literally."""
    match = to_regex(pattern, greedy=True, anchored=False).search(value)
    if match is None:
        return value
    return value[: match.start()] + replacement + value[match.end() :]


def replace_all(pattern: str, value: str, template: str) -> str:
    """`${V//pat/repl}` with Go's `Regexp.ReplaceAllString` semantics.

    Go skips an empty match that touches the previous match (Python's re.sub does
    not), and expands `$0`/`${0}`/`$$` in the replacement while other `$names` become
    empty, since buildkit's regex has no groups.
    """
    regex = to_regex(pattern, greedy=True, anchored=False)
    out: list[str] = []
    last_end = 0
    pos = 0
    while pos <= len(value):
        match = regex.search(value, pos)
        if match is None:
            break
        start, end = match.span()
        out.append(value[last_end:start])
        if end > last_end or start == 0:
            out.append(_expand_template(template, match.group(0)))
        last_end = end
        pos = pos + 1 if pos + 1 > end else end
    out.append(value[last_end:])
    return "".join(out)


def _expand_template(template: str, whole: str) -> str:
    out: list[str] = []
    i = 0
    while (dollar := template.find("$", i)) >= 0:
        out.append(template[i:dollar])
        i = dollar + 1
        if template.startswith("$", i):
            out.append("$")
            i += 1
            continue
        name, after = _template_ref(template, i)
        if name is None:
            out.append("$")  # malformed reference: Go keeps the `$` as text
            continue
        i = after
        if name == "0":
            out.append(whole)
    out.append(template[i:])
    return "".join(out)


def _template_ref(template: str, start: int) -> tuple[str | None, int]:
    """Parse `name` or `{name}` at `start` as Go's regexp template does."""
    braced = template.startswith("{", start)
    i = start + 1 if braced else start
    begin = i
    while i < len(template) and _is_name_char(template[i]):
        i += 1
    if i == begin:
        return None, start
    name = template[begin:i]
    if braced:
        if not template.startswith("}", i):
            return None, start
        i += 1
    return name, i


def _is_name_char(ch: str) -> bool:
    return ch.isalpha() or ch.isdecimal() or ch == "_"

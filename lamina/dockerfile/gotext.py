"""Go's text conventions that Dockerfile compatibility depends on.

buildkit is written in Go, so what counts as whitespace (`unicode.IsSpace`) and how a
string is shown in its AST dump and error messages (`strconv.Quote`, `%q`) follow Go,
not Python. Python's `str.isspace` also accepts U+001C..U+001F, and `repr` quotes
differently, so the few places that must agree with buildkit byte for byte use these.

Text that came from undecodable bytes (decoded with `errors="surrogateescape"`) is
quoted as the `\\xNN` bytes Go would show for invalid UTF-8.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Latin-1 whitespace per Go's unicode.IsSpace; above U+00FF Go uses the White_Space
# property, which `str.isspace` matches there.
_LATIN1_SPACE = frozenset("\t\n\v\f\r \x85\xa0")

_SIMPLE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def is_space(ch: str) -> bool:
    """Go's `unicode.IsSpace` for one character."""
    if ch <= "\xff":
        return ch in _LATIN1_SPACE
    return ch.isspace()


def trim_space(text: str) -> str:
    """Go's `strings.TrimSpace`."""
    return trim_left_space(trim_right_space(text))


def trim_left_space(text: str) -> str:
    start = 0
    while start < len(text) and is_space(text[start]):
        start += 1
    return text[start:]


def trim_right_space(text: str) -> str:
    end = len(text)
    while end > 0 and is_space(text[end - 1]):
        end -= 1
    return text[:end]


def quote(text: str) -> str:
    """Go's `strconv.Quote`: a double-quoted string with Go escapes."""
    return '"' + "".join(_quote_char(ch) for ch in text) + '"'


def quote_list(items: Iterable[str]) -> str:
    """Go's `fmt.Sprintf("%q", []string{...})`."""
    return "[" + " ".join(quote(item) for item in items) + "]"


def _quote_char(ch: str) -> str:
    escaped = _SIMPLE_ESCAPES.get(ch)
    if escaped is not None:
        return escaped
    code = ord(ch)
    if 0xD800 <= code <= 0xDFFF:
        # Not valid text: Go would hold these as invalid UTF-8 bytes and show each one.
        raw = ch.encode("utf-8", "surrogateescape" if code >= 0xDC80 else "surrogatepass")
        return "".join(f"\\x{byte:02x}" for byte in raw)
    if ch == " " or unicodedata.category(ch)[0] in "LMNPS":
        return ch
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")
_MAX_DURATION = (1 << 63) - 1


def parse_duration(text: str) -> int:
    """Go's `time.ParseDuration` ("1m30s", "1.5h", "300ms"), in nanoseconds.

    Raises ValueError with Go's message for malformed text.
    """
    rest = text[1:] if text[:1] in ("+", "-") else text
    if rest == "0":
        return 0
    if not rest:
        raise ValueError(f"time: invalid duration {quote(text)}")
    total = 0
    while rest:
        match = _DURATION_PART.match(rest)
        assert match is not None  # every group may be empty
        whole, fraction, unit = match.groups()
        if not whole and not fraction:
            raise ValueError(f"time: invalid duration {quote(text)}")
        if not unit:
            raise ValueError(f"time: missing unit in duration {quote(text)}")
        scale = _DURATION_UNITS.get(unit)
        if scale is None:
            raise ValueError(f"time: unknown unit {quote(unit)} in duration {quote(text)}")
        total += int(whole or "0") * scale
        if fraction:
            total += int(fraction) * scale // 10 ** len(fraction)
        if total > _MAX_DURATION:
            raise ValueError(f"time: invalid duration {quote(text)}")
        rest = rest[match.end() :]
    return -total if text.startswith("-") else total

"""How the text after an instruction keyword becomes the instruction's arguments.

Each instruction has its own rule, as in buildkit: `RUN`/`CMD` take a JSON array or
keep the shell text whole, `COPY`/`ADD`/`VOLUME` take a JSON array or split on
whitespace, `ENV`/`LABEL` take `key=value` words (or the legacy `KEY value`), and so
on. Quotes and escapes are kept here; variable expansion and quote removal happen when
the builder processes each word with `lamina.dockerfile.words`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from lamina.dockerfile import gotext

# buildkit's "whitespace" between a keyword and its arguments, and in word lists:
# deliberately not \n and not Unicode spaces.
_WHITESPACE_RE = re.compile(r"[\t\v\f\r ]+")
_SURROGATES_RE = re.compile("[\ud800-\udfff]")


class ArgumentError(ValueError):
    """The arguments are malformed; the parser adds file and line."""


class _NotJSON(Exception):
    """The text is not a JSON array; callers fall back to the shell form."""


@dataclass(frozen=True)
class Arguments:
    values: tuple[str, ...] = ()
    is_json: bool = False


def split_command(line: str) -> tuple[str, tuple[str, ...], str]:
    """Split a logical line into (keyword as written, `--flags`, rest of the line)."""
    parts = _WHITESPACE_RE.split(gotext.trim_space(line), maxsplit=1)
    if len(parts) == 1:
        return parts[0], (), ""
    flags, rest = extract_flags(parts[1])
    return parts[0], flags, gotext.trim_space(rest)


def extract_flags(text: str) -> tuple[tuple[str, ...], str]:
    """Take the leading `--name[=value]` words off `text`; a bare `--` ends them.

    Quotes in a flag are removed and backslash escapes the next character, whatever
    the Dockerfile's escape token is (as buildkit does).
    """
    flags: list[str] = []
    pos = 0
    while True:
        while pos < len(text) and gotext.is_space(text[pos]):
            pos += 1
        if not text.startswith("--", pos):
            return tuple(flags), text[pos:]
        word, pos = _flag_word(text, pos)
        if word == "--":
            return tuple(flags), text[pos:]
        flags.append(word)


def _flag_word(text: str, pos: int) -> tuple[str, int]:
    out: list[str] = []
    quote = ""
    while pos < len(text):
        ch = text[pos]
        if not quote and gotext.is_space(ch):
            break
        pos += 1
        if ch == quote:
            quote = ""
            continue
        if not quote and ch in "'\"":
            quote = ch
            continue
        if ch == "\\":
            if pos == len(text):
                continue
            ch = text[pos]
            pos += 1
        out.append(ch)
    return "".join(out), pos


def parse_words(text: str, escape: str) -> list[str]:
    """Split on unquoted whitespace, keeping quotes and escapes in the words."""
    words: list[str] = []
    buf: list[str] = []
    in_word = blank_ok = False
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        i += 1
        if not in_word and gotext.is_space(ch):
            continue
        in_word = True
        if not quote and gotext.is_space(ch):
            if blank_ok or buf:
                words.append("".join(buf))
            buf, in_word, blank_ok = [], False, False
            continue
        if quote and ch == quote:
            quote = ""
        elif not quote and ch in "'\"":
            quote, blank_ok = ch, True
        elif ch == escape and quote != "'":
            if i == len(text):
                quote = ""  # an escape at the very end is dropped
                continue
            buf.append(ch)
            ch = text[i]
            i += 1
        buf.append(ch)
    if in_word and (blank_ok or buf):
        words.append("".join(buf))
    return words


def parse_key_values(rest: str, keyword: str, escape: str) -> Arguments:
    """ENV and LABEL: triples of (key, value, separator); separator "" marks `KEY value`."""
    words = parse_words(rest, escape)
    if not words:
        return Arguments()
    if "=" not in words[0]:
        parts = _WHITESPACE_RE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise ArgumentError(f"{keyword} must have two arguments")
        return Arguments((parts[0], parts[1], ""))
    values: list[str] = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            raise ArgumentError(
                f"Syntax error - can't find = in {gotext.quote(word)}. "
                "Must be of the form: name=value"
            )
        values += (key, value, "=")
    return Arguments(tuple(values))


def parse_names(rest: str, escape: str) -> Arguments:
    """ARG: words of `name` or `name=value`."""
    return Arguments(tuple(parse_words(rest, escape)))


def parse_whitespace_list(rest: str, escape: str = "\\") -> Arguments:
    if not rest:
        return Arguments()
    return Arguments(tuple(_WHITESPACE_RE.split(rest)))


def parse_string(rest: str, escape: str = "\\") -> Arguments:
    return Arguments((rest,)) if rest else Arguments()


def parse_maybe_json(rest: str, escape: str = "\\") -> Arguments:
    """RUN, CMD, ENTRYPOINT, SHELL: a JSON array of strings, else the text as one value."""
    if not rest:
        return Arguments()
    try:
        return _parse_json(rest)
    except _NotJSON:
        return Arguments((rest,))


def parse_maybe_json_list(rest: str, escape: str = "\\") -> Arguments:
    """COPY, ADD, VOLUME: a JSON array of strings, else whitespace-separated words."""
    try:
        return _parse_json(rest)
    except _NotJSON:
        return parse_whitespace_list(rest)


def parse_healthcheck(rest: str, escape: str = "\\") -> Arguments:
    """HEALTHCHECK: a type word (CMD, NONE, ...) then, like RUN, the command."""
    end = 0
    while end < len(rest) and not gotext.is_space(rest[end]):
        end += 1
    if end == 0:
        return Arguments()
    command = parse_maybe_json(gotext.trim_left_space(rest[end:]))
    return Arguments((rest[:end], *command.values), command.is_json)


def parse_unknown(rest: str, escape: str = "\\") -> Arguments:
    # buildkit keeps an unknown instruction with one empty argument (it dumps as
    # `(frum "")`); the instruction layer then reports it.
    return Arguments(("",))


def _parse_json(rest: str) -> Arguments:
    text = gotext.trim_left_space(rest)
    if not text.startswith("["):
        raise _NotJSON
    try:
        value = json.loads(text, parse_constant=_reject, parse_float=_number, parse_int=_number)
    except ValueError:
        raise _NotJSON from None
    if not all(isinstance(item, str) for item in value):
        raise ArgumentError(
            "when using JSON array syntax, arrays must be comprised of strings only"
        )
    # Go decodes lone surrogates and invalid bytes in JSON strings to U+FFFD.
    return Arguments(tuple(_SURROGATES_RE.sub("\ufffd", item) for item in value), True)


def _reject(token: str) -> float:
    raise ValueError(f"not JSON: {token}")  # NaN and Infinity are not JSON (Go agrees)


def _number(token: str) -> float:
    number = float(token)
    if math.isinf(number):
        raise ValueError("number out of range")  # Go fails to decode these too
    return number


ArgumentParser = Callable[[str, str], Arguments]

# Keyword (lowercase) -> rule; `onbuild` is handled by the parser, which recurses.
ARGUMENT_PARSERS: dict[str, ArgumentParser] = {
    "add": parse_maybe_json_list,
    "arg": parse_names,
    "cmd": parse_maybe_json,
    "copy": parse_maybe_json_list,
    "entrypoint": parse_maybe_json,
    "env": lambda rest, escape: parse_key_values(rest, "ENV", escape),
    "expose": parse_whitespace_list,
    "from": parse_whitespace_list,
    "healthcheck": parse_healthcheck,
    "label": lambda rest, escape: parse_key_values(rest, "LABEL", escape),
    "maintainer": parse_string,
    "run": parse_maybe_json,
    "shell": parse_maybe_json,
    "stopsignal": parse_string,
    "user": parse_string,
    "volume": parse_maybe_json_list,
    "workdir": parse_string,
}

"""Shell-style word processing for Dockerfile instructions (buildkit's `shell.Lex`).

A `Lexer` removes quotes and escapes, expands variables from an environment mapping
and, for `process_words`, splits the result into fields the way buildkit does:
whitespace splits only outside quotes, and whitespace that a `$VAR` expansion brings
in splits too (`ENV space="a  b"` then `x${space}y` gives `xa`, `by`). An unquoted
`<<` keeps the blanks after it in its field, so `<< EOF` stays one heredoc marker.

Supported forms: `$V`, `${V}`, `${V:-word}`, `${V-word}`, `${V:+word}`, `${V+word}`,
`${V:?msg}`, `${V?msg}`, `${V#pat}`, `${V##pat}`, `${V%pat}`, `${V%%pat}`,
`${V/pat/repl}`, `${V//pat/repl}` (see `parameters`); single quotes (literal),
double quotes (only `$`, `"` and the escape token are special), and the escape token
(`\\` or a backtick, from `# escape=`). Unset variables expand to "" unless
`skip_unset_env` keeps them as written. Errors are InvalidArgument:
`failed to process "<word>": <reason>`.

The raw_* options exist for the Dockerfile parser, which must find heredoc markers in
a line without changing it: `raw_quotes` keeps quote characters in the output and
`raw_escapes` keeps escape characters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from lamina.dockerfile import gotext
from lamina.dockerfile.directives import DEFAULT_ESCAPE, check_escape_token
from lamina.dockerfile.parameters import ExpansionError, expand_braced
from lamina.errors import InvalidArgument

_EOF = ""
# POSIX special parameters ($@, $*, $#, ...): a one-character name.
_SPECIAL_PARAMS = frozenset("@*#?-$!0")
# What may follow `<<` before a heredoc word (`<< EOF` stays one word).
_HEREDOC_GAP = frozenset(" \t\r\n")


@dataclass(frozen=True)
class Expansion:
    """The outcome of processing one word."""

    result: str  # the whole word, quotes removed and variables expanded
    words: tuple[str, ...]  # `result` split into fields
    matched: frozenset[str]  # variable names that were found in the environment
    unmatched: frozenset[str]  # variable names that were referenced but unset


class Lexer:
    """Processes Dockerfile words; see the module docstring for the grammar."""

    def __init__(
        self,
        escape: str = DEFAULT_ESCAPE,
        *,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_unset_env: bool = False,
        skip_process_quotes: bool = False,
    ) -> None:
        try:
            self.escape = check_escape_token(escape)
        except ValueError as err:
            raise InvalidArgument(str(err)) from err
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset_env = skip_unset_env
        self.skip_process_quotes = skip_process_quotes

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        """Expand `word` into one string (inner whitespace kept)."""
        return self.expand(word, env).result

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """Expand `word` and split it into fields."""
        return list(self.expand(word, env).words)

    def expand(self, word: str, env: Mapping[str, str]) -> Expansion:
        """Expand `word`, also reporting which variables were and were not set."""
        scan = _Scan(self, word, env)
        try:
            result, words = scan.until(_EOF, raw_escapes=self.raw_escapes)
        except ExpansionError as err:
            raise InvalidArgument(f"failed to process {gotext.quote(word)}: {err}") from None
        return Expansion(result, tuple(words), frozenset(scan.matched), frozenset(scan.unmatched))


class _Fields:
    """Accumulates output characters into fields, splitting on unquoted whitespace."""

    def __init__(self) -> None:
        self.word = ""
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if not gotext.is_space(ch):
            self.add_raw(ch)
        elif self.in_word and self.word:
            self.words.append(self.word)
            self.word = ""
            self.in_word = False

    def add_text(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def finish(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word = ""
            self.in_word = False
        return self.words


class _Scan:
    """One pass over one word: a cursor plus the variables looked up so far."""

    def __init__(self, lexer: Lexer, text: str, env: Mapping[str, str]) -> None:
        self.lx = lexer
        self.text = text
        self.pos = 0
        self.env = env
        self.raw_escapes = lexer.raw_escapes
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else _EOF

    def next(self) -> str:
        ch = self.peek()
        self.pos += len(ch)
        return ch

    def lookup(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            self.matched.add(name)
            return self.env[name], True
        self.unmatched.add(name)
        return "", False

    def until(self, stop: str, *, raw_escapes: bool) -> tuple[str, list[str]]:
        """Process up to the unquoted `stop` character (consumed), or to the end."""
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._until(stop)
        finally:
            self.raw_escapes = saved

    def _until(self, stop: str) -> tuple[str, list[str]]:
        result: list[str] = []
        fields = _Fields()
        while (ch := self.peek()) != _EOF:
            if stop and ch == stop:
                self.next()
                return "".join(result), fields.finish()
            handler = self._handler(ch)
            if handler is not None:
                text = handler()
                result.append(text)
                # Only expansions are field-split; quoted text stays in the word.
                if ch == "$":
                    fields.add_text(text)
                else:
                    fields.add_raw(text)
                continue
            ch = self.next()
            if ch == self.lx.escape:
                if self.raw_escapes:
                    fields.add_raw(ch)
                    result.append(ch)
                ch = self.next()
                if ch == _EOF:
                    break
                fields.add_raw(ch)
            else:
                fields.add_char(ch)
            result.append(ch)
        if stop:
            raise ExpansionError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), fields.finish()

    def _handler(self, ch: str) -> Callable[[], str] | None:
        if ch == "$":
            return self._dollar
        if ch == "<":
            return self._possible_heredoc
        if self.lx.skip_process_quotes:
            return None
        return {"'": self._single_quoted, '"': self._double_quoted}.get(ch)

    def _single_quoted(self) -> str:
        keep = self.lx.raw_quotes
        opening = self.next()
        out = [opening] if keep else []
        while (ch := self.next()) != "'":
            if ch == _EOF:
                raise ExpansionError(
                    "unexpected end of statement while looking for matching single-quote"
                )
            out.append(ch)
        return "".join(out) + ("'" if keep else "")

    def _double_quoted(self) -> str:
        keep = self.lx.raw_quotes
        opening = self.next()
        out = [opening] if keep else []
        while True:
            ch = self.peek()
            if ch == _EOF:
                raise ExpansionError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if ch == '"':
                self.next()
                return "".join(out) + ('"' if keep else "")
            if ch == "$":
                out.append(self._dollar())
                continue
            ch = self.next()
            if ch == self.lx.escape:
                if self.raw_escapes:
                    out.append(ch)
                if self.peek() == _EOF:
                    continue  # the loop then reports the missing quote
                # Only these can be escaped inside double quotes; others stay literal.
                if self.peek() in ('"', "$", self.lx.escape):
                    ch = self.next()
            out.append(ch)

    def _possible_heredoc(self) -> str:
        self.next()
        if self.peek() != "<":
            return "<"
        self.next()
        start = self.pos
        while self.peek() in _HEREDOC_GAP:
            self.next()
        return "<<" + self.text[start : self.pos]

    def _dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value, found = self.lookup(name)
            return "$" + name if not found and self.skip_unset_env else value
        self.next()
        return expand_braced(self)

    @property
    def skip_unset_env(self) -> bool:
        return self.lx.skip_unset_env

    def name(self) -> str:
        """Read a variable name: digits, one special character, or [letters digits _]."""
        ch = self.peek()
        if ch and ch.isdecimal():
            start = self.pos
            while self.peek() and self.peek().isdecimal():
                self.next()
            return self.text[start : self.pos]
        if ch and ch in _SPECIAL_PARAMS:
            return self.next()
        start = self.pos
        while (ch := self.peek()) and (ch.isalpha() or ch.isdecimal() or ch == "_"):
            self.next()
        return self.text[start : self.pos]

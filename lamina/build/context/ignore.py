""".dockerignore files, and Go's `filepath.Match` that COPY sources also use.

The rules are moby/patternmatcher's (and `ignorefile.ReadAll`'s), as BuildKit applies
them when it sends a context:

- A line starting with `#` (in column 1) is a comment; blank lines are skipped; other
  lines are trimmed, `filepath.Clean`ed, and a leading `/` is dropped. `!` makes the
  pattern an exception; the last pattern that matches a path decides.
- `*` and `?` never match `/`; `**` matches any number of directories (zero included);
  `[...]` classes and `\\` escapes work as in Go's `filepath.Match`.
- A pattern that matches a directory matches everything below it. The walker carries
  each pattern's result down the tree (patternmatcher's `MatchesUsingParentResults`),
  so an exception can re-include a file below an excluded directory; the walker must
  then descend into that directory (`may_include_below`) and send it only if something
  inside survives.

BuildKit does not force-include `Dockerfile` or `.dockerignore` (the Dockerfile travels
separately), so neither do we. `<Dockerfile>.dockerignore` beside the Dockerfile takes
precedence over the context's `.dockerignore` (`IgnoreMatcher.for_build`).
"""

from __future__ import annotations

import enum
import posixpath
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from lamina.errors import InvalidArgument

MatchState = tuple[bool, ...]  # per pattern: did this path (or a parent) match it

_BOM = "\ufeff"
_REGEX_ESCAPED = frozenset(".+()|{}$")  # regex-special, but literal in a path pattern
_GLOB_CHARS = frozenset("*[]?^\\")  # fsutil: exceptions with these defeat the prefix test


class _Kind(enum.Enum):
    EXACT = 1
    PREFIX = 2
    SUFFIX = 3
    REGEXP = 4


def filepath_match(pattern: str, name: str) -> bool:
    """Go's `filepath.Match` (Unix): does `name` match the shell pattern `pattern`?

    Raises InvalidArgument for a malformed pattern, checking the whole pattern even
    when the match fails early (as Go does).
    """
    rest = pattern
    while rest:
        star, chunk, rest = _scan_chunk(rest)
        if star and not chunk:
            return "/" not in name  # a trailing * matches the rest unless it has a /
        left = _match_chunk(chunk, name)
        if left is not None and (not left or rest):
            name = left
            continue
        if star and (skipped := _match_after_skip(chunk, name, last=not rest)) is not None:
            name = skipped
            continue
        while rest:
            _, chunk, rest = _scan_chunk(rest)
            _match_chunk(chunk, "")  # only for its syntax check
        return False
    return not name


def _match_after_skip(chunk: str, name: str, *, last: bool) -> str | None:
    """A `*` before `chunk`: try skipping 1, 2, ... characters (never a `/`)."""
    i = 0
    while i < len(name) and name[i] != "/":
        left = _match_chunk(chunk, name[i + 1 :])
        if left is not None and not (last and left):
            return left
        i += 1
    return None


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    star = False
    while pattern.startswith("*"):
        pattern, star = pattern[1:], True
    in_range, i = False, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            i += 1
        elif ch == "[":
            in_range = True
        elif ch == "]":
            in_range = False
        elif ch == "*" and not in_range:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _match_chunk(chunk: str, s: str) -> str | None:
    """Match `chunk` (no `*`) at the start of `s`: the rest of `s`, or None.

    After a mismatch the loop goes on through the chunk to check its syntax.
    """
    failed = False
    while chunk:
        failed = failed or not s
        ch = chunk[0]
        if ch == "[":
            chunk, hit = _match_class(chunk[1:], "" if failed else s[0])
            failed = failed or not hit
            s = s if failed else s[1:]
        elif ch == "?":
            failed = failed or s[0] == "/"
            s = s if failed else s[1:]
            chunk = chunk[1:]
        else:
            if ch == "\\":
                chunk = chunk[1:]
                if not chunk:
                    raise _bad_pattern()
            failed = failed or chunk[0] != s[0]
            s = s if failed else s[1:]
            chunk = chunk[1:]
    return None if failed else s


def _match_class(chunk: str, ch: str) -> tuple[str, bool]:
    """Parse a `[...]` class (after the `[`); return the rest and whether `ch` is in it."""
    negated = chunk.startswith("^")
    if negated:
        chunk = chunk[1:]
    hit, ranges = False, 0
    while True:
        if chunk.startswith("]") and ranges > 0:
            return chunk[1:], hit != negated
        lo, chunk = _class_char(chunk)
        hi = lo
        if chunk.startswith("-"):
            hi, chunk = _class_char(chunk[1:])
        hit = hit or (bool(ch) and lo <= ch <= hi)
        ranges += 1


def _class_char(chunk: str) -> tuple[str, str]:
    if not chunk or chunk[0] in "-]":
        raise _bad_pattern()
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            raise _bad_pattern()
    if len(chunk) == 1:
        raise _bad_pattern()  # Go: a class must be closed after this character
    return chunk[0], chunk[1:]


def _bad_pattern() -> InvalidArgument:
    return InvalidArgument("syntax error in pattern")


def go_clean(path: str) -> str:
    """Go's `filepath.Clean` on Unix (posixpath.normpath keeps a leading `//`)."""
    cleaned = posixpath.normpath(path) if path else "."
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def read_patterns(lines: Iterable[str]) -> list[str]:
    """`ignorefile.ReadAll`: the patterns of a .dockerignore, cleaned."""
    out: list[str] = []
    for number, line in enumerate(lines):
        if number == 0:
            line = line.removeprefix(_BOM)
        if line.startswith("#"):
            continue  # only a # in column 1 starts a comment
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        out.append("!" + pattern if invert else pattern)
    return out


class _Pattern:
    """One compiled pattern (patternmatcher's `Pattern`)."""

    __slots__ = ("exclusion", "kind", "regex", "text")

    def __init__(self, text: str, exclusion: bool) -> None:
        self.text = text
        self.exclusion = exclusion
        filepath_match(text, ".")  # syntax check, as patternmatcher.New does
        self.kind, source = _to_regex(text)
        try:
            self.regex = re.compile(source) if self.kind is _Kind.REGEXP else None
        except re.error as err:
            raise InvalidArgument(f"bad pattern {text!r}: {err}") from None

    def match(self, path: str) -> bool:
        if self.kind is _Kind.EXACT:
            return path == self.text
        if self.kind is _Kind.PREFIX:
            return path.startswith(self.text[:-2])
        if self.kind is _Kind.SUFFIX:
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        assert self.regex is not None
        return self.regex.match(path) is not None

    def without_trailing_glob(self) -> str:
        return self.text.removesuffix("/**").removesuffix("/*")


def _combined(patterns: list[_Pattern]) -> re.Pattern[str] | None:
    """One regex matching whatever any of `patterns` matches (None: no patterns)."""
    alternatives = []
    for p in patterns:
        text = re.escape(p.text)
        if p.kind is _Kind.EXACT:
            alternatives.append(text + r"\Z")
        elif p.kind is _Kind.PREFIX:
            alternatives.append(re.escape(p.text[:-2]))
        elif p.kind is _Kind.SUFFIX:
            suffix = p.text[2:]
            alternatives.append(f"(?s:.*){re.escape(suffix)}\\Z")
            if suffix.startswith("/"):
                alternatives.append(re.escape(suffix[1:]) + r"\Z")
        else:
            assert p.regex is not None
            alternatives.append(p.regex.pattern.removeprefix("^"))
    return re.compile("|".join(f"(?:{a})" for a in alternatives)) if alternatives else None


def _to_regex(pattern: str) -> tuple[_Kind, str]:
    """patternmatcher's `compile`: the match kind, and the regex for REGEXP."""
    out, kind, i, n = ["^"], _Kind.EXACT, 0, len(pattern)
    while i < n:
        ch, start = pattern[i], i
        i += 1
        if ch == "*" and i < n and pattern[i] == "*":
            i += 1
            if i < n and pattern[i] == "/":
                i += 1  # `**/` is treated as `**`
            if i >= n and kind is _Kind.EXACT:
                kind = _Kind.PREFIX
            else:
                out.append(".*" if i >= n else "(.*/)?")
                kind = _Kind.REGEXP
            if start == 0:
                kind = _Kind.SUFFIX
        elif ch in "*?":
            out.append("[^/]*" if ch == "*" else "[^/]")
            kind = _Kind.REGEXP
        elif ch in _REGEX_ESCAPED:
            out.append("\\" + ch)
        elif ch == "\\" and i < n:
            out.append("\\" + pattern[i])
            i += 1
            kind = _Kind.REGEXP
        elif ch in "[]":
            out.append(ch)
            kind = _Kind.REGEXP
        else:
            out.append(ch)
    # \Z, not $: Python's $ also matches before a trailing newline, Go's does not.
    return kind, "".join(out) + r"\Z"


class IgnoreMatcher:
    """Decides which context paths a .dockerignore excludes (see the module docstring).

    Paths are relative to the context root, `/`-separated, without a leading `./`.
    """

    def __init__(self, patterns: Sequence[str] = ()) -> None:
        """`patterns` as `read_patterns` returns them (patternmatcher.New's input)."""
        self._patterns: list[_Pattern] = []
        for raw in patterns:
            text = raw.strip()
            if not text:
                continue
            text = go_clean(text)
            exclusion = text.startswith("!")
            if exclusion:
                if len(text) == 1:
                    raise InvalidArgument('illegal exclusion pattern: "!"')
                text = text[1:]
            try:
                self._patterns.append(_Pattern(text, exclusion))
            except InvalidArgument as err:
                raise InvalidArgument(f".dockerignore: pattern {raw!r}: {err}") from None
        exceptions = [p.without_trailing_glob() for p in self._patterns if p.exclusion]
        self._exception_prefixes = [p + "/" for p in exceptions]
        self._glob_exceptions = any(_GLOB_CHARS.intersection(p) for p in exceptions)
        self._dir_states: dict[str, tuple[bool, MatchState]] = {}  # memo for `state`
        self._none: MatchState = (False,) * len(self._patterns)
        self._excluding = _combined([p for p in self._patterns if not p.exclusion])

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> IgnoreMatcher:
        return cls(read_patterns(lines))

    @classmethod
    def from_file(cls, path: Path) -> IgnoreMatcher:
        """The matcher for an ignore file; a missing file excludes nothing."""
        try:
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
        except FileNotFoundError:
            return cls()
        except OSError as err:
            raise InvalidArgument(f"cannot read {path}: {err.strerror}") from err
        return cls.from_lines(text.splitlines())

    @classmethod
    def for_build(cls, context_root: Path, dockerfile: Path | None = None) -> IgnoreMatcher:
        """`<dockerfile>.dockerignore` if it exists, else the context's `.dockerignore`."""
        if dockerfile is not None:
            specific = dockerfile.with_name(dockerfile.name + ".dockerignore")
            if specific.is_file():
                return cls.from_file(specific)
        return cls.from_file(context_root / ".dockerignore")

    @property
    def patterns(self) -> list[str]:
        return [("!" if p.exclusion else "") + p.text for p in self._patterns]

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def matches(self, relpath: str, *, is_dir: bool = False) -> bool:
        """Is `relpath` excluded? (`is_dir` does not change the answer; Clean drops the
        trailing `/` of a pattern, so `dir/` and `dir` match files and dirs alike.)"""
        relpath = go_clean(relpath).lstrip("/")
        if relpath in ("", "."):
            return False  # the context root itself is never excluded
        return self.state(relpath)[0]

    def state(self, relpath: str) -> tuple[bool, MatchState | None]:
        """(excluded, state for the children) of a clean relpath; "" is the root.

        What a walk from the root would have computed on its way to `relpath`.
        """
        if not relpath:
            return False, None
        cached = self._dir_states.get(relpath)
        if cached is None:
            parent = posixpath.dirname(relpath)
            cached = self.match_state(relpath, self.state(parent)[1] if parent else None)
            self._dir_states[relpath] = cached
        return cached

    def match_state(self, relpath: str, parent: MatchState | None) -> tuple[bool, MatchState]:
        """Match `relpath` given its parent directory's state (None at the top level).

        Returns (excluded, state for the children). This is what the walker calls.
        """
        # Fast path for the common case, nothing above matched: then only the excluding
        # (non-`!`) patterns can matter, and one C-level regex tries them all.
        nothing_above = not any(parent) if parent is not None else "/" not in relpath
        if nothing_above and (self._excluding is None or not self._excluding.match(relpath)):
            return False, self._none
        return self._match_each(relpath, parent)

    def _match_each(self, relpath: str, parent: MatchState | None) -> tuple[bool, MatchState]:
        """patternmatcher's `MatchesUsingParentResults`, pattern by pattern."""
        matched = False
        state: list[bool] = []
        for i, pattern in enumerate(self._patterns):
            hit = parent[i] if parent else False
            if not hit:
                if pattern.exclusion != matched:
                    state.append(False)  # cannot change the outcome: skip, as Go does
                    continue
                hit = pattern.match(relpath)
                if not hit and parent is None:
                    hit = self._any_parent_matches(pattern, relpath)
            state.append(hit)
            if hit:
                matched = not pattern.exclusion
        return matched, tuple(state)

    @staticmethod
    def _any_parent_matches(pattern: _Pattern, relpath: str) -> bool:
        parts = relpath.split("/")[:-1]
        return any(pattern.match("/".join(parts[: i + 1])) for i in range(len(parts)))

    def may_include_below(self, dir_relpath: str) -> bool:
        """Could an exception re-include something inside the excluded `dir_relpath`?

        fsutil's test: with no exceptions, no; with a wildcard exception, maybe (so
        descend); otherwise only if an exception names a path under the directory.
        """
        if not self._exception_prefixes:
            return False
        if self._glob_exceptions:
            return True
        prefix = dir_relpath + "/"
        return any(p.startswith(prefix) for p in self._exception_prefixes)

"""Dockerfile text -> syntax tree, compatible with buildkit's parser.

The parse works on physical lines: parser directives are read from the top, comment
lines are dropped (also inside a continued instruction), lines ending in the escape
token continue onto the next, and each resulting logical line becomes one instruction
`Node`, whose arguments follow that instruction's rule (`lamina.dockerfile.arguments`).
Heredoc bodies (`RUN <<EOF`) are read from the lines after their instruction.

Nothing is expanded here. `lamina.dockerfile.dump.dump` prints a tree in buildkit's
`Node.Dump()` format; `lamina.dockerfile.stages` turns the tree into typed instructions.

Errors are `DockerfileError`s naming the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from lamina.dockerfile import arguments, gotext, heredoc
from lamina.dockerfile.directives import DEFAULT_ESCAPE, DirectiveError, DirectiveScanner
from lamina.dockerfile.heredoc import Heredoc
from lamina.dockerfile.location import DockerfileError, Location
from lamina.errors import InvalidArgument

__all__ = ["Heredoc", "Node", "Result", "parse"]


@dataclass(frozen=True)
class Node:
    """The root of a parse (holding `children`) or one instruction.

    For an instruction: `value` is its keyword lowercased, `args` its arguments as the
    instruction's rule split them, `flags` the leading `--flag[=value]` words, and
    `trigger` the nested instruction of an ONBUILD. `attributes` holds "json" when the
    arguments were a JSON array (exec form). Lines are 1-based and inclusive; for an
    instruction with heredocs, `end_line` is the last delimiter's line.
    """

    value: str = ""
    args: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    attributes: frozenset[str] = frozenset()
    original: str = ""
    start_line: int = 0
    end_line: int = 0
    heredocs: tuple[Heredoc, ...] = ()
    trigger: Node | None = None
    children: tuple[Node, ...] = ()
    comments: tuple[str, ...] = ()  # the comment lines just above the instruction
    file: str = "Dockerfile"  # the name errors give the file

    @property
    def location(self) -> Location:
        return Location(self.file, self.start_line, self.end_line)

    @property
    def is_json(self) -> bool:
        return "json" in self.attributes

    @property
    def keyword(self) -> str:
        """The instruction keyword as written (`value` is lowercased)."""
        return arguments.split_command(self.original)[0]


@dataclass(frozen=True)
class Result:
    ast: Node
    directives: dict[str, str]
    escape_token: str
    warnings: list[str]
    filename: str = "Dockerfile"


def parse(text: str, *, filename: str = "Dockerfile") -> Result:
    """Parse Dockerfile `text`.

    Decode files with `errors="surrogateescape"` to keep undecodable bytes: they then
    dump as the `\\xNN` bytes buildkit shows.
    """
    return _Parser(text, filename).run()


class _Parser:
    """One pass over the physical lines; `index` is the number of lines read so far."""

    def __init__(self, text: str, filename: str) -> None:
        self.lines = _physical_lines(text.removeprefix("\ufeff"))
        self.index = 0
        self.filename = filename
        self.directives = DirectiveScanner()
        self.escape = DEFAULT_ESCAPE
        self.continuation = _continuation_re(DEFAULT_ESCAPE)
        self.comments: list[str] = []
        self.warnings: list[str] = []

    def error(self, line: int, message: str) -> DockerfileError:
        return DockerfileError(message, file=self.filename, line=line)

    def read(self) -> str | None:
        if self.index >= len(self.lines):
            return None
        self.index += 1
        return self.lines[self.index - 1]

    def run(self) -> Result:
        children: list[Node] = []
        while (raw := self.read()) is not None:
            node = self.instruction(raw)
            if node is not None:
                children.append(node)
        if not children:
            raise self.error(max(self.index, 1), "file with no instructions")
        root = Node(
            children=tuple(children),
            start_line=children[0].start_line,
            end_line=children[-1].end_line,
            file=self.filename,
        )
        found = dict(self.directives.found)
        return Result(root, found, self.escape, self.warnings, self.filename)

    def instruction(self, raw: str) -> Node | None:
        """Read the instruction that starts at physical line `raw`, if it starts one."""
        start = self.index
        self.note_comment(raw)
        text, is_directive = self.process(gotext.trim_left_space(_trim_newline(raw)))
        if is_directive:
            self.comments.pop()  # a directive is not documentation for what follows
        text, done = self.trim_continuation(text)
        if done and not text:
            return None
        line = self.continued(text, done)
        try:
            node = _node_from_line(line, self.escape)
        except arguments.ArgumentError as err:
            raise self.error(start, str(err)) from None
        node = self.attach_heredocs(node, line, start)
        node = replace(
            node, start_line=start, end_line=self.index, comments=tuple(self.comments),
            file=self.filename,
        )  # fmt: skip
        self.comments = []
        return node

    def note_comment(self, raw: str) -> None:
        if not _is_comment(raw):
            return
        comment = gotext.trim_space(gotext.trim_left_space(raw)[1:])
        # A bare `#` line cuts the comment block off from the next instruction.
        self.comments = [*self.comments, comment] if comment else []

    def process(self, text: str) -> tuple[str, bool]:
        """Feed `text` to the directive scanner; blank it if it is a comment."""
        try:
            found = self.directives.feed(text)
        except DirectiveError as err:
            raise self.error(self.index, str(err)) from None
        if found is not None and found[0] == "escape":
            self.escape = found[1]
            self.continuation = _continuation_re(found[1])
        return ("" if _is_comment(text) else text), found is not None

    def continued(self, line: str, done: bool) -> str:
        """Join continuation lines onto `line`; comment lines in between are skipped."""
        parts = [line]
        empty_seen = False
        while not done and (raw := self.read()) is not None:
            text, _ = self.process(_trim_newline(raw))
            if _is_comment(raw):
                continue
            if not gotext.trim_left_space(text):
                empty_seen = True  # deprecated by buildkit, so warned about
                continue
            text, done = self.trim_continuation(text)
            parts.append(text)
        joined = "".join(parts)
        if empty_seen:
            self.warnings.append(f"Empty continuation line found in: {joined}")
        return joined

    def trim_continuation(self, text: str) -> tuple[str, bool]:
        """Drop a trailing escape token; the bool says whether the instruction ended."""
        match = self.continuation.search(text)
        if match is None:
            return text, True
        return text[: match.start()] + (match.group(1) or ""), False

    def attach_heredocs(self, node: Node, line: str, start: int) -> Node:
        if not _can_hold_heredocs(node) or "<<" not in line:
            return node
        try:
            markers = heredoc.markers_in_line(line)
        except InvalidArgument as err:
            raise self.error(start, str(err)) from None
        if not markers:
            return node
        return replace(node, heredocs=tuple(self.heredoc_body(m, start) for m in markers))

    def heredoc_body(self, marker: Heredoc, start: int) -> Heredoc:
        """Read lines up to `marker`'s delimiter; the delimiter line is not content."""
        body: list[str] = []
        while (raw := self.read()) is not None:
            candidate = _trim_newline(raw)
            if marker.chomp:
                candidate = candidate.lstrip("\t")
            if candidate == marker.name:
                return replace(marker, content="".join(body))
            body.append(raw)
        raise self.error(start, "unterminated heredoc")


def _node_from_line(line: str, escape: str) -> Node:
    keyword, flags, rest = arguments.split_command(line)
    value = keyword.lower()
    if value == "onbuild":
        trigger = _node_from_line(rest, escape) if rest else None
        return Node(value=value, flags=flags, original=line, trigger=trigger)
    rule = arguments.ARGUMENT_PARSERS.get(value, arguments.parse_unknown)
    args = rule(rest, escape)
    attributes = frozenset({"json"}) if args.is_json else frozenset()
    return Node(value=value, args=args.values, flags=flags, attributes=attributes, original=line)


def _can_hold_heredocs(node: Node) -> bool:
    target = node.trigger if node.value == "onbuild" and node.trigger else node
    return target.value in heredoc.HEREDOC_INSTRUCTIONS and not target.is_json


def _physical_lines(text: str) -> list[str]:
    """Split on \\n only, keeping each line's newline (heredoc bodies need them)."""
    pieces = text.split("\n")
    lines = [piece + "\n" for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    return lines


def _trim_newline(text: str) -> str:
    return text.rstrip("\r\n")


def _is_comment(text: str) -> bool:
    return gotext.trim_left_space(text).startswith("#")


def _continuation_re(escape: str) -> re.Pattern[str]:
    # The escape token ends a line as a continuation unless it is itself escaped
    # (`foo \\` is not continued); alone on a line it also continues.
    token = re.escape(escape)
    return re.compile(rf"([^{token}]){token}[ \t]*\Z|^{token}[ \t]*\Z")

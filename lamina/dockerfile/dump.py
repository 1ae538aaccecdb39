"""Print a parse tree in buildkit's `Node.Dump()` s-expression format.

buildkit's parser tests compare this text against `testfiles/<case>/result`, so the
format is theirs exactly: one `(keyword ["flags"] "arg" ...)` line per instruction,
strings quoted as Go's `strconv.Quote` does, and ONBUILD's trigger nested in
parentheses. Heredoc bodies, line numbers and comments are not shown.
"""

from __future__ import annotations

from lamina.dockerfile import gotext
from lamina.dockerfile.parser import Node


def dump(node: Node) -> str:
    """The dump of `node` (a root or an instruction), without a trailing newline."""
    text = node.value.lower()
    if node.flags:
        text += " " + gotext.quote_list(node.flags)
    for child in node.children:
        text += "(" + dump(child) + ")\n"
    for arg in node.args:
        text += " " + gotext.quote(arg)
    if node.trigger is not None:
        text += " (" + dump(node.trigger) + ")"
    return gotext.trim_space(text)

"""The API stays thin (issue 10): a handler decodes the request, makes one service call
and encodes the answer, so no function in lamina/api/ grows past MAX_LINES. Logic that
would make one longer belongs in a service."""

from __future__ import annotations

import ast
from pathlib import Path

API = Path(__file__).resolve().parents[2] / "lamina" / "api"
MAX_LINES = 60


def functions(path: Path) -> list[tuple[str, int]]:
    """Every function (and method, and nested handler) in `path`: its name and lines,
    decorators and docstring included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            found.append((node.name, (node.end_lineno or node.lineno) - first + 1))
    return found


def test_the_api_has_functions_to_measure() -> None:
    assert len([f for path in API.rglob("*.py") for f in functions(path)]) > 100


def test_no_function_in_the_api_is_long() -> None:
    long = {
        f"{path.relative_to(API.parent.parent)}:{name}": lines
        for path in sorted(API.rglob("*.py"))
        for name, lines in functions(path)
        if lines > MAX_LINES
    }
    assert long == {}

"""Output as the docker CLI prints it: sizes, ages, tables and `--format` templates."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence

from lamina.units import human_duration, human_size

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs every command ~2.5 ms to import
    from typing import Any

__all__ = ["ago", "human_duration", "human_size", "print_rows", "render", "table", "tabwrite"]


def ago(timestamp: float) -> str:
    return human_duration(time.time() - timestamp) + " ago"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns aligned as the docker CLI aligns them (see `tabwrite`)."""
    return tabwrite(["\t".join(row) for row in [headers, *rows]])


def tabwrite(lines: Sequence[str]) -> str:
    """Tab-separated cells aligned as docker's tabwriter does (min width 10, padding 3);
    the last cell of a line is not padded."""
    rows = [line.split("\t") for line in lines]
    widths: dict[int, int] = {}
    for cells in rows:
        for i, cell in enumerate(cells[:-1]):
            widths[i] = max(widths.get(i, 10), len(cell) + 3)
    return "\n".join(
        "".join(cell.ljust(widths[i]) for i, cell in enumerate(cells[:-1])) + cells[-1]
        for cells in rows
    )


_FIELD = re.compile(r"\{\{\s*(json\s+)?\.([\w.]*)\s*\}\}")


def render(template: str, item: Mapping[str, Any]) -> str:
    """The subset of Go templates people pass to `--format`: `{{.Field}}`, `{{json .}}`."""
    if template == "json":
        return json.dumps(item, separators=(",", ":"))

    def field(match: re.Match[str]) -> str:
        value: Any = item
        for part in filter(None, match.group(2).split(".")):
            value = value.get(part, "") if isinstance(value, Mapping) else ""
        if match.group(1):
            return json.dumps(value, separators=(",", ":"))
        return _plain(value)

    return _FIELD.sub(field, template.replace("\\t", "\t").replace("\\n", "\n"))


def _plain(value: Any) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_plain(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_plain(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def print_rows(
    rows: Sequence[Mapping[str, Any]],
    *,
    fmt: str | None,
    columns: Sequence[tuple[str, str]],
    cell: Callable[[Mapping[str, Any], str], str] | None = None,
) -> None:
    """Print `rows` as docker does: a table by default, one template line each with --format.

    `columns` pairs a header with a field name; `fmt` may start with "table " to keep
    the header row, as docker's does.
    """
    if fmt and not fmt.startswith("table"):
        for row in rows:
            print(render(fmt, row))
        return
    if fmt:
        template = fmt.removeprefix("table").strip()
        names = _FIELD.findall(template)
        columns = [(name.upper() if name else "", name) for _, name in names]
    get = cell or (lambda row, name: _plain(row.get(name, "")))
    print(table([h for h, _ in columns], [[get(row, name) for _, name in columns] for row in rows]))

"""The direction of lamina's imports: lower layers never reach up.

Every `import lamina.…` and `from lamina… import` in lamina/, including the ones inside
functions (a lazy import is still a dependency), is read with `ast`; each rule names a
package and what it may not import. The open cycles issue 10 removes
(containers ↔ networks, containers ↔ containers.monitor) get their rules with that
change.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LAMINA = Path(__file__).resolve().parents[2] / "lamina"
ENTRY_POINTS = {"lamina/__main__.py"}  # `python -m lamina` is the CLI's own door
UPPER = {"api", "cli"}
DOMAIN = {"build", "containers", "images", "networks", "volumes", "engine"}

# package (or module) → lamina packages it must not import, below the API and CLI
# (which nothing below them imports: test_nothing_but_the_cli_and_api_imports_them)
RULES: dict[str, set[str]] = {
    "oci": {"store", "process", "config", *DOMAIN},
    "store": {"runtime", *DOMAIN},
    "runtime": DOMAIN,
    "images": {"build", "containers", "networks", "volumes", "engine"},
    "volumes": {"build", "containers", "images", "networks", "engine"},
}


def imported(path: Path) -> set[str]:
    """The lamina top-level packages (or modules) `path` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "lamina" and len(parts) > 1:
                found.add(parts[1])
    return found


def owner(path: Path) -> str:
    """The top-level package (or module) a file belongs to: `store`, `engine`, …"""
    return path.relative_to(LAMINA).parts[0].removesuffix(".py")


def test_the_rules_name_real_packages() -> None:
    present = {p.name.removesuffix(".py") for p in LAMINA.iterdir() if not p.name.startswith("_")}
    assert set(RULES) <= present
    assert set().union(*RULES.values()) <= present


@pytest.mark.parametrize("package", sorted(RULES))
def test_imports_go_down_only(package: str) -> None:
    forbidden = RULES[package]
    broken = {
        str(path.relative_to(LAMINA.parent)): sorted(imported(path) & forbidden)
        for path in sorted(LAMINA.rglob("*.py"))
        if owner(path) == package and str(path.relative_to(LAMINA.parent)) not in ENTRY_POINTS
    }
    assert {file: names for file, names in broken.items() if names} == {}


def test_the_dockerfile_language_imports_only_errors() -> None:
    """The language is pure (DESIGN.md): the builder and `--change` share it, and it
    imports nothing of lamina but the error kinds."""
    reaching = {
        str(path.relative_to(LAMINA.parent)): sorted(imported(path) - {"dockerfile", "errors"})
        for path in sorted((LAMINA / "dockerfile").rglob("*.py"))
    }
    assert {file: names for file, names in reaching.items() if names} == {}


def test_nothing_but_the_cli_and_api_imports_them() -> None:
    reaching_up = {
        str(path.relative_to(LAMINA.parent))
        for path in LAMINA.rglob("*.py")
        if owner(path) not in UPPER and imported(path) & UPPER
    }
    assert reaching_up == ENTRY_POINTS

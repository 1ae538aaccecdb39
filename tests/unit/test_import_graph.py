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


# lamina/build: a flat package of jobs would grow back; its sub-packages import down only.
BUILD = LAMINA / "build"
BUILD_TOP_LEVEL_LIMIT = 12  # modules directly in lamina/build, __init__.py included
# build sub-package → the other parts of lamina.build it may import
BUILD_RULES: dict[str, set[str]] = {
    "context": set(),
    "cache": set(),
    "progress": set(),
    "sandbox": set(),
    "copy": {"context"},
}


def build_parts(path: Path) -> set[str]:
    """The parts of `lamina.build` (sub-packages or top-level modules) `path` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {n.split(".")[2] for n in names if n.startswith("lamina.build.")}
    return found


def test_build_has_no_more_than_a_dozen_top_level_modules() -> None:
    modules = sorted(path.name for path in BUILD.glob("*.py"))
    assert len(modules) <= BUILD_TOP_LEVEL_LIMIT, modules


def test_the_build_rules_name_real_sub_packages() -> None:
    packages = {path.parent.name for path in BUILD.glob("*/__init__.py")}
    assert set(BUILD_RULES) <= packages
    assert set().union(*BUILD_RULES.values()) <= packages


@pytest.mark.parametrize("package", sorted(BUILD_RULES))
def test_build_sub_packages_import_down_only(package: str) -> None:
    allowed = BUILD_RULES[package] | {package}
    reaching = {
        str(path.relative_to(LAMINA.parent)): sorted(build_parts(path) - allowed)
        for path in sorted((BUILD / package).rglob("*.py"))
    }
    assert {file: names for file, names in reaching.items() if names} == {}


def test_build_progress_imports_only_the_error_kinds() -> None:
    """Events are plain data: a client could read them with nothing of the engine."""
    reaching = {
        str(path.relative_to(LAMINA.parent)): sorted(imported(path) - {"build", "errors"})
        for path in sorted((BUILD / "progress").rglob("*.py"))
    }
    assert {file: names for file, names in reaching.items() if names} == {}


def test_nothing_but_the_cli_and_api_imports_them() -> None:
    reaching_up = {
        str(path.relative_to(LAMINA.parent))
        for path in LAMINA.rglob("*.py")
        if owner(path) not in UPPER and imported(path) & UPPER
    }
    assert reaching_up == ENTRY_POINTS

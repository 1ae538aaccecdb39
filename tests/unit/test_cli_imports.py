"""The CLI's start-up is a feature: its hot paths must not import the modules that
cost milliseconds each (a regression here is invisible until a benchmark runs)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from lamina.cli.client import quote, urlencode

# typing, pathlib (+urllib.parse), shutil (+zlib, bz2, lzma), subprocess, dataclasses,
# hashlib: each 1-5 ms, and none is needed to send a request.
HEAVY = ("typing", "pathlib", "urllib.parse", "shutil", "subprocess", "dataclasses", "hashlib")

PROBE = """
import json, sys
from lamina.cli import main
words = sys.argv[1:]
args = main.build_parser(main._command_word(words)).parse_args(words)
module, _, _ = args.run_command.partition(":")
__import__(f"lamina.cli.{module}")
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--rm", "busybox", "true"],
        ["build", "-q", "."],
        ["images"],
        ["ps", "-a"],
        ["version"],
        ["volume", "ls"],
        ["network", "ls"],
    ],
)
def test_hot_commands_import_nothing_heavy(argv: list[str]) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], check=True, capture_output=True, text=True
    ).stdout
    loaded = set(json.loads(out))
    assert not loaded & set(HEAVY), f"`lamina {' '.join(argv)}` imports {loaded & set(HEAVY)}"


@pytest.mark.parametrize(
    "text", ["/containers/abc/json", "/images/localhost:5000/a/b:tag/json", "/v/ü x%&?#"]
)
def test_quote_matches_urllib(text: str) -> None:
    assert quote(text, safe="/:@") == urllib.parse.quote(text, safe="/:@")


def test_urlencode_drops_none_and_repeats_lists() -> None:
    query = {"t": ["a:1", "b c"], "q": 1, "skip": None, "f": '{"x":["y"]}', "b": True}
    assert urlencode(query) == urllib.parse.urlencode(
        {"t": ["a:1", "b c"], "q": 1, "f": '{"x":["y"]}', "b": True}, doseq=True
    ).replace("+", "%20")


LAUNCHER = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "lamina"


@pytest.mark.skipif(not LAUNCHER.exists(), reason="make setup writes the launcher")
def test_the_launcher_runs_without_site() -> None:
    """`make setup`'s launcher starts Python with -S; the CLI must not need site."""
    assert LAUNCHER.read_text().startswith("#!") and " -S\n" in LAUNCHER.read_text()
    out = subprocess.run([str(LAUNCHER), "--help"], capture_output=True, text=True, check=True)
    assert "COMMAND" in out.stdout

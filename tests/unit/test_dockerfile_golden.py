"""buildkit's own Dockerfile parser cases, read from ../shared/testdata.

- testfiles/<case>/{Dockerfile,result}: our dump must equal buildkit's, byte for byte.
- testfiles-negative/<case>/Dockerfile: parsing must fail with InvalidArgument.
- testfile-line/Dockerfile: the start/end lines buildkit's TestParseIncludesLineNumbers
  expects.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lamina.dockerfile.dump import dump
from lamina.dockerfile.parser import parse
from lamina.errors import InvalidArgument

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "dockerfile-parser"

pytestmark = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"buildkit parser test data not found at {DATA}"
)


def _cases(folder: str) -> list[str]:
    root = DATA / folder
    return sorted(path.name for path in root.iterdir()) if root.is_dir() else []


def _read(path: Path) -> str:
    # surrogateescape keeps any undecodable byte, as buildkit (working on bytes) does.
    return path.read_bytes().decode("utf-8", "surrogateescape")


@pytest.mark.parametrize("case", _cases("testfiles"))
def test_dump_matches_buildkit(case: str) -> None:
    folder = DATA / "testfiles" / case
    result = parse(_read(folder / "Dockerfile"))
    assert dump(result.ast) + "\n" == _read(folder / "result")


@pytest.mark.parametrize("case", _cases("testfiles-negative"))
def test_negative_case_is_rejected(case: str) -> None:
    with pytest.raises(InvalidArgument, match=r"^Dockerfile:\d+: "):
        parse(_read(DATA / "testfiles-negative" / case / "Dockerfile"))


def test_line_numbers_match_buildkit() -> None:
    result = parse(_read(DATA / "testfile-line" / "Dockerfile"))
    assert (result.ast.start_line, result.ast.end_line) == (5, 31)
    spans = [(child.start_line, child.end_line) for child in result.ast.children]
    assert spans == [(5, 5), (11, 12), (17, 31)]


def test_line_file_warns_about_its_empty_continuation_lines() -> None:
    result = parse(_read(DATA / "testfile-line" / "Dockerfile"))
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("Empty continuation line found in: RUN apt-get update")


def test_golden_cases_are_present() -> None:
    # A mistyped data path must not turn into zero silently-passing cases.
    assert len(_cases("testfiles")) >= 30
    assert _cases("testfiles-negative")

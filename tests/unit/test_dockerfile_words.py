"""Shell word processing: buildkit's wordsTest table plus expansion cases of our own.

wordsTest format (buildkit frontend/dockerfile/shell/wordsTest): `# comment` lines,
`ENV name=value` lines that add to the environment for the lines after them, and
`input | expected` lines where expected is the comma-joined field list, or `error`.
The input is trimmed; the expected side only loses leading spaces (trailing spaces
matter).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lamina.dockerfile.words import Lexer
from lamina.errors import InvalidArgument

WORDS_TEST = (
    Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "shell" / "wordsTest"
)


def _words_cases() -> list[object]:
    if not WORDS_TEST.is_file():
        return []
    env: dict[str, str] = {}
    cases: list[object] = []
    for number, line in enumerate(WORDS_TEST.read_text().split("\n"), start=1):
        if not line or line.startswith("#"):
            continue
        if line.startswith("ENV "):
            name, _, value = line[3:].lstrip(" ").partition("=")
            env = {**env, name: value}
            continue
        source, expected = line.split("|")
        case = (source.strip(), expected.lstrip(" ").split(","), env)
        cases.append(pytest.param(*case, id=f"line{number}"))
    return cases


@pytest.mark.skipif(not WORDS_TEST.is_file(), reason=f"wordsTest not found at {WORDS_TEST}")
@pytest.mark.parametrize(("source", "expected", "env"), _words_cases())
def test_words_table(source: str, expected: list[str], env: dict[str, str]) -> None:
    try:
        words = Lexer().process_words(source, env)
    except InvalidArgument:
        words = ["error"]
    assert words == expected


@pytest.mark.skipif(not WORDS_TEST.is_file(), reason=f"wordsTest not found at {WORDS_TEST}")
def test_words_table_is_present() -> None:
    assert len(_words_cases()) >= 20


ENV = {"FOO": "xxx", "EMPTY": "", "PATHY": "/usr/local/bin/tool.tar.gz", "TEMPLATE": "[$0]"}


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("$FOO", "xxx"),
        ("${FOO}bar", "xxxbar"),
        ("$UNSET", ""),
        ("a$", "a$"),
        ("${FOO:-d} ${EMPTY:-d} ${UNSET:-d}", "xxx d d"),
        ("${FOO-d} ${EMPTY-d} ${UNSET-d}", "xxx  d"),
        ("${FOO:+a} ${EMPTY:+a} ${UNSET:+a}", "a  "),
        ("${FOO+a} ${EMPTY+a} ${UNSET+a}", "a a "),
        ("${FOO?msg} ${EMPTY?msg}", "xxx "),
        ("${FOO:?msg}", "xxx"),
        ("${UNSET:-$FOO}", "xxx"),
        ("${UNSET:-'q'}", "q"),
        ("'$FOO'", "$FOO"),
        ('"$FOO"', "xxx"),
        ('"a\\"b"', 'a"b'),
        ('"a\\$FOO"', "a$FOO"),
        ('"a\\xb"', "a\\xb"),
        ("a\\ b", "a b"),
        ("\\$FOO", "$FOO"),
        ("${PATHY#*/}", "usr/local/bin/tool.tar.gz"),
        ("${PATHY##*/}", "tool.tar.gz"),
        ("${PATHY%.*}", "/usr/local/bin/tool.tar"),
        ("${PATHY%%.*}", "/usr/local/bin/tool"),
        ("${PATHY/o/0}", "/usr/l0cal/bin/tool.tar.gz"),
        ("${PATHY//o/0}", "/usr/l0cal/bin/t00l.tar.gz"),
        ("${PATHY//\\//:}", ":usr:local:bin:tool.tar.gz"),
        # Replace-all follows Go's ReplaceAllString: a `$0` that reaches it is the match.
        ("${PATHY//o/$TEMPLATE}", "/usr/l[o]cal/bin/t[o][o]l.tar.gz"),
    ],
)
def test_expansion(word: str, expected: str) -> None:
    assert Lexer().process_word(word, ENV) == expected


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("${UNSET:?must be set}", "UNSET: must be set"),
        ("${UNSET?must be set}", "UNSET: must be set"),
        ("${EMPTY:?must not be empty}", "EMPTY: must not be empty"),
        ("${UNSET:?}", "UNSET: is not allowed to be unset"),
        ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
        ("${}", "bad substitution"),
        ("${:x}", "bad substitution"),
        ("${FOO", "missing '}'"),
        ("${FOO:-x", "missing '}'"),
        ("${FOO=x}", "unsupported modifier (=) in substitution"),
        ("${FOO/x", "missing '/' in ${}"),
        ("${FOO#\\x}", "invalid pattern"),
        ("'open", "matching single-quote"),
        ('"open', "matching double-quote"),
    ],
)
def test_expansion_errors(word: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match="failed to process") as caught:
        Lexer().process_word(word, ENV)
    assert message in str(caught.value)


def test_expansion_splits_only_unquoted_values() -> None:
    env = {"V": "a  b"}
    assert Lexer().process_words("x${V}y", env) == ["xa", "by"]
    assert Lexer().process_words('x"${V}"y', env) == ["xa  by"]
    assert Lexer().process_word("x${V}y", env) == "xa  by"


def test_backtick_escape_token() -> None:
    lexer = Lexer("`")
    assert lexer.process_word("a` b", {}) == "a b"
    assert lexer.process_word("C:\\dir", {}) == "C:\\dir"
    assert lexer.process_word('"say `"hi`""', {}) == 'say "hi"'


def test_invalid_escape_token_is_rejected() -> None:
    with pytest.raises(InvalidArgument, match="invalid escape token"):
        Lexer("x")


def test_expand_reports_matched_and_unmatched_names() -> None:
    expansion = Lexer().expand("${FOO} ${NOPE:-x} $EMPTY", ENV)
    assert expansion.result == "xxx x "
    assert expansion.matched == {"FOO", "EMPTY"}
    assert expansion.unmatched == {"NOPE"}


def test_skip_unset_env_keeps_references() -> None:
    lexer = Lexer(skip_unset_env=True)
    assert (
        lexer.process_word("$FOO $NOPE ${NOPE} ${NOPE:-x}", ENV) == "xxx $NOPE ${NOPE} ${NOPE:-x}"
    )


def test_raw_options_keep_quotes_and_escapes() -> None:
    lexer = Lexer(raw_quotes=True, raw_escapes=True)
    assert lexer.process_words("a 'b c' \\d", {}) == ["a", "'b c'", "\\d"]


def test_heredoc_marker_keeps_following_space_in_its_word() -> None:
    assert Lexer().process_words("cat <<  EOF x", {}) == ["cat", "<<  EOF", "x"]

"""main() builds only the parsers of the command it was given: they must agree with
the full parser on every command word and on what they parse."""

from __future__ import annotations

import argparse

import pytest

from lamina.cli.main import _command_word, build_parser


def _words(parser: argparse.ArgumentParser) -> set[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_every_command_word_has_its_group() -> None:
    for word in _words(build_parser()):
        assert _command_word([word]) == word
        assert word in _words(build_parser(word))


@pytest.mark.parametrize(
    "argv",
    [
        ["images", "-q"],
        ["image", "bootstrap", "busybox"],
        ["run", "--rm", "-it", "busybox", "sh"],
        ["container", "ls", "-a"],
        ["build", "-t", "a", "--no-cache", "."],
        ["network", "ls"],
        ["volume", "rm", "-f", "v"],
        ["system", "df"],
        ["port", "web"],
        ["version"],
    ],
)
def test_partial_parser_parses_as_the_full_one(argv: list[str]) -> None:
    partial = build_parser(_command_word(argv)).parse_args(argv)
    assert vars(partial) == vars(build_parser().parse_args(argv))


def test_unknown_words_and_help_get_every_command() -> None:
    assert _command_word(["--help"]) is None
    assert _command_word(["nosuch"]) is None

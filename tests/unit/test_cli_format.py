"""Docker's human formats, so `lamina images` reads like `docker images`."""

from __future__ import annotations

import pytest

from lamina.cli.format import human_duration, human_size, render, table


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0B"),
        (999, "999B"),
        (1000, "1kB"),
        (4_261_000, "4.26MB"),
        (1_234_567_890, "1.23GB"),
    ],
)
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.5, "Less than a second"),
        (1, "1 second"),
        (30, "30 seconds"),
        (61, "About a minute"),
        (600, "10 minutes"),
        (3600, "About an hour"),
        (5 * 3600, "5 hours"),
        (3 * 86400, "3 days"),
        (20 * 86400, "2 weeks"),
        (90 * 86400, "3 months"),
        (800 * 86400, "2 years"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_table_pads_columns_like_docker() -> None:
    out = table(["REPOSITORY", "TAG"], [["busybox", "latest"]])
    assert out.splitlines() == ["REPOSITORY   TAG", "busybox      latest"]
    assert table(["A", "B"], [["x", "y"]]).splitlines()[0] == "A         B"


def test_render_templates() -> None:
    item = {"Id": "sha256:ab", "Config": {"Cmd": ["sh"]}, "RepoTags": ["a:b"]}
    assert render("{{.Id}}", item) == "sha256:ab"
    assert render("{{json .Config.Cmd}}", item) == '["sh"]'
    assert render("{{.RepoTags}}\\t{{.Config.Cmd}}", item) == "[a:b]\t[sh]"

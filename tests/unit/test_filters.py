"""Filters mean the same for every kind of object: labels and times."""

from __future__ import annotations

import time

import pytest

from lamina.errors import InvalidArgument
from lamina.filters import labels_match, timestamp


def test_labels_match_as_docker() -> None:
    labels = {"env": "prod", "empty": ""}
    assert labels_match(labels, ["env"]) and labels_match(labels, ["env=prod", "empty="])
    assert not labels_match(labels, ["env="]) and not labels_match(labels, ["other"])
    assert not labels_match(labels, ["env"], ["env=prod"])
    assert labels_match(labels, [], ["env=dev", "other"])


def test_timestamps_are_seconds_rfc3339_or_durations_before_now() -> None:
    assert timestamp("1700000000") == 1700000000.0
    assert timestamp("2023-11-14T22:13:20Z") == 1700000000.0
    assert abs(timestamp("10m") - (time.time() - 600)) < 5
    with pytest.raises(InvalidArgument, match="invalid time filter"):
        timestamp("yesterday")

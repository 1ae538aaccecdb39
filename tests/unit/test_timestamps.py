"""RFC 3339 times as Docker writes them: Go's RFC3339Nano (image configs, object
timestamps) and nine fixed digits (logs); one grammar read back."""

from __future__ import annotations

import time

import pytest

from lamina.errors import InvalidArgument
from lamina.timestamps import format_ns, now, parse_ns, parse_rfc3339, rfc3339

T0 = 1_714_564_800_123_456_789  # 2024-05-01T12:00:00.123456789Z


@pytest.mark.parametrize(
    ("ts", "text"),
    [
        (0.0, "1970-01-01T00:00:00Z"),
        (1704164645.123456, "2024-01-02T03:04:05.123456Z"),
        (1704164645.5, "2024-01-02T03:04:05.5Z"),
        (1704164645.0001, "2024-01-02T03:04:05.0001Z"),
        (1704164645.9999996, "2024-01-02T03:04:06Z"),
        (951782400.0, "2000-02-29T00:00:00Z"),
        (-62135596800.0, "0001-01-01T00:00:00Z"),  # Go's zero time, seen in real configs
        (253402300799.0, "9999-12-31T23:59:59Z"),
    ],
)
def test_rfc3339_formats_as_go_does(ts: float, text: str) -> None:
    assert rfc3339(ts) == text
    assert parse_rfc3339(text) == pytest.approx(round(ts, 6), abs=1e-6)


@pytest.mark.parametrize(
    "ts", [0.0, 1.000001, 1e9 + 0.123457, 1704164645.000001, 1704164645.999999, time.time()]
)
def test_rfc3339_round_trips(ts: float) -> None:
    text = rfc3339(ts)
    assert rfc3339(parse_rfc3339(text)) == text
    assert abs(parse_rfc3339(text) - ts) <= 5e-7


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02T04:04:05+01:00", "2024-01-02T03:04:05Z"),
        ("2024-01-01T20:04:05.25-07:00", "2024-01-02T03:04:05.25Z"),
        ("2024-01-02t03:04:05z", "2024-01-02T03:04:05Z"),
        ("2024-01-02T03:04:05.123456789Z", "2024-01-02T03:04:05.123456Z"),
        ("2024-01-02T03:04:05.000000000Z", "2024-01-02T03:04:05Z"),
    ],
)
def test_parse_rfc3339_normalises_to_utc(text: str, expected: str) -> None:
    assert rfc3339(parse_rfc3339(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2024-01-02",
        "2024-01-02T03:04:05",
        "2024-01-02 03:04:05Z",
        "2024-02-30T00:00:00Z",
        "2024-01-02T24:00:00Z",
        "2024-01-02T03:04:05.Z",
        "2024-1-2T03:04:05Z",
        "2024-01-02T03:04:05+0100",
        "2024-01-02T03:04:05Z\n",
    ],
)
def test_parse_rfc3339_rejects(text: str) -> None:
    with pytest.raises(InvalidArgument, match="RFC 3339"):
        parse_rfc3339(text)


@pytest.mark.parametrize("ts", [1e12, -1e12, float("nan"), float("inf"), 253402300799.9999999])
def test_rfc3339_refuses_unrepresentable_times(ts: float) -> None:
    with pytest.raises(InvalidArgument, match="years 1-9999"):
        rfc3339(ts)


def test_parse_rfc3339_wants_ascii_digits() -> None:
    with pytest.raises(InvalidArgument):
        parse_rfc3339("٢٠٢٤-01-02T03:04:05Z")


def test_nanosecond_form_keeps_nine_digits_and_reads_back_exactly() -> None:
    assert format_ns(T0) == "2024-05-01T12:00:00.123456789Z"
    assert format_ns(T0 - 123_456_789) == "2024-05-01T12:00:00.000000000Z"
    assert format_ns(0) == "1970-01-01T00:00:00.000000000Z"
    assert parse_ns(format_ns(T0)) == T0
    assert parse_ns("2024-05-01T12:00:00.1234567891Z") == T0
    assert parse_ns("2024-05-01T14:00:00.123456789+02:00") == T0
    assert parse_ns("2024-05-01T12:00:00Z") == T0 - 123_456_789
    assert parse_ns("2024-05-01T12:00:00.5Z") == T0 - 123_456_789 + 500_000_000
    with pytest.raises(InvalidArgument, match="yesterday"):
        parse_ns("yesterday")
    assert len(now()) == len("2024-05-01T12:00:00.123456789Z")


@pytest.mark.parametrize(
    "text", ["2024-01-02 03:04:05Z", "2024-02-30T00:00:00Z", "٢٠٢٤-01-02T03:04:05Z"]
)
def test_both_parsers_share_one_grammar(text: str) -> None:
    with pytest.raises(InvalidArgument, match="RFC 3339"):
        parse_ns(text)
    with pytest.raises(InvalidArgument, match="RFC 3339"):
        parse_rfc3339(text)


def test_the_two_forms_name_the_same_instant() -> None:
    assert parse_ns(rfc3339(1704164645.5)) == 1704164645_500_000_000
    assert parse_rfc3339(format_ns(1704164645_500_000_000)) == 1704164645.5

"""HostConfig.LogConfig: the drivers and options lamina applies, and Docker's messages
for the ones it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from lamina.api.shapes import check_body
from lamina.containers.monitor.logs.config import LogConfig, normalize, parse
from lamina.errors import InvalidArgument
from lamina.units import parse_size


def cfg(driver: str = "", **opts: str) -> dict[str, Any]:
    return {"Type": driver, "Config": {k.replace("_", "-"): v for k, v in opts.items()}}


def test_the_default_is_json_file_without_rotation() -> None:
    for unset in (None, {}, {"Type": "", "Config": None}):
        assert normalize(unset) == {"Type": "json-file", "Config": {}}
    assert parse(normalize(None)) == LogConfig("json-file", None, 1, False, None)


def test_json_file_rotation_takes_dockers_units() -> None:
    got = parse(normalize(cfg("json-file", max_size="10m", max_file="3", compress="true")))
    assert got == LogConfig("json-file", max_size=10_000_000, max_files=3, compress=True)
    assert parse(cfg(max_size="1.5k")).max_size == 1500  # decimal, as go-units FromHumanSize
    assert parse(cfg(max_size="2MiB")).max_size == 2_000_000  # yes: FromHumanSize ignores "i"


def test_local_has_dockers_defaults() -> None:
    assert parse(cfg("local")) == LogConfig("local", 20 * 1024 * 1024, 5, True)
    assert parse(cfg("local", max_size="1m", max_file="2", compress="false")) == LogConfig(
        "local", 1_000_000, 2, False
    )
    assert parse(cfg("local", max_file="0", compress="false")).max_files == 1


def test_none_keeps_nothing_and_ignores_options_as_docker_does() -> None:
    got = parse(normalize(cfg("none", max_size="nonsense")))
    assert not got.keeps_logs


def test_non_blocking_mode_and_its_buffer() -> None:
    assert parse(cfg(mode="non-blocking")).buffer_size == 1_000_000
    assert parse(cfg("local", mode="non-blocking", max_buffer_size="4m")).buffer_size == 4 << 20
    assert parse(cfg(mode="blocking")).buffer_size is None


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (cfg("syslog"), "the syslog log driver is not supported by lamina"),
        (cfg("journald"), "the journald log driver is not supported by lamina"),
        (cfg("nosuch"), "logger: no log driver named 'nosuch' is registered"),
        (cfg(foo="1"), "unknown log opt 'foo' for json-file log driver"),
        (cfg("local", foo="1"), "unknown log opt 'foo' for log driver local"),
        (cfg(tag="{{.Name}}"), "log opt 'tag' of the json-file log driver is not supported"),
        (cfg(max_size="10x"), "invalid value for max-size: 10x: invalid suffix: 'x'"),
        (cfg(max_size="big"), "invalid value for max-size: big: invalid size: 'big'"),
        (cfg(max_size="0"), "max-size must be a positive number"),
        (cfg(max_file="two"), 'invalid value for max-file: two: strconv.Atoi: parsing "two"'),
        (cfg(max_file="0"), "max-file cannot be less than 1"),
        (cfg(compress="yes"), "invalid boolean value for compress: strconv.ParseBool: parsing"),
        (cfg(compress="true", max_size="1m"), "compress cannot be true when max-file is less"),
        (cfg(compress="true", max_file="2"), "compress cannot be true when max-file is less"),
        (cfg("local", max_file="-1"), "max-file must not be negative"),
        (cfg("local", max_file="1"), "compression cannot be enabled when max file count is 1"),
        (cfg(mode="sometimes"), "logger: logging mode not supported: sometimes"),
        (cfg(max_buffer_size="1m"), "max-buffer-size option is only supported with 'mode=non"),
        (
            cfg(mode="non-blocking", max_buffer_size="lots"),
            "error parsing option max-buffer-size: invalid size: 'lots'",
        ),
        (cfg(cache_disabled="maybe"), "invalid value for option cache-disabled: maybe"),
        (
            cfg(max_size="1e400"),
            'invalid value for max-size: 1e400: strconv.ParseFloat: parsing "1e400": value out',
        ),
        (
            cfg(mode="non-blocking", max_buffer_size="1e400"),
            'error parsing option max-buffer-size: strconv.ParseFloat: parsing "1e400": value',
        ),
        (cfg(max_size="1e19"), "invalid value for max-size: 1e19: invalid size: '1e19': out of"),
        ({"Config": {"max-size": None}}, "invalid value for max-size: : invalid size: ''"),
    ],
)
def test_refusals_name_the_driver_or_option(config: Any, message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        normalize(config)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("log_config", "message"),
    [
        ({"Type": 3}, "HostConfig.LogConfig.Type: must be a string"),
        ({"Config": {"max-size": 10}}, r"HostConfig.LogConfig.Config\['max-size'\]: must be a str"),
        ({"Config": []}, "HostConfig.LogConfig.Config: must be an object"),
        ([], "HostConfig.LogConfig: must be an object"),
    ],
)
def test_the_types_are_checked_at_the_api_edge(log_config: Any, message: str) -> None:
    """`normalize` checks values only: what has the wrong type never reaches it."""
    body = {"Image": "busybox", "HostConfig": {"LogConfig": log_config}}
    with pytest.raises(InvalidArgument, match=message):
        check_body(body, "ContainerCreate")


def test_the_dual_logging_cache_options_are_accepted() -> None:
    assert parse(cfg(cache_disabled="true", cache_max_size="1m")) == LogConfig()


@pytest.mark.parametrize(
    ("text", "decimal", "binary"),
    [
        ("512", 512, 512),
        ("10m", 10_000_000, 10 << 20),
        ("1.5GB", 1_500_000_000, 3 << 29),
        ("20 MiB", 20_000_000, 20 << 20),
        ("5b", 5, 5),
        ("0.3k", 300, 307),
        ("9e18", 9 * 10**18, 9 * 10**18),  # near int64's end, still a size
        ("8191p", 8_191_000_000_000_000_000, 8191 << 50),
    ],
)
def test_sizes_as_go_units_reads_them(text: str, decimal: int, binary: int) -> None:
    assert parse_size(text) == decimal
    assert parse_size(text, binary=True) == binary


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "invalid size: 'abc'"),
        ("-1", "invalid size: '-1'"),
        ("10x", "invalid suffix: 'x'"),
        ("10mbb", "invalid suffix: 'mbb'"),
        ("5bb", "invalid suffix: 'bb'"),
        ("1..2", 'strconv.ParseFloat: parsing "1..2": invalid syntax'),
        ("1_0", 'strconv.ParseFloat: parsing "1_0": invalid syntax'),
        ("1e400", 'strconv.ParseFloat: parsing "1e400": value out of range'),
        ("1e400k", 'strconv.ParseFloat: parsing "1e400": value out of range'),
        ("1e19", "invalid size: '1e19': out of range for int64"),
        ("1e308p", "invalid size: '1e308p': out of range for int64"),  # infinite once multiplied
        ("9223372036854775807", "invalid size: '9223372036854775807': out of range for int64"),
    ],
)
def test_bad_sizes(text: str, message: str) -> None:
    """A size go-units cannot hold in an int64 is refused: Go's conversion would make it
    a negative number, and Python's int() of an infinity raises (a 500 at create)."""
    for binary in (False, True):
        with pytest.raises(ValueError) as err:
            parse_size(text, binary=binary)
        assert str(err.value) == message

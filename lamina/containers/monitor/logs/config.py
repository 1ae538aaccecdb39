"""A container's logging configuration (`HostConfig.LogConfig`): its driver and options.

lamina runs three of Docker's drivers, and refuses every other one at create:

    json-file  Docker's default: `<id>-json.log`, one JSON object a line. One file that
               grows for ever unless `max-size` is set; then `max-file` files (default 1).
    local      files under `local-logs/`, rotated by default (five files of 20 MiB, compressed).
    none       nothing is kept; `logs` answers that the driver cannot be read.

Options, with Docker's names, parsing and messages (moby `daemon/logger`):

    max-size         bytes a file may hold, go-units decimal ("10m" = 10,000,000)
    max-file         how many files: the current one and its rotated predecessors
    compress         gzip the rotated files (needs max-file ≥ 2, and for json-file max-size)
    mode             blocking (default) | non-blocking: the log is written by a thread
                     and output that does not fit in `max-buffer-size` is dropped
    max-buffer-size  non-blocking only; go-units binary ("4m" = 4 MiB); default 1 MB
    cache-*          the dual-logging cache; Docker uses it only for drivers that cannot
                     be read, so for these two it is accepted and has nothing to do

Docker checks the names at create and the values when the container starts; lamina
checks both at create, so a container that was created can start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lamina.errors import InvalidArgument
from lamina.units import parse_size

DEFAULT_DRIVER = "json-file"
DRIVERS = ("json-file", "local", "none")
# Drivers Docker ships that lamina does not run: refused with a message saying so.
ELSEWHERE = (
    "awslogs", "etwlogs", "fluentd", "gcplogs", "gelf", "journald", "logentries", "splunk",
    "syslog",
)  # fmt: skip
_FILE_OPTS = {"max-file", "max-size", "compress"}
_CACHE_OPTS = {"cache-disabled", "cache-max-file", "cache-max-size", "cache-compress"}
# Docker's attributes for each entry (shown by `logs --details`): not written by lamina.
_ATTR_OPTS = {"labels", "labels-regex", "env", "env-regex", "tag"}
_RING_DEFAULT = 1_000_000  # Docker's defaultRingMaxSize


@dataclass(frozen=True)
class LogConfig:
    """What the monitor applies: `driver`, and for the file drivers the rotation."""

    driver: str = DEFAULT_DRIVER
    max_size: int | None = None  # bytes a file may hold; None: one file that grows
    max_files: int = 1
    compress: bool = False
    buffer_size: int | None = None  # non-blocking mode's buffer; None: blocking

    @property
    def keeps_logs(self) -> bool:
        return self.driver != "none"


def normalize(raw: dict[str, Any] | None) -> dict[str, Any]:
    """`HostConfig.LogConfig` as stored and shown by inspect (Type filled in with the
    daemon's default, Config a mapping of strings), after checking that lamina can
    apply it: InvalidArgument naming the driver or option otherwise. The types (an
    object, Type a string, Config strings by name) are the API edge's to check
    (lamina/api/body_shapes.py); here the values are."""
    raw = raw or {}
    # A null option is Go's zero value, "", as dockerd's decoder leaves it.
    opts = {name: value or "" for name, value in (raw.get("Config") or {}).items()}
    stored = {"Type": raw.get("Type") or DEFAULT_DRIVER, "Config": opts}
    parse(stored)
    return stored


def parse(stored: dict[str, Any] | None) -> LogConfig:
    """The LogConfig a container was created with (see `normalize`), as the monitor
    applies it. A record from before drivers were checked can still fail here."""
    stored = stored or {}
    driver = stored.get("Type") or DEFAULT_DRIVER
    opts: dict[str, str] = stored.get("Config") or {}
    if driver == "none":
        return LogConfig(driver)  # Docker accepts, and has no use for, any option here
    buffer_size = _mode(opts)
    _check_driver(driver)
    unknown = sorted(set(opts) - _FILE_OPTS - _CACHE_OPTS - {"mode", "max-buffer-size"})
    if unknown:
        raise InvalidArgument(_unknown_opt(driver, unknown[0]))
    _check_cache(opts)
    rotation = _json_file(opts) if driver == "json-file" else _local(opts)
    return LogConfig(driver, *rotation, buffer_size=buffer_size)


def _mode(opts: dict[str, str]) -> int | None:
    mode = opts.get("mode", "")
    if mode not in ("", "blocking", "non-blocking"):
        raise InvalidArgument(f"logger: logging mode not supported: {mode}")
    if "max-buffer-size" in opts:
        if mode != "non-blocking":
            raise InvalidArgument(
                "logger: max-buffer-size option is only supported with 'mode=non-blocking'"
            )
        try:
            return parse_size(opts["max-buffer-size"], binary=True)
        except ValueError as err:
            raise InvalidArgument(f"error parsing option max-buffer-size: {err}") from None
    return _RING_DEFAULT if mode == "non-blocking" else None


def _check_driver(driver: str) -> None:
    if driver in ELSEWHERE:
        raise InvalidArgument(
            f"logger: the {driver} log driver is not supported by lamina "
            f"(it runs {', '.join(DRIVERS)})"
        )
    if driver not in DRIVERS:
        raise InvalidArgument(f"logger: no log driver named '{driver}' is registered")


def _unknown_opt(driver: str, key: str) -> str:
    if key in _ATTR_OPTS:
        return f"log opt '{key}' of the {driver} log driver is not supported by lamina"
    if driver == "json-file":
        return f"unknown log opt '{key}' for json-file log driver"
    return f"unknown log opt '{key}' for log driver {driver}"


def _check_cache(opts: dict[str, str]) -> None:
    value = opts.get("cache-disabled", "")
    if value and _bool(value) is None:
        raise InvalidArgument(f"invalid value for option cache-disabled: {value}")


def _json_file(opts: dict[str, str]) -> tuple[int | None, int, bool]:
    """Docker's jsonfilelog.New: no rotation unless max-size; max-file 1."""
    max_size = None
    if "max-size" in opts:
        max_size = _size(opts["max-size"])
        if max_size <= 0:
            raise InvalidArgument("max-size must be a positive number")
    max_files = _int(opts["max-file"], "max-file") if "max-file" in opts else 1
    if max_files < 1:
        raise InvalidArgument("max-file cannot be less than 1")
    compress = _compress(opts, default=False)
    if compress and (max_files == 1 or max_size is None):
        raise InvalidArgument(
            "compress cannot be true when max-file is less than 2 or max-size is not set"
        )
    return max_size, max_files, compress


def _local(opts: dict[str, str]) -> tuple[int | None, int, bool]:
    """Docker's local.newConfig: five files of 20 MiB, compressed, unless told otherwise."""
    max_size = _size(opts["max-size"]) if "max-size" in opts else 20 * 1024 * 1024
    max_files = _int(opts["max-file"], "max-file") if "max-file" in opts else 5
    if max_files < 0:
        raise InvalidArgument("max-file must not be negative")
    compress = _compress(opts, default=True)
    if compress and max_files <= 1:
        raise InvalidArgument("compression cannot be enabled when max file count is 1")
    # max-file 0 keeps one file, as Docker's rotation does for anything below 2.
    return max_size, max(max_files, 1), compress


def _size(value: str) -> int:
    try:
        return parse_size(value)
    except ValueError as err:
        raise InvalidArgument(f"invalid value for max-size: {value}: {err}") from None


def _int(value: str, name: str) -> int:
    """strconv.Atoi: an optional sign and decimal digits, nothing else."""
    digits = value[1:] if value[:1] in ("+", "-") else value
    if not digits.isascii() or not digits.isdigit():
        raise InvalidArgument(
            f'invalid value for {name}: {value}: strconv.Atoi: parsing "{value}": invalid syntax'
        )
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise InvalidArgument(
            f'invalid value for {name}: {value}: strconv.Atoi: parsing "{value}": '
            "value out of range"
        )
    return number


def _compress(opts: dict[str, str], *, default: bool) -> bool:
    if "compress" not in opts:
        return default
    value = _bool(opts["compress"])
    if value is None:
        raise InvalidArgument(
            f'invalid boolean value for compress: strconv.ParseBool: parsing "{opts["compress"]}": '
            "invalid syntax"
        )
    return value


def _bool(text: str) -> bool | None:
    """strconv.ParseBool; None when it is not one of Go's spellings."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None

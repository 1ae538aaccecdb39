"""The typed layer at the API's edge: strict JSON, body shapes, query parameters."""

from __future__ import annotations

import io
import json
import re
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote

import pytest

from lamina.api import query
from lamina.api.body_shapes import SHAPES
from lamina.api.shapes import check_body, compiled
from lamina.api.wire import MAX_DEPTH, decode_json, read_json_body
from lamina.errors import InvalidArgument, TooLarge
from lamina.labels import check_labels
from tests.support.spec_shapes import derive, load_spec, render


def test_the_shape_table_is_the_specs() -> None:
    """lamina/api/body_shapes.py is generated from the v1.45 spec; regenerate it with
    `.venv/bin/python -m tests.support.spec_shapes > lamina/api/body_shapes.py`."""
    derived = derive(load_spec())
    assert derived == SHAPES
    with open("lamina/api/body_shapes.py", encoding="utf-8") as f:
        assert f.read() == render(derived)


def test_every_type_expression_compiles() -> None:
    for fields in SHAPES.values():
        for expr in fields.values():
            compiled(expr)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"Image": "\xff"}', "not valid UTF-8"),
        (b'{"StopTimeout": NaN}', "NaN is not a JSON number"),
        (b'{"StopTimeout": -Infinity}', "-Infinity is not a JSON number"),
        (b"[" * 100_000 + b"]" * 100_000, "nested"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested more than"),
        (b'{"Image": "\\ud800"}', "Image: contains an unpaired UTF-16 surrogate"),
        (b'{"Env": ["A=\\u0000"]}', r"Env\[0\]: contains a NUL character"),
        (b'{"x": 1' + b"0" * 5000 + b"}", "request body"),
        (b'{"x": 1e999}', "finite"),
        (b'{"Image": ', "not valid JSON"),
    ],
    ids=lambda v: v[:20] if isinstance(v, bytes) else v,
)
def test_strict_json(data: bytes, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        decode_json(data, "request body")


def test_json_bodies_are_capped_without_reading_all() -> None:
    stream = io.BytesIO(b" " * 100)
    with pytest.raises(TooLarge):
        read_json_body(stream, limit=10)  # type: ignore[arg-type]
    assert stream.tell() == 11


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([1, 2], "request body must be a JSON object, not an array"),
        ("x", "must be a JSON object, not a string"),
        ({"Env": [1, 2]}, r"Env\[0\]: must be a string, not an integer"),
        ({"Cmd": ["a", None]}, "Cmd: must be a string or an array of strings"),
        ({"Labels": {"a": 1}}, "Labels"),
        ({"StopTimeout": 1.5}, "StopTimeout: must be an integer"),
        ({"StopTimeout": True}, "StopTimeout: must be an integer"),
        ({"Tty": 1}, "Tty: must be a boolean"),
        ({"HostConfig": {"Memory": "lots"}}, "HostConfig.Memory: must be an integer"),
        ({"HostConfig": {"Memory": 1 << 63}}, "out of range for int64"),
        ({"HostConfig": {"BlkioWeight": 70000}}, "out of range for uint16"),
        ({"HostConfig": {"PortBindings": {"80/tcp": "x"}}}, "PortBindings"),
        ({"HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": 80}]}}}, "HostPort"),
        ({"HostConfig": {"Mounts": [None]}}, r"Mounts\[0\]: must be an object, not null"),
        ({"HostConfig": {"RestartPolicy": []}}, "RestartPolicy: must be an object"),
        ({"NetworkingConfig": {"EndpointsConfig": []}}, "EndpointsConfig: must be an object"),
        ({"Healthcheck": {"Interval": "1s"}}, "Healthcheck.Interval"),
        ({"HostConfig": {"ConsoleSize": [24]}}, "ConsoleSize: must be an array of 2 items"),
        ({"HostConfig": {"ConsoleSize": [1, 2, 3]}}, "must be an array of 2 items, not 3"),
        ({"HostConfig": {"ConsoleSize": [24, -1]}}, r"ConsoleSize\[1\]: -1 is out of range"),
        ({"Env": [None]}, r"Env\[0\]: must be a string, not null"),
    ],
)
def test_create_body_types(body: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        check_body(body, "ContainerCreate")


def test_what_dockerd_accepts_passes() -> None:
    body = {
        "Image": "busybox",
        "Cmd": "sh",  # Go's StrSlice takes a string
        "Entrypoint": None,  # null is "not given"
        "Volumes": {"/data": {}},
        "ExposedPorts": {"80/tcp": None},
        "Unknown": {"deep": [1, 2]},  # dockerd ignores fields it does not know
        "HostConfig": {"Memory": 0, "PortBindings": {"80/tcp": [{"HostPort": "8080"}]}},
        "NetworkingConfig": {"EndpointsConfig": {"bridge": None}},
    }
    assert check_body(body, "ContainerCreate") is body
    assert check_body(None, "ExecConfig") == {}
    assert check_body({"ConsoleSize": [24, 80]}, "ExecStartConfig")


def test_null_map_values_are_gos_zero_values() -> None:
    """dockerd's decoder takes null as a map's value and leaves the zero value there:
    a nil list of bindings, an empty string. The domain sees only the declared types."""
    body = check_body(
        {
            "Labels": {"a": None, "b": "x"},
            "HostConfig": {
                "PortBindings": {"80/tcp": None, "81/tcp": [{"HostPort": "8081"}]},
                "Sysctls": {"net.ipv4.ip_forward": None},
                "LogConfig": {"Type": "json-file", "Config": {"max-size": None}},
                "Tmpfs": {"/run": None},
            },
            "NetworkingConfig": {"EndpointsConfig": {"bridge": None}},
        },
        "ContainerCreate",
    )
    assert body["Labels"] == {"a": "", "b": "x"}
    host = body["HostConfig"]
    assert host["PortBindings"] == {"80/tcp": None, "81/tcp": [{"HostPort": "8081"}]}
    assert host["Sysctls"] == {"net.ipv4.ip_forward": ""}
    assert host["LogConfig"]["Config"] == {"max-size": ""}
    assert host["Tmpfs"] == {"/run": ""}
    assert body["NetworkingConfig"]["EndpointsConfig"] == {"bridge": None}


# What the domain reads of a create body, by the Python type it relies on: the checks in
# lamina/containers (hostopts, logs.config) no longer repeat these (seam review, item 13).
_DOMAIN_READS: dict[str, tuple[type, tuple[str, ...]]] = {
    "list": (list, (
        "Ulimits", "Devices", "DeviceCgroupRules", "GroupAdd", "ExtraHosts", "Links",
        "VolumesFrom", "SecurityOpt", "Dns", "DnsOptions", "DnsSearch", "MaskedPaths",
        "ReadonlyPaths", "Binds", "Mounts", "CapAdd", "CapDrop", "DeviceRequests",
    )),
    "map": (dict, ("Sysctls", "Annotations", "Tmpfs", "StorageOpt", "PortBindings")),
    "int": (int, (
        "Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares", "CpuPeriod",
        "CpuQuota", "PidsLimit", "OomScoreAdj", "ShmSize", "MemorySwappiness",
    )),
    "str": (str, (
        "CpusetCpus", "CpusetMems", "PidMode", "IpcMode", "CgroupnsMode", "CgroupParent",
        "UsernsMode", "Isolation", "Runtime", "NetworkMode", "UTSMode", "Cgroup",
    )),
}  # fmt: skip
_WRONG = {list: {"x": 1}, dict: ["x"], int: "1", str: 1}


@pytest.mark.parametrize(
    "field", [f for _, fields in _DOMAIN_READS.values() for f in fields], ids=str
)
def test_every_host_config_field_the_domain_reads_is_typed_at_the_edge(field: str) -> None:
    kind = next(k for k, fields in _DOMAIN_READS.values() if field in fields)
    with pytest.raises(InvalidArgument, match=f"HostConfig.{field}: must be"):
        check_body({"HostConfig": {field: _WRONG[kind]}}, "ContainerCreate")
    if kind is int:
        with pytest.raises(InvalidArgument, match=f"HostConfig.{field}: must be an integer"):
            check_body({"HostConfig": {field: True}}, "ContainerCreate")


def test_log_config_and_ulimits_are_typed_at_the_edge() -> None:
    for host, message in [
        ({"LogConfig": {"Type": 1}}, "LogConfig.Type: must be a string"),
        ({"LogConfig": {"Config": {"max-size": 1}}}, r"LogConfig.Config\['max-size'\]"),
        ({"LogConfig": {"Config": []}}, "LogConfig.Config: must be an object"),
        ({"Ulimits": [{"Name": 1}]}, r"Ulimits\[0\].Name: must be a string"),
        ({"Ulimits": [{"Name": "nofile", "Soft": "x"}]}, r"Ulimits\[0\].Soft"),
        ({"Ulimits": ["nofile=1"]}, r"Ulimits\[0\]: must be an object"),
        ({"Devices": [{"PathOnHost": 5}]}, r"Devices\[0\].PathOnHost"),
    ]:
        with pytest.raises(InvalidArgument, match=message):
            check_body({"HostConfig": host}, "ContainerCreate")


def _decode(cls: type[Any], qs: str) -> Any:
    class Req:
        query = parse_qs(qs, keep_blank_values=True)

    return query.decode(Req(), cls)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Q:
    t: int | None = query.integer(None)
    size: int = query.integer(80, low=0, high=65535, name="w")
    signal: str | None = query.signal()
    all: bool = query.flag()
    name: str = query.container_name()
    labels: dict[str, str] = query.json_map()  # noqa: RUF009 (json_map makes a field)


@pytest.mark.parametrize(
    ("qs", "message"),
    [
        ("t=abc", "parameter t: 'abc' is not an integer"),
        ("t=1.5", "not an integer"),
        ("t=99999999999999999999", "out of range"),
        ("t=" + "9" * 5000, "not an integer"),
        ("w=-1", "parameter w: -1 is out of range"),
        ("signal=SIGFOO", "Invalid signal: SIGFOO"),
        ("signal=0", "Invalid signal: 0"),
        ("signal=65", "Invalid signal: 65"),
        ("name=" + "a" * 1000, "longer than 253"),
        ("name=-x", "Invalid container name"),
        ("name=a%00b", "parameter name: contains a NUL"),
        ("labels=[1]", "must be a JSON object of strings"),
        ("labels={bad", "not valid JSON"),
    ],
)
def test_query_errors_name_the_parameter(qs: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        _decode(Q, qs)


def test_query_values() -> None:
    q = _decode(Q, "t=-1&w=100&signal=term&all=yes&name=/web&labels=" + json.dumps({"a": None}))
    assert q == Q(t=-1, size=100, signal="SIGTERM", all=True, name="web", labels={})
    assert _decode(Q, "all=0&t=") == Q()
    assert _decode(Q, "signal=RTMIN%2B2").signal == str(signal.SIGRTMIN + 2)
    assert _decode(Q, "signal=9").signal == "SIGKILL"


def test_labels_are_capped() -> None:
    check_labels({"a": "b" * 1000}, "Labels")
    with pytest.raises(TooLarge, match="Labels: label 'big' is over 64 KiB"):
        check_labels({"big": "x" * (100 << 10)}, "Labels")
    many = {f"k{i}": "x" * (60 << 10) for i in range(20)}
    with pytest.raises(TooLarge, match="over 1 MiB in all"):
        check_labels(many, "Labels")


@pytest.mark.parametrize(
    ("qs", "refused"),
    [
        ("memory=0&cpushares=0&shmsize=0&cachefrom=[]&ulimits=null&version=1&rm=1", None),
        ("squash=false&isolation=default&outputs=&extrahosts=", None),
        ("memory=1000000", "memory='1000000' is not supported by lamina: RUN steps run"),
        ('cachefrom=["app:latest"]', "cachefrom="),
        ("squash=1", "squash='1'"),
        ("version=2", "use DOCKER_BUILDKIT=0"),
        ("extrahosts=db:10.0.0.2", "extrahosts="),
    ],
)
def test_build_options_lamina_cannot_honour_are_refused(qs: str, refused: str | None) -> None:
    from lamina.api.build import BuildQuery

    if refused is None:
        assert _decode(BuildQuery, qs) == BuildQuery()
        return
    with pytest.raises(InvalidArgument, match=re.escape(refused)):
        _decode(BuildQuery, qs)


def test_logs_query() -> None:
    from lamina.api.container_logs import LogsQuery

    q = _decode(LogsQuery, "stdout=1&tail=5&since=10&until=0&timestamps=true")
    assert (q.tail, q.since, q.until, q.streams) == (5, 10.0, None, frozenset({"stdout"}))
    assert _decode(LogsQuery, "tail=all").tail is None
    assert _decode(LogsQuery, "tail=-1").tail is None
    for qs, message in [
        ("tail=many", "invalid tail 'many'"),
        ("tail=" + "9" * 40, "invalid tail"),
        ("since=nan", "parameter since: invalid time filter 'nan'"),
        ("until=soon", "parameter until: invalid time filter 'soon'"),
    ]:
        with pytest.raises(InvalidArgument, match=re.escape(message)):
            _decode(LogsQuery, qs)


@dataclass(frozen=True)
class FilterQ:
    filters: Mapping[str, list[str]] = query.filters({"label", "dangling"})


def test_filters_are_decoded_at_the_edge() -> None:
    assert _decode(FilterQ, "") == FilterQ(filters={})
    assert _decode(FilterQ, "filters=").filters == {}
    assert _decode(FilterQ, "filters=null").filters == {}
    given = json.dumps({"label": ["a=b"], "dangling": {"true": True, "false": False}})
    assert _decode(FilterQ, "filters=" + quote(given)).filters == {
        "label": ["a=b"],
        "dangling": ["true"],
    }
    for qs, message in [
        ("filters=[1]", "filters must be a JSON object"),
        ("filters={bad", "parameter filters is not valid JSON"),
        ('filters={"name":["x"]}', "invalid filter 'name'"),
        ('filters={"label":[1]}', "invalid filter 'label': expected a list of strings"),
        ('filters={"label":["a%00"]}', "contains a NUL character"),
    ]:
        with pytest.raises(InvalidArgument, match=re.escape(message)):
            _decode(FilterQ, qs)

"""A create's ContainerSpec (lamina.containers.spec): what decoding a body gives, what it
refuses, and that the API's create handler decodes before its one service call.

The handler tests run the real server and create handler over a stand-in container
service that records the spec it is given: no engine, no root.
"""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace
from typing import Any

import pytest

from lamina.containers.spec import ContainerSpec
from lamina.errors import InvalidArgument, TooLarge
from lamina.labels import MAX_LABEL
from tests.support import rawhttp
from tests.support.apiserver import serving_containers

BODY: dict[str, Any] = {
    "Image": "busybox",
    "Cmd": ["true"],
    "Labels": {"app": "web"},
    "StopSignal": "SIGUSR1",
    "MacAddress": "02:42:ac:11:00:02",
    "HostConfig": {"NetworkMode": "net1", "Memory": 1 << 30},
    "NetworkingConfig": {
        "EndpointsConfig": {"net1": {"Aliases": ["db"]}, "net2": None},
    },
}


def test_a_body_decodes_into_typed_fields_and_views_of_its_parts() -> None:
    spec = ContainerSpec.from_body(BODY, name="web", platform="linux/amd64")
    assert (spec.image, spec.name, spec.platform) == ("busybox", "web", "linux/amd64")
    assert (spec.stop_signal, spec.mac_address) == ("SIGUSR1", "02:42:ac:11:00:02")
    assert dict(spec.labels) == {"app": "web"}
    assert dict(spec.config) == {
        k: v for k, v in BODY.items() if k not in ("HostConfig", "NetworkingConfig")
    }
    assert dict(spec.host_config) == {"NetworkMode": "net1", "Memory": 1 << 30}
    assert {k: dict(v) for k, v in spec.endpoints.items()} == {
        "net1": {"Aliases": ["db"]},
        "net2": {},  # a null endpoint, which Go's decoder lets through, asks for nothing
    }


def test_an_empty_body_decodes_to_the_unset_values() -> None:
    spec = ContainerSpec.from_body({})
    assert (spec.image, spec.name, spec.platform) == ("", None, "")  # create refuses ""
    assert (spec.stop_signal, spec.mac_address) == ("", "")
    assert not spec.labels and not spec.config and not spec.host_config
    assert not spec.endpoints
    docker_nulls = {"Image": "x", "Labels": None, "HostConfig": None, "NetworkingConfig": None}
    assert not ContainerSpec.from_body(docker_nulls).endpoints
    assert ContainerSpec.from_body({"NetworkingConfig": {"EndpointsConfig": None}}) == spec


def test_a_spec_is_frozen_and_its_mappings_read_only() -> None:
    spec = ContainerSpec.from_body(BODY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.image = "other"  # type: ignore[misc]
    for mapping in (spec.labels, spec.config, spec.host_config, spec.endpoints):
        with pytest.raises(TypeError):
            mapping["x"] = "y"  # type: ignore[index]
    with pytest.raises(TypeError):
        spec.endpoints["net1"]["Aliases"] = []  # type: ignore[index]


def test_a_spec_keeps_what_it_was_decoded_from() -> None:
    body = json.loads(json.dumps(BODY))
    spec = ContainerSpec.from_body(body)
    body["Image"] = "other"
    body["Labels"]["app"] = "changed"
    body["HostConfig"]["NetworkMode"] = "host"
    body["NetworkingConfig"]["EndpointsConfig"]["net3"] = {}
    body["NetworkingConfig"]["EndpointsConfig"]["net1"]["MacAddress"] = "x"
    assert spec == ContainerSpec.from_body(BODY)


def test_decoding_refuses_labels_over_the_limit_then_a_signal_that_is_none() -> None:
    big = {"Labels": {"k": "v" * MAX_LABEL}, "StopSignal": "SIGFOO"}
    with pytest.raises(TooLarge, match=r"^Labels: label 'k' is over"):
        ContainerSpec.from_body(big)  # the labels first, as create checked them first
    with pytest.raises(InvalidArgument, match=r"^Invalid signal: SIGFOO$"):
        ContainerSpec.from_body({"StopSignal": "SIGFOO"})
    for given in ("", "term", "SIGRTMIN+3", "9"):
        assert ContainerSpec.from_body({"StopSignal": given}).stop_signal == given


# -- the create handler ---------------------------------------------------------------


class Recording:
    """A stand-in container service: `create` keeps the spec it was given."""

    def __init__(self) -> None:
        self.specs: list[ContainerSpec] = []

    def create(self, spec: ContainerSpec) -> SimpleNamespace:
        self.specs.append(spec)
        return SimpleNamespace(id="c" * 64)


def post_create(path: str, query: str, body: Any) -> tuple[int, Any]:
    target = f"/v1.45/containers/create{query}"
    answer = rawhttp.request(path, "POST", target, json.dumps(body).encode(), timeout=10)
    return answer.status, json.loads(answer.body or b"null")


def test_the_handler_decodes_the_query_and_body_into_one_spec() -> None:
    service = Recording()
    with serving_containers(service, streams=2) as path:
        status, answer = post_create(path, "?name=/web&platform=linux/amd64", BODY)
    assert (status, answer) == (201, {"Id": "c" * 64, "Warnings": []})
    assert service.specs == [ContainerSpec.from_body(BODY, name="web", platform="linux/amd64")]


@pytest.mark.parametrize(
    ("query", "body", "status", "message"),
    [
        ("?name=a b", BODY, 400, "Invalid container name (a b)"),
        ("", {"Image": "busybox", "Env": [1]}, 400, "Env[0]: must be a string"),
        ("", {"Image": "x", "HostConfig": {"Memory": "lots"}}, 400, "HostConfig.Memory:"),
        ("", {"Image": "x", "StopSignal": "SIGFOO"}, 400, "Invalid signal: SIGFOO"),
        ("", {"Image": "x", "Labels": {"k": "v" * MAX_LABEL}}, 413, "Labels: label 'k'"),
    ],
)
def test_a_request_that_does_not_decode_never_reaches_the_service(
    query: str, body: Any, status: int, message: str
) -> None:
    service = Recording()
    with serving_containers(service, streams=2) as path:
        got, answer = post_create(path, query.replace(" ", "%20"), body)
    assert (got, message in answer["message"]) == (status, True), answer
    assert service.specs == []

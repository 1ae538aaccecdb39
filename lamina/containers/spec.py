"""`ContainerSpec`: what a `POST /containers/create` asks for, as one frozen value.

Not the OCI runtime spec (lamina.runtime.spec), which is built from a container when
it starts. The API edge checks a body's *types* against the v1.45 spec
(lamina/api/shapes.py) and decodes it here with `from_body`, with the query's name and
platform; the container service takes the result and nothing else.

Its typed fields are what create reads and branches on (the image, the name, the
platform, the labels, the stop signal, the MAC address, the endpoints asked for);
`config` and `host_config` are the body's Config and HostConfig parts, which a container
stores as they came (merged with its image's), behind read-only views. Decoding checks
what needs only the request, and only what create checked first before there was a
spec, so a body with several faults is refused for the same one as before: the labels'
size (TooLarge), then the stop signal (`Invalid signal: X`). Every other value is
checked by create, in lamina.containers.creation's order.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from lamina.containers.networking import AskedEndpoints
from lamina.containers.signals import parse_signal
from lamina.labels import check_labels

_NOT_CONFIG = ("HostConfig", "NetworkingConfig")


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class ContainerSpec:
    """A create request, decoded. Frozen, and its mappings are read-only views of a
    copy of the body taken at decoding, so a later write to the body changes nothing.
    (The lists and objects inside them are plain JSON, which the container's stored
    Config and HostConfig are built from; nothing in create writes them.)"""

    image: str  # as the client named it; "" when not given, which create refuses
    name: str | None = None  # None: create generates one
    platform: str = ""  # `?platform=` as given ("os[/arch[/variant]]"); "": any
    labels: Mapping[str, str] = field(default_factory=_empty)
    stop_signal: str = ""  # as given, known to be a signal ("": the image's, else SIGTERM)
    mac_address: str = ""  # the container-wide MacAddress (deprecated since API 1.44)
    config: Mapping[str, Any] = field(default_factory=_empty)  # every field but the two below
    host_config: Mapping[str, Any] = field(default_factory=_empty)
    endpoints: AskedEndpoints = field(default_factory=_empty)  # NetworkingConfig.EndpointsConfig

    @classmethod
    def from_body(
        cls, body: Mapping[str, Any], *, name: str | None = None, platform: str = ""
    ) -> ContainerSpec:
        """The spec of a ContainerCreate body whose types the API checked. TooLarge
        for labels over the limits, InvalidArgument for a stop signal that is none."""
        body = copy.deepcopy(dict(body))
        labels = dict(body.get("Labels") or {})
        check_labels(labels, "Labels")
        stop_signal = str(body.get("StopSignal") or "")
        parse_signal(stop_signal)
        return cls(
            image=str(body.get("Image") or ""),
            name=name,
            platform=platform,
            labels=MappingProxyType(labels),
            stop_signal=stop_signal,
            mac_address=str(body.get("MacAddress") or ""),
            config=MappingProxyType({k: v for k, v in body.items() if k not in _NOT_CONFIG}),
            host_config=MappingProxyType(dict(body.get("HostConfig") or {})),
            endpoints=_endpoints(body.get("NetworkingConfig") or {}),
        )


def _endpoints(networking: Mapping[str, Any]) -> AskedEndpoints:
    """EndpointsConfig, a null endpoint (which Go's decoder lets through) as an empty one."""
    raw = networking.get("EndpointsConfig") or {}
    return MappingProxyType({k: MappingProxyType(dict(v or {})) for k, v in raw.items()})

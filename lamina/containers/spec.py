"""`ContainerSpec`: what a `POST /containers/create` asks for, as one frozen value.

Not the OCI runtime spec (lamina.runtime.spec), which is built from a container when
it starts. The API edge checks a body's *types* against the v1.45 spec
(lamina/api/shapes.py) and decodes it here with `from_body`, with the query's name and
platform; the container service takes the result and nothing else.

`config` and `host_config` are the body's Config and HostConfig parts, which a container
stores as they came (merged with its image's), behind read-only views; what create
reads and branches on is typed: the name, the platform and the endpoints asked for are
fields, the image, the labels, the stop signal and the MAC address are read from
`config` (one copy of each value, so the two cannot disagree). Decoding checks
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

    name: str | None = None  # None: create generates one
    platform: str = ""  # `?platform=` as given ("os[/arch[/variant]]"); "": any
    config: Mapping[str, Any] = field(default_factory=_empty)  # every field but the two below
    host_config: Mapping[str, Any] = field(default_factory=_empty)
    endpoints: AskedEndpoints = field(default_factory=_empty)  # NetworkingConfig.EndpointsConfig

    @property
    def image(self) -> str:
        """As the client named it; "" when not given, which create refuses."""
        return str(self.config.get("Image") or "")

    @property
    def labels(self) -> Mapping[str, str]:
        return MappingProxyType(self.config.get("Labels") or {})

    @property
    def stop_signal(self) -> str:
        """As given, known to be a signal ("": the image's, else SIGTERM)."""
        return str(self.config.get("StopSignal") or "")

    @property
    def mac_address(self) -> str:
        """The container-wide MacAddress (deprecated since API 1.44)."""
        return str(self.config.get("MacAddress") or "")

    @classmethod
    def from_body(
        cls, body: Mapping[str, Any], *, name: str | None = None, platform: str = ""
    ) -> ContainerSpec:
        """The spec of a ContainerCreate body whose types the API checked. TooLarge
        for labels over the limits, InvalidArgument for a stop signal that is none."""
        body = copy.deepcopy(dict(body))
        check_labels(body.get("Labels"), "Labels")
        parse_signal(str(body.get("StopSignal") or ""))
        return cls(
            name=name,
            platform=platform,
            config=MappingProxyType({k: v for k, v in body.items() if k not in _NOT_CONFIG}),
            host_config=MappingProxyType(dict(body.get("HostConfig") or {})),
            endpoints=_endpoints(body.get("NetworkingConfig") or {}),
        )


def _endpoints(networking: Mapping[str, Any]) -> AskedEndpoints:
    """EndpointsConfig, a null endpoint (which Go's decoder lets through) as an empty one."""
    raw = networking.get("EndpointsConfig") or {}
    return MappingProxyType({k: MappingProxyType(dict(v or {})) for k, v in raw.items()})

"""Creating a container, in the order that keeps a refused create from changing anything.

0. The API decoded the request into a ContainerSpec (lamina.containers.spec), checking
   its labels and stop signal; the service checked its networks (lamina.networks).
1. `checked_request`: the spec alone, with its image: fields lamina refuses
   (options.py), the image and its platform, the restart and log settings, Docker's
   merge of the spec's Config over the image's config (create.py), every host option's
   value (hostopts.py). Nothing exists yet.
2. `new_container`: what needs the other containers (links, --volumes-from, a
   container:<name> PID mode) and the mounts, under the service's lock with a free name.
3. The service then leases the image's layers, makes the writable layer and records
   the container with its layer reference in one transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from lamina.containers import hostopts, linked
from lamina.containers.create import (
    check_platform,
    command_of,
    merge_config,
    parse_restart_policy,
)
from lamina.containers.model import Container
from lamina.containers.monitor.logs import config as logconfig
from lamina.containers.mounts import resolve_mounts
from lamina.containers.options import refuse_unhonoured
from lamina.containers.spec import ContainerSpec
from lamina.errors import InvalidArgument
from lamina.images.service import Image, ImageService
from lamina.timestamps import rfc3339
from lamina.volumes import VolumeService


@dataclass(frozen=True)
class CreateRequest:
    """A create spec, checked and merged with its image's config."""

    image_ref: str  # as the client named it
    image: Image
    config: dict[str, Any]
    host_config: dict[str, Any]
    argv: list[str]


def checked_request(spec: ContainerSpec, images: ImageService, *, runtime: str) -> CreateRequest:
    """Every check that needs no other container (InvalidArgument, or NotFound for the
    image); `runtime` is the daemon's, the only one HostConfig.Runtime may name."""
    refuse_unhonoured(spec)
    if not spec.image:
        raise InvalidArgument("config: image name must be given")
    image = images.get(spec.image)
    if spec.platform:
        check_platform(spec.platform, spec.image, image.config)
    host_config = dict(spec.host_config)
    host_config["RestartPolicy"] = parse_restart_policy(host_config)
    host_config["LogConfig"] = logconfig.normalize(host_config.get("LogConfig"))
    config = merge_config(spec.config, image.config.get("config") or {})
    config["Image"] = spec.image
    argv = command_of(config)
    hostopts.check(config, host_config, runtime=runtime)
    return CreateRequest(spec.image, image, config, host_config, argv)


def new_container(
    request: CreateRequest, *, cid: str, name: str, find: linked.Find, volumes: VolumeService
) -> Container:
    """The container `request` makes, with what it takes from the others (`find` looks
    them up) and its mounts (named volumes it names are made here)."""
    host_config = dict(request.host_config)
    linked.check_links(host_config, find)
    host_config["PidMode"] = linked.pid_mode(host_config, find)
    inherited = linked.inherited_mounts(host_config, find)
    mounts = resolve_mounts(request.config, host_config, volumes, inherited=inherited)
    return Container(
        id=cid,
        name=name,
        image=request.image_ref,
        image_id=request.image.id,
        created=rfc3339(time.time()),
        config=request.config,
        host_config=host_config,
        mounts=tuple(mounts),
        path=request.argv[0],
        args=tuple(request.argv[1:]),
    )

"""Images as the Docker Engine API shows them (ImageSummary, ImageInspect, HistoryResponseItem)."""

from __future__ import annotations

from typing import Any

from lamina.images.service import Image, ImageService
from lamina.timestamps import parse_rfc3339


def summary(images: ImageService, image: Image, *, with_shared: bool = False) -> dict[str, Any]:
    config = image.config.get("config") or {}
    return {
        "Id": image.id,
        "ParentId": image.row.parent or "",
        "RepoTags": [ref.familiar() for ref in image.tags],
        "RepoDigests": [ref.familiar() for ref in image.digests],
        "Created": int(image.row.created),
        "Size": image.row.size,
        "SharedSize": images.shared_size(image.id) if with_shared else -1,
        "VirtualSize": image.row.size,
        "Labels": config.get("Labels") or {},
        "Containers": images.containers_count(image.id) if with_shared else -1,
    }


def inspect(
    images: ImageService, image: Image, *, graph_driver: str, layer_dirs: list[str]
) -> dict[str, Any]:
    config = image.config
    return {
        "Id": image.id,
        "RepoTags": [ref.familiar() for ref in image.tags],
        "RepoDigests": [ref.familiar() for ref in image.digests],
        "Parent": image.row.parent or "",
        "Comment": _last_comment(config),
        "Created": config.get("created", ""),
        "DockerVersion": "",
        "Author": config.get("author", ""),
        "Config": _container_config(config.get("config") or {}),
        "Architecture": config.get("architecture", ""),
        "Variant": config.get("variant", ""),
        "Os": config.get("os", ""),
        "Size": image.row.size,
        "GraphDriver": {"Name": graph_driver, "Data": _graph_data(layer_dirs)},
        "RootFS": {"Type": "layers", "Layers": list(config["rootfs"]["diff_ids"])},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    }


def history(images: ImageService, image: Image) -> list[dict[str, Any]]:
    """One row per history entry, newest first; sizes from the layers they made."""
    layers = images.layer_rows(image.id)
    rows: list[dict[str, Any]] = []
    index = 0
    for entry in image.config.get("history") or []:
        size = 0
        if not entry.get("empty_layer") and index < len(layers):
            size = layers[index].size
            index += 1
        rows.append(
            {
                "Id": "<missing>",
                "Created": int(parse_rfc3339(entry["created"])) if entry.get("created") else 0,
                "CreatedBy": entry.get("created_by", ""),
                "Tags": None,
                "Size": size,
                "Comment": entry.get("comment", ""),
            }
        )
    rows.reverse()
    if rows:
        rows[0]["Id"] = image.id
        rows[0]["Tags"] = [ref.familiar() for ref in image.tags]
    return rows


def _container_config(config: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = {
        "Hostname": "",
        "Domainname": "",
        "User": "",
        "AttachStdin": False,
        "AttachStdout": False,
        "AttachStderr": False,
        "Tty": False,
        "OpenStdin": False,
        "StdinOnce": False,
        "Env": None,
        "Cmd": None,
        "Image": "",
        "Volumes": None,
        "WorkingDir": "",
        "Entrypoint": None,
        "OnBuild": None,
        "Labels": None,
    }
    base.update(config)
    return base


def _graph_data(layer_dirs: list[str]) -> dict[str, str]:
    if not layer_dirs:
        return {}
    return (
        {"UpperDir": layer_dirs[0], "LowerDir": ":".join(layer_dirs[1:])}
        if len(layer_dirs) > 1
        else {"UpperDir": layer_dirs[0]}
    )


def _last_comment(config: dict[str, Any]) -> str:
    history = config.get("history") or []
    return str(history[-1].get("comment", "")) if history else ""

"""`volume create`, `volume ls`, `volume inspect`, `volume rm`, `volume prune`."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping

from lamina.cli import conventions, options
from lamina.cli.client import Client
from lamina.cli.format import human_size, render, tabwrite
from lamina.cli.main import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs every command ~2.5 ms to import
    from typing import Any

# The headers docker's volume formatter gives each field, in `--format "table …"` too.
_HEADERS = {
    "Name": "VOLUME NAME",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "Mountpoint": "MOUNTPOINT",
    "Labels": "LABELS",
    "Links": "LINKS",
    "Size": "SIZE",
    "Group": "GROUP",
    "Availability": "AVAILABILITY",
    "Status": "STATUS",
}
_FIELD = re.compile(r"\{\{\s*\.(\w+)\s*\}\}")
_DEFAULT_TABLE = "table {{.Driver}}\t{{.Name}}"


def create(client: Client, args: argparse.Namespace) -> int:
    if args.name and args.name_flag and args.name != args.name_flag:
        raise UsageError(
            "conflicting options: either specify --name or provide positional arg, not both"
        )
    body = {
        "Name": args.name or args.name_flag or "",
        "Driver": args.driver,
        "DriverOpts": options.pairs(args.opt),
        "Labels": options.pairs(args.label),
    }
    print(client.call("POST", "/volumes/create", json_body=body)["Name"])
    return 0


def ls(client: Client, args: argparse.Namespace) -> int:
    reply = client.get_json("/volumes", filters=options.filters_query(args.filter))
    volumes = sorted(reply.get("Volumes") or [], key=lambda v: _natural(v["Name"]))
    if args.quiet:
        for volume in volumes:
            print(volume["Name"])
        return 0
    rows = [_row(volume) for volume in volumes]
    fmt = args.format or _DEFAULT_TABLE
    if not fmt.startswith("table"):
        for row in rows:
            # Go's encoder writes JSON without spaces; docker's `--format json` shows it so.
            print(json.dumps(row, separators=(",", ":")) if fmt == "json" else render(fmt, row))
        return 0
    template = fmt.removeprefix("table").strip().replace("\\t", "\t")
    header = _FIELD.sub(lambda m: _HEADERS.get(m.group(1), m.group(1).upper()), template)
    print(tabwrite([header, *(render(template, row) for row in rows)]))
    return 0


def inspect(client: Client, args: argparse.Namespace) -> int:
    return conventions.inspect_each(client, args.volumes, lambda n: f"/volumes/{n}", args.format)


def rm(client: Client, args: argparse.Namespace) -> int:
    query = {"force": "1"} if args.force else None
    return conventions.each(
        args.volumes, lambda n: client.request("DELETE", f"/volumes/{n}", query=query).close()
    )


def prune(client: Client, args: argparse.Namespace) -> int:
    which = "all" if args.all else "anonymous"
    warning = f"This will remove {which} local volumes not used by at least one container."
    if not args.force and not conventions.confirm(warning):
        return 0
    filters = options.filters(args.filter)
    if args.all:
        filters["all"] = ["true"]
    result = client.call("POST", "/volumes/prune", query={"filters": json.dumps(filters)})
    deleted = result.get("VolumesDeleted") or []
    if deleted:
        print("Deleted Volumes:")
        for name in deleted:
            print(name)
        print()
    print(f"Total reclaimed space: {human_size(result.get('SpaceReclaimed', 0))}")
    return 0


def _row(volume: Mapping[str, Any]) -> dict[str, str]:
    """The fields docker's volume formatter offers `--format`, in its JSON key order."""
    labels = volume.get("Labels") or {}
    return {
        "Availability": "N/A",
        "Driver": volume["Driver"],
        "Group": "N/A",
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "Links": "N/A",
        "Mountpoint": volume["Mountpoint"],
        "Name": volume["Name"],
        "Scope": volume.get("Scope", "local"),
        "Size": "N/A",
        "Status": "N/A",
    }


def _natural(name: str) -> list[Any]:
    # docker sorts volume names "naturally": vol2 before vol10.
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]

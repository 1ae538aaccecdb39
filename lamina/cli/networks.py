"""`network create/ls/inspect/rm/prune/connect/disconnect`, and `port`."""

from __future__ import annotations

import argparse
import json

from lamina.cli import conventions, options
from lamina.cli.client import Client
from lamina.cli.format import print_rows
from lamina.cli.main import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs every command ~2.5 ms to import
    from typing import Any

_COLUMNS = [("NETWORK ID", "ID"), ("NAME", "Name"), ("DRIVER", "Driver"), ("SCOPE", "Scope")]


def create(client: Client, args: argparse.Namespace) -> int:
    if len(args.subnet) > 1:
        raise UsageError("lamina networks take one IPv4 subnet (--subnet)")
    ipam: dict[str, Any] = {"Driver": "default", "Config": []}
    if args.subnet or args.gateway or args.ip_range:
        config = {"Subnet": args.subnet[0] if args.subnet else ""}
        if args.gateway:
            config["Gateway"] = args.gateway
        if args.ip_range:
            config["IPRange"] = args.ip_range
        ipam["Config"].append(config)
    body = {
        "Name": args.name,
        "Driver": args.driver,
        "Internal": args.internal,
        "IPAM": ipam,
        "Options": options.pairs(args.opt),
        "Labels": options.pairs(args.label),
    }
    print(client.call("POST", "/networks/create", json_body=body)["Id"])
    return 0


def ls(client: Client, args: argparse.Namespace) -> int:
    found = client.get_json("/networks", filters=options.filters_query(args.filter))
    found = sorted(found, key=lambda n: n["Name"])
    if args.quiet:
        for n in found:
            print(n["Id"] if args.no_trunc else n["Id"][:12])
        return 0
    rows = [_row(n, args.no_trunc) for n in found]
    print_rows(rows, fmt=args.format, columns=_COLUMNS)
    return 0


def inspect(client: Client, args: argparse.Namespace) -> int:
    return conventions.inspect_each(client, args.networks, lambda n: f"/networks/{n}", args.format)


def rm(client: Client, args: argparse.Namespace) -> int:
    return conventions.each(
        args.networks, lambda n: client.request("DELETE", f"/networks/{n}").close()
    )


def prune(client: Client, args: argparse.Namespace) -> int:
    warning = "This will remove all custom networks not used by at least one container."
    if not args.force and not conventions.confirm(warning):
        return 0
    filters = options.filters(args.filter)
    result = client.call("POST", "/networks/prune", query={"filters": json.dumps(filters)})
    deleted = result.get("NetworksDeleted") or []
    if deleted:
        print("Deleted Networks:")
        for name in deleted:
            print(name)
    return 0


def connect(client: Client, args: argparse.Namespace) -> int:
    endpoint: dict[str, Any] = {"Aliases": args.alias or None}
    if args.ip:
        endpoint["IPAMConfig"] = {"IPv4Address": args.ip}
    body = {"Container": args.container, "EndpointConfig": endpoint}
    client.request("POST", f"/networks/{args.network}/connect", json_body=body).close()
    return 0


def disconnect(client: Client, args: argparse.Namespace) -> int:
    body = {"Container": args.container, "Force": args.force}
    client.request("POST", f"/networks/{args.network}/disconnect", json_body=body).close()
    return 0


def port(client: Client, args: argparse.Namespace) -> int:
    """`port CONTAINER [PRIVATE_PORT[/PROTO]]`, as docker prints it."""
    info = client.get_json(f"/containers/{args.container}/json")
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    if args.private:
        number, _, proto = args.private.partition("/")
        key = f"{number}/{proto or 'tcp'}"
        bindings = ports.get(key)
        if not bindings:
            raise UsageError(f"No public port '{key}' published for {args.container}")
        for b in bindings:
            print(f"{b['HostIp']}:{b['HostPort']}")
        return 0
    for key in sorted(ports, key=lambda k: (int(k.split("/")[0]), k)):
        for b in ports[key] or []:
            print(f"{key} -> {b['HostIp']}:{b['HostPort']}")
    return 0


def _row(n: dict[str, Any], no_trunc: bool) -> dict[str, Any]:
    labels = n.get("Labels") or {}
    return {
        "ID": n["Id"] if no_trunc else n["Id"][:12],
        "Name": n["Name"],
        "Driver": n["Driver"],
        "Scope": n.get("Scope", "local"),
        "IPv6": str(n.get("EnableIPv6", False)).lower(),
        "Internal": str(n.get("Internal", False)).lower(),
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "CreatedAt": n.get("Created", ""),
    }

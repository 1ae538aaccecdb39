"""`network create/ls/inspect/rm/prune/connect/disconnect`, and `port`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from lamina.cli import options
from lamina.cli.client import Client, DaemonError
from lamina.cli.format import print_rows, render
from lamina.cli.main import UsageError

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
    reply = client.request("POST", "/networks/create", json_body=body)
    print(reply.json()["Id"])
    reply.close()
    return 0


def ls(client: Client, args: argparse.Namespace) -> int:
    filters = options.filters(args.filter)
    found = client.get_json("/networks", filters=json.dumps(filters) if filters else None)
    found = sorted(found, key=lambda n: n["Name"])
    if args.quiet:
        for n in found:
            print(n["Id"] if args.no_trunc else n["Id"][:12])
        return 0
    rows = [_row(n, args.no_trunc) for n in found]
    print_rows(rows, fmt=args.format, columns=_COLUMNS)
    return 0


def inspect(client: Client, args: argparse.Namespace) -> int:
    found: list[Any] = []
    status = 0
    for name in args.networks:
        try:
            found.append(client.get_json(f"/networks/{name}"))
        except DaemonError as err:
            print(f"Error response from daemon: {err}", file=sys.stderr)
            status = 1
    if args.format:
        for item in found:
            print(render(args.format, item))
    else:
        print(json.dumps(found, indent=4))
    return status


def rm(client: Client, args: argparse.Namespace) -> int:
    status = 0
    for name in args.networks:
        try:
            client.request("DELETE", f"/networks/{name}").close()
        except DaemonError as err:
            print(f"Error response from daemon: {err}", file=sys.stderr)
            status = 1
            continue
        print(name)
    return status


def prune(client: Client, args: argparse.Namespace) -> int:
    if not args.force:
        print(
            "WARNING! This will remove all custom networks not used by at least one container.\n"
            "Are you sure you want to continue? [y/N] ",
            end="",
            flush=True,
        )
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    filters = options.filters(args.filter)
    reply = client.request("POST", "/networks/prune", query={"filters": json.dumps(filters)})
    deleted = reply.json().get("NetworksDeleted") or []
    reply.close()
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

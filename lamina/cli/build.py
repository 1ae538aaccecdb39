"""`lamina build`: build an image from a folder on this host, read in place by the daemon.

Unlike `docker build`, nothing is streamed: the daemon runs on the same host, so the
CLI sends the folder's absolute path (`POST /lamina/build`) and the daemon reads it
where it is; its stat cache then makes rebuilding an unchanged context cheap.
Progress goes to stderr (as BuildKit's), the image ID of `-q` to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from lamina.cli.build_progress import render
from lamina.cli.client import Client, ConnectionLost, DaemonError
from lamina.cli.main import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs every command ~2.5 ms to import
    from typing import Any

EPOCH = "SOURCE_DATE_EPOCH"


def build(client: Client, args: argparse.Namespace) -> int:
    query = _query(args)
    try:
        reply = client.request("POST", "/lamina/build", query=query)
    except DaemonError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    mode = "quiet" if args.quiet else _mode(args.progress)
    try:
        outcome = render(reply.lines(), mode=mode, out=sys.stderr)
    except (ConnectionLost, ValueError):  # cut off, maybe mid-line: the daemon went away
        print("ERROR: the daemon closed the stream before the build finished", file=sys.stderr)
        return 1
    finally:
        reply.close()
    if outcome.error or not outcome.image_id:
        if not outcome.error:
            print("ERROR: the daemon closed the stream before the build finished", file=sys.stderr)
        return 1
    if args.iidfile:
        with open(args.iidfile, "w") as iidfile:
            iidfile.write(outcome.image_id)
    if args.quiet:
        print(outcome.image_id)
    return 0


def _query(args: argparse.Namespace) -> dict[str, Any]:
    if args.path == "-":
        raise UsageError("lamina build reads a folder; send a tar with `docker build -`")
    context = os.path.realpath(args.path)
    if not os.path.isdir(context):
        raise UsageError(f'unable to prepare context: path "{args.path}" not found')
    dockerfile = os.path.realpath(args.file or os.path.join(context, "Dockerfile"))
    if not os.path.isfile(dockerfile):
        raise UsageError(f"failed to read dockerfile: open {dockerfile}: no such file or directory")
    return {
        "context": context,
        "dockerfile": dockerfile,
        "t": args.tag or None,
        "buildargs": json.dumps(_build_args(args.build_arg)),
        "labels": json.dumps(_pairs(args.label, "--label")),
        "target": args.target or None,
        "nocache": int(args.no_cache),
        "nocachefilter": args.no_cache_filter or None,
        "pull": int(args.pull),
        "platform": args.platform or None,
        "networkmode": args.network or None,
        "explain": int(args.explain),
    }


def _build_args(given: list[str]) -> dict[str, str]:
    """`--build-arg K=V`, or `--build-arg K` taking K from the environment (Docker's
    rule: skipped when unset). SOURCE_DATE_EPOCH from the environment, as buildx."""
    out: dict[str, str] = {}
    for item in given:
        key, sep, value = item.partition("=")
        if sep:
            out[key] = value
        elif key in os.environ:
            out[key] = os.environ[key]
    if EPOCH not in out and os.environ.get(EPOCH):
        out[EPOCH] = os.environ[EPOCH]
    return out


def _pairs(given: list[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in given:
        key, _, value = item.partition("=")
        if not key:
            raise UsageError(f"invalid {flag} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def _mode(progress: str) -> str:
    if progress == "auto":
        return "tty" if sys.stderr.isatty() and os.environ.get("TERM") != "dumb" else "plain"
    if progress not in ("plain", "tty", "quiet"):
        raise UsageError(f"invalid --progress {progress!r}: auto, plain, tty or quiet")
    return progress

"""Container commands: run, create, start, stop, kill, restart, wait, rm, ps, logs, exec,
inspect, top, rename, cp, attach, container prune."""

from __future__ import annotations

import argparse
import contextlib  # loaded anyway: lamina.cli.attach uses it
import socket
import sys
import threading

from lamina.cli import attach as streams
from lamina.cli import conventions, options
from lamina.cli.client import Client, ConnectionLost, DaemonError, Reply
from lamina.cli.containers_args import create_body
from lamina.cli.format import ago, print_rows
from lamina.cli.main import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs every command ~2.5 ms to import
    from typing import Any


def run(client: Client, args: argparse.Namespace) -> int:
    body = create_body(args, attach=not args.detach)
    try:
        cid = _create(client, body, args.name)
    except DaemonError as err:  # as docker: a container that could not be made is a 125
        print(f"Error response from daemon: {err}", file=sys.stderr)
        return 125
    if args.detach:
        _start(client, cid)
        print(cid)
        return 0
    reply = streams.hijack(
        client,
        f"/containers/{cid}/attach",
        query={"stream": 1, "stdout": 1, "stderr": 1, "stdin": int(args.interactive)},
    )
    try:
        waiter = _Waiter(client, cid, "removed" if args.rm else "next-exit")
    except DaemonError as err:
        reply.close()
        print(f"Error response from daemon: {err}", file=sys.stderr)
        return 125
    try:
        _start(client, cid)
    except DaemonError as err:
        reply.close()
        waiter.cancel()
        return _start_failed(err)
    streams.pump(
        reply,
        tty=args.tty,
        stdin=args.interactive,
        resize=lambda h, w: _resize(client, f"/containers/{cid}/resize", h, w),
    )
    reply.close()
    return waiter.result()


def create(client: Client, args: argparse.Namespace) -> int:
    print(_create(client, create_body(args, attach=False), args.name))
    return 0


def _create(client: Client, body: dict[str, Any], name: str | None) -> str:
    result = client.call("POST", "/containers/create", query={"name": name}, json_body=body)
    for warning in result.get("Warnings") or []:
        print(f"WARNING: {warning}", file=sys.stderr)
    return str(result["Id"])


def _start(client: Client, cid: str) -> None:
    client.request("POST", f"/containers/{cid}/start").close()


def _start_failed(err: DaemonError) -> int:
    message = str(err)
    print(f"lamina: Error response from daemon: {message}", file=sys.stderr)
    if "executable file not found" in message or "no such file or directory" in message:
        return 127
    if "permission denied" in message or "is a directory" in message:
        return 126
    return 125


def _resize(client: Client, path: str, height: int, width: int) -> None:
    client.request("POST", path, query={"h": height, "w": width}).close()


class _Waiter:
    """Docker's wait, for `run`, `start -a` and `attach`. The daemon registers a wait
    before it answers the head, and that fixes the exit it waits for; so the head is read
    here, before the caller starts the container or sends it input, and no exit can come
    too early to be seen. The body, the exit code, is read on a thread meanwhile."""

    def __init__(self, client: Client, ref: str, condition: str) -> None:
        self.code = 125
        self._error = ""
        self._reply = client.request(
            "POST", f"/containers/{ref}/wait", query={"condition": condition}
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            answer = self._reply.json()
            self.code = int(answer["StatusCode"])
            self._error = str((answer.get("Error") or {}).get("Message") or "")
        except ConnectionLost as err:
            self._error = str(err)
        except (ValueError, TypeError, KeyError, AttributeError):
            self._error = "the daemon's answer to the wait is not Docker's"
        finally:
            self._reply.close()

    def cancel(self) -> None:
        """Give up the wait (its container will not run): the daemon lets it go."""
        # shutdown, not close, wakes the thread blocked reading the answer; OSError: it
        # had its answer and closed the connection already.
        with contextlib.suppress(OSError):
            self._reply.sock.shutdown(socket.SHUT_RDWR)

    def result(self) -> int:
        """The exit code (125 when the wait failed, as docker's)."""
        self._thread.join()
        if self._error:
            print(f"Error waiting for container: {self._error}", file=sys.stderr)
            return 125
        return self.code


def start(client: Client, args: argparse.Namespace) -> int:
    if args.attach and len(args.containers) == 1:
        cid = args.containers[0]
        info = client.get_json(f"/containers/{cid}/json")
        reply = streams.hijack(
            client,
            f"/containers/{cid}/attach",
            query={"stream": 1, "stdout": 1, "stderr": 1, "stdin": int(args.interactive)},
        )
        # As docker: a --rm container's exit code is known once it is gone.
        condition = "removed" if info["HostConfig"].get("AutoRemove") else "next-exit"
        waiter = _Waiter(client, info["Id"], condition)
        _start(client, cid)
        streams.pump(
            reply, tty=bool(info["Config"].get("Tty")), stdin=args.interactive, resize=None
        )
        return waiter.result()
    return conventions.each(args.containers, lambda c: _start(client, c))


def stop(client: Client, args: argparse.Namespace) -> int:
    query = {"t": args.time, "signal": args.signal}
    return conventions.each(
        args.containers,
        lambda c: client.request("POST", f"/containers/{c}/stop", query=query).close(),
    )


def restart(client: Client, args: argparse.Namespace) -> int:
    return conventions.each(
        args.containers,
        lambda c: client.request(
            "POST", f"/containers/{c}/restart", query={"t": args.time}
        ).close(),
    )


def kill(client: Client, args: argparse.Namespace) -> int:
    return conventions.each(
        args.containers,
        lambda c: client.request(
            "POST", f"/containers/{c}/kill", query={"signal": args.signal}
        ).close(),
    )


def wait(client: Client, args: argparse.Namespace) -> int:
    return conventions.each(
        args.containers,
        lambda c: print(client.call("POST", f"/containers/{c}/wait")["StatusCode"]),
        echo=False,
    )


def rm(client: Client, args: argparse.Namespace) -> int:
    query = {"force": int(args.force), "v": int(args.volumes)}
    return conventions.each(
        args.containers, lambda c: client.request("DELETE", f"/containers/{c}", query=query).close()
    )


def ps(client: Client, args: argparse.Namespace) -> int:
    found = client.get_json(
        "/containers/json",
        all=int(args.all or bool(args.last)),
        filters=options.filters_query(args.filter),
        limit=args.last or None,
    )
    if args.quiet:
        for c in found:
            print(c["Id"] if args.no_trunc else c["Id"][:12])
        return 0
    rows = [_ps_row(c, args.no_trunc) for c in found]
    print_rows(
        rows,
        fmt=args.format,
        columns=[
            ("CONTAINER ID", "ID"),
            ("IMAGE", "Image"),
            ("COMMAND", "Command"),
            ("CREATED", "RunningFor"),
            ("STATUS", "Status"),
            ("PORTS", "Ports"),
            ("NAMES", "Names"),
        ],
    )
    return 0


def _ps_row(c: dict[str, Any], no_trunc: bool) -> dict[str, Any]:
    command = c["Command"] if no_trunc or len(c["Command"]) <= 20 else c["Command"][:19] + "…"
    return {
        "ID": c["Id"] if no_trunc else c["Id"][:12],
        "Image": c["Image"],
        "Command": f'"{command}"',
        "RunningFor": ago(c["Created"]),
        "CreatedAt": c["Created"],
        "Status": c["Status"],
        "State": c["State"],
        "Ports": _ports(c.get("Ports") or []),
        "Names": ",".join(n.lstrip("/") for n in c["Names"]),
        "Labels": ",".join(f"{k}={v}" for k, v in (c.get("Labels") or {}).items()),
        "Mounts": ",".join(m.get("Name") or m["Source"] for m in c.get("Mounts") or []),
    }


def _ports(ports: list[dict[str, Any]]) -> str:
    out = []
    for p in ports:
        if p.get("PublicPort"):
            out.append(
                f"{p.get('IP', '0.0.0.0')}:{p['PublicPort']}->{p['PrivatePort']}/{p['Type']}"
            )
        else:
            out.append(f"{p['PrivatePort']}/{p['Type']}")
    return ", ".join(out)


def logs(client: Client, args: argparse.Namespace) -> int:
    info = client.get_json(f"/containers/{args.container}/json")
    reply = client.request(
        "GET",
        f"/containers/{args.container}/logs",
        query={
            "stdout": 1,
            "stderr": 1,
            "follow": int(args.follow),
            "tail": args.tail,
            "since": args.since,
            "until": args.until,
            "timestamps": int(args.timestamps),
        },
    )
    try:
        if info["Config"].get("Tty"):
            for chunk in reply.chunks():
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
        else:
            _print_frames(reply)
    finally:
        reply.close()
    return 0


def _print_frames(reply: Any) -> None:
    from lamina.containers.monitor.stdio import decode_frames

    pending = b""
    outs = {1: sys.stdout.buffer, 2: sys.stderr.buffer}
    for chunk in reply.chunks():
        frames, pending = decode_frames(pending + chunk)
        for frame in frames:
            out = outs.get(frame.stream, sys.stderr.buffer)
            out.write(frame.payload)
            out.flush()


def exec_(client: Client, args: argparse.Namespace) -> int:
    body = {
        "AttachStdin": args.interactive,
        "AttachStdout": not args.detach,
        "AttachStderr": not args.detach,
        "Tty": args.tty,
        "Cmd": args.command,
        "Env": args.env,
        "WorkingDir": args.workdir or "",
        "User": args.user or "",
        "Privileged": args.privileged,
    }
    if args.tty:
        body["ConsoleSize"] = streams.terminal_size()
    exec_id = client.call("POST", f"/containers/{args.container}/exec", json_body=body)["Id"]
    if args.detach:
        client.request("POST", f"/exec/{exec_id}/start", json_body={"Detach": True}).close()
        return 0
    stream = streams.hijack(
        client, f"/exec/{exec_id}/start", json_body={"Detach": False, "Tty": args.tty}
    )
    streams.pump(
        stream,
        tty=args.tty,
        stdin=args.interactive,
        resize=lambda h, w: _resize(client, f"/exec/{exec_id}/resize", h, w),
    )
    stream.close()
    code = client.get_json(f"/exec/{exec_id}/json").get("ExitCode")
    return int(code) if code is not None else 0


def inspect(client: Client, args: argparse.Namespace) -> int:
    """`inspect` of containers or images (Docker tries containers first)."""
    found: list[Any] = []
    status = 0
    kinds = {"container": ["containers"], "image": ["images"]}.get(
        getattr(args, "type", None) or "", ["containers", "images"]
    )
    for name in args.objects:
        item = _inspect_one(client, name, kinds)
        if item is None:
            print(f"Error: No such object: {name}", file=sys.stderr)
            status = 1
        else:
            found.append(item)
    conventions.print_objects(found, args.format)
    return status


def _inspect_one(client: Client, name: str, kinds: list[str]) -> Any:
    for kind in kinds:
        try:
            return client.get_json(f"/{kind}/{name}/json")
        except DaemonError as err:
            if err.status != 404:
                raise
    return None


def top(client: Client, args: argparse.Namespace) -> int:
    from lamina.cli.format import tabwrite

    result = client.get_json(
        f"/containers/{args.container}/top", ps_args=" ".join(args.ps_args) or None
    )
    print(tabwrite(["\t".join(result["Titles"])] + ["\t".join(row) for row in result["Processes"]]))
    return 0


def rename(client: Client, args: argparse.Namespace) -> int:
    client.request(
        "POST", f"/containers/{args.container}/rename", query={"name": args.new_name}
    ).close()
    return 0


def prune(client: Client, args: argparse.Namespace) -> int:
    if not args.force and not conventions.confirm("This will remove all stopped containers."):
        return 0
    query = {"filters": options.filters_query(args.filter)}
    result = client.call("POST", "/containers/prune", query=query)
    deleted = result.get("ContainersDeleted") or []
    if deleted:
        print("Deleted Containers:\n" + "\n".join(deleted) + "\n")
    print("Total reclaimed space: 0B")
    return 0


def attach(client: Client, args: argparse.Namespace) -> int:
    """As docker attach: the wait first (it ends at once if the container stops before
    it is registered), then the attach to the container, which must be running."""
    waiter = _Waiter(client, args.container, "not-running")
    try:
        info, reply = _attach_running(client, args.container, no_stdin=args.no_stdin)
    except BaseException:
        waiter.cancel()
        raise
    streams.pump(
        reply,
        tty=bool(info["Config"].get("Tty")),
        stdin=_attaches_stdin(info, no_stdin=args.no_stdin),
        resize=lambda h, w: _resize(client, f"/containers/{args.container}/resize", h, w),
    )
    return waiter.result()


def _attach_running(client: Client, ref: str, *, no_stdin: bool) -> tuple[Any, Reply]:
    """Its inspect and the attach stream. A container that is not running is refused,
    before and after attaching: one that stopped in between would keep the attach
    waiting for its next start."""
    info = _running(client, ref)
    stdin = _attaches_stdin(info, no_stdin=no_stdin)
    reply = streams.hijack(
        client,
        f"/containers/{ref}/attach",
        query={"stream": 1, "stdout": 1, "stderr": 1, "stdin": int(stdin)},
    )
    try:
        _running(client, ref)
    except BaseException:
        reply.close()
        raise
    return info, reply


def _attaches_stdin(info: Any, *, no_stdin: bool) -> bool:
    return not no_stdin and bool(info["Config"].get("OpenStdin"))


def _running(client: Client, ref: str) -> Any:
    """The container's inspect; UsageError, as docker's words, if it is not running."""
    info = client.get_json(f"/containers/{ref}/json")
    state = info["State"]
    if state.get("Paused"):
        raise UsageError("You cannot attach to a paused container, unpause it first")
    if state.get("Restarting"):
        raise UsageError("You cannot attach to a restarting container, wait until it is running")
    if not state.get("Running"):
        raise UsageError("You cannot attach to a stopped container, start it first")
    return info


def cp(client: Client, args: argparse.Namespace) -> int:
    from lamina.cli.copy import copy

    return copy(client, args.source, args.dest)

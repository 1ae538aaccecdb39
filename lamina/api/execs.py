"""`/containers/{id}/exec` and `/exec/*`: create, start (detached or attached), inspect,
resize. An attached start hijacks the connection and joins it to the exec's monitor
(lamina.api.streams), as attach does."""

from __future__ import annotations

from typing import Any

from lamina.api import query
from lamina.api.container_logs import MULTIPLEXED, RAW
from lamina.api.containers import ResizeQuery
from lamina.api.http import HIJACKED, Request, Response
from lamina.api.router import Router
from lamina.api.shapes import check_body
from lamina.api.streams import splice
from lamina.containers.monitor import client as monitor
from lamina.containers.service import start_waiting
from lamina.containers.stdio import AttachRequest
from lamina.engine import Engine


def register(router: Router, engine: Engine) -> None:
    execs = engine.execs

    @router.route("POST", "/containers/{ref}/exec")
    def exec_create(req: Request, ref: str) -> Response:
        ex = execs.create(ref, check_body(req.json(), "ExecConfig"))
        return Response.json({"Id": ex.id}, 201)

    @router.route("POST", "/exec/{exec_id}/start")
    def exec_start(req: Request, exec_id: str) -> Response:
        body = check_body(req.json(), "ExecStartConfig")
        ex = execs.get(exec_id)
        tty = bool(ex.config.get("Tty") if body.get("Tty") is None else body["Tty"])
        if body.get("Detach"):
            execs.start(exec_id, attached=False, tty=tty)
            return Response(200)
        req.claim_stream()
        execs.start(exec_id, attached=True, tty=tty)
        files = execs.files(ex)
        request = AttachRequest(stdin=bool(ex.config.get("AttachStdin")), stdout=True, stderr=True)
        upstream = monitor.attach(files, request)
        client = req.hijack(RAW if tty else MULTIPLEXED)
        start_waiting(execs.containers.runner.monitors, files)
        splice(client, upstream, stdin=request.stdin)
        return HIJACKED

    @router.route("GET", "/exec/{exec_id}/json")
    def exec_inspect(req: Request, exec_id: str) -> Any:
        return execs.inspect(exec_id)

    @router.route("POST", "/exec/{exec_id}/resize")
    def exec_resize(req: Request, exec_id: str) -> Response:
        q = query.decode(req, ResizeQuery)
        ex = execs.get(exec_id)
        if ex.started and not ex.done.is_set():
            monitor.control(execs.files(ex), "resize", height=q.h, width=q.w)
        return Response(200)

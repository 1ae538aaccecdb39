"""Exec instances as the Docker Engine API shows them (ExecInspectResponse)."""

from __future__ import annotations

from typing import Any

from lamina.containers.execs import Exec


def inspect(ex: Exec) -> dict[str, Any]:
    running = ex.started and not ex.done.is_set()
    cfg = ex.config
    return {
        "ID": ex.id,
        "ContainerID": ex.container_id,
        "Running": running,
        "ExitCode": ex.exit_code,
        "Pid": ex.pid if running else 0,
        "OpenStdin": bool(cfg.get("AttachStdin")),
        "OpenStdout": bool(cfg.get("AttachStdout")),
        "OpenStderr": bool(cfg.get("AttachStderr")),
        "CanRemove": False,
        "DetachKeys": "",
        "ProcessConfig": {
            "tty": bool(cfg.get("Tty")),
            "entrypoint": cfg["Cmd"][0],
            "arguments": cfg["Cmd"][1:],
            "privileged": bool(cfg.get("Privileged")),
            "user": cfg.get("User") or "",
        },
    }

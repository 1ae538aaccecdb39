"""`lamina daemon`: serve the Docker Engine API for one Engine on its unix socket."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from types import FrameType

from lamina import private
from lamina.api import build, containers, images, networks, system, volumes
from lamina.api.http import Server
from lamina.api.router import Router
from lamina.config import Paths
from lamina.engine import API_VERSION, VERSION, Engine
from lamina.errors import Conflict
from lamina.process import alive


def log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    print(f"{stamp} {message}", file=sys.stderr, flush=True)


def build_router(engine: Engine) -> Router:
    router = Router(max_version=API_VERSION, log=log)
    system.register(router, engine)
    images.register(router, engine)
    volumes.register(router, engine)
    networks.register(router, engine)
    containers.register(router, engine)
    build.register(router, engine)
    return router


def serve(paths: Paths, *, ready: threading.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT; refuses to start beside a live daemon on the same root."""
    private.normal_umask()
    # Claim the root before Engine() sweeps temp files: they may be a live daemon's.
    paths.run_dir.mkdir(parents=True, exist_ok=True)
    _claim_pid_file(paths)
    with contextlib.suppress(FileNotFoundError):  # the autostart's log, by an older lamina
        os.chmod(paths.log_file, private.PRIVATE_FILE)
    engine = Engine(paths, log=log)
    engine.restore()
    sock = paths.socket
    sock.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        sock.unlink()
    headers = {
        "Api-Version": API_VERSION,
        "Docker-Experimental": "false",
        "Ostype": "linux",
        "Server": f"lamina/{VERSION} (linux)",
    }
    server = Server(str(sock), build_router(engine).dispatch, common_headers=headers, log=log)
    os.chmod(sock, 0o660)
    _stop_on_signals(server)
    log(f"lamina {VERSION} serving {paths.host} (root {paths.root}, driver {engine.driver.name})")
    if ready:
        ready.set()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        with contextlib.suppress(FileNotFoundError):
            sock.unlink()
        with contextlib.suppress(FileNotFoundError):
            paths.pid_file.unlink()
        engine.close()
        log("lamina daemon stopped")


def _claim_pid_file(paths: Paths) -> None:
    pid_file = paths.pid_file
    with contextlib.suppress(FileNotFoundError, ValueError):
        other = int(pid_file.read_text().strip())
        if other != os.getpid() and alive(other):
            raise Conflict(f"a lamina daemon (pid {other}) already serves {paths.root}")
    pid_file.write_text(f"{os.getpid()}\n")


def _stop_on_signals(server: Server) -> None:
    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever to return, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

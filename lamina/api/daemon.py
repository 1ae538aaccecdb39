"""`lamina daemon`: serve the Docker Engine API for one Engine on its unix socket."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from types import FrameType

from lamina import private, rootlock
from lamina.api import (
    archive,
    attach,
    build,
    container_logs,
    containers,
    execs,
    images,
    limits,
    networks,
    system,
    volumes,
    workers,
)
from lamina.api.http import Server
from lamina.api.router import Router
from lamina.config import Paths
from lamina.engine import API_VERSION, VERSION, Engine
from lamina.runtime.runc import oci_runtime


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
    container_logs.register(router, engine)
    attach.register(router, engine)
    execs.register(router, engine)
    archive.register(router, engine)
    build.register(router, engine)
    return router


def serve(paths: Paths, *, ready: threading.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT. Refuses to start (Conflict) while another daemon holds
    the root's lock; holds it until the end, whatever the end."""
    private.normal_umask()
    descriptors = limits.raise_nofile()  # before anything opens: dockerd runs without a cap
    # Lock the root before Engine() sweeps temp files, ingests and devices: they may be
    # a live daemon's.
    lock = rootlock.claim(paths)
    try:
        _serve_locked(paths, ready, _limits(descriptors))
    finally:
        lock.release()


def _limits(descriptors: int) -> limits.Limits:
    """What the descriptors allow; LAMINA_MAX_STREAMS lowers the stream limit (tests
    use it to fill every slot with a few clients)."""
    wanted = os.environ.get("LAMINA_MAX_STREAMS", "")
    streams = int(wanted) if wanted.isdigit() and int(wanted) > 0 else workers.MAX_STREAMS
    return limits.Limits.for_descriptors(descriptors, streams=streams)


def _serve_locked(paths: Paths, ready: threading.Event | None, bounds: limits.Limits) -> None:
    with contextlib.suppress(FileNotFoundError):  # the autostart's log, by an older lamina
        os.chmod(paths.log_file, private.PRIVATE_FILE)
    runtime = oci_runtime(os.environ.get("LAMINA_RUNTIME") or "runc", root=paths.run_dir / "runc")
    engine = Engine(paths, runtime=runtime, log=log)
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
    dispatch = build_router(engine).dispatch
    server = Server(str(sock), dispatch, common_headers=headers, log=log, limits=bounds)
    os.chmod(sock, 0o660)
    _stop_on_signals(server)
    log(
        f"lamina {VERSION} serving {paths.host} (root {paths.root}, driver "
        f"{engine.driver.name}; at most {bounds.streams} streams, {bounds.requests} requests)"
    )
    if ready:
        ready.set()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        with contextlib.suppress(FileNotFoundError):
            sock.unlink()
        engine.close()
        log("lamina daemon stopped")


def _stop_on_signals(server: Server) -> None:
    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever to return, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

"""The API's real HTTP server in a unit test: no engine, no root.

`serving_containers` serves lamina.api.containers' routes over a stand-in for the
engine's container service, on a unix socket in a folder of its own, from a thread, and
removes it all after. (test_api_server.py keeps its own: its routes write into the
socket's folder.)
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from lamina.api import containers
from lamina.api.http import Server
from lamina.api.limits import Limits, nofile
from lamina.api.router import Router


@contextlib.contextmanager
def serving_containers(service: object, *, streams: int) -> Iterator[str]:
    """The socket's path of a server whose `/containers/*` handlers call `service`."""
    router = Router(max_version="1.45", log=lambda _m: None)
    containers.register(router, cast(Any, SimpleNamespace(containers=service)))
    limits = Limits.for_descriptors(nofile(), streams=streams)
    folder = Path(tempfile.mkdtemp(prefix="lam-api-", dir="/tmp"))
    path = str(folder / "api.sock")
    srv = Server(path, router.dispatch, common_headers={}, log=lambda _m: None, limits=limits)
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield path
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)
        shutil.rmtree(folder)

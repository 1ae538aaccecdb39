"""A bounded property-based test over the v1.45 spec: no implemented endpoint answers 5xx.

For every operation of the spec that lamina routes, hypothesis draws path parameters
from a pool of real and missing objects, query parameters of the spec's types or any
text, and bodies mostly of the spec's schema with wrong types mixed in (or junk bytes),
then sends the request to a daemon. Any 5xx fails, and so does a traceback in the
daemon's log (the `daemon` fixture's check). Operations lamina does not implement
answer 404 and are not drawn. Destructive operations (DELETE, prune) run last, so the
pool's objects serve the others first.

Deep enough: a share of the create bodies are of the right shape with values a
container starts with (tests/support/create_bodies.py), so creates succeed, and the
startable test starts what it creates; floors on both say so.

Bounded: FUZZ_EXAMPLES examples an operation, derandomized (the same requests each run,
so CI does not discover a new case at random); LAMINA_FUZZ_EXAMPLES=200
LAMINA_FUZZ_RANDOM=1 explores further by hand. Whatever the count, the module stops
drawing when its wall-clock budget (BUDGET, 180 s, as issue 9 asks) is near, each
operation getting an equal share of what is left. Host safety: no network is made with
a subnet of the fuzzer's choosing (lamina picks from its own pool), stop/restart never
get a long grace time (the regression tests cover huge ones), and what is started is
confined as create_bodies.py says.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any
from unittest import mock
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from lamina.api.daemon import build_router
from tests.conftest import Daemon, needs_root
from tests.support.create_bodies import create_bodies
from tests.support.rawhttp import Answer, request, send
from tests.support.spec_shapes import load_spec
from tests.support.spec_strategies import TEXT, Schemas, query_value
from tests.support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.root, pytest.mark.slow, needs_root()]

FUZZ_EXAMPLES = int(os.environ.get("LAMINA_FUZZ_EXAMPLES", "100"))
BUDGET = 180.0  # seconds for the whole module, whatever FUZZ_EXAMPLES is
# What each test may spend drawing (the rest is set-up, teardown and slack).
_SPEC_SHARE, _STARTABLE_SHARE = 100.0, 50.0
# Operations whose answer may rightly never end (a stream), or take a while.
_LONG = {"/containers/{id}/wait", "/containers/{id}/logs", "/containers/{id}/attach"}
_OVERRIDES: dict[tuple[str, str], st.SearchStrategy[str | None]] = {
    ("/containers/{id}/stop", "t"): st.sampled_from([None, "", "abc", "1.5", "-1", "0", "1"]),
    ("/containers/{id}/restart", "t"): st.sampled_from([None, "abc", "99999999999999999999"]),
    # A stopped (SIGSTOP) container would never end on SIGTERM; those are left out.
    ("/containers/{id}/kill", "signal"): st.sampled_from(
        [None, "", "SIGFOO", "0", "65", "RTMIN+99", "SIGUSR1", "HUP", "9x"]
    ),
}


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    spec = load_spec()
    router = build_router(mock.MagicMock())
    found = []
    for path, ops in spec["paths"].items():
        sample = re.sub(r"\{[^}]+\}", "x", path)
        for method, op in ops.items():
            if method == "parameters":
                continue
            routes = router._routes  # the stand-in engine is never called
            if any(m == method.upper() and p.match(sample) for m, p, _ in routes):
                found.append((method.upper(), path, op))
    destructive = ("DELETE", "prune")
    return sorted(found, key=lambda o: o[0] == "DELETE" or destructive[1] in o[1])


def _pool(daemon: Daemon, busybox: str) -> dict[str, list[str]]:
    """Objects to aim at: real ones, and names that do not exist."""
    script = "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done"
    target = daemon.lamina("run", "-d", busybox, "sh", "-c", script).stdout.strip()
    wait_for(lambda: "ready" in daemon.lamina("logs", target).stdout, what="the target's ready")
    volume = daemon.lamina("volume", "create", "fuzzvol").stdout.strip()
    network = daemon.lamina("network", "create", "fuzznet").stdout.strip()
    sock = str(daemon.paths.socket)
    exec_id = _send(sock, "POST", f"/containers/{target}/exec", b'{"Cmd": ["true"]}').json()["Id"]
    return {
        "containers": [target, "nosuch", "a%00b"],
        "exec": [exec_id, "nosuch", "%ff"],
        "images": [busybox, "busybox:latest", "nosuch:latest", "sha256:0", "a%00b"],
        "volumes": [volume, "nosuch", "a%00b", "..", "a%2Fb"],
        "networks": [network, "bridge", "nosuch", "a%00b"],
    }


def _send(sock: str, method: str, target: str, body: bytes | None = None) -> Answer:
    head = f"{method} {target} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n"
    if body is not None:
        head += f"Content-Length: {len(body)}\r\n"
    return send(sock, (head + "\r\n").encode() + (body or b""), timeout=20, head_only=True)


class _Requests:
    """Draws the requests of one operation."""

    def __init__(self, schemas: Schemas, pool: dict[str, list[str]], path: str, op: Any) -> None:
        self.schemas = schemas
        self.pool = pool
        self.path = path
        self.params = op.get("parameters", [])

    def strategy(self) -> st.SearchStrategy[tuple[str, bytes | None]]:
        fuzzed = st.tuples(self._target(), self._body())
        if self.path != "/containers/create":
            return fuzzed
        # Half the creates are of the right shape, most with values a container starts
        # with: they get past the edge into the domain, where the deep checks are.
        aimed = create_bodies(self.pool["images"][0]).map(lambda v: json.dumps(v).encode())
        return st.one_of(fuzzed, st.tuples(st.just("/v1.45/containers/create"), aimed))

    def _target(self) -> st.SearchStrategy[str]:
        kind = self.path.split("/")[1]
        kind = {"exec": "exec"}.get(kind, kind)
        ids = st.sampled_from(self.pool.get(kind, ["nosuch"]))
        query = st.fixed_dictionaries(
            {
                p["name"]: _OVERRIDES.get((self.path, p["name"]), query_value(p))
                for p in self.params
                if p["in"] == "query"
            }
        )

        def build(ref: str, values: dict[str, str | None]) -> str:
            path = re.sub(r"\{[^}]+\}", quote(ref, safe="%:"), self.path)
            given = {k: v for k, v in values.items() if v is not None}
            return f"/v1.45{path}?{urlencode(given, doseq=False)}" if given else f"/v1.45{path}"

        return st.builds(build, ids, query)

    def _body(self) -> st.SearchStrategy[bytes | None]:
        body = [p for p in self.params if p["in"] == "body"]
        if not body:
            return st.none()
        schema = body[0]["schema"]
        if self.schemas.resolve(schema).get("type") == "string":  # a tar
            return st.one_of(st.none(), st.binary(max_size=600))
        values = self.schemas.value(schema).map(self._aimed)
        return st.one_of(
            values.map(lambda v: json.dumps(v).encode()),
            st.binary(max_size=40),
            TEXT.map(str.encode),
        )

    def _aimed(self, value: Any) -> Any:
        """Point some bodies at real objects, and keep the fuzzer's subnets off the host."""
        if not isinstance(value, dict):
            return value
        if self.path == "/containers/create" and "Image" in value:
            value["Image"] = self.pool["images"][0]
        if "Container" in value:
            value["Container"] = self.pool["containers"][0]
        if self.path == "/networks/create":
            value.pop("IPAM", None) if _names_addresses(value.get("IPAM")) else None
        return value


def _names_addresses(value: Any) -> bool:
    """Whether `value` holds anything that parses as an IP address or network."""
    if isinstance(value, dict):
        return any(_names_addresses(v) for v in value.values())
    if isinstance(value, list):
        return any(_names_addresses(v) for v in value)
    if isinstance(value, str):
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            return False
        return True
    return False


class _OutOfTime(BaseException):
    """Raised inside a hypothesis test to stop drawing: hypothesis lets BaseExceptions
    through at once, without replaying or reporting an example."""


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        derandomize=not os.environ.get("LAMINA_FUZZ_RANDOM"),
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: bounded time
        suppress_health_check=list(HealthCheck),
    )


def _drawing_until(until: float, check: Any) -> None:
    """Run hypothesis' `check` until its examples are drawn or `until` is passed."""
    with contextlib.suppress(_OutOfTime):
        check()


def _run(
    sock: str, method: str, path: str, requests: _Requests, *, until: float, seen: Counter[int]
) -> None:
    @_settings(FUZZ_EXAMPLES)
    @given(requests.strategy())
    def check(request: tuple[str, bytes | None]) -> None:
        if time.monotonic() > until:
            raise _OutOfTime
        target, body = request
        try:
            answer = _send(sock, method, target, body)
        except TimeoutError:
            assert path in _LONG, f"{method} {target} {body!r:.300}: no answer in 20 s"
            return
        seen[answer.status] += 1
        assert answer.status < 500, f"{method} {target} {body!r:.300}: {answer.message}"

    _drawing_until(until, check)


@pytest.fixture(scope="module")
def module_start() -> Iterator[float]:
    start = time.monotonic()
    yield start
    assert time.monotonic() - start < BUDGET, "the property-based tests ran past their budget"


def test_no_implemented_endpoint_answers_5xx(
    daemon: Daemon, busybox: str, module_start: float
) -> None:
    spec = load_spec()
    schemas = Schemas(spec)
    pool = _pool(daemon, busybox)
    sock = str(daemon.paths.socket)
    operations = _operations()
    assert len(operations) > 40, "the router no longer matches the spec's paths"
    end = min(time.monotonic() + _SPEC_SHARE, module_start + BUDGET - _STARTABLE_SHARE - 20)
    statuses: dict[str, Counter[int]] = {}
    try:
        for i, (method, path, op) in enumerate(operations):
            share = (end - time.monotonic()) / (len(operations) - i)  # of what is left
            seen = statuses.setdefault(f"{method} {path}", Counter())
            requests = _Requests(schemas, pool, path, op)
            _run(sock, method, path, requests, until=time.monotonic() + share, seen=seen)
    finally:
        _send(sock, "POST", "/v1.45/networks/prune")
    created = statuses["POST /containers/create"][201]
    assert created >= 10, f"only {created} creates got through: {statuses}"
    assert time.monotonic() - module_start < BUDGET


def test_a_created_container_starts_or_is_refused(
    daemon: Daemon, busybox: str, module_start: float
) -> None:
    """Right types, values mostly a container starts with and some odd ones: create and
    start answer 2xx/4xx, never 5xx, and most bodies really create and start."""
    sock = str(daemon.paths.socket)
    until = min(time.monotonic() + _STARTABLE_SHARE, module_start + BUDGET - 15)
    seen: Counter[str] = Counter()

    @_settings(max(FUZZ_EXAMPLES // 2, 10))
    @given(create_bodies(busybox))
    def check(body: dict[str, Any]) -> None:
        if time.monotonic() > until:
            raise _OutOfTime
        seen["drawn"] += 1
        data = json.dumps(body).encode()
        created = request(sock, "POST", "/v1.45/containers/create", data)
        assert created.status < 500, f"create {data!r:.600}: {created.message}"
        if created.status != 201:
            return
        seen["created"] += 1
        cid = created.json()["Id"]
        started = request(sock, "POST", f"/v1.45/containers/{cid}/start")
        assert started.status < 500, f"start {data!r:.600}: {started.message}"
        seen["started"] += started.status == 204
        removed = request(sock, "DELETE", f"/v1.45/containers/{cid}?force=1")
        assert removed.status < 500, f"rm {data!r:.600}: {removed.message}"

    _drawing_until(until, check)
    drawn = seen["drawn"]
    assert seen["created"] >= drawn // 2, f"too few creates got through: {seen}"
    assert seen["started"] >= drawn * 2 // 5, f"too few started: {seen}"
    assert time.monotonic() - module_start < BUDGET

"""Container create bodies for the property-based API test (tests/integration/test_api_fuzz.py).

Bodies of the right shape whose values are mostly ones a container starts with, so
create and start get past the edge and reach their deep paths (the issue's two 500s
were at start); in a quarter of them one field takes an odd value of the right type
(out of range, an unknown name, a relative path), which must be refused with a 4xx at
create or at start, never a 5xx.

Host safety: no host paths, devices, namespaces, privileges or networks of the
fuzzer's choosing; published ports listen on loopback only; capabilities come from a
short list (never SYS_ADMIN and the like); DNS servers are written to resolv.conf and
never asked (the commands are `true`, `echo`, `exit 0`).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

MiB = 1 << 20
Strategy = st.SearchStrategy[Any]

PRINTABLE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
WORD = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)
ENV_NAME = st.from_regex(r"[A-Z_][A-Z0-9_]{0,7}", fullmatch=True)

# field: (values a container starts with, odd values of the right type)
CONFIG: dict[str, tuple[Strategy, Strategy]] = {
    "Cmd": (
        st.sampled_from([["true"], ["sh", "-c", "exit 0"], ["echo", "hi"], "true"]),
        st.sampled_from([[""], ["nosuch-command"], ["/"]]),
    ),
    "Env": (
        st.lists(st.builds("{}={}".format, ENV_NAME, PRINTABLE), max_size=3),
        st.sampled_from([["=x"], ["A"], [""]]),
    ),
    "Hostname": (WORD, st.sampled_from(["bad host!", "a" * 100, "-x"])),
    "Domainname": (WORD, PRINTABLE),
    "User": (
        st.sampled_from(["", "0", "0:0", "root", "1000:1000"]),
        st.sampled_from(["nosuch", "0:nosuch", "-1"]),
    ),
    "WorkingDir": (
        st.sampled_from(["", "/", "/tmp", "/made/here"]),
        st.sampled_from(["relative", "/a\nb", "/etc/passwd"]),
    ),
    "Labels": (
        st.dictionaries(WORD, PRINTABLE, max_size=3),
        st.sampled_from([{"big": "x" * (70 << 10)}, {"": ""}]),
    ),
    "StopSignal": (
        st.sampled_from(["", "SIGTERM", "SIGUSR1", "9", "RTMIN+2", "hup"]),
        st.sampled_from(["SIGFOO", "0", "99", "RTMIN+99"]),
    ),
    "StopTimeout": (st.integers(0, 30), st.sampled_from([-1, -(2**63), 2**62])),
    "ExposedPorts": (
        st.dictionaries(st.sampled_from(["80/tcp", "53/udp", "8080"]), st.just({}), max_size=2),
        st.sampled_from([{"zz": {}}, {"99999/tcp": {}}, {"80/sctp-ish": {}}]),
    ),
    "Tty": (st.booleans(), st.booleans()),
    "OpenStdin": (st.booleans(), st.booleans()),
    "Healthcheck": (
        st.just({"Test": ["NONE"]}),
        st.sampled_from([{"Test": ["CMD", "true"], "Interval": 1}, {"Test": []}]),
    ),
    "Shell": (st.just(["/bin/sh", "-c"]), st.just([])),
}

HOST: dict[str, tuple[Strategy, Strategy]] = {
    "CpuShares": (st.sampled_from([0, 2, 512, 1024]), st.sampled_from([1, -5, 2**40])),
    "NanoCpus": (
        st.sampled_from([0, 10**8, 5 * 10**8, 10**9]),
        st.sampled_from([1, -1, 10**12]),
    ),
    "PidsLimit": (st.sampled_from([0, -1, 64, 1000]), st.sampled_from([-5, 2**62])),
    "ShmSize": (st.sampled_from([0, MiB, 64 * MiB]), st.sampled_from([-1, 1, 2**62])),
    # Below 0 needs CAP_SYS_RESOURCE, which a machine running the tests may not give.
    "OomScoreAdj": (st.integers(0, 1000), st.sampled_from([-500, -1001, 5000, 2**62])),
    "Ulimits": (
        st.just([{"Name": "nofile", "Soft": 1024, "Hard": 2048}]),
        st.sampled_from(
            [
                [{"Name": "bogus"}],
                [{"Name": "nofile", "Soft": 5, "Hard": 1}],
                [{"Name": "core", "Soft": -2}],
            ]
        ),
    ),
    "Dns": (
        st.lists(st.sampled_from(["10.0.0.1", "192.0.2.53"]), max_size=2),
        st.sampled_from([["not-an-ip"], [""]]),
    ),
    "DnsSearch": (st.lists(WORD, max_size=2), st.sampled_from([["a b"], [""]])),
    "DnsOptions": (
        st.lists(st.sampled_from(["ndots:2", "timeout:1"]), max_size=2),
        st.sampled_from([["bad option"], ["\n"]]),
    ),
    "ExtraHosts": (
        st.lists(st.builds("{}:10.0.0.2".format, WORD), max_size=2),
        st.sampled_from([["nocolon"], ["a:[::1"], ["a:host-gateway-ish"]]),
    ),
    "CapAdd": (
        st.lists(st.sampled_from(["CHOWN", "NET_RAW", "cap_kill"]), max_size=2),
        st.sampled_from([["FOO"], [""], ["CAP_"]]),
    ),
    "CapDrop": (
        st.lists(st.sampled_from(["CHOWN", "NET_RAW", "ALL"]), max_size=2),
        st.sampled_from([["FOO"], [""]]),
    ),
    "Tmpfs": (
        st.dictionaries(
            st.sampled_from(["/run/a", "/scratch"]),
            st.sampled_from(["", "size=1m", "mode=1777"]),
            max_size=2,
        ),
        st.sampled_from([{"relative": ""}, {"/x": "size=lots"}, {"/": ""}]),
    ),
    "Init": (st.booleans(), st.booleans()),
    "RestartPolicy": (
        st.sampled_from(
            [{"Name": "no"}, {"Name": ""}, {"Name": "on-failure", "MaximumRetryCount": 2}]
        ),
        st.sampled_from(
            [
                {"Name": "sometimes"},
                {"Name": "always", "MaximumRetryCount": 3},
                {"Name": "on-failure", "MaximumRetryCount": -1},
            ]
        ),
    ),
    "AutoRemove": (st.booleans(), st.booleans()),
    "Sysctls": (
        st.just({"net.ipv4.ip_unprivileged_port_start": "0"}),
        st.sampled_from([{"kernel.nosuch": "1"}, {"net.ipv4.nosuch": "1"}, {"": ""}]),
    ),
    "ReadonlyRootfs": (st.booleans(), st.booleans()),
    "GroupAdd": (
        st.lists(st.sampled_from(["10", "0"]), max_size=2),
        st.sampled_from([["nosuchgroup"], [""]]),
    ),
    "ConsoleSize": (st.just([24, 80]), st.just([0, 0])),
    "LogConfig": (
        st.sampled_from(
            [
                {"Type": "json-file", "Config": {"max-size": "1m", "max-file": "2"}},
                {"Type": "local"},
                {"Type": "none"},
                {},
            ]
        ),
        st.sampled_from(
            [
                {"Type": "syslog"},
                {"Type": "json-file", "Config": {"max-size": "10x"}},
                {"Type": "json-file", "Config": {"max-size": "1e400"}},
                {"Type": "json-file", "Config": {"max-file": str(2**63 - 1)}},
            ]
        ),
    ),
    "PortBindings": (
        st.sampled_from(
            [{"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}, {"81/tcp": None}, {}]
        ),
        st.sampled_from([{"abc": []}, {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "x"}]}]),
    ),
}


_ODD_MEMORY = st.sampled_from([{"Memory": 1}, {"Memory": 64 * MiB, "MemorySwap": 32 * MiB}])
_ODD_CPU = st.sampled_from(
    [{"CpuQuota": 500}, {"CpuPeriod": 10}, {"NanoCpus": 10**8, "CpuQuota": 50_000}]
)


@st.composite
def _memory(draw: st.DrawFn) -> dict[str, int]:
    memory = draw(st.sampled_from([0, 6 * MiB, 64 * MiB, 512 * MiB]))
    if not memory:
        return {}
    out = {"Memory": memory}
    if draw(st.booleans()):
        out["MemorySwap"] = draw(st.sampled_from([-1, memory, 2 * memory]))
    if memory >= 12 * MiB and draw(st.booleans()):
        out["MemoryReservation"] = memory // 2  # at least 6 MiB, as Docker wants
    return out


def _cpu() -> Strategy:
    """NanoCpus, or a CFS quota, or neither (Docker refuses both together)."""
    nano = st.sampled_from([10**8, 5 * 10**8, 10**9]).map(lambda n: {"NanoCpus": n})
    quota = st.sampled_from([50_000, 200_000]).map(lambda q: {"CpuPeriod": 100_000, "CpuQuota": q})
    return st.one_of(st.just({}), nano, quota)


def _consistent(host: dict[str, Any]) -> dict[str, Any]:
    """Without a restart policy where AutoRemove is set (Docker refuses the two)."""
    if host.get("AutoRemove") and (host.get("RestartPolicy") or {}).get("Name"):
        host["RestartPolicy"] = {"Name": "no"}
    return host


def _safe_bodies(image: str) -> Strategy:
    host = st.builds(
        lambda fields, memory, cpu: _consistent({**fields, **memory, **cpu}),
        st.fixed_dictionaries({}, optional={k: safe for k, (safe, _) in HOST.items()}),
        _memory(),
        _cpu(),
    )
    return st.fixed_dictionaries(
        {"Image": st.just(image), "HostConfig": host},
        optional={k: safe for k, (safe, _) in CONFIG.items()},
    )


_ODD_FIELDS = [("config", name) for name in CONFIG] + [("host", name) for name in HOST]
_ODD_FIELDS += [("host+", "memory"), ("host+", "cpu")]


@st.composite
def _odd_bodies(draw: st.DrawFn, image: str) -> dict[str, Any]:
    """A body a container would start with, but for one field's odd value."""
    body: dict[str, Any] = draw(_safe_bodies(image))
    where, name = draw(st.sampled_from(_ODD_FIELDS))
    if where == "config":
        body[name] = draw(CONFIG[name][1])
    elif where == "host":
        body["HostConfig"][name] = draw(HOST[name][1])
    else:
        body["HostConfig"].update(draw(_ODD_MEMORY if name == "memory" else _ODD_CPU))
    return body


def create_bodies(image: str) -> Strategy:
    """Create bodies for `image`: three in four with values a container starts with,
    one in four with one field odd (so a refusal says which value it was)."""
    safe = _safe_bodies(image)
    return st.one_of(safe, safe, safe, _odd_bodies(image))

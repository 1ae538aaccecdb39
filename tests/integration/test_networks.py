"""Networks end to end: the seed's experiment, DNS by name, isolation, published ports,
options, the docker CLI, and a crashed daemon's leftovers. Traffic goes only to
loopback and to the containers these tests start."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from ipaddress import IPv4Address

import pytest

from lamina import process
from lamina.networks import naming, netns
from lamina.networks.ports import Binding
from lamina.networks.publish import Publisher
from tests.conftest import Daemon, start_daemon

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runc") is None or shutil.which("iptables") is None,
    reason="needs root, runc and iptables",
)
NC_SERVER = "while true; do echo PONG | nc -l -p {port}; done"
# Ask a server, retrying while it is not listening yet (or between two of its `nc`s).
ASK = "until echo x | nc -w 2 {to} 7000; do [ $((n+=1)) -lt 30 ] || break; sleep 0.1; done"


def talk(port: int, data: bytes = b"ping\n", host: str = "127.0.0.1", tries: int = 50) -> bytes:
    """Send `data` to a published port on loopback; the answer (retrying a fresh server)."""
    for _ in range(tries):
        try:
            with socket.create_connection((host, port), timeout=5) as s:
                s.sendall(data)
                answer = s.recv(100)
                if answer:
                    return answer
        except OSError:
            pass
        time.sleep(0.1)
    return b""


def sh(daemon: Daemon, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return daemon.lamina("run", "--rm", *args, check=check)


@pytest.mark.slow
def test_seed_network_experiment_with_redis(daemon: Daemon) -> None:
    """The seed: a database with a volume and -p 28000:6379; an app cannot reach it on
    localhost:28000 from its own container; on my_custom_network it reaches it by name;
    the host reaches it on 127.0.0.1:28000. With a real redis-server and redis-cli."""
    daemon.lamina(
        "image", "bootstrap", "debian:bookworm", "--include", "redis-server", "-t", "redis-demo"
    )
    daemon.lamina("volume", "create", "sample_volume")
    daemon.lamina("network", "create", "my_custom_network")
    daemon.lamina(
        "run", "-d", "--name", "finaldb", "--network", "my_custom_network",
        "-v", "sample_volume:/data", "-p", "28000:6379",
        "redis-demo", "redis-server", "--dir", "/data", "--protected-mode", "no",
    )  # fmt: skip
    assert talk(28000, b"PING\r\n") == b"+PONG\r\n"  # the host, on loopback
    local = sh(daemon, "redis-demo", "redis-cli", "-h", "localhost", "-p", "28000", "ping")
    assert local.returncode != 0 and "Connection refused" in local.stdout + local.stderr
    by_name = sh(
        daemon, "--network", "my_custom_network", "redis-demo",
        "sh", "-c", "redis-cli -h finaldb set visits 1 && redis-cli -h finaldb get visits "
        "&& redis-cli -h finaldb save && getent hosts finaldb",
        check=True,
    ).stdout  # fmt: skip
    assert by_name.splitlines()[:3] == ["OK", "1", "OK"] and "finaldb" in by_name
    # The data is in the volume: a new database container on it still has it.
    daemon.lamina("rm", "-f", "finaldb")
    assert talk(28000, tries=1) == b""  # the forwarding went with the container
    daemon.lamina(
        "run", "-d", "--name", "finaldb", "--network", "my_custom_network",
        "-v", "sample_volume:/data", "redis-demo", "redis-server", "--dir", "/data",
        "--protected-mode", "no",
    )  # fmt: skip
    again = "for i in $(seq 50); do redis-cli -h finaldb get visits && break; sleep 0.1; done"
    out = sh(daemon, "--network", "my_custom_network", "redis-demo", "sh", "-c", again).stdout
    assert out.strip().splitlines()[-1] == "1"


def test_names_aliases_isolation_and_default_bridge(daemon: Daemon, busybox: str) -> None:
    daemon.lamina("network", "create", "neta")
    daemon.lamina("network", "create", "netb")
    for name, net, alias in (("a1", "neta", "db"), ("b1", "netb", "other")):
        daemon.lamina(
            "run", "-d", "--name", name, "--network", net, "--network-alias", alias,
            "busybox", "sh", "-c", NC_SERVER.format(port=7000),
        )  # fmt: skip
    ip_b1 = _ip(daemon, "b1", "netb")
    probe = (
        "nslookup a1 >/dev/null && echo a1-ok; nslookup db | grep -q Address: && echo alias-ok; "
        f"{ASK.format(to='db')}; nslookup b1 >/dev/null || echo b1-unknown; "
        f"echo x | nc -w 2 {ip_b1} 7000 || echo b1-unreachable; "
        "echo x | nc -w 2 localhost 7000 || echo localhost-is-mine"
    )
    out = sh(daemon, "--network", "neta", "busybox", "sh", "-c", probe).stdout.split()
    assert out == ["a1-ok", "alias-ok", "PONG", "b1-unknown", "b1-unreachable", "localhost-is-mine"]
    # The default bridge: an address, no names (as Docker), neighbours reachable by IP.
    daemon.lamina("run", "-d", "--name", "d1", "busybox", "sh", "-c", NC_SERVER.format(port=7000))
    ip_d1 = _ip(daemon, "d1", "bridge")
    out = sh(  # --dns 127.0.0.1: the lookup must not reach for the host's resolver
        daemon, "--dns", "127.0.0.1", "busybox", "sh", "-c",
        f"{ASK.format(to=ip_d1)}; nslookup d1 >/dev/null 2>&1 || echo d1-unknown",
    ).stdout.split()  # fmt: skip
    assert out == ["PONG", "d1-unknown"]
    # A container on both networks reaches both, and resolves names of both.
    assert daemon.lamina("ps", "-q", "-f", "network=neta").stdout.split() == [
        daemon.lamina("inspect", "-f", "{{.Id}}", "a1").stdout.strip()[:12]
    ]
    daemon.lamina("network", "connect", "netb", "a1")
    both = f"nslookup b1 >/dev/null && echo b1-ok && {ASK.format(to='b1')}"
    assert daemon.lamina("exec", "a1", "sh", "-c", both).stdout.split() == ["b1-ok", "PONG"]
    daemon.lamina("network", "disconnect", "netb", "a1")
    assert daemon.lamina("exec", "a1", "sh", "-c", both, check=False).stdout.split() == []


def test_an_ended_containers_address_and_name_serve_the_next_at_once(
    daemon: Daemon, busybox: str
) -> None:
    """An exit frees the address before its veth is deleted (in the background): the
    next container may get the same address (and MAC), and a container restarted at
    once makes a veth of the same name. Both must be reachable."""
    daemon.lamina("network", "create", "quick")
    server = ("-d", "--network", "quick", "busybox", "sh", "-c", NC_SERVER.format(port=7000))
    daemon.lamina("run", "--rm", "--network", "quick", "busybox", "true")
    daemon.lamina("run", "--name", "s1", *server)
    for _ in range(3):
        daemon.lamina("restart", "-t", "0", "s1")
    ask = f"{ASK.format(to='s1')}"
    assert sh(daemon, "--network", "quick", "busybox", "sh", "-c", ask).stdout.split() == ["PONG"]
    first = _ip(daemon, "s1", "quick")
    daemon.lamina("rm", "-f", "s1")
    daemon.lamina("run", "--name", "s2", *server)
    assert _ip(daemon, "s2", "quick") == first  # the lowest free address, as Docker
    ask = f"{ASK.format(to=first)}"
    assert sh(daemon, "--network", "quick", "busybox", "sh", "-c", ask).stdout.split() == ["PONG"]


def _ip(daemon: Daemon, container: str, network: str) -> str:
    fmt = "{{json .NetworkSettings.Networks}}"
    networks = json.loads(daemon.lamina("inspect", "-f", fmt, container).stdout)
    return str(networks[network]["IPAddress"])


def test_published_ports(daemon: Daemon, busybox: str) -> None:
    daemon.lamina(
        "run", "-d", "--name", "web", "-p", "127.0.0.1:28100:80", "-p", "28101-28102:81-82",
        "-p", "28103:53/udp", "--expose", "90", "-P", "busybox", "sh", "-c",
        "for p in 80 81 82 90; do (while true; do echo port$p | nc -l -p $p; done) & done; wait",
    )  # fmt: skip
    assert talk(28100) == b"port80\n"
    assert talk(28101) == b"port81\n" and talk(28102) == b"port82\n"
    mapping = daemon.lamina("port", "web").stdout.splitlines()
    assert "80/tcp -> 127.0.0.1:28100" in mapping and "53/udp -> 0.0.0.0:28103" in mapping
    random_port = int(daemon.lamina("port", "web", "90").stdout.strip().rsplit(":", 1)[1])
    assert talk(random_port) == b"port90\n"
    ps = daemon.lamina("ps", "--format", "{{.Ports}}").stdout
    assert "127.0.0.1:28100->80/tcp" in ps
    taken = daemon.lamina("run", "-d", "-p", "28101:80", "busybox", "true", check=False)
    assert "Bind for 0.0.0.0:28101 failed: port is already allocated" in taken.stderr
    daemon.lamina("stop", "-t", "1", "web")
    assert talk(28100, tries=1) == b""  # removed with the container's stop
    assert daemon.lamina("port", "web").stdout == ""
    daemon.lamina("start", "web")
    assert talk(28100) == b"port80\n"


def create_custom(daemon: Daemon) -> None:
    created = daemon.lamina(
        "network", "create", "--subnet", "10.123.0.0/16", "--gateway", "10.123.0.254",
        "--ip-range", "10.123.5.0/24", "--label", "team=seed", "custom",
    )  # fmt: skip
    assert len(created.stdout.strip()) == 64


def test_network_options_reach_inspect_and_the_container(daemon: Daemon, busybox: str) -> None:
    create_custom(daemon)
    dup = daemon.lamina("network", "create", "custom", check=False)
    assert "network with name custom already exists" in dup.stderr
    [info] = json.loads(daemon.lamina("network", "inspect", "custom").stdout)
    assert info["IPAM"]["Config"] == [
        {"Subnet": "10.123.0.0/16", "Gateway": "10.123.0.254", "IPRange": "10.123.5.0/24"}
    ]
    assert info["Labels"] == {"team": "seed"}
    out = sh(daemon, "--network", "custom", "busybox", "ip", "route").stdout
    assert "default via 10.123.0.254" in out and "10.123.5.1" in out
    fixed = sh(daemon, "--network", "custom", "--ip", "10.123.9.9", "busybox", "ip", "addr")
    assert "10.123.9.9/16" in fixed.stdout


def test_an_internal_network_has_no_default_route(daemon: Daemon, busybox: str) -> None:
    daemon.lamina("network", "create", "--internal", "sealed")
    out = sh(daemon, "--network", "sealed", "busybox", "ip", "route").stdout
    assert "default" not in out


def test_network_rm_refusals_ls_and_prune(daemon: Daemon, busybox: str) -> None:
    create_custom(daemon)
    daemon.lamina("network", "create", "--internal", "sealed")
    daemon.lamina("run", "-d", "--name", "member", "--network", "custom", "busybox", "sleep", "60")
    busy = daemon.lamina("network", "rm", "custom", check=False)
    assert "error while removing network: network custom has active endpoints" in busy.stderr
    missing = daemon.lamina("run", "--rm", "--network", "nosuch", "busybox", "true", check=False)
    assert "network nosuch not found" in missing.stderr
    assert daemon.lamina("ps", "-a", "--format", "{{.Names}}").stdout.split() == ["member"]
    builtin = daemon.lamina("network", "rm", "bridge", check=False)
    assert "pre-defined network and cannot be removed" in builtin.stderr
    names = daemon.lamina("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert names == ["bridge", "custom", "host", "none", "sealed"]
    assert daemon.lamina("network", "ls", "-q", "-f", "label=team=seed").stdout.strip()
    daemon.lamina("rm", "-f", "member")
    assert daemon.lamina("network", "prune", "-f").stdout.split()[2:] == ["custom", "sealed"]


def test_host_and_none_network_modes(daemon: Daemon, busybox: str) -> None:
    out = sh(daemon, "--network", "host", "busybox", "ls", "/sys/class/net").stdout.split()
    assert "lo" in out and len(out) > 1  # the host's devices
    assert sh(daemon, "--network", "none", "busybox", "ls", "/sys/class/net").stdout.split() == [
        "lo"
    ]


def test_docker_cli_drives_networks(daemon: Daemon, busybox: str) -> None:
    if shutil.which("docker") is None:
        pytest.skip("no docker CLI")
    docker = daemon.docker
    net_id = docker("network", "create", "dockernet").stdout.strip()
    assert "dockernet" in docker("network", "ls").stdout
    [info] = json.loads(docker("network", "inspect", "dockernet").stdout)
    assert info["Id"] == net_id and info["Driver"] == "bridge"
    docker(
        "run", "-d", "--name", "srv", "--network", "dockernet", "--network-alias", "api",
        "-p", "28200:7000", "busybox", "sh", "-c", NC_SERVER.format(port=7000),
    )  # fmt: skip
    assert docker("port", "srv").stdout.splitlines()[0] == "7000/tcp -> 0.0.0.0:28200"
    assert talk(28200) == b"PONG\n"
    docker("run", "-d", "--name", "cli", "busybox", "sleep", "60")
    docker("network", "connect", "dockernet", "cli")
    [info] = json.loads(docker("network", "inspect", "dockernet").stdout)
    assert sorted(c["Name"] for c in info["Containers"].values()) == ["cli", "srv"]
    assert docker("exec", "cli", "sh", "-c", ASK.format(to="api")).stdout == "PONG\n"
    docker("network", "disconnect", "dockernet", "cli")
    docker("rm", "-f", "srv", "cli")
    assert docker("network", "rm", "dockernet").stdout.strip() == "dockernet"
    gone = docker("network", "inspect", "dockernet", check=False)
    assert gone.returncode != 0 and "network dockernet not found" in gone.stderr


def _stray_proxies(daemon: Daemon, ports: dict[str, int]) -> list[int]:
    """Proxies started as the daemon starts them, on loopback ports: their pids."""
    publisher = Publisher(daemon.paths.run_dir)
    pids = []
    for cid, port in ports.items():
        publisher.publish(cid, IPv4Address("127.0.0.1"), [Binding(7000, "tcp", "127.0.0.1", port)])
        pids.append(json.loads((publisher.dir / f"{cid}.json").read_text())["pid"])
    return pids


def _mounted(path: os.PathLike[str]) -> bool:
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return any(line.split()[4] == os.fspath(path) for line in f)


def _id(daemon: Daemon, name: str) -> str:
    return daemon.lamina("inspect", "-f", "{{.Id}}", name).stdout.strip()


def test_a_restarted_daemon_keeps_networks_and_sweeps_leftovers(
    daemon: Daemon, busybox: str
) -> None:
    daemon.lamina("network", "create", "keep")
    daemon.lamina(
        "run", "-d", "--name", "db", "--network", "keep", "-p", "28300:7000",
        "busybox", "sh", "-c", NC_SERVER.format(port=7000),
    )  # fmt: skip
    first_ip = _ip(daemon, "db", "keep")
    daemon.process.send_signal(signal.SIGKILL)
    daemon.process.wait()
    # What a crash mid-attach could leave: a veth and a rule of a network that is gone.
    prefix = daemon.paths.device_prefix
    stray = naming.host_veth(prefix, "0" * 64, "f" * 64)
    subprocess.run(
        ["ip", "link", "add", stray, "type", "veth", "peer", "name", stray + "x"], check=True
    )
    comment = naming.rule_comment(prefix, "f" * 64)
    subprocess.run(
        ["iptables", "-w", "-I", "FORWARD", "-i", stray, "-j", "DROP",
         "-m", "comment", "--comment", comment],
        check=True,
    )  # fmt: skip
    assert talk(28300) == b"PONG\n"  # the proxy outlives the daemon, as the container
    # A namespace pinned for a container that is gone, and port proxies of containers
    # that are gone: one with its state file, one started just before a kill, whose
    # state file was never written.
    pin = daemon.paths.run_dir / "netns" / ("e" * 16)
    netns.create(pin)
    proxies = _stray_proxies(daemon, {"d" * 64: 28301, "c" * 64: 28302})
    try:
        os.unlink(daemon.paths.run_dir / "ports" / f"{'c' * 64}.json")
        daemon.process = start_daemon(daemon.paths)
        assert not os.path.exists(pin) and not _mounted(pin)
        assert [pid for pid in proxies if process.running(pid)] == []
        assert os.listdir(daemon.paths.run_dir / "ports") == [f"{_id(daemon, 'db')}.json"]
        for port in (28301, 28302):
            socket.create_server(("127.0.0.1", port)).close()  # free again
    finally:
        for pid in proxies:  # children of this test, as they were of the killed daemon
            if process.running(pid):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):  # subprocess may have reaped it
                os.waitpid(pid, 0)
    assert not os.path.exists(f"/sys/class/net/{stray}")
    rules = subprocess.run(["iptables", "-w", "-S"], capture_output=True, text=True).stdout
    assert comment not in rules
    assert (
        sh(daemon, "--network", "keep", "busybox", "sh", "-c", ASK.format(to="db")).stdout
        == "PONG\n"
    )
    daemon.lamina("run", "-d", "--name", "second", "--network", "keep", "busybox", "sleep", "60")
    assert _ip(daemon, "second", "keep") != first_ip  # leases survived the restart
    assert talk(28300) == b"PONG\n"

"""Networks without root: IPAM, port plans, DNS answers, firewall rules, records."""

from __future__ import annotations

import socket
import struct
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from lamina.errors import AlreadyExists, Conflict, InvalidArgument, Unavailable
from lamina.networks import dnswire, ipam, naming, ports
from lamina.networks.firewall import Firewall, bridge_rules
from lamina.networks.model import Driver, EndpointConfig, Member, Network, mac_for
from lamina.networks.names import NameTable
from lamina.networks.records import NetworkRecords
from lamina.networks.resolver import Resolver
from lamina.store.metadata import Metadata

NET = IPv4Network("172.18.0.0/16")
GW = IPv4Address("172.18.0.1")


def test_subnets_avoid_what_is_taken() -> None:
    assert ipam.choose_subnet([]) == IPv4Network("172.17.0.0/16")
    taken = [IPv4Network("172.17.0.0/16"), IPv4Network("172.18.5.0/24")]
    assert ipam.choose_subnet(taken) == IPv4Network("172.19.0.0/16")
    everything = [IPv4Network("172.16.0.0/12"), IPv4Network("192.168.0.0/16")]
    with pytest.raises(Unavailable):
        ipam.choose_subnet(everything)


def test_host_routes_are_read_from_proc(tmp_path: Path) -> None:
    table = tmp_path / "route"
    table.write_text(
        "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
        "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    )
    assert ipam.host_routes(table) == [IPv4Network("192.0.2.0/24")]


def test_config_is_checked_as_docker_does() -> None:
    assert ipam.parse_config("10.5.0.0/16", "", "") == (
        IPv4Network("10.5.0.0/16"),
        IPv4Address("10.5.0.1"),
        None,
    )
    _, gw, pool = ipam.parse_config("10.5.0.0/16", "10.5.0.254", "10.5.1.0/24")
    assert (gw, pool) == (IPv4Address("10.5.0.254"), IPv4Network("10.5.1.0/24"))
    for bad in (
        ("10.5.0.0/16", "10.6.0.1", ""),
        ("10.5.0.0/16", "", "10.6.0.0/24"),
        ("nonsense", "", ""),
    ):
        with pytest.raises(InvalidArgument):
            ipam.parse_config(*bad)
    with pytest.raises(InvalidArgument, match="host bits"):
        ipam.parse_config("10.5.0.7/16", "", "")


def test_addresses_are_never_reserved_or_leased_ones() -> None:
    assert ipam.allocate(NET, GW, None, set(), network_name="n") == IPv4Address("172.18.0.2")
    leased = {IPv4Address("172.18.0.2"), IPv4Address("172.18.0.3")}
    assert ipam.allocate(NET, GW, None, leased, network_name="n") == IPv4Address("172.18.0.4")
    pool = IPv4Network("172.18.7.0/30")  # hosts .1 and .2
    assert ipam.allocate(NET, GW, pool, set(), network_name="n") == IPv4Address("172.18.7.1")
    tiny = IPv4Network("10.0.0.0/30")
    with pytest.raises(Unavailable, match="no available IPv4 addresses"):
        ipam.allocate(
            tiny, IPv4Address("10.0.0.1"), None, {IPv4Address("10.0.0.2")}, network_name="n"
        )
    with pytest.raises(Conflict, match="Address already in use"):
        ipam.check_static(IPv4Address("172.18.0.2"), NET, GW, leased)
    with pytest.raises(InvalidArgument):
        ipam.check_static(GW, NET, GW, set())


def test_port_plans_expand_ranges_and_publish_all() -> None:
    host_config = {
        "PortBindings": {
            "6379/tcp": [{"HostIp": "", "HostPort": "28000"}],
            "80-81/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080-8081"}],
            "53/udp": [{"HostIp": "", "HostPort": ""}],
            "90/tcp": [{"HostPort": "9000-9009"}],
        },
        "PublishAllPorts": True,
    }
    config = {"ExposedPorts": {"6379/tcp": {}, "443/tcp": {}}}
    assert ports.plan(host_config, config) == [
        ports.Binding(6379, "tcp", "", 28000, 28000),
        ports.Binding(80, "tcp", "127.0.0.1", 8080, 8080),
        ports.Binding(81, "tcp", "127.0.0.1", 8081, 8081),
        ports.Binding(53, "udp", "", 0, 0),
        ports.Binding(90, "tcp", "", 9000, 9009),
        ports.Binding(443, "tcp"),
    ]
    # As moby: a port listed with no bindings is published by PublishAllPorts only.
    listed = {"PortBindings": {"80/tcp": [], "81/tcp": None}}
    assert ports.plan(listed, {}) == []
    assert ports.plan({**listed, "PublishAllPorts": True}, {}) == [
        ports.Binding(80, "tcp"),
        ports.Binding(81, "tcp"),
    ]
    with pytest.raises(InvalidArgument):
        ports.plan({"PortBindings": {"80-82/tcp": [{"HostPort": "8000-8001"}]}}, {})
    with pytest.raises(InvalidArgument):
        ports.plan({"PortBindings": {"80/sctp": [{}]}}, {})


def test_a_port_in_use_is_refused_with_dockers_message() -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        with pytest.raises(
            Conflict, match=f"Bind for 127.0.0.1:{port} failed: port is already allocated"
        ):
            ports.bind_all(
                [
                    ports.Binding(1, "tcp", "127.0.0.1", 0, 0),
                    ports.Binding(2, "tcp", "127.0.0.1", port, port),
                ]
            )
        sock, published = ports.bind(ports.Binding(2, "tcp", "127.0.0.1", port, port + 5))
        assert published.host_port != port
        sock.close()
    finally:
        holder.close()


def _query(name: str, qtype: int = dnswire.TYPE_A) -> bytes:
    header = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    return header + dnswire.encode_name(name) + struct.pack("!HH", qtype, dnswire.CLASS_IN)


def _net(name: str, nid: str, *, dns: bool = True) -> Network:
    return Network(nid, name if dns else "bridge", Driver.BRIDGE, "", NET, GW)


def _member(nid: str, cid: str, ip: str, *names: str) -> Member:
    return Member(nid, cid, EndpointConfig(), "e", IPv4Address(ip), "", "eth0", names)


def test_names_resolve_within_shared_user_networks_only() -> None:
    table = NameTable()
    a, b, default = _net("a", "na"), _net("b", "nb"), _net("bridge", "nd", dns=False)
    table.rebuild(
        [a, b, default],
        [
            _member("na", "c1", "172.18.0.2", "web", "alias1"),
            _member("na", "c2", "172.18.0.3", "db"),
            _member("nb", "c3", "172.19.0.2", "other"),
            _member("nd", "c4", "172.17.0.2", "plain"),
            _member("nd", "c1", "172.17.0.3", "web"),
        ],
    )
    assert table.lookup("c1", "DB") == [IPv4Address("172.18.0.3")]
    assert table.lookup("c1", "db.a.") == [IPv4Address("172.18.0.3")]
    assert table.lookup("c2", "alias1") == [IPv4Address("172.18.0.2")]
    assert table.lookup("c1", "other") == []  # network b is not c1's
    assert table.lookup("c1", "plain") == []  # the default bridge has no DNS
    assert not table.serves("c4")
    assert table.reverse("c2", IPv4Address("172.18.0.2")) == "web.a"


def test_resolver_answers_a_ptr_and_nxdomain() -> None:
    table = NameTable()
    table.rebuild(
        [_net("a", "na")],
        [_member("na", "c1", "172.18.0.2", "web"), _member("na", "c2", "172.18.0.3", "db")],
    )
    resolver = Resolver(table)
    try:
        reply = resolver.answer("c1", _query("db"))
        assert reply is not None
        ident, flags, _, ancount = struct.unpack("!HHHH", reply[:8])
        assert (ident, flags & 0xF, ancount) == (0x1234, dnswire.NOERROR, 1)
        assert reply.endswith(IPv4Address("172.18.0.3").packed)
        nx = resolver.answer("c1", _query("nosuch"))
        assert nx is not None and struct.unpack("!H", nx[2:4])[0] & 0xF == dnswire.NXDOMAIN
        aaaa = resolver.answer("c1", _query("db", 28))
        assert aaaa is not None and struct.unpack("!HH", aaaa[2:4] + aaaa[6:8]) == (0x8580, 0)
        ptr = resolver.answer("c2", _query("2.0.18.172.in-addr.arpa", dnswire.TYPE_PTR))
        assert ptr is not None and ptr.endswith(dnswire.encode_name("web.a"))
        assert resolver.answer("c1", b"\x00garbage") is None
    finally:
        resolver.close()


class FakeIptables:
    def __init__(self) -> None:
        self.rules: dict[str, list[str]] = {"FORWARD": ["-A FORWARD -j DOCKER-USER"], "INPUT": []}

    def __call__(self, args: list[str]) -> str:
        import shlex

        from lamina.errors import Internal

        op, chain, *rest = args
        if op == "-S":
            return "".join(f"{r}\n" for r in [f"-P {chain} ACCEPT", *self.rules[chain]])
        if op == "-I":
            self.rules[chain].insert(int(rest[0]) - 1, shlex.join(["-A", chain, *rest[1:]]))
        elif op in ("-C", "-D"):
            line = shlex.join(["-A", chain, *rest])
            if line not in self.rules[chain]:
                raise Internal("no such rule")
            if op == "-D":
                self.rules[chain].remove(line)
        return ""


def test_firewall_rules_are_ordered_commented_and_swept() -> None:
    fake = FakeIptables()
    fw = Firewall("l1234", fake)
    fw.install("a" * 64, bridge_rules("l1234-aaaaaaaa", internal=True))
    fw.install("a" * 64, bridge_rules("l1234-aaaaaaaa", internal=True))  # idempotent
    fw.install("b" * 64, bridge_rules("l1234-bbbbbbbb", internal=False))
    forward = fake.rules["FORWARD"]
    assert len(forward) == 7 and forward[-1] == "-A FORWARD -j DOCKER-USER"
    assert all("lamina l1234 " in r for r in forward[:-1])
    mine = [r for r in forward if "aaaaaaaa" in r]
    assert "ACCEPT" in mine[0] and "DROP" in mine[1]  # the accept comes first
    assert len(fake.rules["INPUT"]) == 2
    Firewall("l9999", fake).sweep(keep=())  # another instance's sweep leaves ours alone
    assert len(fake.rules["FORWARD"]) == 7
    fw.remove("a" * 64)
    assert not fake.rules["INPUT"] and len(fake.rules["FORWARD"]) == 4
    assert len(fw.sweep(keep=())) == 3
    assert fake.rules["FORWARD"] == ["-A FORWARD -j DOCKER-USER"]


def test_device_names_fit_the_kernel_and_carry_the_prefix() -> None:
    cid, nid = "c" * 64, "9" * 64
    for name in (
        naming.bridge("l1a2b", nid),
        naming.host_veth("l1a2b", cid, nid),
        naming.peer_veth("l1a2b", cid, nid),
    ):
        assert name.startswith("l1a2b") and len(name) <= 15
    assert naming.bridge("lam", nid, default=True) == "lam0"
    assert naming.host_veth("lam", cid, nid) != naming.host_veth("lam", cid, "8" * 64)
    assert mac_for(IPv4Address("172.17.0.2")) == "02:42:ac:11:00:02"


def test_records_lease_once_and_keep_leases(tmp_path: Path) -> None:
    db = Metadata(tmp_path / "lamina.db")
    records = NetworkRecords(db)
    net = Network("n" * 64, "mine", Driver.BRIDGE, "2024-01-01T00:00:00Z", NET, GW)
    records.add(net)
    with pytest.raises(AlreadyExists, match="network with name mine already exists"):
        records.add(Network("m" * 64, "mine", Driver.BRIDGE, ""))
    with db.transaction() as tx:
        for cid in ("c1", "c2"):
            tx.execute(
                "INSERT INTO containers VALUES "
                "(?, ?, 'i', 'i', '', '{}', '{}', '[]', '{}', '', '[]')",
                (cid, cid),
            )
    for cid in ("c1", "c2"):
        records.join(net.id, cid, EndpointConfig())

    def lease(cid: str) -> Member:
        member = next(m for m in records.members(net.id) if m.container_id == cid)
        return records.lease(
            member,
            lambda taken: ipam.allocate(NET, GW, None, taken, network_name="mine"),
            endpoint_id="e",
            mac=mac_for,
            interface="eth0",
            dns_names=(cid,),
        )

    assert lease("c1").address == IPv4Address("172.18.0.2")
    assert lease("c2").address == IPv4Address("172.18.0.3")
    db.close()
    again = NetworkRecords(Metadata(tmp_path / "lamina.db"))  # a restarted daemon
    assert [m.address for m in again.members(net.id)] == [
        IPv4Address("172.18.0.2"),
        IPv4Address("172.18.0.3"),
    ]
    assert again.find("mine").id == net.id and again.find("nnn").id == net.id
    again.release(net.id, "c1")
    with again.db.transaction() as tx:
        tx.execute("DELETE FROM containers WHERE id = 'c2'")
    assert [m.container_id for m in again.members(net.id)] == ["c1"]  # removal cascades

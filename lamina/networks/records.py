"""Networks and members in SQLite (tables `networks`, `network_members`).

A lease is a member row with an address. The partial unique index on
(network_id, address) is what guarantees one address is never handed out twice; leases
are chosen and written in one transaction, and survive a daemon restart with the rows.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from lamina.errors import AlreadyExists, Conflict, NotFound
from lamina.networks.model import Driver, EndpointConfig, Member, Network
from lamina.store.metadata import Metadata, Row

Allocator = Callable[[set[IPv4Address]], IPv4Address]


class NetworkRecords:
    def __init__(self, db: Metadata) -> None:
        self.db = db

    # -- networks -------------------------------------------------------------

    def add(self, n: Network) -> None:
        try:
            with self.db.transaction() as tx:
                tx.execute(
                    "INSERT INTO networks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        n.id,
                        n.name,
                        str(n.driver),
                        n.created,
                        _text(n.subnet),
                        _text(n.gateway),
                        _text(n.ip_range),
                        int(n.internal),
                        json.dumps(n.labels),
                        json.dumps(n.options),
                    ),
                )
        except sqlite3.IntegrityError as err:
            raise AlreadyExists(f"network with name {n.name} already exists") from err

    def all(self) -> list[Network]:
        return [_network(r) for r in self.db.query("SELECT * FROM networks ORDER BY name")]

    def find(self, ref: str) -> Network:
        """By full ID, then name, then unique ID prefix (Docker's order)."""
        for sql in ("SELECT * FROM networks WHERE id = ?", "SELECT * FROM networks WHERE name = ?"):
            row = self.db.one(sql, (ref,))
            if row is not None:
                return _network(row)
        rows = self.db.query("SELECT * FROM networks WHERE id LIKE ?", (ref.lower() + "%",))
        if len(rows) == 1 and ref:
            return _network(rows[0])
        if len(rows) > 1:
            raise Conflict(
                f"network {ref} is ambiguous ({len(rows)} matches found based on ID prefix)"
            )
        raise NotFound(f"network {ref} not found")

    def remove(self, network_id: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM network_members WHERE network_id = ?", (network_id,))
            tx.execute("DELETE FROM networks WHERE id = ?", (network_id,))

    # -- members --------------------------------------------------------------

    def join(self, network_id: str, container_id: str, config: EndpointConfig) -> None:
        """Record a membership (idempotent: a second join updates what was asked)."""
        with self.db.transaction() as tx:
            row = tx.query(
                "SELECT COALESCE(MAX(position), -1) + 1 FROM network_members "
                "WHERE container_id = ?",
                (container_id,),
            )[0]
            tx.execute(
                "INSERT INTO network_members (network_id, container_id, config, position) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (network_id, container_id) "
                "DO UPDATE SET config = excluded.config",
                (network_id, container_id, json.dumps(config.to_json()), row[0]),
            )

    def leave(self, network_id: str, container_id: str) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "DELETE FROM network_members WHERE network_id = ? AND container_id = ?",
                (network_id, container_id),
            )

    def members_of(self, container_id: str) -> list[Member]:
        rows = self.db.query(
            "SELECT * FROM network_members WHERE container_id = ? ORDER BY position",
            (container_id,),
        )
        return [_member(r) for r in rows]

    def members(self, network_id: str | None = None) -> list[Member]:
        if network_id is None:
            rows = self.db.query("SELECT * FROM network_members ORDER BY position")
        else:
            rows = self.db.query(
                "SELECT * FROM network_members WHERE network_id = ? ORDER BY position",
                (network_id,),
            )
        return [_member(r) for r in rows]

    def lease(
        self,
        member: Member,
        allocate: Allocator,
        *,
        endpoint_id: str,
        mac: Callable[[IPv4Address], str],
        interface: str,
        dns_names: tuple[str, ...],
    ) -> Member:
        """Choose and record an address for `member` in one transaction."""
        with self.db.transaction() as tx:
            leased = {
                IPv4Address(r[0])
                for r in tx.query(
                    "SELECT address FROM network_members "
                    "WHERE network_id = ? AND address IS NOT NULL AND container_id != ?",
                    (member.network_id, member.container_id),
                )
            }
            address = allocate(leased)
            tx.execute(
                "UPDATE network_members SET endpoint_id = ?, address = ?, mac = ?, "
                "interface = ?, dns_names = ? WHERE network_id = ? AND container_id = ?",
                (
                    endpoint_id,
                    str(address),
                    mac(address),
                    interface,
                    json.dumps(list(dns_names)),
                    member.network_id,
                    member.container_id,
                ),
            )
        return self._one(member.network_id, member.container_id)

    def release(self, network_id: str, container_id: str) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE network_members SET endpoint_id = NULL, address = NULL, mac = NULL, "
                "interface = NULL, dns_names = NULL WHERE network_id = ? AND container_id = ?",
                (network_id, container_id),
            )

    def _one(self, network_id: str, container_id: str) -> Member:
        row = self.db.one(
            "SELECT * FROM network_members WHERE network_id = ? AND container_id = ?",
            (network_id, container_id),
        )
        if row is None:
            raise NotFound(f"container {container_id} is not connected to network {network_id}")
        return _member(row)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _network(r: Row) -> Network:
    return Network(
        id=r["id"],
        name=r["name"],
        driver=Driver(r["driver"]),
        created=r["created"],
        subnet=IPv4Network(r["subnet"]) if r["subnet"] else None,
        gateway=IPv4Address(r["gateway"]) if r["gateway"] else None,
        ip_range=IPv4Network(r["ip_range"]) if r["ip_range"] else None,
        internal=bool(r["internal"]),
        labels=json.loads(r["labels"]),
        options=json.loads(r["options"]),
    )


def _member(r: Row) -> Member:
    return Member(
        network_id=r["network_id"],
        container_id=r["container_id"],
        config=EndpointConfig.from_json(json.loads(r["config"])),
        endpoint_id=r["endpoint_id"] or "",
        address=IPv4Address(r["address"]) if r["address"] else None,
        mac=r["mac"] or "",
        interface=r["interface"] or "",
        dns_names=tuple(json.loads(r["dns_names"] or "[]")),
    )

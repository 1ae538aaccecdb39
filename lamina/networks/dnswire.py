"""The DNS message format (RFC 1035), as much as a container-name resolver needs.

Parses one question and builds answers with A or PTR records; everything else is
answered with an empty NOERROR (name exists, no such record) or NXDOMAIN.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address

TYPE_A = 1
TYPE_PTR = 12
CLASS_IN = 1
NOERROR = 0
FORMERR = 1
SERVFAIL = 2
NXDOMAIN = 3
NOTIMP = 4
TTL = 600  # Docker's embedded DNS answers with this TTL


class DnsFormatError(ValueError):
    pass


@dataclass(frozen=True)
class Question:
    id: int
    flags: int
    name: str  # lower case, no trailing dot
    qtype: int
    qclass: int
    raw: bytes  # the question section, echoed in the answer


def parse_query(packet: bytes) -> Question:
    if len(packet) < 12:
        raise DnsFormatError("short header")
    ident, flags, qdcount = struct.unpack("!HHH", packet[:6])
    if flags & 0x8000 or qdcount != 1:
        raise DnsFormatError("not a query with one question")
    labels, offset = [], 12
    while True:
        if offset >= len(packet):
            raise DnsFormatError("truncated name")
        length = packet[offset]
        offset += 1
        if length == 0:
            break
        if length & 0xC0:
            raise DnsFormatError("compressed question name")
        labels.append(packet[offset : offset + length].decode("ascii", "replace"))
        offset += length
    if offset + 4 > len(packet):
        raise DnsFormatError("truncated question")
    qtype, qclass = struct.unpack("!HH", packet[offset : offset + 4])
    return Question(ident, flags, ".".join(labels).lower(), qtype, qclass, packet[12 : offset + 4])


def answer(q: Question, rcode: int, records: Sequence[tuple[int, bytes]] = ()) -> bytes:
    """A response to `q` with (type, rdata) answers for the question's name."""
    flags = 0x8000 | (q.flags & 0x0100) | 0x0400 | 0x0080 | rcode  # QR, RD echoed, AA, RA
    header = struct.pack("!HHHHHH", q.id, flags, 1, len(records), 0, 0)
    body = b"".join(
        b"\xc0\x0c" + struct.pack("!HHIH", rtype, CLASS_IN, TTL, len(rdata)) + rdata
        for rtype, rdata in records
    )
    return header + q.raw + body


def a_record(address: IPv4Address) -> tuple[int, bytes]:
    return TYPE_A, address.packed


def ptr_record(name: str) -> tuple[int, bytes]:
    return TYPE_PTR, encode_name(name)


def encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii", "replace")[:63]
        out += bytes([len(raw)]) + raw
    return out + b"\x00"


def reverse_address(name: str) -> IPv4Address | None:
    """ "2.0.18.172.in-addr.arpa" → 172.18.0.2."""
    suffix = ".in-addr.arpa"
    if not name.endswith(suffix):
        return None
    parts = name[: -len(suffix)].split(".")
    try:
        return IPv4Address(".".join(reversed(parts))) if len(parts) == 4 else None
    except ValueError:
        return None

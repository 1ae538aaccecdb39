"""Content digests: `sha256:<64 hex>` strings, validated and computed."""

from __future__ import annotations

import hashlib
import re
from typing import NewType

from lamina.errors import InvalidArgument

Digest = NewType("Digest", str)

ALGORITHM = "sha256"
_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
_HEX_RE = re.compile(r"^[a-f0-9]{64}$")


def parse(value: str) -> Digest:
    """Return `value` as a Digest, or raise InvalidArgument naming it."""
    if not _DIGEST_RE.match(value):
        raise InvalidArgument(f"invalid digest {value!r}: expected sha256:<64 lowercase hex>")
    return Digest(value)


def is_digest(value: str) -> bool:
    return bool(_DIGEST_RE.match(value))


def is_hex(value: str) -> bool:
    return bool(_HEX_RE.match(value))


def of_bytes(data: bytes) -> Digest:
    return Digest(f"{ALGORITHM}:{hashlib.sha256(data).hexdigest()}")


def hex_of(digest: str) -> str:
    """The hex part of a digest (`sha256:abc…` → `abc…`)."""
    return digest.split(":", 1)[1]


def chain_ids(diff_ids: list[Digest]) -> list[Digest]:
    """ChainIDs as the OCI image spec defines them.

    ChainID(L0) = DiffID(L0); ChainID(L0|…|Ln) = sha256(ChainID(L0|…|Ln-1) + " " + DiffID(Ln)).
    """
    out: list[Digest] = []
    for diff_id in diff_ids:
        out.append(diff_id if not out else of_bytes(f"{out[-1]} {diff_id}".encode()))
    return out

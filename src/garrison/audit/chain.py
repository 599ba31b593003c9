"""The hash chain: what each audit row's hash covers.

    hash(n) = SHA-256( prev_hash(n) || node_id || seq(n) || canonical body(n) )

The canonical body is the full CloudTrail event serialised with sorted keys, so
any change to any field of the event breaks its hash and every later link.
The signed head message binds a chain's node, last sequence number and hash.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

GENESIS = "0" * 64


def canonical(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


def link_hash(prev_hash: str, node_id: str, seq: int, body: bytes) -> str:
    h = hashlib.sha256()
    h.update(prev_hash.encode())
    h.update(b"\x00")
    h.update(node_id.encode())
    h.update(b"\x00")
    h.update(str(seq).encode())
    h.update(b"\x00")
    h.update(body)
    return h.hexdigest()


def head_message(node_id: str, seq: int, hash_: str, signed_at: float) -> bytes:
    return f"garrison-audit-head\x00{node_id}\x00{seq}\x00{hash_}\x00{signed_at!r}".encode()

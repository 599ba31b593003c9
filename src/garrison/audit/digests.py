"""Periodic digests: every chain's head at one moment, signed, and linked.

A digest is the canonical JSON

    {"digestTime": t, "chains": {node: {"seq": n, "hash": h}, ...},
     "previousDigestHash": sha256(previous digest body || signature) or zeros}

signed with the trail's Ed25519 key. Digests cover all chains (the per-batch
signed heads cover one each), and they chain among themselves, so removing
events that a digest covered is detected even if the heads were rewritten.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from garrison.audit.chain import GENESIS, canonical
from garrison.crypto.signing import DigestSigner, verify_signature
from garrison.storage import schema
from garrison.storage.sql import func, insert, select
from garrison.storage.writer import Tx

_e = schema.audit_events
_d = schema.audit_digests


@dataclass(frozen=True)
class Digest:
    digest_id: str
    created_at: float
    body: str
    signature: bytes

    @property
    def chains(self) -> dict[str, dict[str, Any]]:
        chains: dict[str, dict[str, Any]] = orjson.loads(self.body)["chains"]
        return chains

    @property
    def previous(self) -> str:
        return str(orjson.loads(self.body)["previousDigestHash"])

    def link_hash(self) -> str:
        return hashlib.sha256(self.body.encode() + self.signature).hexdigest()


def latest_digest_time(tx: Tx) -> float | None:
    value = tx.execute(select(func.max(_d.c.created_at))).scalar()
    return float(value) if value is not None else None


def load_digests(tx: Tx) -> list[Digest]:
    rows = tx.execute(select(_d).order_by(_d.c.created_at, _d.c.digest_id)).all()
    return [Digest(r.digest_id, float(r.created_at), r.body, bytes(r.signature)) for r in rows]


def create_digest(tx: Tx, signer: DigestSigner, now: float) -> Digest:
    """Sign the current head of every chain, linked to the previous digest."""
    last = tx.execute(
        select(_e.c.node_id, func.max(_e.c.seq).label("seq")).group_by(_e.c.node_id)
    ).all()
    chains: dict[str, dict[str, Any]] = {}
    for node_id, seq in last:
        row_hash = tx.execute(
            select(_e.c.hash).where(_e.c.node_id == node_id, _e.c.seq == seq)
        ).scalar_one()
        chains[node_id] = {"seq": int(seq), "hash": row_hash}
    digests = load_digests(tx)
    previous = digests[-1].link_hash() if digests else GENESIS
    body = canonical({"digestTime": now, "chains": chains, "previousDigestHash": previous})
    signature = signer.sign(body)
    digest = Digest(hashlib.sha256(body).hexdigest(), now, body.decode(), signature)
    tx.execute(
        insert(_d),
        {
            "digest_id": digest.digest_id,
            "created_at": now,
            "body": digest.body,
            "signature": signature,
        },
    )
    return digest


def check_digests(digests: list[Digest], public_pem: str | None) -> str | None:
    """Signatures and links among digests; the first problem, or None."""
    previous = GENESIS
    for digest in digests:
        if public_pem is None or not verify_signature(
            public_pem, digest.signature, digest.body.encode()
        ):
            return f"digest {digest.digest_id} has a bad signature"
        if digest.previous != previous:
            return (
                f"digest {digest.digest_id} does not follow its predecessor (a digest was removed)"
            )
        previous = digest.link_hash()
    return None

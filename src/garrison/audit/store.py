"""Reading the trail back: rows for verification, events for LookupEvents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from garrison.audit.digests import Digest, load_digests
from garrison.audit.verify import EventRow, HeadRow
from garrison.storage import schema
from garrison.storage.database import Database
from garrison.storage.sql import select

_e = schema.audit_events


def iter_event_rows(db: Database, batch: int = 5000) -> Iterator[EventRow]:
    """Every event ordered by (node, seq), in pages so memory stays flat."""
    after: tuple[str, int] = ("", 0)
    while True:
        node, seq = after
        stmt = (
            select(
                _e.c.node_id,
                _e.c.seq,
                _e.c.event_id,
                _e.c.event_name,
                _e.c.body,
                _e.c.prev_hash,
                _e.c.hash,
            )
            .where((_e.c.node_id > node) | ((_e.c.node_id == node) & (_e.c.seq > seq)))
            .order_by(_e.c.node_id, _e.c.seq)
            .limit(batch)
        )
        rows: list[Any] = db.read(lambda tx, s=stmt: list(tx.execute(s).all()))  # type: ignore[misc]
        if not rows:
            return
        for r in rows:
            yield EventRow(
                r.node_id, int(r.seq), r.event_id, r.event_name, r.body, r.prev_hash, r.hash
            )
        after = (rows[-1].node_id, int(rows[-1].seq))


def load_heads(db: Database) -> dict[str, HeadRow]:
    t = schema.audit_heads
    rows = db.read(lambda tx: tx.execute(select(t)).all())
    return {
        r.node_id: HeadRow(r.node_id, int(r.seq), r.hash, float(r.signed_at), bytes(r.signature))
        for r in rows
    }


def load_all_digests(db: Database) -> list[Digest]:
    return db.read(load_digests)

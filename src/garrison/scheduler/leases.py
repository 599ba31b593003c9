"""Database leases: one holder per name until it releases or the lease expires.

A lease row says who holds a job and until when (`expires_at`, epoch seconds
of the injected clock). Every decision compares `expires_at` with the clock of
the node deciding, so the nodes' clocks must agree to well within the lease
time (NTP does this; in dev mode each node's clock is moved on its own, and
tests move them together or on purpose apart).

    acquire   free, expired (expires_at <= now) or already ours -> ours until now + ttl
    hold      inside an item's transaction: still ours and live -> renewed; else False
    release   ours -> expires_at = 0 (free at once)

`hold` is the fence: an item's work runs in the same transaction that proves
the lease is still this node's, so a leader that stalled past its lease (and
lost it to another node) cannot act on anything afterwards.

`acquire` never waits on another node: on PostgreSQL a lease row locked by
another node's transaction in progress (its leader in the middle of an item)
counts as held (`FOR UPDATE SKIP LOCKED`). The writer runs one unit at a time,
so waiting there would stall every request of this node behind a peer's slow
item. (`hold` and `release` touch only this node's own lease; at most they
wait for a peer's `acquire` check, which takes no longer than one batch.)
"""

from __future__ import annotations

from garrison.storage import schema
from garrison.storage.database import Database
from garrison.storage.sql import IntegrityError, insert, select, update
from garrison.storage.writer import Tx

_t = schema.leases


def acquire(db: Database, name: str, holder: str, now: float, ttl: float) -> bool:
    """Take or renew the lease; True when `holder` holds it until now + ttl."""
    if ttl <= 0:
        raise ValueError("a lease needs a positive time to live")

    def unit(tx: Tx) -> bool:
        row = tx.execute(
            select(_t.c.holder, _t.c.expires_at)
            .where(_t.c.name == name)
            .with_for_update(skip_locked=True)
        ).first()
        if row is not None:
            if row.holder != holder and row.expires_at > now:
                return False  # another node holds a live lease
            tx.execute(
                update(_t).where(_t.c.name == name).values(holder=holder, expires_at=now + ttl)
            )
            return True
        if tx.execute(select(_t.c.name).where(_t.c.name == name)).first() is not None:
            return False  # the row exists but another node is using it right now
        sp = tx.savepoint()
        try:
            tx.execute(insert(_t), {"name": name, "holder": holder, "expires_at": now + ttl})
            sp.commit()
        except IntegrityError:  # another node inserted it first
            sp.rollback()
            return False
        return True

    return db.writer.run_sync(unit)


def hold(tx: Tx, name: str, holder: str, now: float, ttl: float) -> bool:
    """Inside a unit: renew the lease if `holder` still has it live at `now`.

    The UPDATE locks the lease row until the unit's batch commits, so no
    other node can take the lease while this unit's work is in flight.
    """
    result = tx.execute(
        update(_t)
        .where(_t.c.name == name)
        .where(_t.c.holder == holder)
        .where(_t.c.expires_at > now)
        .values(expires_at=now + ttl)
    )
    return bool(result.rowcount)


def release(db: Database, name: str, holder: str) -> None:
    """Free the lease at once if `holder` still has it."""

    def unit(tx: Tx) -> None:
        tx.execute(
            update(_t).where(_t.c.name == name).where(_t.c.holder == holder).values(expires_at=0.0)
        )

    db.writer.run_sync(unit)


def current(db: Database, name: str) -> tuple[str, float] | None:
    """Who holds the lease and until when (for operators and tests)."""

    def read(tx: Tx) -> tuple[str, float] | None:
        row = tx.execute(select(_t.c.holder, _t.c.expires_at).where(_t.c.name == name)).first()
        return (str(row.holder), float(row.expires_at)) if row else None

    return db.read(read)

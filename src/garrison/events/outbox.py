"""The delivery outbox and the dead-letter record (tables ``events_outbox``,
``events_dead_letters``).

`enqueue` is called by the bus inside the transaction of the change that made
the event, so a delivery exists exactly when its change committed. The deliverer
`claim`s due rows with a lease (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so nodes
never claim the same row; SQLite has one writer), then settles each: `delivered`
deletes it, `retry_later` reschedules it, `give_up` moves it to the dead-letter
record. A node that dies holding a lease leaves the row to be claimed again when
the lease runs out: delivery is at-least-once. Payloads are sealed by the barrier.
"""

from __future__ import annotations

from dataclasses import dataclass

from garrison.storage import schema
from garrison.storage.sql import and_, delete, func, insert, or_, select, update
from garrison.storage.writer import Tx

_outbox = schema.events_outbox
_dead = schema.events_dead_letters


@dataclass(frozen=True, slots=True)
class Pending:
    """One claimed delivery: which rule's target gets which payload."""

    delivery_id: str
    account_id: str
    region: str
    event_bus: str
    rule: str
    target_id: str
    event_id: str
    payload: bytes
    created_at: float
    attempts: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    delivery_id: str
    account_id: str
    region: str
    event_bus: str
    rule: str
    target_id: str
    target_arn: str
    event_id: str
    payload: bytes
    attempts: int
    created_at: float
    failed_at: float
    error: str


def enqueue(
    tx: Tx,
    *,
    delivery_id: str,
    account_id: str,
    region: str,
    event_bus: str,
    rule: str,
    target_id: str,
    event_id: str,
    payload: bytes,
    now: float,
) -> None:
    tx.execute(
        insert(_outbox),
        {
            "delivery_id": delivery_id,
            "account_id": account_id,
            "region": region,
            "event_bus": event_bus,
            "rule": rule,
            "target_id": target_id,
            "event_id": event_id,
            "payload": tx.barrier.seal("events_outbox", delivery_id, "payload", payload),
            "created_at": now,
            "attempts": 0,
            "next_attempt_at": now,
            "lease_until": None,
            "lease_holder": None,
            "last_error": None,
        },
    )


def claim(tx: Tx, now: float, holder: str, lease_seconds: float, limit: int) -> list[Pending]:
    """Up to `limit` deliveries due at `now` and not leased, leased to `holder`."""
    rows = tx.execute(
        select(_outbox)
        .where(_outbox.c.next_attempt_at <= now)
        .where(or_(_outbox.c.lease_until.is_(None), _outbox.c.lease_until < now))
        .order_by(_outbox.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return []
    ids = [row.delivery_id for row in rows]
    tx.execute(
        update(_outbox)
        .where(_outbox.c.delivery_id.in_(ids))
        .values(lease_until=now + lease_seconds, lease_holder=holder)
    )
    return [
        Pending(
            delivery_id=row.delivery_id,
            account_id=row.account_id,
            region=row.region,
            event_bus=row.event_bus,
            rule=row.rule,
            target_id=row.target_id,
            event_id=row.event_id,
            payload=tx.barrier.open("events_outbox", row.delivery_id, "payload", row.payload),
            created_at=row.created_at,
            attempts=row.attempts,
        )
        for row in rows
    ]


def delivered(tx: Tx, delivery_id: str, holder: str) -> bool:
    """The target took it: forget it. False if the lease was lost meanwhile."""
    done = tx.execute(
        delete(_outbox).where(
            and_(_outbox.c.delivery_id == delivery_id, _outbox.c.lease_holder == holder)
        )
    )
    return bool(done.rowcount)


def retry_later(
    tx: Tx, delivery_id: str, holder: str, *, attempts: int, next_attempt_at: float, error: str
) -> None:
    tx.execute(
        update(_outbox)
        .where(and_(_outbox.c.delivery_id == delivery_id, _outbox.c.lease_holder == holder))
        .values(
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            lease_until=None,
            lease_holder=None,
            last_error=error[:1024],
        )
    )


def give_up(
    tx: Tx, pending: Pending, holder: str, *, target_arn: str, attempts: int, error: str, now: float
) -> None:
    """Move a delivery to the dead-letter record (the retry policy is exhausted, or
    retrying cannot help)."""
    gone = tx.execute(
        delete(_outbox).where(
            and_(_outbox.c.delivery_id == pending.delivery_id, _outbox.c.lease_holder == holder)
        )
    )
    if not gone.rowcount:  # another node took it over meanwhile
        return
    tx.execute(
        insert(_dead),
        {
            "delivery_id": pending.delivery_id,
            "account_id": pending.account_id,
            "region": pending.region,
            "event_bus": pending.event_bus,
            "rule": pending.rule,
            "target_id": pending.target_id,
            "target_arn": target_arn,
            "event_id": pending.event_id,
            "payload": tx.barrier.seal(
                "events_dead_letters", pending.delivery_id, "payload", pending.payload
            ),
            "attempts": attempts,
            "created_at": pending.created_at,
            "failed_at": now,
            "error": error[:1024],
        },
    )


def dead_letters(
    tx: Tx, account_id: str | None, region: str | None, *, limit: int, after: float = 0.0
) -> list[DeadLetter]:
    """Dead letters by failure time (of one account and Region, or all)."""
    stmt = select(_dead).where(_dead.c.failed_at > after)
    if account_id is not None:
        stmt = stmt.where(_dead.c.account_id == account_id)
    if region is not None:
        stmt = stmt.where(_dead.c.region == region)
    rows = tx.execute(stmt.order_by(_dead.c.failed_at).limit(limit)).all()
    return [
        DeadLetter(
            delivery_id=row.delivery_id,
            account_id=row.account_id,
            region=row.region,
            event_bus=row.event_bus,
            rule=row.rule,
            target_id=row.target_id,
            target_arn=row.target_arn,
            event_id=row.event_id,
            payload=tx.barrier.open("events_dead_letters", row.delivery_id, "payload", row.payload),
            attempts=row.attempts,
            created_at=row.created_at,
            failed_at=row.failed_at,
            error=row.error,
        )
        for row in rows
    ]


def pending_count(tx: Tx) -> int:
    return int(tx.execute(select(func.count()).select_from(_outbox)).scalar_one())

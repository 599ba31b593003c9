"""Persistence of rotations in progress (`sm_rotations`) and of the secrets' rotation fields.

One row per secret while a rotation runs: the AWSPENDING version's id (the
rotation's ClientRequestToken), the step to run next, how often it was tried,
when it is tried next and the last failure (a message that never holds a value).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from garrison.services.secretsmanager.store import Secret, _secret
from garrison.storage import schema
from garrison.storage.sql import delete, insert, select, update
from garrison.storage.writer import Tx

_R = schema.sm_rotations
_S = schema.sm_secrets


@dataclass(frozen=True)
class Rotation:
    secret_id: str
    version_id: str
    step: str
    started_at: float
    attempts: int
    next_attempt_at: float
    last_error: str | None


def _rotation(row: Any) -> Rotation:
    return Rotation(
        secret_id=row.secret_id,
        version_id=row.version_id,
        step=row.step,
        started_at=float(row.started_at),
        attempts=int(row.attempts),
        next_attempt_at=float(row.next_attempt_at),
        last_error=row.last_error,
    )


def get(tx: Tx, secret_id: str) -> Rotation | None:
    row = tx.execute(select(_R).where(_R.c.secret_id == secret_id)).first()
    return None if row is None else _rotation(row)


def start(tx: Tx, secret_id: str, version_id: str, step: str, now: float) -> None:
    tx.execute(delete(_R).where(_R.c.secret_id == secret_id))
    tx.execute(
        insert(_R),
        {
            "secret_id": secret_id,
            "version_id": version_id,
            "step": step,
            "started_at": now,
            "attempts": 0,
            "next_attempt_at": now,
            "last_error": None,
        },
    )


def change(tx: Tx, secret_id: str, **values: Any) -> None:
    tx.execute(update(_R).where(_R.c.secret_id == secret_id).values(**values))


def finish(tx: Tx, secret_id: str) -> None:
    tx.execute(delete(_R).where(_R.c.secret_id == secret_id))


def due_attempts(tx: Tx, now: float, limit: int = 50) -> list[str]:
    rows = tx.execute(
        select(_R.c.secret_id)
        .where(_R.c.next_attempt_at <= now)
        .order_by(_R.c.next_attempt_at)
        .limit(limit)
    ).all()
    return [r.secret_id for r in rows]


def due_schedules(tx: Tx, now: float, limit: int = 50) -> list[str]:
    """Secrets whose next rotation window has opened and that have no rotation running."""
    running = select(_R.c.secret_id)
    rows = tx.execute(
        select(_S.c.secret_id)
        .where(
            _S.c.rotation_enabled.is_(True),
            _S.c.next_rotation.is_not(None),
            _S.c.next_rotation <= now,
            _S.c.deleted_at.is_(None),
            _S.c.secret_id.not_in(running),
        )
        .order_by(_S.c.next_rotation)
        .limit(limit)
    ).all()
    return [r.secret_id for r in rows]


def by_id(tx: Tx, secret_id: str) -> Secret | None:
    row = tx.execute(select(_S).where(_S.c.secret_id == secret_id)).first()
    return None if row is None else _secret(row)

"""Database leases: one holder per name until it releases or the lease expires."""

from __future__ import annotations

from garrison.storage import schema
from garrison.storage.database import Database
from garrison.storage.sql import IntegrityError, insert, update
from garrison.storage.writer import Tx

_t = schema.leases


def acquire(db: Database, name: str, holder: str, now: float, ttl: float) -> bool:
    """Take or renew the lease; True when `holder` holds it until now + ttl."""

    def unit(tx: Tx) -> bool:
        result = tx.execute(
            update(_t)
            .where(_t.c.name == name)
            .where((_t.c.holder == holder) | (_t.c.expires_at <= now))
            .values(holder=holder, expires_at=now + ttl)
        )
        if result.rowcount:
            return True
        sp = tx.savepoint()
        try:
            tx.execute(insert(_t), {"name": name, "holder": holder, "expires_at": now + ttl})
            sp.commit()
        except IntegrityError:
            sp.rollback()
            return False
        return True

    return db.writer.run_sync(unit)


def release(db: Database, name: str, holder: str) -> None:
    def unit(tx: Tx) -> None:
        tx.execute(
            update(_t).where(_t.c.name == name).where(_t.c.holder == holder).values(expires_at=0.0)
        )

    db.writer.run_sync(unit)

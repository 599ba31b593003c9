"""Store helpers the services' store.py files share, over `garrison.storage.sql`.

Timestamps are epoch-second floats in the database and aware UTC datetimes in
the domain (`ts`, `dt`). Lists are keyset-paginated: a page asks for the rows
whose key sorts after the last key of the previous page (`after_key`), so it
stays right while other requests add or remove rows. Every function runs inside
the caller's `Tx`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from garrison.storage.sql import func, select
from garrison.storage.writer import Tx

T = TypeVar("T")


def ts(value: datetime) -> float:
    return value.timestamp()


def dt(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def opt_dt(value: float | None) -> datetime | None:
    return None if value is None else dt(value)


def first(tx: Tx, stmt: Any, build: Callable[[Any], T]) -> T | None:
    """The first row `stmt` selects, made a domain object by `build`; None if none."""
    row = tx.execute(stmt).first()
    return None if row is None else build(row)


def exists(tx: Tx, stmt: Any) -> bool:
    """Whether `stmt` selects any row."""
    return tx.execute(stmt.limit(1)).first() is not None


def count(tx: Tx, table: Any, *where: Any) -> int:
    """How many rows of `table` match every condition of `where`."""
    stmt = select(func.count()).select_from(table).where(*where)
    return int(tx.execute(stmt).scalar_one())


def after_key(stmt: Any, key: Any, after: str | None, limit: int) -> Any:
    """`stmt` narrowed to the `limit` rows whose `key` column sorts after `after`, in order."""
    if after is not None:
        stmt = stmt.where(key > after)
    return stmt.order_by(key).limit(limit)

"""The store as the rest of Garrison sees it: engines, barrier, writer, reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine, make_url, select

from garrison.storage import schema
from garrison.storage.barrier import Barrier
from garrison.storage.engine import make_engine, migrate, normalise_url
from garrison.storage.writer import Tx, Writer

T = TypeVar("T")


def display_url(url: str) -> str:
    """The database URL with any password masked, for printing."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<the database URL>"


def sqlite_path(url: str) -> str:
    """The file of a SQLite database URL."""
    return make_url(url).database or ""


class Database:
    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self.engine: Engine = make_engine(self.url, writer=True)
        # SQLite readers must not take the write lock; PostgreSQL needs no split.
        self.read_engine: Engine = (
            make_engine(self.url, writer=False) if self.is_sqlite else self.engine
        )
        self.barrier = Barrier()
        self.writer = Writer(self.engine, self.barrier, self.read_engine)

    def migrate(self) -> None:
        migrate(self.engine)
        with self.engine.begin() as conn:
            if conn.execute(select(schema.state_version.c.id)).first() is None:
                conn.execute(schema.state_version.insert(), {"id": 1, "version": 0})

    def read(self, fn: Callable[[Tx], T]) -> T:
        """Run `fn` in a read transaction outside the writer (no audit, no changes)."""
        with self.read_engine.connect() as conn, conn.begin():
            return fn(Tx(conn, self.barrier))

    def write(self, fn: Callable[[Tx], T]) -> T:
        """Run `fn` as one unit through the writer, from a thread that may block."""
        return self.writer.run_sync(fn)

    def state_version(self) -> int:
        return self.read(
            lambda tx: int(
                tx.execute(
                    select(schema.state_version.c.version).where(schema.state_version.c.id == 1)
                ).scalar_one()
            )
        )

    def close(self) -> None:
        self.writer.stop()
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

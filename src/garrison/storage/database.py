"""The store as the rest of Garrison sees it: engines, barrier, writer, reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine, make_url, select

from garrison.storage import schema
from garrison.storage.barrier import Barrier
from garrison.storage.engine import WalSync, make_engine, migrate, normalise_url
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
        path = sqlite_path(self.url) if self.is_sqlite else ""
        # a SQLite file's WAL: the writer commits at NORMAL and flushes it itself
        self.wal = WalSync(path) if path and path != ":memory:" else None
        self.writer = Writer(self.engine, self.barrier, self.read_engine, self.wal)

    def migrate(self) -> None:
        migrate(self.engine)
        with self.engine.begin() as conn:
            if conn.execute(select(schema.state_version.c.id)).first() is None:
                conn.execute(schema.state_version.insert(), {"id": 1, "version": 0})

    def read(self, fn: Callable[[Tx], T]) -> T:
        """Run `fn` in a read transaction outside the writer (no audit, no changes).

        On SQLite what it read is flushed before it is returned: a worker's commit is
        visible before that worker's flush (`WalSync`), and what is read here is acted
        on (a job run, an event sent) without a commit of the reader's own."""
        with self.read_engine.connect() as conn, conn.begin():
            result = fn(Tx(conn, self.barrier))
        if self.wal is not None:
            self.wal.sync()
        return result

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
        if self.wal is not None:
            self.wal.close()
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

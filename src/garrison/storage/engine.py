"""Engines for SQLite (WAL, synchronous=FULL but see `WalSync`), PostgreSQL, migrations.

SQLite's driver manages transactions in a way that breaks SAVEPOINT; we take
that over (isolation_level=None, our own BEGIN) so nested transactions work,
as SQLAlchemy's documentation recommends.

`WalSync` is how the group-commit writer keeps FULL's promise with its own
connection at ``synchronous=NORMAL``: it flushes the WAL itself, after COMMIT
and outside the commit lock, before anyone is answered (storage/writer.py).
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` and use psycopg 3 for both."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, pool: bool = True, writer: bool = True) -> Engine:
    """An engine; on SQLite, `writer` engines take the write lock at BEGIN."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            **({} if pool else {"poolclass": NullPool}),
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # on the driver's connection: through `exec_driver_sql`, 6 us more a transaction
            conn.connection.dbapi_connection.execute(begin)

        return engine
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if not pool:
        kwargs["poolclass"] = NullPool
    # synchronous_commit is PostgreSQL's default (on); set it explicitly so a
    # server configured otherwise still makes each answered change durable.
    return create_engine(url, connect_args={"options": "-c synchronous_commit=on"}, **kwargs)


def migrate(engine: Engine) -> None:
    """Apply every alembic migration not yet applied (idempotent)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


_fdatasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


class WalSync:
    """``fdatasync`` of a SQLite store's write-ahead log, for commits made at NORMAL.

    At ``synchronous=FULL`` SQLite syncs the WAL inside COMMIT, while it holds the
    store's write lock, so the worker processes sharing a store take turns not only
    to write their batches but to wait for each one's fsync. The writer's connection
    commits at NORMAL instead (the frames reach the file, not yet the disk) and calls
    `sync` after COMMIT, outside the lock, before any caller of the batch is
    answered: one worker's flush overlaps the next one's commit, and a flush covers
    every frame written before it, whoever wrote it. A commit is visible to other
    connections from COMMIT on, so whatever acts on state it read also syncs before
    it answers or acts: the writer after each batch, `Database.read` after each read.
    (GetSecretValue over HTTP, two workers: ~5 % more requests a second; figures in
    docs/performance.md, tenth pass.)

    The WAL file keeps its inode while any connection to the store is open; one
    deleted since it was opened here (the last connection closed) is opened anew.
    """

    def __init__(self, database: str) -> None:
        self.path = database + "-wal"
        self._fd = -1
        self._lock = threading.Lock()  # the committer and background readers share the fd

    def sync(self) -> None:
        """Make every frame written to the WAL so far durable; OSError if it cannot."""
        with self._lock:
            fd = self._fd
            if fd < 0 or os.fstat(fd).st_nlink == 0:
                fd = self._open()
                if fd < 0:
                    return  # no WAL file: no frame that is not in the database file
            _fdatasync(fd)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def _open(self) -> int:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        with contextlib.suppress(FileNotFoundError):
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        return self._fd

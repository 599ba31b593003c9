"""Engines for SQLite (WAL, synchronous=FULL) and PostgreSQL, and migrations.

SQLite's driver manages transactions in a way that breaks SAVEPOINT; we take
that over (isolation_level=None, our own BEGIN) so nested transactions work,
as SQLAlchemy's documentation recommends.
"""

from __future__ import annotations

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

"""Stores at a given migration, for the tests of one migration on data."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from garrison.storage.engine import MIGRATIONS, make_engine
from tests.conftest import create_pg_database, drop_pg_database, pg_available


def migrate(engine: Engine, direction: str, revision: str) -> None:
    """alembic `direction` ("upgrade" or "downgrade") to `revision`, in one transaction."""
    with engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        if direction == "upgrade":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)


@contextlib.contextmanager
def store_at(backend: str, tmp_path: Path, revision: str) -> Iterator[Engine]:
    """A new database of its own on `backend`, migrated to `revision`; dropped afterwards."""
    postgresql = backend == "postgresql"
    if postgresql:
        assert pg_available(), "PostgreSQL at 127.0.0.1:5432 is required"
        url = create_pg_database()
    else:
        url = f"sqlite:///{tmp_path / 'garrison.db'}"
    engine = make_engine(url, pool=False, writer=False)
    try:
        migrate(engine, "upgrade", revision)
        yield engine
    finally:
        engine.dispose()
        if postgresql:
            drop_pg_database(url)

"""`Prepared` and the audit rows run on the DB-API cursor, on a real store (SQLite and
PostgreSQL): the same values, rowcounts, savepoints and errors as through SQLAlchemy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Boolean, Column, Float, Integer, LargeBinary, MetaData, String, Table
from sqlalchemy.exc import IntegrityError

from garrison.storage.database import Database
from garrison.storage.sql import bindparam, insert, select, update
from garrison.storage.writer import Prepared, Tx

_meta = MetaData()
things = Table(
    "prepared_things",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(64), nullable=False, unique=True),
    Column("flag", Boolean, nullable=False),
    Column("blob", LargeBinary, nullable=False),
    Column("at", Float, nullable=True),
)
# a literal the statement carries (id) and a bind parameter (the name to match)
RENAME = Prepared(update(things).where(things.c.id == 1).where(things.c.name == bindparam("old")))
SET_BY_ID = Prepared(update(things).where(things.c.id == bindparam("thing")))
ADD = Prepared(insert(things))


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    database = Database(store_url)
    _meta.drop_all(database.engine)
    _meta.create_all(database.engine)
    database.writer.start()
    yield database
    database.close()


def add(db: Database, thing_id: int, name: str) -> None:
    row = {"id": thing_id, "name": name, "flag": False, "blob": b"\x00", "at": None}
    assert db.write(lambda tx: ADD.run(tx, row)) == 1


def read(db: Database, thing_id: int) -> tuple[object, ...] | None:
    row = db.read(
        lambda tx: tx.execute(
            select(things.c.name, things.c.flag, things.c.blob, things.c.at).where(
                things.c.id == thing_id
            )
        ).first()
    )
    return None if row is None else tuple(row)


def test_values_literals_and_rowcounts(db: Database) -> None:
    add(db, 1, "one")
    add(db, 2, "two")
    changed = db.write(
        lambda tx: SET_BY_ID.run(tx, {"thing": 2, "flag": True, "blob": b"\xff\x00", "at": 1.5})
    )
    assert changed == 1
    assert read(db, 2) == ("two", True, b"\xff\x00", 1.5)
    assert read(db, 1) == ("one", False, b"\x00", None)  # untouched
    # the literal id = 1 is kept; the bound name must match too
    assert db.write(lambda tx: RENAME.run(tx, {"old": "two", "name": "x"})) == 0
    assert db.write(lambda tx: RENAME.run(tx, {"old": "one", "name": "uno"})) == 1
    assert read(db, 1) == ("uno", False, b"\x00", None)
    assert db.write(lambda tx: SET_BY_ID.run(tx, {"thing": 9, "flag": True})) == 0


def test_a_rolled_back_savepoint_takes_the_change_with_it(db: Database) -> None:
    add(db, 1, "one")

    def unit(tx: Tx) -> None:
        sp = tx.savepoint()
        SET_BY_ID.run(tx, {"thing": 1, "name": "changed"})
        sp.rollback()
        SET_BY_ID.run(tx, {"thing": 1, "at": 2.0})

    db.write(unit)
    assert read(db, 1) == ("one", False, b"\x00", 2.0)


def test_driver_errors_arrive_as_sqlalchemys_without_parameters(db: Database) -> None:
    add(db, 1, "one")
    add(db, 2, "two")
    secret = "do-not-log-this-value"
    with pytest.raises(IntegrityError) as raised:
        db.write(lambda tx: ADD.run(tx, {"id": 1, "name": secret, "flag": 1, "blob": b""}))
    assert secret not in str(raised.value)
    with pytest.raises(IntegrityError):  # the unique name
        db.write(lambda tx: SET_BY_ID.run(tx, {"thing": 2, "name": "one"}))
    assert read(db, 2) == ("two", False, b"\x00", None)
    add(db, 3, "three")  # the writer goes on


def test_a_missing_parameter_is_refused_before_anything_runs(db: Database) -> None:
    add(db, 1, "one")
    with pytest.raises(KeyError, match="old"):
        db.write(lambda tx: RENAME.run(tx, {"name": "never"}))
    assert read(db, 1) == ("one", False, b"\x00", None)

"""The units of read-only calls read committed state beside the batch (SQLite, PostgreSQL).

`Writer.run(unit, read_only=True)` (the pipeline's, for a call its service marks
read-only) runs the unit's SELECTs in a read transaction of their own instead of the
batch's: such a unit neither waits for the commit in flight nor, where worker processes
share a SQLite store, for the commit lock. What it still shares with the batch: its
audit rows and coalesced writes commit with it, and it is answered only once they are
durable. A read-only unit that reaches for a write runs again inside the batch.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

from garrison.storage.database import Database, sqlite_path
from garrison.storage.sql import insert, select
from garrison.storage.writer import Tx
from tests.storage.test_writer_failures import PARENT, WAIT, CommitHold, Store, rows


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store(store_url)
    yield s
    s.db.close()


def _audited(store: Store, tx: Tx, source: str) -> None:
    event = {"eventID": str(uuid.uuid4()), "eventName": "Get", "eventSource": source}
    store.trail.append(tx, event, epoch=store.clock[0])


def reader(store: Store, saw: list[set[str]], ran: threading.Event, source: str) -> object:
    """A unit that reads the notes, audits itself and tells the test it ran."""

    def unit(tx: Tx) -> str:
        saw.append(set(tx.execute(select(rows.c.note)).scalars().all()))
        _audited(store, tx, source)
        ran.set()
        return source

    return unit


def test_a_read_only_unit_reads_committed_state_while_a_commit_is_in_flight(
    store: Store,
) -> None:
    store.still_serves("before")
    hold = CommitHold(store)
    try:
        writing = store.db.writer.submit(store.unit("in flight"))
        assert hold.entered.wait(WAIT)  # its batch is committing, held before COMMIT
        saw: list[set[str]] = []
        ran = threading.Event()
        read = store.db.writer.submit(reader(store, saw, ran, "reader"), read_only=True)
        assert ran.wait(WAIT), "the read-only unit waited for the commit in flight"
        assert saw == [{"before"}]  # committed state: not the batch still committing
        assert not read.done()  # answered only once its own audit row is durable
    finally:
        hold.release.set()
    assert writing.result(WAIT) == "in flight"
    assert read.result(WAIT) == "reader"
    hold.remove()
    assert store.event_sources()[-2:] == ["in flight", "reader"]
    assert store.verify().ok


def test_a_read_only_unit_that_writes_runs_again_in_the_batch(store: Store) -> None:
    runs: list[int] = []
    undone: list[int] = []
    row_id = next(store.ids)

    def unit(tx: Tx) -> str:
        runs.append(len(tx.execute(select(rows.c.id)).all()))
        tx.on_rollback(lambda: undone.append(1))
        _audited(store, tx, "upgraded")  # a batch row, before the write: kept once
        tx.execute(insert(rows), {"id": row_id, "note": "upgraded", "parent_id": PARENT})
        return "done"

    assert store.db.writer.submit(unit, read_only=True).result(WAIT) == "done"
    assert len(runs) == 2  # once read-only, once in the batch's transaction
    assert undone == [1]  # what the first run left was undone
    assert "upgraded" in store.notes()
    assert store.event_sources().count("upgraded") == 1
    store.still_serves("after")


def test_a_read_only_unit_that_fails_answers_its_error(store: Store) -> None:
    def unit(tx: Tx) -> str:
        tx.execute(select(rows.c.note)).all()
        _audited(store, tx, "failing reader")
        raise LookupError("not there")

    fut = store.db.writer.submit(unit, read_only=True)
    assert isinstance(fut.exception(WAIT), LookupError)
    assert "failing reader" not in store.event_sources()
    store.still_serves("after a failed read")


def test_a_read_only_unit_reads_while_another_process_holds_the_commit_lock(
    tmp_path: Path,
) -> None:
    """SQLite's: worker processes on PostgreSQL commit without the lock."""
    from garrison.workers import CommitLock

    url = f"sqlite:///{tmp_path / 'garrison.db'}"
    db = Database(url)
    db.migrate()
    db.close()
    store = Store(url)
    store.still_serves("before the lock")
    path = sqlite_path(store.db.url) + ".commit-lock"
    store.db.writer.commit_lock = CommitLock(path)
    other = CommitLock(path)  # another open file: as another worker's
    other.acquire()
    saw: list[set[str]] = []
    saw_writing: list[set[str]] = []
    ran, ran_writing = threading.Event(), threading.Event()
    read: Future[object] | None = None
    try:
        read = store.db.writer.submit(reader(store, saw, ran, "locked reader"), read_only=True)
        assert ran.wait(WAIT), "the read-only unit waited for the commit lock"
        assert not read.done()  # its audit row commits under the lock
        writing = store.db.writer.submit(reader(store, saw_writing, ran_writing, "in batch"))
        assert not ran_writing.wait(0.3)  # a unit of the batch's transaction waits for it
    finally:
        other.release()
        other.close()
    assert read.result(WAIT) == "locked reader"
    assert writing.result(WAIT) == "in batch"
    assert saw == saw_writing == [{"before the lock"}]
    assert store.verify().ok
    store.db.close()
    store.db.writer.commit_lock.close()

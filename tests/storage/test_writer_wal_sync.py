"""On SQLite the writer commits at NORMAL and flushes the WAL itself, outside the lock.

`garrison.storage.engine.WalSync`: at ``synchronous=FULL`` SQLite fsyncs inside
COMMIT, holding the store's write lock, so worker processes sharing a store wait for
each other's fsync. The writer's own connection commits at NORMAL instead, and the
committer flushes the WAL after COMMIT, once the lock is free, before anyone is
answered. Proven here on a real store file: the order (COMMIT, lock free, flush,
answer), the failed flush (callers fail; by default the process stops), the WAL file
SQLite replaced, and `Database.read` (whose reader acts on what it read) flushing too.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from garrison.storage import engine as engine_module
from garrison.storage.database import Database, sqlite_path
from garrison.storage.engine import WalSync
from garrison.storage.writer import Tx
from tests.storage.test_writer_failures import WAIT, Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'garrison.db'}"
    db = Database(url)
    db.migrate()
    db.close()
    s = Store(url)
    yield s
    s.db.close()


class HeldSync(WalSync):
    """The real flush, held until released; records what the store showed meanwhile."""

    def __init__(self, database: str) -> None:
        super().__init__(database)
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail: OSError | None = None

    def sync(self) -> None:
        self.entered.set()
        assert self.release.wait(WAIT)
        if self.fail is not None:
            raise self.fail
        super().sync()


def _notes(path: str) -> set[str]:
    """The notes another connection (another worker) sees."""
    with sqlite3.connect(path) as conn:
        return {note for (note,) in conn.execute("SELECT note FROM wf_rows")}


def test_a_batch_is_answered_after_the_wal_flush_which_runs_outside_the_lock(
    store: Store,
) -> None:
    path = sqlite_path(store.db.url)
    held = HeldSync(path)
    store.db.writer.wal = held
    try:
        fut = store.db.writer.submit(store.unit("flushed"))
        assert held.entered.wait(WAIT)
        assert "flushed" in _notes(path)  # COMMIT came first: visible, not yet answered
        assert not fut.done()
        # the write lock is free meanwhile: another worker's batch commits now
        other = Store(store.db.url)
        try:
            assert other.db.writer.run_sync(other.unit("other worker"), timeout=WAIT)
        finally:
            other.db.close()
        assert not fut.done()
    finally:
        held.release.set()
    assert fut.result(WAIT) == "flushed"
    held.close()


def test_the_writers_connection_commits_at_normal_and_other_connections_at_full(
    store: Store,
) -> None:
    def synchronous(tx: Tx) -> int:
        return int(tx.execute(text("PRAGMA synchronous")).scalar_one())

    assert store.db.writer.run_sync(synchronous, timeout=WAIT) == 1  # NORMAL
    assert store.db.read(synchronous) == 2  # FULL: the engines' own setting


def test_a_failed_wal_flush_fails_the_batch_and_stops_the_process(store: Store) -> None:
    held = HeldSync(sqlite_path(store.db.url))
    held.fail = OSError(errno.EIO, "Input/output error")
    held.release.set()
    store.db.writer.wal = held
    told: list[OSError] = []
    store.db.writer.on_sync_failed = told.append
    fut = store.db.writer.submit(store.unit("unflushed"))
    error = fut.exception(WAIT)
    assert isinstance(error, OSError) and error.errno == errno.EIO
    assert told == [held.fail]  # the default stops the process (its store is unknown)
    held.close()


def test_the_wal_file_sqlite_replaced_is_opened_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = str(tmp_path / "store.db")
    synced: list[int] = []
    monkeypatch.setattr(engine_module, "_fdatasync", lambda fd: synced.append(os.fstat(fd).st_ino))
    wal = WalSync(database)
    wal.sync()  # no WAL file yet: nothing to flush
    assert synced == []
    Path(wal.path).write_bytes(b"first")
    first = os.stat(wal.path).st_ino
    wal.sync()
    os.unlink(wal.path)  # the last connection closed: SQLite deleted it
    Path(wal.path).write_bytes(b"second")  # and a new connection made another
    second = os.stat(wal.path).st_ino
    wal.sync()
    wal.sync()
    assert synced == [first, second, second]
    wal.close()


def test_database_read_flushes_what_it_read(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.still_serves("committed")
    assert store.db.wal is not None
    flushed: list[bool] = []
    monkeypatch.setattr(store.db.wal, "sync", lambda: flushed.append(True))
    assert "committed" in store.notes()
    assert flushed == [True]


_FAILING_FLUSH = """
import errno, sys
from garrison.storage import engine
from garrison.storage.database import Database

def fail(fd):
    raise OSError(errno.EIO, "Input/output error")

db = Database(sys.argv[1])
db.migrate()
engine._fdatasync = fail
db.writer.start()
db.writer.submit(lambda tx: None).result(10)
print("answered")  # never: the process stops first
"""


def test_by_default_a_failed_wal_flush_stops_the_process(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FAILING_FLUSH, f"sqlite:///{tmp_path / 'garrison.db'}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 70, done.stderr
    assert "answered" not in done.stdout
    assert "flushing the SQLite WAL failed" in done.stderr

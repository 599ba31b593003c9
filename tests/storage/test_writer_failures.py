"""The group-commit writer when things fail, on a real store (SQLite and PostgreSQL).

What `garrison.storage.writer` promises, proven with failures the database
itself raises (no stand-in for our own code):

- a unit that raises takes its own rows and audit event with it, and the rest
  of its batch commits (a Python exception, and a constraint violation inside
  the unit, which PostgreSQL answers by aborting until ROLLBACK TO SAVEPOINT);
- a batch whose writes fail (a trigger refusing one audit row) fails every
  caller of the batch, and leaves none of its rows;
- a batch whose COMMIT fails (a deferred foreign key, checked at COMMIT) fails
  every caller, and so does the batch that was built on it meanwhile
  (`EarlierBatchFailed`);
- afterwards the audit chain verifies, resuming from the last durable event,
  and the writer keeps serving;
- `run_sync`'s timeout withdraws a unit that has not started (it never runs)
  and never reports "failed" for one that started and commits.

Batches are made deterministic with a *gate*: a unit that holds the writer
thread until released, so the units submitted meanwhile queue up and join its
batch. A commit is held in flight (for the pipelining case) by waiting in the
engine's ``commit`` event on the committer thread; the failure itself is the
database's.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    event,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from garrison.audit.store import iter_event_rows, load_all_digests, load_heads
from garrison.audit.trail import AuditTrail
from garrison.audit.verify import Report, verify_chains
from garrison.crypto.signing import DigestSigner
from garrison.storage import schema
from garrison.storage.database import Database
from garrison.storage.sql import delete, func, insert, select
from garrison.storage.writer import ROWS_PER_STATEMENT, EarlierBatchFailed, Tx

SIGNER = DigestSigner(DigestSigner.generate_private())
WAIT = 10.0  # seconds any step may take before the test gives up

# Tables of this test only: rows the units write, and a deferred foreign key
# that the database checks at COMMIT (a row naming a missing parent fails it).
_meta = MetaData()
parents = Table("wf_parents", _meta, Column("id", Integer, primary_key=True))
rows = Table(
    "wf_rows",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("note", String(64), nullable=False),
    Column(
        "parent_id",
        Integer,
        ForeignKey("wf_parents.id", deferrable=True, initially="DEFERRED"),
        nullable=False,
    ),
)
PARENT = 1
MISSING_PARENT = 999


class Store:
    """A started writer over the store, with an audit trail of its own chain."""

    def __init__(self, url: str) -> None:
        self.db = Database(url)
        _meta.create_all(self.db.engine)
        with self.db.engine.begin() as conn:
            for table in (rows, parents, schema.audit_events, schema.audit_heads):
                conn.execute(delete(table))
            conn.execute(insert(parents), {"id": PARENT})
        self.clock = [1000.0]
        self.trail = AuditTrail("wf-" + secrets.token_hex(4), lambda: SIGNER, lambda: self.clock[0])
        self.db.writer.participants.append(self.trail)
        self.db.read(self.trail.load)
        self.db.writer.start()
        self.ids = iter(range(1, 1_000_000))

    # -- units ------------------------------------------------------------------
    def unit(
        self,
        note: str,
        *,
        row: bool = True,
        parent: int = PARENT,
        event_name: str = "Put",
        then: Callable[[Tx], None] | None = None,
    ) -> Callable[[Tx], str]:
        """A unit that writes a row (unless `row` is false) and an audit event."""
        row_id = next(self.ids)

        def unit(tx: Tx) -> str:
            if row:
                tx.execute(insert(rows), {"id": row_id, "note": note, "parent_id": parent})
            audited = {"eventID": str(uuid.uuid4()), "eventName": event_name, "eventSource": note}
            self.trail.append(tx, audited, epoch=self.clock[0])
            if then is not None:
                then(tx)
            return note

        return unit

    def gate(self) -> tuple[Future[str], threading.Event]:
        """Hold the writer thread in a unit until the returned event is set."""
        entered, release = threading.Event(), threading.Event()

        def unit(_tx: Tx) -> str:
            entered.set()
            assert release.wait(WAIT)
            return "gate"

        fut = self.db.writer.submit(unit)
        assert entered.wait(WAIT)
        return fut, release

    def batch(self, *units: Callable[[Tx], Any]) -> list[Future[Any]]:
        """Run `units` as one batch behind a gate; the gate's future, then theirs, settled."""
        gate, release = self.gate()
        futures = [gate, *(self.db.writer.submit(u) for u in units)]
        release.set()
        for fut in futures:
            fut.exception(WAIT)  # settled, either way
        return futures

    # -- what the store holds ------------------------------------------------------
    def notes(self) -> set[str]:
        return set(self.db.read(lambda tx: tx.execute(select(rows.c.note)).scalars().all()))

    def event_sources(self) -> list[str]:
        e = schema.audit_events
        query = select(e.c.event_source).where(e.c.node_id == self.trail.node_id)
        return list(self.db.read(lambda tx: tx.execute(query.order_by(e.c.seq)).scalars().all()))

    def verify(self) -> Report:
        return verify_chains(
            iter_event_rows(self.db),
            load_heads(self.db),
            SIGNER.public_pem(),
            load_all_digests(self.db),
        )

    def still_serves(self, note: str) -> None:
        """A new unit commits, and the chain (with it) verifies."""
        assert self.db.writer.run_sync(self.unit(note), timeout=WAIT) == note
        assert note in self.notes()
        report = self.verify()
        assert report.ok, report.problem
        assert report.events == len(self.event_sources())


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store(store_url)
    yield s
    s.db.close()


@pytest.fixture
def poisoned_audit(store: Store) -> Iterator[str]:
    """A trigger that refuses to insert an audit event named "Poison"."""
    engine = store.db.engine
    with engine.begin() as conn:
        if store.db.is_sqlite:
            conn.exec_driver_sql(
                "CREATE TRIGGER wf_poison BEFORE INSERT ON audit_events "
                "WHEN NEW.event_name = 'Poison' "
                "BEGIN SELECT RAISE(ABORT, 'poisoned audit event'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE OR REPLACE FUNCTION wf_poison() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION 'poisoned audit event'; END $$ LANGUAGE plpgsql"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER wf_poison BEFORE INSERT ON audit_events FOR EACH ROW "
                "WHEN (NEW.event_name = 'Poison') EXECUTE FUNCTION wf_poison()"
            )
    yield "Poison"
    with engine.begin() as conn:
        on = "" if store.db.is_sqlite else " ON audit_events"
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS wf_poison{on}")


class CommitHold:
    """Holds the committer thread in the engine's ``commit`` event until released."""

    def __init__(self, store: Store) -> None:
        self.engine = store.db.engine
        self.entered = threading.Event()
        self.release = threading.Event()
        self.armed = True
        event.listen(self.engine, "commit", self._hold)

    def _hold(self, _conn: Any) -> None:
        if self.armed and threading.current_thread().name == "garrison-committer":
            self.armed = False
            self.entered.set()
            assert self.release.wait(WAIT)

    def remove(self) -> None:
        self.release.set()
        event.remove(self.engine, "commit", self._hold)


def error_of(fut: Future[Any]) -> BaseException | None:
    return fut.exception(WAIT)


# -- a unit that raises ------------------------------------------------------------------
def test_a_unit_that_raises_takes_only_its_own_rows_and_event(store: Store) -> None:
    def boom(_tx: Tx) -> None:
        raise ValueError("the unit's own failure")

    def duplicate(tx: Tx) -> None:  # a constraint the database enforces inside the unit
        tx.execute(insert(rows), {"id": 1_000_001, "note": "dup", "parent_id": PARENT})
        tx.execute(insert(rows), {"id": 1_000_001, "note": "dup", "parent_id": PARENT})

    gate, ok_first, raises, violates, ok_no_sql, ok_last = store.batch(
        store.unit("first"),
        store.unit("raises", then=boom),
        store.unit("violates", then=duplicate),
        store.unit("no-sql", row=False),
        store.unit("last"),
    )

    assert store.db.writer.batches == 1  # the gate's batch held all five
    assert gate.result() == "gate"
    assert ok_first.result() == "first" and ok_last.result() == "last"
    assert ok_no_sql.result() == "no-sql"
    assert isinstance(error_of(raises), ValueError)
    assert isinstance(error_of(violates), IntegrityError)
    assert store.notes() == {"first", "last"}
    assert store.event_sources() == ["first", "no-sql", "last"]
    report = store.verify()
    assert report.ok, report.problem
    store.still_serves("after")


# -- a batch whose writes fail -----------------------------------------------------------
def test_a_batch_whose_audit_rows_fail_fails_every_caller(
    store: Store, poisoned_audit: str
) -> None:
    store.still_serves("before")
    futures = store.batch(
        store.unit("a"),
        store.unit("poisoned", event_name=poisoned_audit),
        store.unit("no-sql", row=False),
    )

    for fut in futures:
        assert isinstance(error_of(fut), DBAPIError), fut
    assert store.notes() == {"before"}  # none of the batch's rows, not even its good units'
    assert store.event_sources() == ["before"]
    store.still_serves("after")
    assert store.event_sources() == ["before", "after"]


# -- a batch whose COMMIT fails, and the batch built on it ---------------------------------
def test_a_failed_commit_fails_its_batch_and_the_batch_built_on_it(store: Store) -> None:
    store.still_serves("before")
    hold = CommitHold(store)
    try:
        doomed = store.db.writer.submit(store.unit("orphan", parent=MISSING_PARENT))
        assert hold.entered.wait(WAIT)  # its COMMIT is in flight, held
        ran: list[str] = []

        def record(name: str) -> Callable[[Tx], None]:
            return lambda _tx: ran.append(name)

        def until_ran(name: str) -> None:
            deadline = time.monotonic() + WAIT
            while name not in ran and time.monotonic() < deadline:
                time.sleep(0.01)
            assert name in ran

        def on_top_sql(tx: Tx) -> None:  # in the same next batch, its statement waits
            ran.append("sql")
            tx.execute(insert(rows), {"id": 1_000_002, "note": "on-top-sql", "parent_id": PARENT})

        # The next batch runs on the writer thread while the doomed one commits: a
        # unit with no statement runs at once, one with a statement waits for the COMMIT.
        no_sql = store.unit("on-top-no-sql", row=False, then=record("no"))
        built_on = [store.db.writer.submit(no_sql)]
        until_ran("no")  # built on the doomed batch before its COMMIT failed
        built_on.append(store.db.writer.submit(on_top_sql))
        until_ran("sql")
        hold.release.set()

        assert isinstance(error_of(doomed), IntegrityError)  # the database's own verdict
        for fut in built_on:
            assert isinstance(error_of(fut), EarlierBatchFailed), fut
    finally:
        hold.remove()

    assert store.notes() == {"before"}
    assert store.event_sources() == ["before"]
    store.still_serves("after")
    assert store.event_sources() == ["before", "after"]


def test_a_failed_commit_among_good_units_answers_none_of_them_done(store: Store) -> None:
    futures = store.batch(
        store.unit("good-1"),
        store.unit("orphan", parent=MISSING_PARENT),
        store.unit("good-2", row=False),
    )
    for fut in futures:
        assert isinstance(error_of(fut), IntegrityError), fut
    assert store.notes() == set()
    assert store.event_sources() == []
    store.still_serves("after")


# -- run_sync's timeout ------------------------------------------------------------------
def test_a_unit_not_started_within_the_timeout_never_runs(store: Store) -> None:
    gate, release = store.gate()
    with pytest.raises(TimeoutError):
        store.db.writer.run_sync(store.unit("late"), timeout=0.2)
    release.set()
    assert gate.result(WAIT) == "gate"
    store.still_serves("after")  # a later unit runs after where "late" was queued
    assert store.notes() == {"after"}
    assert store.event_sources() == ["after"]


def test_a_unit_running_at_the_timeout_reports_its_commit(store: Store) -> None:
    started, release = threading.Event(), threading.Event()

    def slow(_tx: Tx) -> None:
        started.set()
        assert release.wait(WAIT)

    outcome: list[object] = []

    def caller() -> None:
        try:
            outcome.append(store.db.writer.run_sync(store.unit("slow", then=slow), timeout=0.2))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=caller)
    thread.start()
    assert started.wait(WAIT)
    time.sleep(0.4)  # the timeout passes while the unit runs
    release.set()
    thread.join(WAIT)
    assert outcome == ["slow"]  # told what happened: it committed
    assert store.notes() == {"slow"}


def test_a_unit_running_at_the_timeout_reports_its_failure(store: Store) -> None:
    started, release = threading.Event(), threading.Event()

    def slow(_tx: Tx) -> None:
        started.set()
        assert release.wait(WAIT)

    outcome: list[object] = []

    def caller() -> None:
        try:
            unit = store.unit("slow-orphan", parent=MISSING_PARENT, then=slow)
            outcome.append(store.db.writer.run_sync(unit, timeout=0.2))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=caller)
    thread.start()
    assert started.wait(WAIT)
    time.sleep(0.4)
    release.set()
    thread.join(WAIT)
    assert len(outcome) == 1 and isinstance(outcome[0], IntegrityError)
    assert store.notes() == set()
    store.still_serves("after")


def test_units_queued_behind_a_withdrawn_one_still_run(store: Store) -> None:
    gate, release = store.gate()
    with pytest.raises(TimeoutError):
        store.db.writer.run_sync(store.unit("withdrawn"), timeout=0.1)
    queued = [store.db.writer.submit(store.unit(f"queued-{i}")) for i in range(3)]
    release.set()
    assert gate.result(WAIT) == "gate"
    assert [f.result(WAIT) for f in queued] == ["queued-0", "queued-1", "queued-2"]
    assert store.notes() == {"queued-0", "queued-1", "queued-2"}
    count = store.db.read(
        lambda tx: tx.execute(select(func.count()).select_from(schema.audit_events)).scalar_one()
    )
    assert count == 3
    report = store.verify()
    assert report.ok, report.problem


# -- a batch larger than one multi-row INSERT ------------------------------------------
def test_a_batch_of_more_rows_than_one_statement_holds_keeps_every_event_in_order(
    store: Store,
) -> None:
    # SQLite takes a batch's audit rows ROWS_PER_STATEMENT at a time: three full
    # statements and a partial one, with a failed unit in the middle whose event
    # must vanish without shifting the others
    count = 3 * ROWS_PER_STATEMENT + 7

    def boom(_tx: Tx) -> None:
        raise ValueError("the unit's own failure")

    units: list[Callable[[Tx], Any]] = [store.unit(f"n{i}", row=False) for i in range(count)]
    units.insert(count // 2, boom)
    futures = store.batch(*units)
    assert all(error_of(f) is None for i, f in enumerate(futures) if i != count // 2 + 1)
    assert isinstance(error_of(futures[count // 2 + 1]), ValueError)
    assert store.event_sources() == [f"n{i}" for i in range(count)]
    store.still_serves("after the large batch")

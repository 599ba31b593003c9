"""Leases and the scheduler on a real store (SQLite and PostgreSQL), with a fixed clock.

Each `Database` stands for one node; the clock is moved by hand, so lease
expiry is tested to the exact second rather than by sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from garrison.clock import FixedClock
from garrison.scheduler import leases
from garrison.scheduler.runner import FAILED, Job, JobRun, Scheduler
from garrison.storage import schema
from garrison.storage.database import Database
from garrison.storage.sql import delete
from garrison.storage.writer import Tx

T0 = 1_700_000_000.0
TTL = 60.0
JOB = "test-job"


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    database = Database(store_url)
    database.write(lambda tx: tx.execute(delete(schema.leases)))
    yield database
    database.close()


def test_lease_is_exclusive_until_it_lapses(db: Database) -> None:
    assert leases.acquire(db, JOB, "a", T0, TTL)
    assert not leases.acquire(db, JOB, "b", T0, TTL)
    assert not leases.acquire(db, JOB, "b", T0 + TTL - 0.001, TTL)
    # expires_at <= now: lapsed, to the second
    assert leases.acquire(db, JOB, "b", T0 + TTL, TTL)
    assert leases.current(db, JOB) == ("b", T0 + 2 * TTL)
    assert not leases.acquire(db, JOB, "a", T0 + TTL, TTL)


def test_leases_of_different_jobs_are_independent(db: Database) -> None:
    assert leases.acquire(db, JOB, "a", T0, TTL)
    assert leases.acquire(db, "other-job", "b", T0, TTL)


def test_holder_renews_its_lease(db: Database) -> None:
    assert leases.acquire(db, JOB, "a", T0, TTL)
    assert leases.acquire(db, JOB, "a", T0 + 50, TTL)
    assert not leases.acquire(db, JOB, "b", T0 + 100, TTL)  # would have lapsed at T0 + 60
    assert leases.acquire(db, JOB, "b", T0 + 110, TTL)


def test_release_frees_at_once_and_only_for_the_holder(db: Database) -> None:
    assert leases.acquire(db, JOB, "a", T0, TTL)
    leases.release(db, JOB, "b")
    assert not leases.acquire(db, JOB, "b", T0 + 1, TTL)
    leases.release(db, JOB, "a")
    assert leases.acquire(db, JOB, "b", T0 + 1, TTL)


def test_ttl_must_be_positive(db: Database) -> None:
    with pytest.raises(ValueError):
        leases.acquire(db, JOB, "a", T0, 0)


def test_hold_renews_a_live_lease_and_refuses_a_lost_one(db: Database) -> None:
    assert leases.acquire(db, JOB, "a", T0, TTL)
    assert db.write(lambda tx: leases.hold(tx, JOB, "a", T0 + 50, TTL))
    assert leases.current(db, JOB) == ("a", T0 + 50 + TTL)
    # a stalled holder: its lease lapsed, and another node took it
    assert leases.acquire(db, JOB, "b", T0 + 200, TTL)
    assert not db.write(lambda tx: leases.hold(tx, JOB, "a", T0 + 201, TTL))
    # an expired lease is not renewed by hold, even if nobody took it
    leases.release(db, JOB, "b")
    assert leases.acquire(db, "lapsed", "a", T0, TTL)
    assert not db.write(lambda tx: leases.hold(tx, "lapsed", "a", T0 + TTL, TTL))


def _scheduler(db: Database, clock: FixedClock, holder: str, *jobs: Job) -> Scheduler:
    return Scheduler(db, clock, holder, list(jobs), lease_seconds=TTL)


def test_a_job_that_raises_releases_its_lease(db: Database) -> None:
    clock = FixedClock(T0)

    def broken(run: JobRun) -> int:
        raise RuntimeError("boom")

    ran: list[float] = []

    def works(run: JobRun) -> int:
        ran.append(run.now)
        return 1

    a = _scheduler(db, clock, "a", Job(JOB, broken), Job("next", works))
    assert a.run_due() == {JOB: FAILED, "next": 1}  # the failure stops no other job
    holder, expires_at = leases.current(db, JOB) or ("", -1.0)
    assert holder == "a" and expires_at <= clock.time()
    # another node takes it at once, not a lease time later
    b = _scheduler(db, clock, "b", Job(JOB, works))
    assert b.run_due() == {JOB: 1}
    assert ran == [T0, T0]


def test_a_live_lease_elsewhere_skips_the_job(db: Database) -> None:
    clock = FixedClock(T0)
    assert leases.acquire(db, JOB, "a", T0, TTL)
    ran: list[str] = []
    b = _scheduler(db, clock, "b", Job(JOB, lambda run: ran.append("b") or 1))
    assert b.run_due() == {}
    clock.advance(TTL)
    assert b.run_due() == {JOB: 1}
    assert ran == ["b"]


def test_a_per_node_job_runs_on_every_node_and_takes_no_lease(db: Database) -> None:
    clock = FixedClock(T0)
    ran: list[str] = []

    def job(run: JobRun) -> int:
        ran.append(run.holder)
        # hold() needs no lease row for a per-node job
        return int(db.write(lambda tx: run.hold(tx)))

    a = _scheduler(db, clock, "a", Job(JOB, job, per_node=True))
    b = _scheduler(db, clock, "b", Job(JOB, job, per_node=True))
    assert a.run_due() == {JOB: 1}
    assert b.run_due() == {JOB: 1}
    assert ran == ["a", "b"]
    assert leases.current(db, JOB) is None


def _item_unit(run: JobRun, done: list[str], item: str) -> Callable[[Tx], bool]:
    def unit(tx: Tx) -> bool:
        if not run.hold(tx):
            return False
        done.append(item)
        return True

    return unit


def test_each_goes_through_every_batch_and_tries_an_item_once(db: Database) -> None:
    clock = FixedClock(T0)
    todo = [f"item-{i:03}" for i in range(25)]
    stubborn = "item-000"  # stays due after its work (like a rotation far behind)
    done: list[str] = []

    def run_job(run: JobRun) -> int:
        def due() -> list[str]:
            return todo[:10]  # a bounded batch, as the stores return

        def do(item: str) -> bool:
            acted = db.write(_item_unit(run, done, item))
            if item != stubborn:
                todo.remove(item)
            return acted

        return run.each(due, do)

    assert _scheduler(db, clock, "a", Job(JOB, run_job)).run_due() == {JOB: 25}
    assert sorted(done) == sorted(set(done)) and len(done) == 25
    assert todo == [stubborn]


def test_a_leader_that_loses_its_lease_stops_and_the_next_finishes(db: Database) -> None:
    clock = FixedClock(T0)
    items = [f"key-{i}" for i in range(10)]
    done_by: dict[str, list[str]] = {"a": [], "b": []}
    b = _scheduler(db, clock, "b", Job(JOB, lambda run: work(run, "b")))

    def work(run: JobRun, node: str) -> int:
        def do(item: str) -> bool:
            if node == "a" and item == "key-4":
                # A stalls past its lease; B's scheduler runs meanwhile
                clock.advance(TTL + 1)
                assert b.run_due() == {JOB: 6}
            acted = db.write(_item_unit(run, done_by[node], item))
            return acted

        def due() -> list[str]:
            done = done_by["a"] + done_by["b"]
            return [i for i in items if i not in done]

        return run.each(due, do)

    a = _scheduler(db, clock, "a", Job(JOB, lambda run: work(run, "a")))
    assert a.run_due() == {JOB: 4}
    assert done_by == {"a": items[:4], "b": items[4:]}
    # A's release did not free B's lease
    assert leases.current(db, JOB) == ("b", 0.0)  # B released its own when done

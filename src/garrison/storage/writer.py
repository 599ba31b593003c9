"""The group-commit writer: every state change, and its audit event, commits here.

Callers hand the writer a *unit*, a function of a `Tx`. One thread takes units
from a queue in batches, runs each inside its own SAVEPOINT of one shared
transaction, and commits the batch once: one fsync serves many requests, yet
each unit is atomic (its writes and its audit row stand or fall together) and
no caller is answered before its batch is durable.

    request ─┐                 ┌─ SAVEPOINT unit 1 ... RELEASE
    request ─┼─> queue ─> thread ─ SAVEPOINT unit 2 ... ROLLBACK TO (failed unit)
    request ─┘                 └─ participants.before_commit -> COMMIT -> answers

A unit that raises has its savepoint rolled back and its caller gets the
exception; the rest of the batch goes on. A failed COMMIT fails every caller of
the batch: nothing is answered as done that is not durable.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine, update

from garrison.storage import schema
from garrison.storage.barrier import Barrier

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_BATCH = 512


class Tx:
    """One unit's view of the batch transaction."""

    __slots__ = ("_after_commit", "_on_rollback", "barrier", "changed", "conn")

    def __init__(self, conn: Connection, barrier: Barrier) -> None:
        self.conn = conn
        self.barrier = barrier
        self.changed = False
        self._after_commit: list[Callable[[], None]] = []
        self._on_rollback: list[Callable[[], None]] = []

    def execute(self, statement: Any, params: Any = None) -> Any:
        return self.conn.execute(statement, params)

    def savepoint(self) -> Any:
        """A nested transaction (`.commit()` / `.rollback()`) inside this unit."""
        return self.conn.begin_nested()

    def mark_changed(self) -> None:
        """This unit changed state other nodes may have cached."""
        self.changed = True

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run `fn` once the batch is durable (cache updates)."""
        self._after_commit.append(fn)

    def on_rollback(self, fn: Callable[[], None]) -> None:
        """Run `fn` if this unit is rolled back (undo in-memory bookkeeping)."""
        self._on_rollback.append(fn)


class Participant(Protocol):
    """Something that rides on every batch (the audit trail signs its head)."""

    def before_commit(self, tx: Tx) -> None: ...

    def after_commit(self) -> None: ...

    def after_rollback(self) -> None: ...


_STOP = object()


class Writer:
    def __init__(self, engine: Engine, barrier: Barrier) -> None:
        self.engine = engine
        self.barrier = barrier
        self.participants: list[Participant] = []
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: Connection | None = None
        self.batches = 0
        self.units = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="garrison-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def submit(self, unit: Callable[[Tx], T]) -> Future[T]:
        fut: Future[T] = Future()
        self._queue.put((unit, fut))
        return fut

    async def run(self, unit: Callable[[Tx], T]) -> T:
        return await asyncio.wrap_future(self.submit(unit))

    def run_sync(self, unit: Callable[[Tx], T], timeout: float | None = 60.0) -> T:
        """For callers outside the event loop (scheduler, CLI)."""
        if self._thread is None:
            return self._run_inline(unit)
        return self.submit(unit).result(timeout)

    def _run_inline(self, unit: Callable[[Tx], T]) -> T:
        fut: Future[T] = Future()
        self._run_batch([(unit, fut)])
        return fut.result()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            self._run_batch(batch)
            if stop:
                return

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self.engine.connect()
        return self._conn

    def _run_batch(self, batch: list[tuple[Callable[[Tx], Any], Future[Any]]]) -> None:
        outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
        after: list[Callable[[], None]] = []
        try:
            conn = self._connection()
            trans = conn.begin()
            try:
                changed = False
                for unit, fut in batch:
                    tx = Tx(conn, self.barrier)
                    savepoint = conn.begin_nested()
                    try:
                        result = unit(tx)
                        savepoint.commit()
                    except BaseException as exc:  # the unit's caller gets it
                        savepoint.rollback()
                        for undo in reversed(tx._on_rollback):
                            undo()
                        outcomes.append((fut, None, exc))
                        continue
                    changed = changed or tx.changed
                    after.extend(tx._after_commit)
                    outcomes.append((fut, result, None))
                tx = Tx(conn, self.barrier)
                for participant in self.participants:
                    participant.before_commit(tx)
                if changed:
                    conn.execute(
                        update(schema.state_version)
                        .where(schema.state_version.c.id == 1)
                        .values(version=schema.state_version.c.version + 1)
                    )
                trans.commit()
            except BaseException:
                trans.rollback()
                raise
        except BaseException as exc:
            log.exception("batch of %d units failed to commit", len(batch))
            if self._conn is not None:
                self._conn.invalidate()
                self._conn.close()
                self._conn = None
            for participant in self.participants:
                participant.after_rollback()
            for _unit, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for participant in self.participants:
            participant.after_commit()
        for fn in after:
            try:
                fn()
            except Exception:  # a cache hook must never lose a durable answer
                log.exception("after-commit hook failed")
        self.batches += 1
        self.units += len(batch)
        for fut, result, error in outcomes:
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(result)

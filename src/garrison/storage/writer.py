"""The group-commit writer: every state change, and its audit event, commits here.

Callers hand the writer a *unit*, a function of a `Tx`. A writer thread takes
units from a queue in batches and runs each inside its own SAVEPOINT of one
shared transaction; a committer thread commits the batch once: one fsync
serves many requests, yet each unit is atomic (its writes and its audit row
stand or fall together) and no caller is answered before its batch is durable.

    request ─┐                  ┌─ unit 1: SAVEPOINT ... RELEASE   (only if it runs SQL)
    request ─┼─> queue ─> writer ─ unit 2: SAVEPOINT ... ROLLBACK TO (a failed unit)
    request ─┘    thread        └─ participants.seal()
                                       │ the closed batch
                  committer thread <───┘  batch rows, coalesced writes, sealed head,
                                          COMMIT (fsync) -> after_commit -> answers

On SQLite the fsync comes after COMMIT: the writer's connection commits at
``synchronous=NORMAL`` and the committer flushes the WAL itself (`WalSync`) once
the commit lock is given up, so worker processes sharing the store no longer take
turns to wait for each other's fsync; still no caller is answered before it.

A unit that raises has its savepoint rolled back and its caller gets the
exception; the rest of the batch goes on. A batch whose writes or COMMIT fail
fails every caller of the batch: nothing is answered as done that is not durable.
A unit that `run_sync` withdrew (timed out while still queued) is skipped.

Commits are pipelined: while the committer writes and fsyncs batch N, the
writer thread runs the units of batch N+1, and units that arrive meanwhile join
N+1 rather than wait for N+2 (greedy batching). N+1 begins its transaction only
at its first statement, which waits for N's commit, so a unit never reads state
that is not durable (the caches it may read are filled only after commits). If
N fails, N+1 is failed whole too, since its audit events continue N's chain.

What keeps a batch cheap (KMS Encrypt; figures in docs/performance.md):

- Savepoints and the batch's BEGIN are lazy: sent just before the first
  statement inside them, so a unit that runs no statement (a cached Encrypt)
  costs no round trip and need not wait for the previous commit. Such units
  run 8,400 Encrypts/s in-process; eager savepoints alone, or a per-unit audit
  INSERT or usage UPDATE alone, bring it to ~3,800 (docs/performance.md).
- `Tx.insert_with_batch` rows (the audit trail's) are inserted after the units,
  one driver-level executemany per table, in the same transaction; a unit that
  fails takes its rows with it.
- `Tx.coalesce` writes run once per key per batch, the last one registered
  (KMS last-usage: approximately current, as AWS's GetKeyLastUsage).
- Units submitted in one event-loop iteration reach the writer thread in one
  hand-over, and callers on a loop are answered with one wake-up per batch.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import operator
import os
import threading
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future, InvalidStateError
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine, Table, insert, update
from sqlalchemy.exc import DBAPIError

from garrison.storage import schema
from garrison.storage.barrier import Barrier
from garrison.storage.engine import WalSync

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_BATCH = 512
# rows per multi-row INSERT on SQLite: at most 64 distinct statement texts per table
# (sqlite3 caches 128 prepared statements), and 64 x 14 audit columns stay far below
# SQLite's 32,766 bound parameters
ROWS_PER_STATEMENT = 64

Reply = Future[Any] | asyncio.Future[Any]
Outcome = tuple[Reply, Any, BaseException | None]

_BUMP_STATE_VERSION = (
    update(schema.state_version)
    .where(schema.state_version.c.id == 1)
    .values(version=schema.state_version.c.version + 1)
    .returning(schema.state_version.c.version)
)


class CommitLock(Protocol):
    """Taken before a batch's BEGIN and given up after its COMMIT or ROLLBACK, when
    several processes write one SQLite store (garrison.workers.CommitLock)."""

    def acquire(self) -> None: ...

    def release(self) -> None: ...


class EarlierBatchFailed(Exception):
    """The batch committed before this one failed, and this one builds on it."""


class _WritesNeeded(BaseException):  # noqa: N818 - control flow, never an error shown
    """A read-only unit reached for a write: it is run again in the batch's transaction.

    A BaseException, so that a unit's own `except Exception` does not swallow it."""


def _reads(statement: Any) -> bool:
    """A statement that only reads (a SELECT without FOR UPDATE); anything else writes."""
    return (
        getattr(statement, "is_select", False) is True
        and getattr(statement, "_for_update_arg", None) is None
    )


class _ReadSide:
    """The writer thread's connection for the units of read-only calls.

    Such a unit reads committed state here, each unit in a read transaction of its own
    (one snapshot on SQLite), instead of in the batch's transaction: it neither waits
    for the commit in flight nor, on a store shared by worker processes, takes the
    commit lock. On a cold cache a batch of reads then runs while the previous batch
    commits and while another worker holds the lock (docs/performance.md, ninth pass).
    On SQLite a commit read here may not be flushed yet (`WalSync`); the unit's own
    batch flushes the WAL, and with it that commit, before the unit is answered.
    PostgreSQL shows a commit only after its flush (synchronous_commit).
    """

    __slots__ = ("_conn", "_engine", "_trans")

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None
        self._trans: Any = None

    def execute(self, statement: Any, params: Any) -> Any:
        if not _reads(statement):
            raise _WritesNeeded
        conn = self._conn
        if conn is None:
            conn = self._conn = self._engine.connect()
            if conn.dialect.name == "postgresql":
                conn.execution_options(postgresql_readonly=True)
        if self._trans is None:
            self._trans = conn.begin()
        return conn.execute(statement, params)

    def end(self) -> None:
        """Close the unit's read transaction, if it began one."""
        trans, self._trans = self._trans, None
        if trans is None:
            return
        try:
            trans.rollback()
        except Exception:
            log.exception("ending a read transaction failed; reconnecting")
            self.close(broken=True)

    def close(self, *, broken: bool = False) -> None:
        conn, self._conn = self._conn, None
        self._trans = None
        if conn is not None:
            if broken:
                conn.invalidate()
            conn.close()


class Savepoint:
    """A SAVEPOINT of a `Tx`, sent to the database only once a statement runs inside it."""

    __slots__ = ("_marks", "_nested", "_tx")

    def __init__(self, tx: Tx) -> None:
        self._tx = tx
        self._nested: Any = None  # SQLAlchemy's NestedTransaction, once sent
        self._marks = (len(tx._rows), len(tx._coalesced))

    def commit(self) -> None:
        self._tx._close(self, commit=True)

    def rollback(self) -> None:
        self._tx._close(self, commit=False)


class _Batch:
    """A batch's transaction, begun when its first statement is about to run."""

    __slots__ = ("trans", "writer")

    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self.trans: Any = None

    def begin(self) -> None:
        if self.trans is None:
            writer = self.writer
            writer._await_commit()
            writer._lock()
            try:
                self.trans = writer._connection().begin()
            except BaseException:
                writer._unlock()
                raise


class Tx:
    """One unit's view of the batch transaction. Run statements through `execute`."""

    __slots__ = (
        "_after_commit",
        "_batch",
        "_coalesced",
        "_on_rollback",
        "_read_side",
        "_rows",
        "_sent",
        "_stack",
        "barrier",
        "changed",
        "conn",
    )

    def __init__(
        self,
        conn: Connection,
        barrier: Barrier,
        batch: _Batch | None = None,
        read_side: _ReadSide | None = None,
    ) -> None:
        self.conn = conn
        self.barrier = barrier
        self.changed = False
        # The writer's batch, which flushes batch rows and coalesced writes (a
        # read transaction of `Database.read` has none) and begins lazily.
        self._batch = batch
        # A read-only unit's: its statements read committed state there, and the
        # first one that writes has the unit run again in the batch (`_WritesNeeded`)
        self._read_side = read_side
        self._after_commit: list[Callable[[], None]] = []
        self._on_rollback: list[Callable[[], None]] = []
        self._rows: list[tuple[Table, dict[str, Any]]] = []
        self._coalesced: list[tuple[Hashable, Callable[[Tx], None]]] = []
        self._stack: list[Savepoint] = []
        self._sent = 0  # how many savepoints of the stack the database has seen

    def execute(self, statement: Any, params: Any = None) -> Any:
        if self._read_side is not None:
            return self._read_side.execute(statement, params)
        self.ready()
        return self.conn.execute(statement, params)

    def ready(self) -> None:
        """BEGIN the batch and send the open savepoints, if not yet done: before any
        statement, including one run on the DB-API cursor (`Prepared`, `_InsertMany`,
        which write: a read-only unit's goes to the batch)."""
        if self._read_side is not None:
            raise _WritesNeeded
        if self._sent < len(self._stack) or (self._batch and self._batch.trans is None):
            self._send_savepoints()

    def savepoint(self) -> Savepoint:
        """A nested transaction (`.commit()` / `.rollback()`) inside this unit."""
        sp = Savepoint(self)
        self._stack.append(sp)
        return sp

    def insert_with_batch(self, table: Table, row: dict[str, Any]) -> None:
        """Insert `row` into `table` when the batch commits, after every unit ran.

        Same transaction, so it commits or vanishes with this unit's changes; one
        executemany per table and batch. Only for append-only tables that no unit
        reads back before its batch commits (the audit trail).
        """
        if self._batch is None:
            raise RuntimeError("batch rows need a writer unit")
        self._rows.append((table, row))

    def coalesce(self, key: Hashable, write: Callable[[Tx], None]) -> None:
        """Run `write` when the batch commits, unless a later unit registers `key` too.

        For bookkeeping that may lag a batch behind (KMS last usage): of all the
        writes registered under one key in a batch, only the last one runs.
        """
        if self._batch is None:
            raise RuntimeError("coalesced writes need a writer unit")
        self._coalesced.append((key, write))

    def mark_changed(self) -> None:
        """This unit changed state other nodes may have cached."""
        self.changed = True

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run `fn` once the batch is durable (cache updates), on the committing thread."""
        self._after_commit.append(fn)

    def on_rollback(self, fn: Callable[[], None]) -> None:
        """Run `fn` if this unit is rolled back (undo in-memory bookkeeping)."""
        self._on_rollback.append(fn)

    # -- savepoints ----------------------------------------------------------
    def _send_savepoints(self) -> None:
        """BEGIN the batch if it has not begun, then every savepoint not yet sent."""
        if self._batch is not None and self._batch.trans is None:
            self._batch.begin()
        for sp in self._stack[self._sent :]:
            sp._nested = self.conn.begin_nested()
            self._sent += 1

    def _close(self, sp: Savepoint, *, commit: bool) -> None:
        if sp not in self._stack:
            raise RuntimeError("this savepoint is already closed")
        while self._stack:  # savepoints opened inside `sp` and left open close with it
            top = self._stack.pop()
            if top._nested is not None:
                self._sent -= 1
                if commit:
                    top._nested.commit()
                else:
                    top._nested.rollback()
            if top is sp:
                break
        if not commit:
            rows, coalesced = sp._marks
            del self._rows[rows:]
            del self._coalesced[coalesced:]


class Participant(Protocol):
    """Something that rides on every batch (the audit trail signs its head).

    `seal` runs on the writer thread when a batch closes, with no unit running,
    and returns what to write in that batch's transaction (on the committing
    thread, before COMMIT), if anything. `after_commit` runs on the committing
    thread, possibly while the next batch's units run; `after_rollback` on the
    writer thread with no unit running and no commit in flight.
    """

    def seal(self) -> Callable[[Tx], None] | None: ...

    def after_commit(self) -> None: ...

    def after_rollback(self) -> None: ...


@contextlib.contextmanager
def _cursor(tx: Tx, sql: str) -> Iterator[Any]:
    """A DB-API cursor of `tx`'s connection, the batch begun; the driver's errors
    raised as SQLAlchemy raises them (`DBAPIError` subclasses, parameters hidden)."""
    tx.ready()
    dialect = tx.conn.dialect
    cursor = tx.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        yield cursor
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            sql, None, exc, dialect.loaded_dbapi.Error, hide_parameters=True, dialect=dialect
        ) from exc
    finally:
        cursor.close()


class Prepared:
    """A Core statement compiled once per dialect and run on the DB-API cursor.

    For the statements every batch runs (the audit chain's signed head, KMS last
    usage): through `Connection.execute`, SQLAlchemy's per-call work (cache key,
    execution context, result) made a one-row UPDATE on SQLite cost 16.5 us on top of
    BEGIN and COMMIT; on the cursor, 2.7 us. `run` takes parameters named as
    `Connection.execute` does (the SET columns' keys, `bindparam` names); values the
    statement carries itself (a literal in its WHERE) are kept; the column types' bind
    processors apply. No result rows: `run` returns the rowcount.
    """

    __slots__ = ("_forms", "statement")

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        # (dialect name, parameter names) -> (SQL, positional?, [(name, key, literal,
        # processor)])
        self._forms: dict[tuple[str, tuple[str, ...]], tuple[str, bool, list[Any]]] = {}

    def run(self, tx: Tx, params: dict[str, Any]) -> int:
        dialect = tx.conn.dialect
        key = (dialect.name, tuple(params))
        form = self._forms.get(key)
        if form is None:
            form = self._forms[key] = self._compile(dialect, key[1])
        sql, positional, binds = form
        values = []
        for _name, param, literal, process in binds:
            value = params[param] if param is not None else literal
            values.append(process(value) if process is not None else value)
        with _cursor(tx, sql) as cursor:
            if positional:
                cursor.execute(sql, tuple(values))
            else:
                cursor.execute(sql, {b[0]: v for b, v in zip(binds, values, strict=True)})
            return int(cursor.rowcount)

    def _compile(self, dialect: Any, names: tuple[str, ...]) -> tuple[str, bool, list[Any]]:
        compiled = self.statement.compile(dialect=dialect, column_keys=list(names))
        positional = bool(compiled.positional)
        order = compiled.positiontup if positional else list(compiled.binds)
        binds = []
        for name in order:
            bind = compiled.binds[name]
            param = bind.key if bind.key in names else None
            if param is None and bind.required:
                raise KeyError(f"no value for the statement's parameter {bind.key!r}")
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            binds.append((name, param, bind.effective_value, process))
        return str(compiled), positional, binds


class _InsertMany:
    """An INSERT compiled once, run as one executemany on the DB-API cursor.

    Through `Connection.execute` SQLAlchemy builds each row's parameters anew:
    32 audit rows took 210 us that way, 132 us through `exec_driver_sql` (most of it
    SQLite's), less on the cursor (see `Prepared`). Bind processors of the column
    types still apply.

    On SQLite the rows go in as one multi-row ``INSERT ... VALUES (...), (...)``
    per `ROWS_PER_STATEMENT` rows instead: Python's sqlite3 releases and retakes
    the GIL around every step of an executemany, once per row, and on a busy
    server each retake waits for the event loop thread to let go of it.
    """

    __slots__ = (
        "columns",
        "group",
        "head",
        "multi",
        "pick",
        "positional",
        "processors",
        "sql",
        "texts",
    )

    def __init__(self, table: Table, columns: tuple[str, ...], dialect: Any) -> None:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
        self.sql = str(compiled)
        self.positional = bool(compiled.positional)
        names = compiled.positiontup if self.positional and compiled.positiontup else columns
        self.columns = tuple(names)
        self.pick = operator.itemgetter(*self.columns)
        self.processors = [
            (i, process)
            for i, name in enumerate(self.columns)
            if (process := table.c[name].type.bind_processor(dialect)) is not None
        ]
        # "INSERT INTO t (a, b) VALUES (?, ?)": the statement's head and one row's group
        self.multi = dialect.name == "sqlite" and self.positional
        self.head, _, self.group = self.sql.partition(" VALUES ")
        self.texts: dict[int, str] = {}  # rows -> the multi-row statement

    def params(self, rows: list[dict[str, Any]]) -> list[Any]:
        """The rows as the driver takes them (no statement run: outside the commit lock)."""
        pick, processors = self.pick, self.processors
        params: list[Any] = []
        for row in rows:
            values = pick(row)
            if not isinstance(values, tuple):  # one column
                values = (values,)
            if processors:
                converted = list(values)
                for i, process in processors:
                    converted[i] = process(converted[i])
                values = tuple(converted)
            params.append(
                values if self.positional else dict(zip(self.columns, values, strict=True))
            )
        return params

    def execute(self, tx: Tx, params: list[Any]) -> None:
        with _cursor(tx, self.sql) as cursor:
            if not self.multi:
                cursor.executemany(self.sql, params)
                return
            for start in range(0, len(params), ROWS_PER_STATEMENT):
                chunk = params[start : start + ROWS_PER_STATEMENT]
                sql = self.texts.get(len(chunk))
                if sql is None:
                    sql = self.texts[len(chunk)] = (
                        f"{self.head} VALUES {', '.join([self.group] * len(chunk))}"
                    )
                cursor.execute(sql, tuple(value for row in chunk for value in row))


class _Commit:
    """A closed batch: what its transaction still has to write, and its callers."""

    __slots__ = ("batch", "conn", "done", "seals")

    def __init__(
        self,
        batch: _Batch,
        conn: Connection,
        done: _Collected,
        seals: list[Callable[[Tx], None]],
    ) -> None:
        self.batch = batch
        self.conn = conn
        self.done = done
        self.seals = seals


class _Collected:
    """What a batch's successful units leave for its commit."""

    __slots__ = ("after", "changed", "coalesced", "outcomes", "rows")

    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []
        self.after: list[Callable[[], None]] = []
        self.rows: list[tuple[Table, dict[str, Any]]] = []
        self.coalesced: dict[Hashable, Callable[[Tx], None]] = {}
        self.changed = False


# (unit, its caller's future, read-only: the unit of a read-only call)
Item = tuple[Callable[[Tx], Any], Reply, bool]


class Writer:
    def __init__(
        self,
        engine: Engine,
        barrier: Barrier,
        read_engine: Engine | None = None,
        wal: WalSync | None = None,
    ) -> None:
        """`read_engine`: where read-only units read (`_ReadSide`); None: in the batch.
        `wal`: a SQLite store's WAL, flushed after each COMMIT made at NORMAL."""
        self.engine = engine
        self.wal = wal
        self.barrier = barrier
        self._read_side = _ReadSide(read_engine) if read_engine is not None else None
        self.participants: list[Participant] = []
        self._thread: threading.Thread | None = None
        self._committer: threading.Thread | None = None
        self._conn: Connection | None = None
        self._inserts: dict[tuple[Table, tuple[str, ...]], _InsertMany] = {}
        # One lock; the writer thread waits on `_work` (units, or the commit in
        # flight ending) and `_done` (the commit in flight ending), the committer
        # thread on `_job`.
        lock = threading.Lock()
        self._work = threading.Condition(lock)
        self._done = threading.Condition(lock)
        self._job = threading.Condition(lock)
        self._intake: collections.deque[Item] = collections.deque()
        self._staged: dict[asyncio.AbstractEventLoop, list[Item]] = {}
        self._committing: _Commit | None = None
        self._commit_failed: BaseException | None = None
        self._stopping = False
        self._closed = False
        # told the state version each committed batch that changed state wrote (before
        # the commit lock is given up and before any caller is answered)
        self.on_version: Callable[[int], None] | None = None
        # several worker processes on one SQLite store: their batches take turns
        self.commit_lock: CommitLock | None = None
        # a batch committed but its WAL flush failed: its durability is unknown
        self.on_sync_failed: Callable[[OSError], None] = _stop_process
        self.batches = 0
        self.units = 0

    def start(self) -> None:
        if self._thread is None:
            self._stopping = False
            self._closed = False
            self._committer = threading.Thread(
                target=self._commit_loop, name="garrison-committer", daemon=True
            )
            self._committer.start()
            self._thread = threading.Thread(target=self._loop, name="garrison-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Run what was submitted, wait for the last commit, stop both threads.

        A writer that ran refuses units afterwards (a background job still
        running at shutdown must not write through a closing connection).
        """
        self._closed = self._thread is not None
        with self._work:
            self._stopping = True
            self._work.notify()
            self._job.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._committer is not None:
            with self._job:
                self._job.notify()
            self._committer.join()
            self._committer = None
        if self._commit_failed is not None:
            self._recover()
        if self._conn is not None:
            if self.wal is not None:
                self._conn.invalidate()  # at NORMAL: never back into the pool
            self._conn.close()
            self._conn = None
        if self._read_side is not None:
            self._read_side.close()

    def submit(self, unit: Callable[[Tx], T], *, read_only: bool = False) -> Future[T]:
        """`read_only`: as for `run`."""
        if self._closed:
            raise RuntimeError("the writer is stopped")
        fut: Future[T] = Future()
        self._enqueue((unit, fut, read_only))
        return fut

    async def run(self, unit: Callable[[Tx], T], *, read_only: bool = False) -> T:
        """`read_only`: the unit of a read-only call; it reads committed state outside
        the batch's transaction (`_ReadSide`), and runs again inside it if it writes."""
        # Units of one loop iteration reach the writer thread together, and are
        # settled with one wake-up per batch (`_answer`): in-process 7,500 ->
        # 8,100 Encrypts/s (134 -> 118 us CPU each); neutral over HTTP.
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        staged = self._staged.get(loop)
        if staged is None:
            staged = self._staged[loop] = []
            loop.call_soon(self._hand_over, loop)
        staged.append((unit, fut, read_only))
        return await fut

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        items = self._staged.pop(loop, None)
        if items:
            with self._work:
                self._intake.extend(items)
                self._work.notify()

    def run_sync(self, unit: Callable[[Tx], T], timeout: float | None = 60.0) -> T:
        """For callers outside the event loop (scheduler, CLI).

        `timeout` bounds the wait for the writer to *start* the unit, not for
        its outcome. A unit still queued when it expires is withdrawn and never
        runs: TimeoutError, and nothing changed. A unit that has started can no
        longer be withdrawn, so the caller waits for its batch and gets the true
        outcome (its result once durable, or the error that failed it) rather
        than a "failed" that its later COMMIT would make a lie.
        """
        if self._closed:
            raise RuntimeError("the writer is stopped")
        if self._thread is None:
            return self._run_inline(unit)
        fut = self.submit(unit)
        try:
            return fut.result(timeout)
        except TimeoutError:
            if not fut.cancel():  # running (or just settled): wait for its outcome
                return fut.result()
        raise TimeoutError(f"the writer did not start the unit within {timeout} s; it will not run")

    def _enqueue(self, item: Item) -> None:
        with self._work:
            self._intake.append(item)
            self._work.notify()

    def _run_inline(self, unit: Callable[[Tx], T]) -> T:
        fut: Future[T] = Future()
        self._run_batch([(unit, fut, False)], greedy=False)
        return fut.result()

    def _take(self, limit: int) -> list[Item]:
        """Up to `limit` queued units; call with the lock held."""
        intake = self._intake
        return [intake.popleft() for _ in range(min(limit, len(intake)))]

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self.engine.connect()
            if self.wal is not None:
                # on the driver's connection: through SQLAlchemy it would BEGIN
                conn.connection.dbapi_connection.execute(  # type: ignore[union-attr]
                    "PRAGMA synchronous=NORMAL"
                )
            self._conn = conn
        return self._conn

    # -- the writer thread ---------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._work:
                while not self._intake and not self._stopping:
                    self._work.wait()
                if not self._intake:
                    break
                items = self._take(MAX_BATCH)
            self._run_batch(items, greedy=True)
        with self._done:  # let the last commit finish before the committer stops
            while self._committing is not None:
                self._done.wait()

    def _run_batch(self, items: list[Item], *, greedy: bool) -> None:
        """Run units as one batch and hand it to the committer (or commit it here).

        `greedy`: while the previous batch's commit is in flight, units that
        arrive meanwhile join this batch rather than wait for the next: larger
        batches for the same fsyncs, and no unit waits two commits (over HTTP,
        4,600-5,100 -> 5,400 Encrypts/s).
        """
        if self._commit_failed is not None and self._committing is None:
            self._recover()  # before any unit builds on the failed batch
        batch = list(items)
        current = _Batch(self)
        done = _Collected()
        try:
            conn = self._connection()
            self._run_units(items, conn, current, done)
            while greedy and len(batch) < MAX_BATCH:
                with self._work:
                    while not self._intake and self._committing is not None:
                        self._work.wait()
                    more = self._take(MAX_BATCH - len(batch))
                    in_flight = self._committing is not None
                if more:
                    batch.extend(more)
                    self._run_units(more, conn, current, done)
                if not in_flight:
                    break
            self._await_commit()  # one batch in flight at a time; none on a failed one
            seals = [seal for p in self.participants if (seal := p.seal()) is not None]
        except BaseException as exc:
            self._fail(batch, current, exc)
            return
        job = _Commit(current, conn, done, seals)
        if self._committer is None:
            self._commit(job)
            if self._commit_failed is not None:
                self._recover()
            return
        with self._job:
            self._committing = job
            self._job.notify()

    def _run_units(
        self, items: list[Item], conn: Connection, current: _Batch, done: _Collected
    ) -> None:
        barrier = self.barrier
        read_side = self._read_side
        for unit, fut, read_only in items:
            # a thread caller's unit withdrawn while queued (`run_sync` timed out)
            # never runs; one marked running can no longer be withdrawn
            if type(fut) is Future and not fut.set_running_or_notify_cancel():
                continue
            if read_only and read_side is not None:
                tx = Tx(conn, barrier, current, read_side)
                try:
                    ok = self._run_unit(unit, tx, fut, done)
                except _WritesNeeded:
                    self._undo(tx)
                    log.debug("a read-only unit wrote: run again in the batch's transaction")
                else:
                    if ok:
                        self._collect(tx, done)
                    continue
                finally:
                    read_side.end()
            tx = Tx(conn, barrier, current)
            if self._run_unit(unit, tx, fut, done):
                self._collect(tx, done)

    @staticmethod
    def _run_unit(unit: Callable[[Tx], Any], tx: Tx, fut: Reply, done: _Collected) -> bool:
        """Run `unit` in a savepoint of its own; False: it raised (its caller gets it)."""
        savepoint = tx.savepoint()
        try:
            result = unit(tx)
            savepoint.commit()
        except _WritesNeeded:
            raise
        except BaseException as exc:  # the unit's caller gets it
            savepoint.rollback()
            Writer._undo(tx)
            done.outcomes.append((fut, None, exc))
            return False
        done.outcomes.append((fut, result, None))
        return True

    @staticmethod
    def _undo(tx: Tx) -> None:
        """Undo a unit's in-memory bookkeeping (it failed, or reached for a write while
        read-only); its rows and coalesced writes go with its `Tx`."""
        for undo in reversed(tx._on_rollback):
            undo()

    @staticmethod
    def _collect(tx: Tx, done: _Collected) -> None:
        done.changed = done.changed or tx.changed
        done.after.extend(tx._after_commit)
        done.rows.extend(tx._rows)
        done.coalesced.update(tx._coalesced)

    def _prepare_rows(
        self, dialect: Any, rows: list[tuple[Table, dict[str, Any]]]
    ) -> list[tuple[_InsertMany, list[Any]]]:
        """The batch's rows as one executemany's parameters per table, in first-use
        order: Python work done before the batch takes the commit lock."""
        groups: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
        for table, row in rows:
            groups.setdefault((table, tuple(row)), []).append(row)
        prepared = []
        for (table, columns), group in groups.items():
            insert_many = self._inserts.get((table, columns))
            if insert_many is None:
                insert_many = self._inserts[(table, columns)] = _InsertMany(table, columns, dialect)
            prepared.append((insert_many, insert_many.params(group)))
        return prepared

    def _lock(self) -> None:
        if self.commit_lock is not None:
            self.commit_lock.acquire()

    def _unlock(self) -> None:
        if self.commit_lock is not None:
            self.commit_lock.release()

    def _await_commit(self) -> None:
        """Wait until no commit is in flight; raise if the last one failed."""
        with self._done:
            while self._committing is not None:
                self._done.wait()
        if self._commit_failed is not None:
            raise EarlierBatchFailed("an earlier batch failed to commit") from self._commit_failed

    def _fail(self, batch: list[Item], current: _Batch, exc: BaseException) -> None:
        """A batch that cannot commit: roll it back and fail every caller."""
        if not isinstance(exc, EarlierBatchFailed):
            log.error("batch of %d units failed", len(batch), exc_info=exc)
        with self._done:
            while self._committing is not None:
                self._done.wait()
        if current.trans is not None:
            try:
                current.trans.rollback()
            except Exception:
                log.exception("rollback of a failed batch failed")
        self._recover()  # gives up the commit lock too
        _answer([(item[1], None, exc) for item in batch])

    def _recover(self) -> None:
        """After a failed batch: a fresh connection, participants back to the durable state."""
        self._commit_failed = None
        if self._conn is not None:
            self._conn.invalidate()
            self._conn.close()
            self._conn = None
        self._unlock()  # the transaction is gone with the connection
        for participant in self.participants:
            participant.after_rollback()

    # -- the committer thread ------------------------------------------------
    def _commit_loop(self) -> None:
        while True:
            with self._job:
                while self._committing is None:
                    if self._stopping and (self._thread is None or not self._thread.is_alive()):
                        return
                    self._job.wait(0.5)
                job = self._committing
            self._commit(job)

    def _commit(self, job: _Commit) -> None:
        """The batch's own writes, COMMIT (the fsync; on SQLite the WAL flush after the
        commit lock), then participants, hooks, answers.

        Done here rather than on the writer thread, so the writer runs the next
        batch's units meanwhile: BEGIN, the rows and the head were ~30% of the
        writer thread's py-spy samples before they moved here.
        """
        failed: BaseException | None = None
        unflushed: OSError | None = None  # committed, but the WAL flush failed
        done = job.done
        batch = job.batch
        try:
            rows = self._prepare_rows(job.conn.dialect, done.rows)
            if batch.trans is None:  # no unit ran a statement
                self._lock()
                batch.trans = job.conn.begin()
            tx = Tx(job.conn, self.barrier, batch)
            for seal in job.seals:
                seal(tx)
            for insert_many, params in rows:  # one executemany per table
                insert_many.execute(tx, params)
            for write in done.coalesced.values():
                write(tx)
            version = None
            if done.changed:
                version = tx.execute(_BUMP_STATE_VERSION).scalar_one()
            batch.trans.commit()
        except BaseException as exc:
            log.exception("batch of %d units failed to commit", len(done.outcomes))
            failed = exc
            if batch.trans is not None:
                try:
                    batch.trans.rollback()
                except Exception:
                    log.exception("rollback after a failed commit failed")
            self._unlock()
        else:
            for participant in self.participants:
                participant.after_commit()
            if version is not None and self.on_version is not None:
                self.on_version(int(version))
            self._unlock()
            if self.wal is not None:
                # outside the commit lock: another worker commits meanwhile. Before
                # the writer thread may hand over the next batch, which grows
                # meanwhile (over HTTP ~5 % more GetSecretValue/s than after it).
                try:
                    self.wal.sync()
                except OSError as exc:
                    failed = unflushed = exc
        with self._work:
            self._commit_failed = failed  # the writer thread recovers (`_recover`)
            self._committing = None
            self._work.notify()
            self._done.notify()
        if failed is not None:
            _answer([(fut, None, failed) for fut, _result, _error in done.outcomes])
            if unflushed is not None:
                self.on_sync_failed(unflushed)
            return
        for fn in done.after:
            try:
                fn()
            except Exception:  # a cache hook must never lose a durable answer
                log.exception("after-commit hook failed")
        self.batches += 1
        self.units += len(done.outcomes)
        _answer(done.outcomes)


def _stop_process(exc: OSError) -> None:
    """A committed batch could not be flushed: the kernel may have dropped its pages,
    so what the store shows is no longer known to be on disk. Stop, as PostgreSQL
    does on a failed fsync; a restarted worker reads what the disk holds."""
    log.critical("flushing the SQLite WAL failed (%s): stopping this process", exc)
    logging.shutdown()
    os._exit(70)


def _answer(outcomes: list[Outcome]) -> None:
    """Settle every caller: thread futures at once, each event loop's in one call."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for outcome in outcomes:
        fut = outcome[0]
        if isinstance(fut, asyncio.Future):
            by_loop.setdefault(fut.get_loop(), []).append(outcome)
        else:
            _settle([outcome])
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, items)
        except RuntimeError:  # the loop closed: nobody is waiting any more
            log.warning("dropped %d answers for a closed event loop", len(items))


def _settle(outcomes: list[Outcome]) -> None:
    for fut, result, error in outcomes:
        if fut.done():  # cancelled while queued
            continue
        try:
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(result)
        except (InvalidStateError, asyncio.InvalidStateError):
            continue  # withdrawn by `run_sync` between the check and now: nobody waits

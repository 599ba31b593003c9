"""The scheduler: runs each due job while holding its lease.

    run_due()                          one run at a time per node (a lock)
      for each job:
        now = clock.time()             the injected clock: dev mode moves it
        acquire(job, now, ttl)  ──── another node holds it live ──> skip the job
        job.run(JobRun)                item by item, each in its own unit:
                                         run.hold(tx)   the lease is still ours (renewed)
                                         work + audit   in the same transaction
        release(job)                   always, also when the job raised

A job that raises is logged and reported as -1; its lease is released in any
case, and if even the release fails (the database is gone) the lease lapses
`lease_seconds` after its last renewal: never held for ever.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from garrison.clock import Clock
from garrison.scheduler import leases
from garrison.storage.database import Database
from garrison.storage.writer import Tx

log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 60.0
FAILED = -1


@dataclass
class JobRun:
    """One run of one job on this node: the time it runs at, and its lease."""

    name: str
    holder: str
    now: float  # what is due is decided against this, for the whole run
    clock: Clock
    lease_seconds: float
    lost: bool = False
    leased: bool = True  # False for a per-node job: there is no lease to hold

    def hold(self, tx: Tx) -> bool:
        """Inside an item's unit, before its work: True while the lease is still ours.

        Renews the lease from the clock's present time (not `now`), so a run
        longer than the lease keeps it as long as it makes progress.
        """
        if not self.leased:
            return True
        if self.lost:
            return False
        if leases.hold(tx, self.name, self.holder, self.clock.time(), self.lease_seconds):
            return True
        self.lost = True
        return False

    def each(self, due: Callable[[], Sequence[str]], do: Callable[[str], bool]) -> int:
        """Do every item `due()` lists, batch after batch; the count of items done.

        `due()` returns the first items due (a bounded batch); `do(item)` does one
        in its own unit (calling `hold` first) and says whether it acted. Each
        item is tried at most once per run, so an item still due after its work
        waits for the next run, and the loop ends when a batch has nothing new.
        It stops as soon as the lease is lost.
        """
        seen: set[str] = set()
        done = 0
        while not self.lost:
            batch = [item for item in due() if item not in seen]
            if not batch:
                break
            for item in batch:
                if self.lost:
                    break
                seen.add(item)
                done += bool(do(item))
        if self.lost:
            log.warning(
                "job %s lost its lease after %d item(s); another node goes on", self.name, done
            )
        return done


@dataclass(frozen=True)
class Job:
    """A named job: `run(job_run)` does the items due at `job_run.now`; their count.

    A `per_node` job works on what only this node has (e.g. what it recorded in
    memory): every node runs it, without a lease.
    """

    name: str
    run: Callable[[JobRun], int]
    per_node: bool = False


class Scheduler:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        holder: str,
        jobs: list[Job],
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self.db = db
        self.clock = clock
        self.holder = holder
        self.jobs = jobs
        self.lease_seconds = lease_seconds
        self._lock = threading.Lock()

    def run_due(self) -> dict[str, int]:
        """Run every job whose lease this node gets: items done per job (-1: it failed).

        A job another node holds is absent from the answer. Never raises.
        """
        done: dict[str, int] = {}
        with self._lock:
            for job in self.jobs:
                count = self._run(job)
                if count is not None:
                    done[job.name] = count
        return done

    def _run(self, job: Job) -> int | None:
        now = self.clock.time()
        if job.per_node:
            try:
                return job.run(
                    JobRun(job.name, self.holder, now, self.clock, self.lease_seconds, leased=False)
                )
            except Exception:
                log.exception("scheduled job %s failed", job.name)
                return FAILED
        try:
            if not leases.acquire(self.db, job.name, self.holder, now, self.lease_seconds):
                return None
        except Exception:
            log.exception("could not take the lease of scheduled job %s", job.name)
            return FAILED
        try:
            return job.run(JobRun(job.name, self.holder, now, self.clock, self.lease_seconds))
        except Exception:
            log.exception("scheduled job %s failed", job.name)
            return FAILED
        finally:
            try:
                leases.release(self.db, job.name, self.holder)
            except Exception:
                log.exception(
                    "could not release the lease of %s; it lapses within %.0f s",
                    job.name,
                    self.lease_seconds,
                )

"""The scheduler: runs each due job while holding its lease."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from garrison.clock import Clock
from garrison.scheduler import leases
from garrison.storage.database import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """`run(now)` does every item due at `now`, each in its own unit; returns the count."""

    name: str
    run: Callable[[float], int]


class Scheduler:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        holder: str,
        jobs: list[Job],
        *,
        lease_seconds: float = 60.0,
    ) -> None:
        self.db = db
        self.clock = clock
        self.holder = holder
        self.jobs = jobs
        self.lease_seconds = lease_seconds
        self._lock = threading.Lock()

    def run_due(self) -> dict[str, int]:
        """Run every job whose lease this node gets; returns items done per job."""
        done: dict[str, int] = {}
        with self._lock:
            for job in self.jobs:
                now = self.clock.time()
                if not leases.acquire(self.db, job.name, self.holder, now, self.lease_seconds):
                    continue
                try:
                    done[job.name] = job.run(now)
                except Exception:
                    log.exception("scheduled job %s failed", job.name)
                    done[job.name] = -1
                finally:
                    leases.release(self.db, job.name, self.holder)
        return done

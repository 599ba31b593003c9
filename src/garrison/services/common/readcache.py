"""What the in-process read caches (KMS keys, parameters, secrets) share: the rules
that keep them from ever serving state that was not committed.

- A miss reads the store inside the caller's unit (`miss` gives the generation
  that read belongs to), but what it read enters the cache only from
  `tx.after_commit`, once the batch that read it is durable, and only if no
  invalidation happened since the read (`admit` checks the generation): a unit
  or a batch that rolls back never leaves a trace here.
- A unit that changes what an entry holds drops it at once, so that later units
  of the same batch read the store, and again once its batch commits (`drop`).
- `clear()` drops everything; the node's state-version poller calls it when
  another node committed a change, so a remote change is seen within one poll.
- Bounded: past `max_entries` in any table, or `max_bytes` of what the entries
  hold, every table starts again empty.

Units read and fill a cache; the poller clears it from another thread, hence the
lock around fills, invalidations and misses. Hits read the tables without it (a
dict read is atomic, and a hit racing an invalidation is the same race with the
lock: the reader may take it first), so subclasses look their tables up directly
and count `hits` themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from garrison.storage.writer import Tx


class ReadCache:
    def __init__(self, max_entries: int, max_bytes: int | None = None) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._max = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0  # of what the entries hold (approximately: drops do not subtract)
        self._tables: list[dict[Any, Any]] = []
        self.hits = 0
        self.misses = 0

    def _table(self) -> dict[Any, Any]:
        """A new table of this cache, emptied with the others."""
        table: dict[Any, Any] = {}
        self._tables.append(table)
        return table

    @property
    def generation(self) -> int:
        """Moves on every invalidation: a value read at another generation may be stale."""
        return self._generation

    def miss(self) -> int:
        """Count a miss; the generation the store read that follows belongs to."""
        with self._lock:
            self.misses += 1
            return self._generation

    def admit(
        self, generation: int, entries: list[tuple[dict[Any, Any], Any, Any]], size: int = 0
    ) -> None:
        """Put `entries` ((table, key, value), `size` bytes in all) unless an invalidation
        happened since the read at `generation`; call it from `tx.after_commit`."""
        with self._lock:
            if generation != self._generation:
                return  # something changed since the read: let the next miss reload
            if any(len(table) >= self._max for table in self._tables) or (
                self._max_bytes is not None and self._bytes + size > self._max_bytes
            ):
                self._empty()
            self._bytes += size
            for table, key, value in entries:
                table[key] = value

    def drop(self, tx: Tx, remove: Callable[[], object]) -> None:
        """Run `remove` (it drops entries from the tables) now and once `tx`'s batch commits."""

        def run() -> None:
            with self._lock:
                self._generation += 1
                remove()

        run()
        tx.after_commit(run)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._empty()

    def _empty(self) -> None:
        for table in self._tables:
            table.clear()
        self._bytes = 0

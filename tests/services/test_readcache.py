"""The rules every read cache (KMS keys, parameters, secrets) keeps, on a real writer:
nothing enters before its batch is durable, nothing read before an invalidation
enters after it, a drop acts at once and again at commit, and the bounds hold."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from garrison.services.common.readcache import ReadCache
from garrison.storage.database import Database
from garrison.storage.writer import Tx


class Cache(ReadCache):
    def __init__(self, max_entries: int = 100, max_bytes: int | None = None) -> None:
        super().__init__(max_entries, max_bytes)
        self.views: dict[Any, Any] = self._table()
        self.names: dict[Any, Any] = self._table()

    def read(self, tx: Tx, key: str, value: str) -> None:
        """What a miss does: note the generation, read, admit once the batch commits."""
        generation = self.miss()
        tx.after_commit(lambda: self.admit(generation, [(self.views, key, value)]))


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    database = Database(store_url)
    database.writer.start()
    yield database
    database.close()


def test_a_read_enters_only_once_its_batch_commits(db: Database) -> None:
    cache = Cache()
    seen: list[bool] = []

    def unit(tx: Tx) -> None:
        cache.read(tx, "k", "v")
        seen.append("k" in cache.views)

    db.writer.run_sync(unit)
    assert seen == [False]
    assert cache.views == {"k": "v"}
    assert cache.misses == 1


def test_a_rolled_back_unit_leaves_nothing(db: Database) -> None:
    cache = Cache()

    def unit(tx: Tx) -> None:
        cache.read(tx, "k", "v")
        raise ValueError("the unit fails after its read")

    with pytest.raises(ValueError):
        db.writer.run_sync(unit)
    db.writer.run_sync(lambda tx: None)  # a later batch commits: still nothing
    assert cache.views == {}


def test_a_read_from_before_an_invalidation_never_enters(db: Database) -> None:
    cache = Cache()
    generation = cache.miss()  # a read began...
    db.writer.run_sync(lambda tx: cache.drop(tx, lambda: cache.views.pop("k", None)))
    cache.admit(generation, [(cache.views, "k", "stale")])  # ...and ends after a change
    assert cache.views == {}
    cache.admit(cache.miss(), [(cache.views, "k", "fresh")])  # a read after it does enter
    assert cache.views == {"k": "fresh"}


def test_a_drop_acts_at_once_and_again_at_commit(db: Database) -> None:
    cache = Cache()
    cache.admit(cache.miss(), [(cache.views, "k", "old")])
    seen: list[bool] = []

    def unit(tx: Tx) -> None:
        cache.drop(tx, lambda: cache.views.pop("k", None))
        seen.append("k" in cache.views)  # later units of the batch read the store
        cache.views["k"] = "filled meanwhile"  # what a racing fill could leave

    db.writer.run_sync(unit)
    assert seen == [False]
    assert cache.views == {}


def test_past_its_bounds_every_table_starts_again() -> None:
    cache = Cache(max_entries=2, max_bytes=100)
    generation = cache.miss()
    cache.admit(generation, [(cache.views, 1, "a"), (cache.names, "n1", 1)], size=10)
    cache.admit(generation, [(cache.views, 2, "b")], size=10)
    cache.admit(generation, [(cache.views, 3, "c")], size=10)  # views held 2: all emptied
    assert cache.views == {3: "c"} and cache.names == {}
    cache.admit(generation, [(cache.views, 4, "d")], size=95)  # 10 + 95 bytes > 100
    assert cache.views == {4: "d"}


def test_clear_empties_every_table_and_outdates_reads_in_flight() -> None:
    cache = Cache()
    generation = cache.miss()
    cache.admit(generation, [(cache.views, 1, "a"), (cache.names, "n1", 1)])
    cache.clear()
    assert cache.views == {} and cache.names == {}
    cache.admit(generation, [(cache.views, 2, "b")])
    assert cache.views == {}
    assert cache.generation == generation + 1

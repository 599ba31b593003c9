"""Two schedulers on one PostgreSQL: each job runs on one node, each item once.

Two server processes share a database; many keys are past their deletion
date. Node A's deletion job is stopped in the middle of a key (a row lock the
test holds on that key, so the moment is exact rather than raced) and A is
killed with SIGKILL. While A's lease is live, B's scheduler leaves the job
alone, and does not wait for it either; once B's clock passes the lease's
expiry, B finishes the job. Every key ends deleted, with exactly one DeleteKey
audit event each, and the trail (A's chain cut short by the kill, and B's)
verifies.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from garrison.scheduler.runner import DEFAULT_LEASE_SECONDS
from garrison.services.kms.jobs import BATCH
from tests.conftest import ServerProcess, create_pg_database, drop_pg_database, pg_available
from tests.e2e.helpers import wait_for

KEYS = 110
HELD = 5  # A deletes the keys before this one, then waits on it
DAY = 86400
DELETION = "kms-key-deletion"


@pytest.fixture
def nodes(tmp_root: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    if not pg_available():
        pytest.fail("PostgreSQL at 127.0.0.1:5432 is required for the scheduler lease tests")
    url = create_pg_database()
    data_dir = tmp_root / f"leases-{url.rsplit('_', 1)[1]}"
    a = ServerProcess(data_dir, database_url=url)
    b = ServerProcess(data_dir, database_url=url)
    try:
        a.start()  # initialises the store and the root key file B then uses
        b.start()
        yield a, b
    finally:
        b.stop()
        a.stop()
        drop_pg_database(url)


def pending_deletion(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM kms_keys WHERE state = 'PendingDeletion'"
        ).fetchone()
    assert row is not None
    return int(row[0])


def delete_key_events(url: str) -> dict[str, int]:
    """Key ARN -> how many DeleteKey events name it."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT body FROM audit_events WHERE event_name = 'DeleteKey'"
        ).fetchall()
    found: dict[str, int] = {}
    for (body,) in rows:
        for resource in json.loads(body)["resources"]:
            found[resource["ARN"]] = found.get(resource["ARN"], 0) + 1
    return found


def deleting_nodes(url: str) -> dict[str, int]:
    """Node id -> how many DeleteKey events that node's chain holds."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT node_id, count(*) FROM audit_events"
            " WHERE event_name = 'DeleteKey' GROUP BY node_id"
        ).fetchall()
    return {str(node): int(n) for node, n in rows}


def lease(url: str) -> tuple[str, float]:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT holder, expires_at FROM leases WHERE name = %s", (DELETION,)
        ).fetchone()
    assert row is not None
    return str(row[0]), float(row[1])


def waiting_on_lock(url: str) -> list[int]:
    """Backends of this database blocked on a row lock."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchall()
    return [int(r[0]) for r in rows]


def backend_alive(url: str, pid: int) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
        found = row.fetchone()
    return bool(found and found[0])


def schedule_deletions(server: ServerProcess, count: int) -> list[str]:
    """Create `count` keys and schedule each for deletion in 7 days; their ARNs."""
    # boto3's default session is not thread-safe: make the clients here, one per thread
    clients = [server.client() for _ in range(4)]

    def some(kms: Any, n: int) -> list[str]:
        arns = []
        for _ in range(n):
            key = kms.create_key()["KeyMetadata"]
            kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
            arns.append(str(key["Arn"]))
        return arns

    with ThreadPoolExecutor(len(clients)) as pool:
        shares = [count // len(clients) + (i < count % len(clients)) for i in range(len(clients))]
        parts = [pool.submit(some, kms, n) for kms, n in zip(clients, shares, strict=True)]
        return [arn for part in parts for arn in part.result()]


def test_killed_leader_each_key_deleted_exactly_once(
    nodes: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = nodes
    url = a.database_url
    arns = schedule_deletions(a, KEYS)
    a.advance(8 * DAY)
    b.advance(8 * DAY)

    # Hold a key A will reach early in its run (keys go in order of deletion
    # date): A deletes the ones before it, then waits on it. B is left more keys
    # than one batch of the store's due-keys query holds.
    lock = psycopg.connect(url)
    try:
        order = lock.execute(
            "SELECT key_id FROM kms_keys WHERE state = 'PendingDeletion'"
            " ORDER BY deletion_date, key_id"
        ).fetchall()
        assert len(order) == KEYS
        lock.execute("SELECT 1 FROM kms_keys WHERE key_id = %s FOR UPDATE", (order[HELD][0],))

        a_run: dict[str, Any] = {}

        def run_on_a() -> None:
            try:
                a_run["response"] = requests.post(a.endpoint + "/_garrison/scheduler/run")
            except requests.ConnectionError as err:
                a_run["error"] = err

        runner = threading.Thread(target=run_on_a)
        runner.start()
        blocked = wait_for(lambda: waiting_on_lock(url), "A's deletion to reach the held key")
        assert len(blocked) == 1
        a_backend = blocked[0]
        left = pending_deletion(url)
        assert 0 < KEYS - left <= HELD
        assert left > BATCH, "B should have more than one batch of keys to delete"
        assert sum(delete_key_events(url).values()) == KEYS - left
        [node_a] = deleting_nodes(url)
        assert lease(url)[0] == node_a

        # A holds the lease and is mid-item: B neither runs the job nor waits for it.
        started = time.monotonic()
        assert DELETION not in b.run_scheduler()
        assert time.monotonic() - started < 10
        assert pending_deletion(url) == left

        a.kill()
        runner.join(10)
        assert "error" in a_run, "A's run should have died with A"
    finally:
        lock.rollback()  # A's unfinished transaction now aborts: its connection is gone
        lock.close()
    wait_for(lambda: not backend_alive(url, a_backend), "A's database session to end")
    assert pending_deletion(url) == left

    # A's lease is still live on B's clock: B leaves the job alone.
    assert DELETION not in b.run_scheduler()
    assert pending_deletion(url) == left

    # Past the lease's expiry B takes the job over and finishes it.
    b.advance(DEFAULT_LEASE_SECONDS + 1)
    assert b.run_scheduler()[DELETION] == left
    assert pending_deletion(url) == 0
    events = delete_key_events(url)
    assert set(events) == set(arns)
    assert all(n == 1 for n in events.values()), {arn: n for arn, n in events.items() if n != 1}
    by_node = deleting_nodes(url)
    assert by_node.pop(node_a) == KEYS - left
    assert list(by_node.values()) == [left]
    assert lease(url) == (next(iter(by_node)), 0.0)  # B released it when done

    # nothing is left to do, and running again does nothing twice
    assert b.run_scheduler()[DELETION] == 0
    verify = b.cli("audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "in 2 chain(s) verified" in verify.stdout

"""What the NATS and file target tests share.

- `NatsSubscriber`: a real NATS subscriber (nats-py on its own event loop thread)
  that records what arrives on a subject;
- `outbox_rows` / `dead_letter_rows` / `wait_settled`: the delivery outbox as the
  server's own database holds it (SQLite file or PostgreSQL), read directly;
- `file_arn` / `nats_arn`: the target ARN forms; `json_lines`: a file target's lines;
- `put_rule_with_target` and `put_events`: the EventBridge calls, checked.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import nats

from tests.conftest import ACCOUNT_ID, REGION, ServerProcess

NATS_URL = "nats://127.0.0.1:4222"


def nats_arn(subject: str) -> str:
    return f"arn:garrison:nats:{REGION}:{ACCOUNT_ID}:subject/{subject}"


def file_arn(path: Path) -> str:
    return f"arn:garrison:file:{REGION}:{ACCOUNT_ID}:path/{path}"


def json_lines(path: Path) -> list[Any]:
    """Every line of a file target, parsed; the last line must be complete too."""
    if not path.exists():
        return []
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), "a file target's line was cut short"
    return [json.loads(line) for line in data.splitlines()]


class NatsSubscriber:
    """Subscribes to `subject` on the machine's NATS server and keeps the messages."""

    def __init__(self, subject: str, url: str = NATS_URL) -> None:
        self.subject = subject
        self.messages: list[tuple[bytes, dict[str, str]]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._client: Any = self._run(self._subscribe(url))

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(15)

    async def _subscribe(self, url: str) -> Any:
        client = await nats.connect(url)

        async def keep(msg: Any) -> None:
            self.messages.append((msg.data, dict(msg.headers or {})))

        await client.subscribe(self.subject, cb=keep)
        await client.flush()
        return client

    def events(self) -> list[Any]:
        return [json.loads(data) for data, _ in list(self.messages)]

    def wait_for(self, predicate: Callable[[list[Any]], bool], timeout: float = 20.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.events()
            if predicate(events):
                return events
            time.sleep(0.05)
        raise AssertionError(f"nothing as expected on {self.subject}: {self.events()!r}")

    def close(self) -> None:
        self._run(self._client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


def _query(server: ServerProcess, sql: str) -> list[tuple[Any, ...]]:
    if server.database_url:
        import psycopg

        with psycopg.connect(server.database_url) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]
    conn = sqlite3.connect(server.data_dir / "garrison.db", timeout=30)
    try:
        return list(conn.execute(sql).fetchall())
    finally:
        conn.close()


def outbox_rows(server: ServerProcess) -> list[tuple[str, int, str | None]]:
    """(event id, attempts, last error) of every delivery still in the outbox."""
    rows = _query(server, "SELECT event_id, attempts, last_error FROM events_outbox")
    return [(str(r[0]), int(r[1]), r[2]) for r in rows]


def dead_letter_rows(server: ServerProcess) -> list[tuple[str, str]]:
    """(event id, error) of every dead letter."""
    rows = _query(server, "SELECT event_id, error FROM events_dead_letters")
    return [(str(r[0]), str(r[1])) for r in rows]


def wait_settled(server: ServerProcess, event_ids: Sequence[str], timeout: float = 60.0) -> None:
    """Wait until no delivery of `event_ids` is left in the outbox (the server delivers
    right after the commit that enqueued; nothing here runs the scheduler)."""
    wanted = set(event_ids)
    deadline = time.monotonic() + timeout
    left: list[tuple[str, int, str | None]] = []
    while time.monotonic() < deadline:
        left = [row for row in outbox_rows(server) if row[0] in wanted]
        if not left:
            return
        time.sleep(0.1)
    raise AssertionError(f"deliveries still pending: {left[:5]!r}")


def put_rule_with_target(
    events: Any, name: str, pattern: dict[str, Any] | str, target: dict[str, Any]
) -> None:
    text = pattern if isinstance(pattern, str) else json.dumps(pattern)
    events.put_rule(Name=name, EventPattern=text)
    out = events.put_targets(Rule=name, Targets=[{"Id": "t1", **target}])
    assert out["FailedEntryCount"] == 0, out["FailedEntries"]


def delete_rule(events: Any, name: str) -> None:
    events.remove_targets(Rule=name, Ids=["t1"])
    events.delete_rule(Name=name)


def put_events(events: Any, entries: list[dict[str, Any]]) -> list[str]:
    """PutEvents in batches of 10; the event ids, in order (every entry must be accepted)."""
    ids: list[str] = []
    for start in range(0, len(entries), 10):
        out = events.put_events(Entries=entries[start : start + 10])
        assert out["FailedEntryCount"] == 0, out["Entries"]
        ids += [entry["EventId"] for entry in out["Entries"]]
    return ids

"""Crash safety of event delivery: an event PutEvents answered survives a SIGKILL.

PutEvents writes one outbox row per matched target in the call's own transaction,
and a row leaves the outbox only once its target acknowledged it. So a server
killed with SIGKILL after PutEvents was answered and before the event could be
delivered (its target unreachable at that moment: a NATS server URL nothing
listens on, a file target whose directory is blocked by a regular file) delivers
it after the restart, once the target is back.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess
from tests.e2e.events_targets_helpers import (
    NATS_URL,
    NatsSubscriber,
    file_arn,
    json_lines,
    nats_arn,
    outbox_rows,
    put_events,
    put_rule_with_target,
    wait_settled,
)
from tests.e2e.helpers import name


def unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def put_one_event(server: ServerProcess, target_arn: str) -> str:
    """A rule sending `source` events to the target, and one such event; its id."""
    events = server.client("events")
    source = name("com.example.crash")
    put_rule_with_target(events, name("crash"), {"source": [source]}, {"Arn": target_arn})
    detail = {"order": 42, "note": "put before the crash"}
    [event_id] = put_events(
        events, [{"Source": source, "DetailType": "Order Placed", "Detail": json.dumps(detail)}]
    )
    return event_id


def fail_one_attempt(server: ServerProcess, event_id: str, reason: str) -> None:
    """Let the server try (and fail) to deliver: the event is in the outbox, undelivered."""
    server.run_scheduler()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = [row for row in outbox_rows(server) if row[0] == event_id]
        assert rows, "the event left the outbox although its target is unreachable"
        if rows[0][1] >= 1:
            assert reason in (rows[0][2] or ""), rows
            return
        time.sleep(0.05)
    raise AssertionError("no delivery attempt was made")


def deliver_after_restart(server: ServerProcess) -> None:
    server.start()
    # the retry waits out its backoff: move the clock past it and run the due jobs
    server.advance(900)
    server.run_scheduler()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_nats_event_put_before_sigkill_arrives_after_restart(
    fresh_server_factory: Any, backend: str
) -> None:
    down = f"nats://127.0.0.1:{unused_port()}"
    server: ServerProcess = fresh_server_factory(backend, env={"GARRISON_EVENTS_NATS_URL": down})
    server.start()
    subject = name("garrison.test.crash").replace("-", ".")
    event_id = put_one_event(server, nats_arn(subject))
    fail_one_attempt(server, event_id, "NATS server unreachable")

    server.kill()  # SIGKILL: PutEvents was answered, the event never left
    server.env["GARRISON_EVENTS_NATS_URL"] = NATS_URL  # the NATS server is back
    subscriber = NatsSubscriber(subject)
    try:
        deliver_after_restart(server)
        got = subscriber.wait_for(lambda events: any(e["id"] == event_id for e in events))
        event = next(e for e in got if e["id"] == event_id)
        assert event["detail"] == {"order": 42, "note": "put before the crash"}
        wait_settled(server, [event_id])
    finally:
        subscriber.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_file_event_put_before_sigkill_arrives_after_restart(
    fresh_server_factory: Any, backend: str
) -> None:
    server: ServerProcess = fresh_server_factory(backend)
    server.start()
    root = server.data_dir.resolve() / "events"
    root.mkdir(parents=True, exist_ok=True)
    # the target's directory cannot be made: a regular file holds its name
    blocker = root / "orders"
    blocker.write_text("not a directory\n")
    path: Path = blocker / "events.jsonl"
    event_id = put_one_event(server, file_arn(path))
    fail_one_attempt(server, event_id, "Not a directory")

    server.kill()
    blocker.unlink()  # the operator fixes the directory while the server is down
    deliver_after_restart(server)
    wait_settled(server, [event_id])
    lines = [line for line in json_lines(path) if line["id"] == event_id]
    assert lines, "the event put before the crash never reached the file"
    assert lines[0]["detail"] == {"order": 42, "note": "put before the crash"}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_event_killed_right_after_put_events_is_delivered_after_restart(
    fresh_server_factory: Any, backend: str
) -> None:
    """No attempt at all before the kill: the outbox row alone carries the event."""
    down = f"nats://127.0.0.1:{unused_port()}"
    server: ServerProcess = fresh_server_factory(backend, env={"GARRISON_EVENTS_NATS_URL": down})
    server.start()
    subject = name("garrison.test.crash.now").replace("-", ".")
    event_id = put_one_event(server, nats_arn(subject))
    server.kill()  # at once, as soon as PutEvents was answered
    assert [row for row in outbox_rows(server) if row[0] == event_id]

    server.env["GARRISON_EVENTS_NATS_URL"] = NATS_URL
    subscriber = NatsSubscriber(subject)
    try:
        deliver_after_restart(server)
        subscriber.wait_for(lambda events: any(e["id"] == event_id for e in events))
        wait_settled(server, [event_id])
    finally:
        subscriber.close()

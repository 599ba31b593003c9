"""NATS and file targets, driven through real delivery.

A rule with a NATS target publishes to the machine's NATS server (127.0.0.1:4222)
and a subscriber in the test receives the event; with JetStream the event lands in
a stream (one the test creates, or the one the setting `events_nats_stream` names,
which the server creates). A file target gets one JSON line per event, under the
file-target root only. And every pair of tests/services/events/pattern_cases.py
goes through PutEvents to a file target: the line appears exactly when AWS's
documented result says the pattern matches.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import nats
import nats.js.errors
import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    ACCOUNT_ID,
    BACKENDS,
    REGION,
    ServerProcess,
    create_pg_database,
    drop_pg_database,
    pg_available,
)
from tests.e2e.events_targets_helpers import (
    NATS_URL,
    NatsSubscriber,
    dead_letter_rows,
    delete_rule,
    file_arn,
    json_lines,
    nats_arn,
    outbox_rows,
    put_events,
    put_rule_with_target,
    wait_settled,
)
from tests.services.events.pattern_cases import CASES, Case


def token() -> str:
    return secrets.token_hex(4)


@pytest.fixture
def events(server: ServerProcess) -> Any:
    return server.client("events")


def entry(source: str, detail: dict[str, Any], detail_type: str = "Order Placed") -> dict[str, Any]:
    return {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}


# -- NATS (core) ---------------------------------------------------------------------------
def test_nats_target_publishes_the_event_to_a_subscriber(
    server: ServerProcess, events: Any
) -> None:
    run = token()
    subject = f"garrison.test.{run}.orders"
    source = f"com.example.nats.{run}"
    rule = f"nats-{run}"
    put_rule_with_target(events, rule, {"source": [source]}, {"Arn": nats_arn(subject)})
    subscriber = NatsSubscriber(subject)
    try:
        [event_id] = put_events(events, [entry(source, {"order": 42, "items": ["a", "b"]})])
        [event] = subscriber.wait_for(lambda got: len(got) >= 1)
        assert event["id"] == event_id
        assert event["source"] == source
        assert event["detail-type"] == "Order Placed"
        assert event["detail"] == {"order": 42, "items": ["a", "b"]}
        assert (event["account"], event["region"]) == (ACCOUNT_ID, REGION)
        # the delivery id rides along, so JetStream's duplicate window can drop a retry's copy
        assert subscriber.messages[0][1].get("Nats-Msg-Id")
        wait_settled(server, [event_id])
        # an event the pattern does not match is not published
        put_events(events, [entry(f"com.example.other.{run}", {"order": 1})])
        [other_id] = put_events(events, [entry(source, {"order": 43})])
        got = subscriber.wait_for(lambda got: len(got) >= 2)
        assert [e["id"] for e in got] == [event_id, other_id]
    finally:
        subscriber.close()
        delete_rule(events, rule)


def test_nats_target_receives_the_transformed_input(server: ServerProcess, events: Any) -> None:
    run = token()
    subject = f"garrison.test.{run}.transformed"
    source = f"com.example.nats.{run}"
    rule = f"nats-tr-{run}"
    target = {
        "Arn": nats_arn(subject),
        "InputTransformer": {
            "InputPathsMap": {"order": "$.detail.order"},
            "InputTemplate": '{"order": <order>, "rule": <aws.events.rule-name>}',
        },
    }
    put_rule_with_target(events, rule, {"source": [source]}, target)
    subscriber = NatsSubscriber(subject)
    try:
        put_events(events, [entry(source, {"order": 7})])
        [payload] = subscriber.wait_for(lambda got: len(got) >= 1)
        assert payload == {"order": 7, "rule": rule}
    finally:
        subscriber.close()
        delete_rule(events, rule)


@pytest.mark.parametrize(
    "arn",
    [
        pytest.param(f"arn:garrison:nats:{REGION}:{ACCOUNT_ID}:subject/a.*.c", id="wildcard"),
        pytest.param(f"arn:garrison:nats:{REGION}:{ACCOUNT_ID}:subject/a b", id="space"),
        pytest.param(f"arn:garrison:nats:{REGION}:{ACCOUNT_ID}:subject/a..b", id="empty-token"),
        pytest.param(
            f"arn:garrison:nats:{REGION}:{ACCOUNT_ID}:subject/$JS.API.STREAM.DELETE.X",
            id="server-api",
        ),
        pytest.param(f"arn:garrison:nats:{REGION}:{ACCOUNT_ID}:topic/a", id="not-subject"),
        pytest.param(f"arn:garrison:nats:{REGION}:444455556666:subject/a", id="other-account"),
    ],
)
def test_nats_target_arn_refused(events: Any, arn: str) -> None:
    rule = f"nats-bad-{token()}"
    events.put_rule(Name=rule, EventPattern='{"source": ["com.example.never"]}')
    try:
        assert_target_refused(events, rule, arn)
    finally:
        events.delete_rule(Name=rule)


def assert_target_refused(events: Any, rule: str, arn: str) -> None:
    """PutTargets refuses the target (the whole call, or its entry) and keeps nothing."""
    try:
        out = events.put_targets(Rule=rule, Targets=[{"Id": "t1", "Arn": arn}])
    except ClientError as err:
        assert err.response["Error"]["Code"] == "ValidationException", err.response
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    else:
        assert out["FailedEntryCount"] == 1, out
        assert out["FailedEntries"][0]["ErrorCode"] == "ValidationException", out
    assert events.list_targets_by_rule(Rule=rule)["Targets"] == []


# -- JetStream -------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=BACKENDS)
def js_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A dev server publishing with JetStream, creating the stream its setting names."""
    url = ""
    if request.param == "postgresql":
        assert pg_available(), "PostgreSQL at 127.0.0.1:5432 is required"
        url = create_pg_database()
    stream = f"GARRISON_TEST_{token().upper()}"
    srv = ServerProcess(
        tmp_path_factory.mktemp("js") / "data",
        database_url=url,
        env={"GARRISON_EVENTS_NATS_JETSTREAM": "true", "GARRISON_EVENTS_NATS_STREAM": stream},
    ).start()
    yield srv
    srv.stop()
    asyncio.run(delete_streams([stream]))
    if url:
        drop_pg_database(url)


async def delete_streams(names: list[str]) -> None:
    client = await nats.connect(NATS_URL)
    try:
        js = client.jetstream()
        for name in names:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.delete_stream(name)
    finally:
        await client.close()


async def stream_messages(stream: str, subject: str) -> tuple[list[str], list[Any]]:
    """The stream's subjects and the messages it holds on `subject`, oldest first."""
    client = await nats.connect(NATS_URL)
    try:
        js = client.jetstream()
        info = await js.stream_info(stream)
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(stream, seq)
            if msg.subject == subject:
                found.append(json.loads(msg.data or b"null"))
        return list(info.config.subjects or []), found
    finally:
        await client.close()


async def create_stream(name: str, subject: str) -> None:
    client = await nats.connect(NATS_URL)
    try:
        await client.jetstream().add_stream(name=name, subjects=[subject])
    finally:
        await client.close()


def test_jetstream_target_stores_the_event_in_the_operators_stream(
    js_server: ServerProcess,
) -> None:
    events = js_server.client("events")
    run = token()
    subject = f"garrison.test.{run}.js"
    stream = f"TEST_{run.upper()}"
    asyncio.run(create_stream(stream, subject))
    source = f"com.example.js.{run}"
    try:
        put_rule_with_target(events, f"js-{run}", {"source": [source]}, {"Arn": nats_arn(subject)})
        ids = put_events(events, [entry(source, {"n": n}) for n in range(3)])
        wait_settled(js_server, ids)
        assert not [row for row in dead_letter_rows(js_server) if row[0] in ids]
        _, stored = asyncio.run(stream_messages(stream, subject))
        # acknowledged by JetStream means stored: all three, each once
        assert sorted(e["id"] for e in stored) == sorted(ids)
        assert sorted(e["detail"]["n"] for e in stored) == [0, 1, 2]
    finally:
        asyncio.run(delete_streams([stream]))


def test_jetstream_stream_named_by_the_setting_is_created(js_server: ServerProcess) -> None:
    events = js_server.client("events")
    run = token()
    stream = js_server.env["GARRISON_EVENTS_NATS_STREAM"]
    first, second = f"garrison.test.{run}.first", f"garrison.test.{run}.second"
    source = f"com.example.js.{run}"
    put_rule_with_target(events, f"js-a-{run}", {"source": [source]}, {"Arn": nats_arn(first)})
    put_rule_with_target(events, f"js-b-{run}", {"source": [source]}, {"Arn": nats_arn(second)})
    [event_id] = put_events(events, [entry(source, {"created": True})])
    wait_settled(js_server, [event_id])
    subjects, stored_first = asyncio.run(stream_messages(stream, first))
    # the stream captures both targets' subjects: created for one, extended for the other
    assert {first, second} <= set(subjects)
    _, stored_second = asyncio.run(stream_messages(stream, second))
    assert [e["id"] for e in stored_first] == [event_id]
    assert [e["id"] for e in stored_second] == [event_id]


# -- files -----------------------------------------------------------------------------------
def file_root(server: ServerProcess) -> Path:
    return server.data_dir.resolve() / "events"


def test_file_target_gets_one_json_line_per_event(server: ServerProcess, events: Any) -> None:
    run = token()
    path = file_root(server) / f"orders-{run}" / "orders.jsonl"
    source = f"com.example.file.{run}"
    rule = f"file-{run}"
    put_rule_with_target(events, rule, {"source": [source]}, {"Arn": file_arn(path)})
    try:
        entries = [entry(source, {"n": n, "text": "line\nbreak \u00e9"}) for n in range(25)]
        ids = put_events(events, entries)
        wait_settled(server, ids)
        lines = json_lines(path)
        assert sorted(line["id"] for line in lines) == sorted(ids)  # one line per event
        assert sorted(line["detail"]["n"] for line in lines) == list(range(25))
        assert all(line["detail"]["text"] == "line\nbreak \u00e9" for line in lines)
        assert all(line["source"] == source for line in lines)
        # events may hold secrets: the file is the server user's only
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    finally:
        delete_rule(events, rule)


def test_file_target_writes_text_input_as_a_json_string(server: ServerProcess, events: Any) -> None:
    run = token()
    path = file_root(server) / f"text-{run}.jsonl"
    source = f"com.example.file.{run}"
    rule = f"file-text-{run}"
    target = {
        "Arn": file_arn(path),
        "InputTransformer": {
            "InputPathsMap": {"who": "$.detail.who"},
            "InputTemplate": "<who> placed an order",
        },
    }
    put_rule_with_target(events, rule, {"source": [source]}, target)
    try:
        ids = put_events(events, [entry(source, {"who": "Alice"})])
        wait_settled(server, ids)
        assert json_lines(path) == ["Alice placed an order"]
    finally:
        delete_rule(events, rule)


def test_file_target_outside_the_root_is_refused(server: ServerProcess, events: Any) -> None:
    rule = f"file-bad-{token()}"
    root = file_root(server)
    events.put_rule(Name=rule, EventPattern='{"source": ["com.example.never"]}')
    try:
        for path in [
            "/etc/garrison-test.jsonl",  # outside the root
            f"{root}/../escape.jsonl",  # back out of it
            f"{root.parent}/events-sibling/x.jsonl",  # a sibling sharing the prefix
            f"{root}/",  # a directory
            "relative/x.jsonl",  # not absolute
        ]:
            assert_target_refused(
                events, rule, f"arn:garrison:file:{REGION}:{ACCOUNT_ID}:path/{path}"
            )
    finally:
        events.delete_rule(Name=rule)


# -- every documented pattern/event pair, through real delivery -------------------------------
# PutEvents sets version, id, account, region (and time, when Time is not given) itself.
SET_BY_PUT_EVENTS = {"version", "id", "account", "region"}
# Pairs whose event PutEvents cannot send, with the reason (none at present; a new case
# in pattern_cases.py that cannot be sent must be listed here, or the test says so).
NOT_SENDABLE: dict[str, str] = {}
# Sources starting with "aws." are AWS's own (PutEvents answers NotAuthorizedForSourceException):
# such a pair is sent as its closest sendable twin, the same "aws.x" -> "test.aws.x" renaming
# applied to the event's source and to the pattern's exact source values, which keeps every
# equality and inequality between them (the pairs test only exact values on source).
RENAMED_PREFIX = "test."


def _rename_sources(pattern: Any) -> Any:
    """The pattern with its top-level (and top-level $or branches') exact "aws." source
    values renamed; ValueError if a source condition is not a list of exact strings."""
    if not isinstance(pattern, dict):
        return pattern
    out = dict(pattern)
    if "source" in out:
        values = out["source"]
        if not all(isinstance(v, str) for v in values):
            raise ValueError("the pattern tests the source with an operator")
        out["source"] = [RENAMED_PREFIX + v if v.startswith("aws.") else v for v in values]
    if "$or" in out:
        out["$or"] = [_rename_sources(branch) for branch in out["$or"]]
    return out


def sendable(case: Case) -> tuple[str, dict[str, Any]]:
    """(the pattern, the PutEvents entry) closest to `case`; ValueError if there is none."""
    if case.name in NOT_SENDABLE:
        raise ValueError(NOT_SENDABLE[case.name])
    pattern = json.loads(case.pattern)
    branches = [pattern, *(pattern.get("$or") or [])]
    tested = SET_BY_PUT_EVENTS & {key for branch in branches for key in branch}
    if tested:
        raise ValueError(f"the pattern tests {sorted(tested)}, which PutEvents sets itself")
    event = case.event
    source = event["source"]
    if source.startswith("aws."):
        pattern = _rename_sources(pattern)
        source = RENAMED_PREFIX + source
    when = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
    put_entry = {
        "Source": source,
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
        "Resources": list(event["resources"]),
        "Time": when,
    }
    return json.dumps(pattern), put_entry


def test_every_pattern_pair_has_a_sendable_event() -> None:
    """Every pair goes through real delivery, or is listed with its reason."""
    problems = {}
    for case in CASES:
        try:
            sendable(case)
        except ValueError as err:
            if case.name not in NOT_SENDABLE:
                problems[case.name] = str(err)
    assert not problems, f"list these in NOT_SENDABLE with their reason: {problems}"
    assert len(CASES) - len(NOT_SENDABLE) >= 40


@pytest.mark.parametrize("backend", BACKENDS)
def test_pattern_pairs_through_real_delivery(fresh_server_factory: Any, backend: str) -> None:
    # a server of its own: some patterns match nearly every event, the "AWS API Call via
    # CloudTrail" events of other tests' calls too
    server: ServerProcess = fresh_server_factory(backend)
    server.start()
    events = server.client("events")
    run = token()
    directory = file_root(server) / f"pairs-{run}"
    cases = [case for case in CASES if case.name not in NOT_SENDABLE]
    entries: list[dict[str, Any]] = []
    for i, case in enumerate(cases):
        pattern, put_entry = sendable(case)
        target = {"Arn": file_arn(directory / f"{case.name}.jsonl")}
        put_rule_with_target(events, f"pair-{run}-{i:03d}", pattern, target)
        entries.append(put_entry)
    ids = put_events(events, entries)
    wait_settled(server, ids)
    assert not [row for row in dead_letter_rows(server) if row[0] in ids]
    wrong = []
    for case, event_id in zip(cases, ids, strict=True):
        lines = json_lines(directory / f"{case.name}.jsonl")
        delivered = [line for line in lines if line["id"] == event_id]
        assert len(delivered) <= 1, case.name
        if bool(delivered) != case.expected:
            wrong.append(f"{case.name}: expected {case.expected}")
        if delivered:
            # the target got the event as sent, in EventBridge's envelope
            assert delivered[0]["detail"] == case.event["detail"], case.name
            assert delivered[0]["time"] == case.event["time"], case.name
            assert delivered[0]["resources"] == case.event["resources"], case.name
    assert not wrong, wrong
    assert any(case.expected for case in cases) and not all(case.expected for case in cases)


# -- the NATS server goes away and comes back -------------------------------------------------
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


class PrivateNats:
    """A nats-server of the test's own (the machine's shared one must not be stopped)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.05)
        raise AssertionError("the private nats-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.mark.skipif(not os.path.exists(NATS_SERVER), reason="needs the nats-server binary")
def test_nats_target_retries_while_the_server_is_down_and_reconnects(
    fresh_server_factory: Any,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    nats_server = PrivateNats(port)
    nats_server.start()
    server: ServerProcess = fresh_server_factory(env={"GARRISON_EVENTS_NATS_URL": nats_server.url})
    server.start()
    events = server.client("events")
    run = token()
    subject, source = f"garrison.test.{run}.reconnect", f"com.example.reconnect.{run}"
    put_rule_with_target(
        events, f"reconnect-{run}", {"source": [source]}, {"Arn": nats_arn(subject)}
    )
    try:
        subscriber = NatsSubscriber(subject, url=nats_server.url)
        first = put_events(events, [entry(source, {"n": 1})])
        subscriber.wait_for(lambda got: [e["id"] for e in got] == first)
        subscriber.close()

        nats_server.stop()  # the server goes away: the delivery fails, and waits for a retry
        second = put_events(events, [entry(source, {"n": 2})])
        deadline = time.monotonic() + 20
        while not any(r[0] == second[0] and r[1] >= 1 for r in outbox_rows(server)):
            assert time.monotonic() < deadline, outbox_rows(server)
            time.sleep(0.05)
        [(_, _, error)] = [r for r in outbox_rows(server) if r[0] == second[0]]
        assert error is not None and "NATS server unreachable" in error
        assert not dead_letter_rows(server)  # retryable, not given up

        nats_server.start()  # back on the same port: the sender connects again
        subscriber = NatsSubscriber(subject, url=nats_server.url)
        # each retry waits out its backoff: move the clock past it until one gets through
        deadline = time.monotonic() + 30
        while not any(e["id"] == second[0] for e in subscriber.events()):
            assert time.monotonic() < deadline, outbox_rows(server)
            server.advance(900)
            server.run_scheduler()
            time.sleep(0.2)
        wait_settled(server, second)
        subscriber.close()
    finally:
        nats_server.stop()

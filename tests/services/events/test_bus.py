"""The event bus (garrison.events.bus) over a real store, on SQLite and PostgreSQL, and
what targets receive (garrison.events.targets): matching rules to events, one outbox
row per matched target with the payload as AWS's input transformation makes it,
the cached rules and their invalidation, the no-rule fast path, and the target ARN
forms."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from garrison.clock import FixedClock
from garrison.events import outbox, store
from garrison.events.bus import EventBus, rule_arn
from garrison.events.envelope import Event
from garrison.events.targets import (
    API_DESTINATION,
    FILE,
    NATS,
    InputError,
    TargetArnError,
    check_input,
    parse_target_arn,
    render,
)
from garrison.storage import schema
from garrison.storage.database import Database
from garrison.storage.seal import init_file_seal, read_key_file, unseal_with_key
from garrison.storage.sql import delete
from garrison.storage.writer import Tx

ACCOUNT = "111122223333"
REGION = "us-east-1"
RULE_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/r"

EVENT: dict[str, Any] = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": ACCOUNT,
    "time": "2015-11-11T21:29:54Z",
    "region": REGION,
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {"instance-id": "i-0123456789", "state": "RUNNING", "count": 3, "tags": ["a", "b"]},
}


def transformed(paths: dict[str, str], template: str) -> bytes:
    target = {"InputTransformer": {"InputPathsMap": paths, "InputTemplate": template}}
    check_input(target)
    return render(
        target, EVENT, rule_arn=RULE_ARN, rule_name="r", ingestion_time="2015-11-11T21:29:55Z"
    )


# -- what a target receives ---------------------------------------------------------------


def test_without_settings_the_target_gets_the_whole_event() -> None:
    out = render(
        {"Id": "t", "Arn": "x"}, EVENT, rule_arn=RULE_ARN, rule_name="r", ingestion_time=""
    )
    assert json.loads(out) == EVENT


def test_input_is_sent_as_it_is() -> None:
    out = render({"Input": '{"a": [1, 2]}'}, EVENT, rule_arn="", rule_name="", ingestion_time="")
    assert out == b'{"a": [1, 2]}'


def test_input_path_selects_part_of_the_event() -> None:
    def path(p: str) -> Any:
        return json.loads(
            render({"InputPath": p}, EVENT, rule_arn="", rule_name="", ingestion_time="")
        )

    assert path("$.detail") == EVENT["detail"]
    assert path("$.detail.state") == "RUNNING"
    assert path("$.resources[0]") == EVENT["resources"][0]
    assert path("$.detail.tags[*]") == ["a", "b"]
    assert path("$.detail.missing") is None
    assert path("$") == EVENT


def test_transformer_fills_a_json_template() -> None:
    # AWS's example: variables outside quotes become JSON values, inside quotes text
    out = transformed(
        {"instance": "$.detail.instance-id", "state": "$.detail.state", "n": "$.detail.count"},
        '{"instance": <instance>, "state": [9, <state>, true], "n": <n>, '
        '"text": "<instance> is in state \\"<state>\\""}',
    )
    assert json.loads(out) == {
        "instance": "i-0123456789",
        "state": [9, "RUNNING", True],
        "n": 3,
        "text": 'i-0123456789 is in state "RUNNING"',
    }


def test_transformer_fills_a_string_template_and_plain_text() -> None:
    paths = {"instance": "$.detail.instance-id", "state": "$.detail.state"}
    quoted = transformed(paths, '"instance <instance> is in <state>"')
    assert json.loads(quoted) == "instance i-0123456789 is in RUNNING"
    plain = transformed(paths, "instance <instance> is in <state>")
    assert plain == b"instance i-0123456789 is in RUNNING"


def test_transformer_predefined_variables_and_missing_values() -> None:
    out = transformed(
        {"gone": "$.detail.nothing", "tags": "$.detail.tags"},
        '{"rule": "<aws.events.rule-name>", "arn": "<aws.events.rule-arn>", '
        '"at": "<aws.events.event.ingestion-time>", "event": <aws.events.event.json>, '
        '"head": <aws.events.event>, "gone": <gone>, "gone_text": "<gone>", "tags": <tags>, '
        '"unknown": "<not-a-variable>"}',
    )
    got = json.loads(out)
    assert (got["rule"], got["arn"], got["at"]) == ("r", RULE_ARN, "2015-11-11T21:29:55Z")
    assert got["event"] == EVENT
    assert got["head"] == {k: v for k, v in EVENT.items() if k != "detail"}
    assert (got["gone"], got["gone_text"]) == (None, "")
    assert got["tags"] == ["a", "b"]
    assert got["unknown"] == "<not-a-variable>"


def test_string_values_are_escaped_inside_json() -> None:
    event = {**EVENT, "detail": {"text": 'say "hi"\n'}}
    target = {
        "InputTransformer": {
            "InputPathsMap": {"t": "$.detail.text"},
            "InputTemplate": '{"a": "<t>", "b": <t>}',
        }
    }
    out = render(target, event, rule_arn="", rule_name="", ingestion_time="")
    assert json.loads(out) == {"a": 'say "hi"\n', "b": 'say "hi"\n'}


@pytest.mark.parametrize(
    "target",
    [
        {"Input": "{not json"},
        {"Input": "{}", "InputPath": "$.a"},
        {"InputPath": "$..a"},
        {"InputPath": "detail"},
        {"InputTransformer": {"InputPathsMap": {"aws.x": "$.a"}, "InputTemplate": "<x>"}},
        {"InputTransformer": {"InputPathsMap": {"x": "a"}, "InputTemplate": "<x>"}},
        {"InputTransformer": {"InputPathsMap": {"x": "$.a"}, "InputTemplate": "{<x>: 1}"}},
        {"InputTransformer": {"InputTemplate": '{"a": }'}},
        {
            "InputTransformer": {
                "InputPathsMap": {f"v{i}": "$.a" for i in range(101)},
                "InputTemplate": "x",
            }
        },
    ],
)
def test_invalid_input_settings(target: dict[str, Any]) -> None:
    with pytest.raises(InputError):
        check_input(target)


# -- target ARNs -----------------------------------------------------------------------------


def test_the_three_target_arn_forms() -> None:
    dest = parse_target_arn(
        f"arn:aws:events:{REGION}:{ACCOUNT}:api-destination/hook/0b0e0c44-1c4a-4f47-8bd0-5b47b1d8f3f1"
    )
    assert (dest.kind, dest.resource) == (
        API_DESTINATION,
        "hook/0b0e0c44-1c4a-4f47-8bd0-5b47b1d8f3f1",
    )
    nats = parse_target_arn(f"arn:garrison:nats:{REGION}:{ACCOUNT}:subject/orders.created")
    assert (nats.kind, nats.resource, nats.account_id) == (NATS, "orders.created", ACCOUNT)
    file = parse_target_arn(f"arn:garrison:file:{REGION}:{ACCOUNT}:path//var/lib/x.jsonl")
    assert (file.kind, file.resource) == (FILE, "/var/lib/x.jsonl")


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f",
        f"arn:aws:sqs:{REGION}:{ACCOUNT}:q",
        f"arn:garrison:nats:{REGION}:{ACCOUNT}:subject/a.*",
        f"arn:garrison:nats:{REGION}:{ACCOUNT}:subject/a..b",
        f"arn:garrison:file:{REGION}:{ACCOUNT}:path/relative",
        f"arn:garrison:file:{REGION}:{ACCOUNT}:path//var/../etc/passwd",
        f"arn:aws:events:{REGION}:{ACCOUNT}:api-destination/only-a-name",
        "nonsense",
    ],
)
def test_other_target_arns_are_refused(arn: str) -> None:
    with pytest.raises(TargetArnError):
        parse_target_arn(arn)


def test_aws_service_arns_are_refused_naming_what_is_supported() -> None:
    with pytest.raises(TargetArnError, match="API destinations .* NATS subjects .* JSON-lines"):
        parse_target_arn(f"arn:aws:sns:{REGION}:{ACCOUNT}:topic")


# -- the bus over a store ---------------------------------------------------------------------


@pytest.fixture
def db(store_url: str, tmp_path: Path) -> Iterator[Database]:
    database = Database(store_url)
    database.write(lambda tx: [tx.execute(delete(t)) for t in (schema.keyring, schema.meta)])
    init_file_seal(database, tmp_path / "root.key")
    unseal_with_key(database, read_key_file(tmp_path / "root.key"))
    database.barrier.unseal()
    for table in (schema.events_outbox, schema.events_targets, schema.events_rules):
        database.write(lambda tx, t=table: tx.execute(delete(t)))
    yield database
    database.close()


@pytest.fixture
def bus() -> EventBus:
    counter = iter(range(1_000_000))
    return EventBus(FixedClock(), lambda: f"id-{next(counter)}")


def add_rule(
    db: Database,
    name: str,
    pattern: dict[str, Any],
    targets: list[dict[str, Any]],
    state: str = "ENABLED",
) -> None:
    def unit(tx: Tx) -> None:
        store.put_rule(
            tx,
            store.Rule(
                ACCOUNT,
                REGION,
                "default",
                name,
                json.dumps(pattern),
                None,
                state,
                None,
                None,
                None,
                0.0,
            ),
        )
        for target in targets:
            store.put_target(tx, ACCOUNT, REGION, "default", name, target, 0.0)

    db.write(unit)


def event(detail: dict[str, Any], source: str = "com.example") -> Event:
    return Event(
        event_id="e-1",
        detail_type="Thing",
        source=source,
        account=ACCOUNT,
        region=REGION,
        time=datetime(2026, 1, 1, tzinfo=UTC),
        detail=detail,
    )


def pending(db: Database) -> list[outbox.Pending]:
    return db.write(lambda tx: outbox.claim(tx, 2e9, "test", 60.0, 100))


def file_target(target_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "Id": target_id,
        "Arn": f"arn:garrison:file:{REGION}:{ACCOUNT}:path//tmp/{target_id}",
        **extra,
    }


def test_matched_rules_enqueue_one_delivery_per_target(db: Database, bus: EventBus) -> None:
    add_rule(
        db,
        "big",
        {"detail": {"n": [{"numeric": [">", 5]}]}},
        [file_target("whole"), file_target("shaped", InputPath="$.detail.n")],
    )
    add_rule(db, "any", {"source": ["com.example"]}, [file_target("all", Input='"fixed"')])
    add_rule(db, "off", {"source": ["com.example"]}, [file_target("off")], state="DISABLED")
    add_rule(db, "bare", {"source": ["com.example"]}, [])
    assert db.write(lambda tx: bus.publish(tx, [event({"n": 9}), event({"n": 1})])) == 4
    got = {(p.rule, p.target_id, p.payload) for p in pending(db)}
    whole = json.dumps(event({"n": 9}).envelope(), separators=(",", ":")).encode()
    assert got == {
        ("big", "whole", whole),
        ("big", "shaped", b"9"),
        ("any", "all", b'"fixed"'),  # once for each of the two events
    }
    assert db.write(lambda tx: outbox.pending_count(tx)) == 4


def test_the_whole_event_payload_and_rule_arn(db: Database, bus: EventBus) -> None:
    add_rule(
        db,
        "r",
        {"source": ["com.example"]},
        [
            file_target(
                "t",
                InputTransformer={"InputPathsMap": {}, "InputTemplate": '"<aws.events.rule-arn>"'},
            ),
            file_target("w"),
        ],
    )
    db.write(lambda tx: bus.publish(tx, [event({"k": "v"})]))
    payloads = {p.target_id: p.payload for p in pending(db)}
    assert json.loads(payloads["t"]) == rule_arn(REGION, ACCOUNT, "default", "r")
    assert json.loads(payloads["w"]) == event({"k": "v"}).envelope()


def test_rules_are_cached_until_changed_or_cleared(db: Database, bus: EventBus) -> None:
    assert db.write(lambda tx: bus.publish(tx, [event({})])) == 0  # caches "no rules"
    add_rule(db, "late", {"source": ["com.example"]}, [file_target("t")])  # behind its back
    assert db.write(lambda tx: bus.publish(tx, [event({})])) == 0
    bus.clear()  # what another node's change leads to
    assert db.write(lambda tx: bus.publish(tx, [event({})])) == 1

    def change(tx: Tx) -> None:
        store.remove_target(tx, ACCOUNT, REGION, "default", "late", "t")
        bus.changed(tx, ACCOUNT, REGION, "default")

    db.write(change)
    assert db.write(lambda tx: bus.publish(tx, [event({})])) == 0


def test_api_calls_are_published_and_put_events_is_not(db: Database, bus: EventBus) -> None:
    add_rule(db, "calls", {"detail-type": ["AWS API Call via CloudTrail"]}, [file_target("t")])
    call = {
        "eventSource": "kms.amazonaws.com",
        "eventName": "CreateKey",
        "awsRegion": REGION,
        "recipientAccountId": ACCOUNT,
    }
    db.write(lambda tx: bus.publish_api_call(tx, call))
    [delivery] = pending(db)
    published = json.loads(delivery.payload)
    assert (published["source"], published["detail"]) == ("aws.kms", call)
    put_events = {**call, "eventSource": "events.amazonaws.com", "eventName": "PutEvents"}
    db.write(lambda tx: bus.publish_api_call(tx, put_events))
    assert db.write(lambda tx: outbox.pending_count(tx)) == 1  # the CreateKey one only


def test_no_rule_fast_path_costs_next_to_nothing(db: Database, bus: EventBus) -> None:
    call = {"eventSource": "kms.amazonaws.com", "eventName": "Encrypt", "awsRegion": REGION,
            "recipientAccountId": "999999999999"}  # fmt: skip

    def many(tx: Tx) -> float:
        bus.publish_api_call(tx, call)  # the one load of the account's (empty) rules
        start = time.perf_counter()
        for _ in range(10_000):
            bus.publish_api_call(tx, call)
        return time.perf_counter() - start

    elapsed = db.write(many)
    assert elapsed < 0.25, f"{elapsed * 100:.1f} us a call"  # measured ~0.3 us a call
    assert db.write(lambda tx: outbox.pending_count(tx)) == 0


def test_the_deliverer_finds_the_target_of_a_row(db: Database, bus: EventBus) -> None:
    target = file_target("t", Input='{"secret": "s3cr3t"}')
    add_rule(db, "r", {"source": ["com.example"]}, [target])
    found = db.read(lambda tx: store.get_target(tx, ACCOUNT, REGION, "default", "r", "t"))
    assert found is not None and (found.arn, found.target) == (target["Arn"], target)
    raw = db.read(lambda tx: tx.execute(schema.events_targets.select()).first())
    assert b"s3cr3t" not in bytes(raw.target)  # sealed by the barrier

"""AWS event patterns through the EventBridge API, on SQLite and PostgreSQL.

- every documented pair of tests/services/events/pattern_cases.py through
  TestEventPattern, each with the result AWS's documentation gives;
- every refused pattern of that table through PutRule, with AWS's reason;
- "AWS API Call via CloudTrail": a state-changing call (KMS CreateKey, here) is
  published to the bus in the call's transaction and reaches the target of a rule
  whose pattern matches it; a read-only call is not published.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, REGION, ServerProcess
from tests.e2e.helpers import error_of, name
from tests.services.events.pattern_cases import CASES, INVALID, Case, Invalid


@pytest.fixture
def events(server: ServerProcess) -> Any:
    return server.client("events")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_documented_pair_through_test_event_pattern(events: Any, case: Case) -> None:
    out = events.test_event_pattern(EventPattern=case.pattern, Event=json.dumps(case.event))
    assert out["Result"] is case.expected


@pytest.mark.parametrize("case", INVALID, ids=[c.name for c in INVALID])
def test_refused_pattern_through_put_rule(events: Any, case: Invalid) -> None:
    if len(case.pattern) > 4096:  # the model's bound on EventPattern comes first
        pytest.skip("longer than the model allows")
    rule = name("invalid")
    with pytest.raises(ClientError) as exc:
        events.put_rule(Name=rule, EventPattern=case.pattern)
    code, message = error_of(exc)
    assert code == "InvalidEventPatternException"
    assert message.startswith(f"Event pattern is not valid. Reason: {case.reason}"), message
    assert events.list_rules(NamePrefix=rule)["Rules"] == []


def _file_target(server: ServerProcess, target_id: str) -> dict[str, Any]:
    path = Path(server.data_dir).resolve() / "events" / f"{name('api')}.jsonl"
    return {"Id": target_id, "Arn": f"arn:garrison:file:{REGION}:{ACCOUNT_ID}:path/{path}"}


def _lines(server: ServerProcess, arn: str, count: int, timeout: float = 15.0) -> list[Any]:
    path = Path(arn.split(":path/", 1)[1])
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        server.run_scheduler()  # runs the events-delivery job
        if path.exists():
            lines = [line for line in path.read_text().splitlines() if line]
            if len(lines) >= count:
                return [json.loads(line) for line in lines]
        time.sleep(0.2)
    raise AssertionError(f"{len(lines)} of {count} deliveries arrived at {path}")


def test_a_state_changing_call_is_published_as_an_api_call_event(
    server: ServerProcess, events: Any
) -> None:
    kms = server.client("kms")
    description = name("published")
    rule = name("api-calls")
    pattern = {
        "source": ["aws.kms"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["kms.amazonaws.com"],
            "eventName": ["CreateKey", "DescribeKey"],
            "requestParameters": {"description": [description]},
        },
    }
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
    target = _file_target(server, "calls")
    events.put_targets(Rule=rule, Targets=[target])
    key_id = kms.create_key(Description=description)["KeyMetadata"]["KeyId"]
    kms.create_key(Description="another description")  # published, not matched
    [event] = _lines(server, target["Arn"], 1)
    assert event["detail-type"] == "AWS API Call via CloudTrail"
    assert event["source"] == "aws.kms"
    assert (event["account"], event["region"]) == (ACCOUNT_ID, REGION)
    detail = event["detail"]
    assert detail["eventName"] == "CreateKey"
    assert detail["eventSource"] == "kms.amazonaws.com"
    assert detail["readOnly"] is False
    assert detail["responseElements"]["keyMetadata"]["keyId"] == key_id
    # the same event is in the audit trail
    trail = server.client("cloudtrail")
    found = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": detail["eventID"]}]
    )["Events"]
    assert [e["EventName"] for e in found] == ["CreateKey"]


def test_read_only_calls_and_put_events_are_not_published(
    server: ServerProcess, events: Any
) -> None:
    rule = name("reads")
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps(
            {
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {"eventName": ["DescribeRule", "PutEvents", "TagResource"]},
            }
        ),
    )
    target = _file_target(server, "reads")
    events.put_targets(Rule=rule, Targets=[target])
    events.describe_rule(Name=rule)  # read-only: not published
    events.put_events(Entries=[{"Source": "com.example.x", "DetailType": "t", "Detail": "{}"}])
    arn = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule}"
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": "k", "Value": "v"}])  # published
    got = _lines(server, target["Arn"], 1)
    time.sleep(0.5)
    got = _lines(server, target["Arn"], 1)
    assert [e["detail"]["eventName"] for e in got] == ["TagResource"]


def test_a_rule_change_takes_effect_at_once(server: ServerProcess, events: Any) -> None:
    """The bus's cached rules are dropped when a rule or target changes."""
    source = f"com.example.{name('cache')}"
    rule = name("cache")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source], "detail": {"v": [1]}}))
    target = _file_target(server, "cache")
    events.put_targets(Rule=rule, Targets=[target])
    entry = {"Source": source, "DetailType": "t"}
    events.put_events(Entries=[{**entry, "Detail": '{"v": 1}'}])
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source], "detail": {"v": [2]}}))
    events.put_events(Entries=[{**entry, "Detail": '{"v": 1}'}, {**entry, "Detail": '{"v": 2}'}])
    got = _lines(server, target["Arn"], 2)
    assert sorted(e["detail"]["v"] for e in got) == [1, 2]

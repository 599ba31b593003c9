"""EventBridge rules and targets end to end with boto3 and the AWS CLI, on SQLite and
PostgreSQL: PutRule, DescribeRule, ListRules, DeleteRule, EnableRule, DisableRule,
PutTargets, RemoveTargets, ListTargetsByRule, ListRuleNamesByTarget, PutEvents,
TestEventPattern and the rule tags, with AWS's limits and AWS's errors for bad
input. Deliveries are observed where they land: a JSON-lines file target under the
server's file-target root (``<data dir>/events``), delivered by a scheduler run.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, REGION, ServerProcess
from tests.e2e.helpers import error, error_of, iam_user, name, session_client
from tests.e2e.test_aws_cli import AwsCli
from tests.e2e.test_aws_cli import aws as aws  # the fixture: a clean CLI on sqlite_server

PATTERN = json.dumps({"source": ["com.example.orders"]})


@pytest.fixture
def events(server: ServerProcess) -> Any:
    return server.client("events")


def rule_arn(rule: str) -> str:
    return f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule}"


def file_arn(server: ServerProcess, file: str) -> str:
    path = Path(server.data_dir).resolve() / "events" / file
    return f"arn:garrison:file:{REGION}:{ACCOUNT_ID}:path/{path}"


def file_target(server: ServerProcess, target_id: str = "t1", **extra: Any) -> dict[str, Any]:
    return {"Id": target_id, "Arn": file_arn(server, f"{name('f')}.jsonl"), **extra}


def delivered(server: ServerProcess, arn: str, count: int, timeout: float = 15.0) -> list[Any]:
    """The JSON lines a file target received, once there are `count` of them."""
    path = Path(arn.split(":path/", 1)[1])
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        server.run_scheduler()  # the events-delivery job runs on every scheduler run
        if path.exists():
            lines = [line for line in path.read_text().splitlines() if line]
            if len(lines) >= count:
                return [json.loads(line) for line in lines]
        time.sleep(0.2)
    raise AssertionError(f"{len(lines)} of {count} deliveries arrived at {path}")


def make_rule(events: Any, pattern: str = PATTERN, **kwargs: Any) -> str:
    rule = name("rule")
    events.put_rule(Name=rule, EventPattern=pattern, **kwargs)
    return rule


# -- PutRule / DescribeRule -----------------------------------------------------------------


def test_put_rule_creates_and_describe_shows_it(events: Any) -> None:
    rule = name("rule")
    out = events.put_rule(Name=rule, EventPattern=PATTERN, Description="orders")
    assert out["RuleArn"] == rule_arn(rule)
    got = events.describe_rule(Name=rule)
    assert got["Name"] == rule
    assert got["Arn"] == rule_arn(rule)
    assert got["EventPattern"] == PATTERN
    assert got["State"] == "ENABLED"
    assert got["Description"] == "orders"
    assert got["EventBusName"] == "default"
    assert got["CreatedBy"] == ACCOUNT_ID
    assert "ScheduleExpression" not in got


def test_put_rule_again_replaces_it_and_drops_what_is_left_out(events: Any) -> None:
    rule = make_rule(events, Description="first", State="DISABLED")
    other = json.dumps({"source": ["com.example.other"]})
    assert events.put_rule(Name=rule, EventPattern=other)["RuleArn"] == rule_arn(rule)
    got = events.describe_rule(Name=rule)
    assert got["EventPattern"] == other
    assert got["State"] == "ENABLED"
    assert "Description" not in got


def test_put_rule_refuses_an_invalid_pattern(events: Any) -> None:
    for pattern in ('{"source": "aws.ec2"}', "not json", '{"detail": {"n": [{"numeric": [">"]}]}}'):
        with pytest.raises(ClientError) as exc:
            events.put_rule(Name=name("bad"), EventPattern=pattern)
        code, message = error_of(exc)
        assert code == "InvalidEventPatternException"
        assert message.startswith("Event pattern is not valid. Reason: ")


def test_put_rule_needs_a_pattern_and_refuses_schedules(events: Any) -> None:
    with pytest.raises(ClientError) as exc:
        events.put_rule(Name=name("none"))
    assert error(exc) == ("ValidationException", 400)
    with pytest.raises(ClientError) as exc:
        events.put_rule(Name=name("sched"), ScheduleExpression="rate(5 minutes)")
    code, message = error_of(exc)
    assert code == "ValidationException"
    assert "ScheduleExpression is not supported" in message


def test_rule_names_follow_the_model(events: Any) -> None:
    for bad in ("has space", "a" * 65, "slash/name"):
        with pytest.raises(ClientError) as exc:
            events.put_rule(Name=bad, EventPattern=PATTERN)
        assert error(exc) == ("ValidationException", 400)


def test_only_the_default_event_bus_exists(events: Any) -> None:
    with pytest.raises(ClientError) as exc:
        events.put_rule(Name=name("r"), EventPattern=PATTERN, EventBusName="custom")
    assert error(exc) == ("ResourceNotFoundException", 400)
    with pytest.raises(ClientError) as exc:
        events.list_rules(EventBusName="custom")
    assert error(exc) == ("ResourceNotFoundException", 400)
    bus = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/default"
    rule = name("r")
    events.put_rule(Name=rule, EventPattern=PATTERN, EventBusName=bus)
    assert events.describe_rule(Name=rule, EventBusName="default")["EventBusName"] == "default"


def test_describe_and_delete_of_an_unknown_rule(events: Any) -> None:
    for call in (events.describe_rule, events.delete_rule, events.enable_rule):
        with pytest.raises(ClientError) as exc:
            call(Name=name("missing"))
        assert error(exc) == ("ResourceNotFoundException", 400)


def test_put_rule_with_a_role(server: ServerProcess, events: Any) -> None:
    iam = server.client("iam")
    role = name("events-role")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    rule = make_rule(events, RoleArn=arn)
    assert events.describe_rule(Name=rule)["RoleArn"] == arn
    with pytest.raises(ClientError) as exc:
        make_rule(events, RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{name('nobody')}")
    assert error(exc) == ("ValidationException", 400)
    with pytest.raises(ClientError) as exc:
        make_rule(events, RoleArn="arn:aws:iam::999999999999:role/elsewhere")
    assert error(exc) == ("ValidationException", 400)


# -- ListRules / Enable / Disable / Delete ----------------------------------------------------


def test_list_rules_by_prefix_and_pages(events: Any) -> None:
    prefix = name("list")
    names = [f"{prefix}-{i}" for i in range(5)]
    for rule in names:
        events.put_rule(Name=rule, EventPattern=PATTERN)
    first = events.list_rules(NamePrefix=prefix, Limit=2)
    assert [r["Name"] for r in first["Rules"]] == names[:2]
    assert first["Rules"][0]["Arn"] == rule_arn(names[0])
    seen = [r["Name"] for r in first["Rules"]]
    token = first["NextToken"]
    while token:
        page = events.list_rules(NamePrefix=prefix, Limit=2, NextToken=token)
        seen += [r["Name"] for r in page["Rules"]]
        token = page.get("NextToken")
    assert seen == names
    assert events.list_rules(NamePrefix=name("nothing"))["Rules"] == []
    paginated = events.get_paginator("list_rules").paginate(NamePrefix=prefix)
    assert [r["Name"] for page in paginated for r in page["Rules"]] == names


def test_enable_and_disable(events: Any) -> None:
    rule = make_rule(events)
    events.disable_rule(Name=rule)
    assert events.describe_rule(Name=rule)["State"] == "DISABLED"
    events.enable_rule(Name=rule)
    assert events.describe_rule(Name=rule)["State"] == "ENABLED"
    every = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
    events.put_rule(Name=rule, EventPattern=PATTERN, State=every)
    assert events.describe_rule(Name=rule)["State"] == every
    with pytest.raises(ClientError) as exc:
        events.put_rule(Name=rule, EventPattern=PATTERN, State="PAUSED")
    assert error(exc) == ("ValidationException", 400)


def test_a_rule_with_targets_cannot_be_deleted(server: ServerProcess, events: Any) -> None:
    rule = make_rule(events)
    events.put_targets(Rule=rule, Targets=[file_target(server)])
    with pytest.raises(ClientError) as exc:
        events.delete_rule(Name=rule)
    assert error_of(exc) == ("ValidationException", "Rule can't be deleted since it has targets.")
    events.remove_targets(Rule=rule, Ids=["t1"])
    events.delete_rule(Name=rule)
    with pytest.raises(ClientError) as exc:
        events.describe_rule(Name=rule)
    assert error(exc) == ("ResourceNotFoundException", 400)


def test_the_rule_quota_of_a_bus(fresh_server_factory: Any) -> None:
    srv = fresh_server_factory().start()
    events = srv.client("events")
    for i in range(300):
        events.put_rule(Name=f"quota-{i:03}", EventPattern=PATTERN)
    with pytest.raises(ClientError) as exc:
        events.put_rule(Name="quota-300", EventPattern=PATTERN)
    assert error(exc) == ("LimitExceededException", 400)
    events.put_rule(Name="quota-000", EventPattern=PATTERN, Description="updating is fine")


# -- PutTargets / RemoveTargets / listings -----------------------------------------------------


def test_put_list_and_remove_targets(server: ServerProcess, events: Any) -> None:
    rule = make_rule(events)
    targets = [file_target(server, f"t{i}") for i in range(3)]
    targets[1]["Input"] = '{"fixed": true}'
    targets[2]["RetryPolicy"] = {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 120}
    out = events.put_targets(Rule=rule, Targets=targets)
    assert (out["FailedEntryCount"], out["FailedEntries"]) == (0, [])
    listed = events.list_targets_by_rule(Rule=rule)["Targets"]
    assert listed == targets
    page = events.list_targets_by_rule(Rule=rule, Limit=2)
    assert [t["Id"] for t in page["Targets"]] == ["t0", "t1"]
    rest = events.list_targets_by_rule(Rule=rule, Limit=2, NextToken=page["NextToken"])
    assert [t["Id"] for t in rest["Targets"]] == ["t2"] and "NextToken" not in rest
    names = events.list_rule_names_by_target(TargetArn=targets[0]["Arn"])["RuleNames"]
    assert names == [rule]
    removed = events.remove_targets(Rule=rule, Ids=["t0", "missing"])
    assert removed["FailedEntryCount"] == 1
    assert removed["FailedEntries"][0]["TargetId"] == "missing"
    assert removed["FailedEntries"][0]["ErrorCode"] == "ResourceNotFoundException"
    assert [t["Id"] for t in events.list_targets_by_rule(Rule=rule)["Targets"]] == ["t1", "t2"]
    assert events.list_rule_names_by_target(TargetArn=targets[0]["Arn"])["RuleNames"] == []


def test_put_targets_again_replaces_the_target(server: ServerProcess, events: Any) -> None:
    rule = make_rule(events)
    target = file_target(server, Input='{"v": 1}')
    events.put_targets(Rule=rule, Targets=[target])
    target = {**target, "Input": '{"v": 2}'}
    events.put_targets(Rule=rule, Targets=[target])
    assert events.list_targets_by_rule(Rule=rule)["Targets"] == [target]


def test_five_targets_per_rule(server: ServerProcess, events: Any) -> None:
    rule = make_rule(events)
    with pytest.raises(ClientError) as exc:
        events.put_targets(Rule=rule, Targets=[file_target(server, f"t{i}") for i in range(6)])
    assert error(exc) == ("LimitExceededException", 400)
    events.put_targets(Rule=rule, Targets=[file_target(server, f"t{i}") for i in range(4)])
    events.put_targets(Rule=rule, Targets=[file_target(server, "t0")])  # a replacement
    with pytest.raises(ClientError) as exc:
        events.put_targets(Rule=rule, Targets=[file_target(server, f"u{i}") for i in range(2)])
    assert error(exc) == ("LimitExceededException", 400)
    assert len(events.list_targets_by_rule(Rule=rule)["Targets"]) == 4


def test_put_targets_on_an_unknown_rule(server: ServerProcess, events: Any) -> None:
    with pytest.raises(ClientError) as exc:
        events.put_targets(Rule=name("missing"), Targets=[file_target(server)])
    assert error(exc) == ("ResourceNotFoundException", 400)


def test_aws_service_targets_are_refused_naming_the_supported_ones(
    server: ServerProcess, events: Any
) -> None:
    rule = make_rule(events)
    for arn in (
        f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:handler",
        f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:queue",
        f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:topic",
        "not-an-arn",
    ):
        with pytest.raises(ClientError) as exc:
            events.put_targets(Rule=rule, Targets=[{"Id": "t", "Arn": arn}])
        code, message = error_of(exc)
        assert code == "ValidationException"
        if arn.startswith("arn:aws:"):
            assert "API destinations" in message and "NATS subjects" in message
            assert "JSON-lines files" in message
    assert events.list_targets_by_rule(Rule=rule)["Targets"] == []


def test_target_arns_of_other_accounts_and_bad_forms(server: ServerProcess, events: Any) -> None:
    rule = make_rule(events)
    for arn in (
        f"arn:garrison:nats:{REGION}:999999999999:subject/orders",
        f"arn:garrison:nats:{REGION}:{ACCOUNT_ID}:subject/orders.*",
        f"arn:garrison:file:{REGION}:{ACCOUNT_ID}:path/relative/file.jsonl",
        f"arn:garrison:file:{REGION}:{ACCOUNT_ID}:path//etc/passwd",  # outside the root
    ):
        with pytest.raises(ClientError) as exc:
            events.put_targets(Rule=rule, Targets=[{"Id": "t", "Arn": arn}])
        assert error(exc) == ("ValidationException", 400), arn


def test_target_input_settings_are_validated(server: ServerProcess, events: Any) -> None:
    rule = make_rule(events)
    bad: list[dict[str, Any]] = [
        {"Input": "{not json"},
        {"Input": "{}", "InputPath": "$.detail"},
        {"InputPath": "detail"},
        {"InputTransformer": {"InputPathsMap": {"aws.mine": "$.id"}, "InputTemplate": "<x>"}},
        {"InputTransformer": {"InputPathsMap": {"v": "id"}, "InputTemplate": "<v>"}},
        {"InputTransformer": {"InputPathsMap": {"v": "$.id"}, "InputTemplate": '{<v>: "x"}'}},
        {"InputTransformer": {"InputTemplate": '{"a": '}},
        {"HttpParameters": {"HeaderParameters": {"X-A": "b"}}},
        {"DeadLetterConfig": {"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:dlq"}},
        {"SqsParameters": {"MessageGroupId": "g"}},
    ]
    for extra in bad:
        with pytest.raises(ClientError) as exc:
            events.put_targets(Rule=rule, Targets=[file_target(server, **extra)])
        assert error(exc) == ("ValidationException", 400), extra
    with pytest.raises(ClientError) as exc:  # the model's bounds
        events.put_targets(
            Rule=rule, Targets=[file_target(server, RetryPolicy={"MaximumRetryAttempts": 186})]
        )
    assert error(exc) == ("ValidationException", 400)
    with pytest.raises(ClientError) as exc:
        events.put_targets(Rule=rule, Targets=[file_target(server), file_target(server)])
    assert error(exc) == ("ValidationException", 400)
    assert events.list_targets_by_rule(Rule=rule)["Targets"] == []


def test_a_missing_api_destination_is_a_failed_entry(server: ServerProcess, events: Any) -> None:
    rule = make_rule(events)
    destination = (
        f"arn:aws:events:{REGION}:{ACCOUNT_ID}:api-destination/"
        "nowhere/0b0e0c44-1c4a-4f47-8bd0-5b47b1d8f3f1"
    )
    out = events.put_targets(
        Rule=rule, Targets=[{"Id": "api", "Arn": destination}, file_target(server, "file")]
    )
    assert out["FailedEntryCount"] == 1
    failed = out["FailedEntries"][0]
    assert failed["TargetId"] == "api" and failed["ErrorCode"] == "ValidationException"
    assert [t["Id"] for t in events.list_targets_by_rule(Rule=rule)["Targets"]] == ["file"]


def test_target_roles_are_checked_with_pass_role(server: ServerProcess, events: Any) -> None:
    iam = server.client("iam")
    role = name("target-role")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    rule = make_rule(events)
    missing = f"arn:aws:iam::{ACCOUNT_ID}:role/{name('nobody')}"
    with pytest.raises(ClientError) as exc:
        events.put_targets(Rule=rule, Targets=[file_target(server, RoleArn=missing)])
    assert error(exc) == ("ValidationException", 400)
    events.put_targets(Rule=rule, Targets=[file_target(server, RoleArn=role_arn)])
    # a user allowed events:* but not iam:PassRole may not hand the role over
    _, key = iam_user(
        iam, "events-user", {"Effect": "Allow", "Action": "events:*", "Resource": "*"}
    )
    as_user = session_client(server, "events", key)
    with pytest.raises(ClientError) as exc:
        as_user.put_targets(Rule=rule, Targets=[file_target(server, "u", RoleArn=role_arn)])
    code, message = error_of(exc)
    assert code == "AccessDeniedException" and "iam:PassRole" in message
    as_user.put_targets(Rule=rule, Targets=[file_target(server, "v")])  # no role: allowed


def test_a_caller_without_events_permissions_is_denied(server: ServerProcess) -> None:
    _, key = iam_user(server.client("iam"), "no-events")
    as_user = session_client(server, "events", key)
    with pytest.raises(ClientError) as exc:
        as_user.put_rule(Name=name("r"), EventPattern=PATTERN)
    assert error(exc) == ("AccessDeniedException", 400)
    with pytest.raises(ClientError) as exc:
        as_user.put_events(Entries=[{"Source": "a.b", "DetailType": "t", "Detail": "{}"}])
    assert error(exc) == ("AccessDeniedException", 400)


def test_source_detail_type_and_target_arn_condition_keys(
    server: ServerProcess, events: Any
) -> None:
    """PutRule gives events:source / events:detail-type (the pattern's exact values) and
    PutTargets events:TargetArn, so policies can bind what a user may route where."""
    allowed_target = file_target(server, "ok")
    _, key = iam_user(
        server.client("iam"), "scoped",
        {"Effect": "Allow", "Action": "events:PutRule", "Resource": "*",
         "Condition": {"StringEquals": {"events:source": "com.example.orders"}}},
        {"Effect": "Allow", "Action": "events:PutTargets", "Resource": "*",
         "Condition": {"StringEquals": {"events:TargetArn": allowed_target["Arn"]}}},
    )  # fmt: skip
    as_user = session_client(server, "events", key)
    rule = name("rule")
    as_user.put_rule(Name=rule, EventPattern=PATTERN)  # source com.example.orders
    with pytest.raises(ClientError) as exc:
        as_user.put_rule(Name=name("rule"), EventPattern=json.dumps({"source": ["other.app"]}))
    assert error(exc) == ("AccessDeniedException", 400)
    as_user.put_targets(Rule=rule, Targets=[allowed_target])
    with pytest.raises(ClientError) as exc:
        as_user.put_targets(Rule=rule, Targets=[file_target(server, "elsewhere")])
    assert error(exc) == ("AccessDeniedException", 400)


# -- PutEvents ---------------------------------------------------------------------------------


def test_put_events_answers_each_entry(events: Any) -> None:
    entries = [
        {"Source": "com.example.orders", "DetailType": "Order Placed", "Detail": '{"id": 1}'},
        {"Source": "com.example.orders", "DetailType": "Order Placed", "Detail": "{not json"},
        {"Source": "com.example.orders", "DetailType": "Order Placed", "Detail": "[1, 2]"},
        {"Source": "aws.ec2", "DetailType": "Spoofed", "Detail": "{}"},
        {"DetailType": "No Source", "Detail": "{}"},
        {"Source": "com.example.orders", "DetailType": "x", "Detail": "{}", "EventBusName": "nope"},
    ]
    out = events.put_events(Entries=entries)
    assert out["FailedEntryCount"] == 5
    results = out["Entries"]
    assert len(results) == 6 and "EventId" in results[0] and "ErrorCode" not in results[0]
    assert [r.get("ErrorCode") for r in results[1:]] == [
        "MalformedDetail",
        "MalformedDetail",
        "NotAuthorizedForSourceException",
        "InvalidArgument",
        "ResourceNotFoundException",
    ]


def test_put_events_limits(events: Any) -> None:
    entry = {"Source": "com.example.orders", "DetailType": "t", "Detail": "{}"}
    with pytest.raises(ClientError) as exc:
        events.put_events(Entries=[entry] * 11)
    assert error(exc) == ("ValidationException", 400)
    big = {**entry, "Detail": json.dumps({"blob": "x" * (130 * 1024)})}
    with pytest.raises(ClientError) as exc:
        events.put_events(Entries=[big, big])
    assert error(exc) == ("ValidationException", 400)
    assert events.put_events(Entries=[big])["FailedEntryCount"] == 0


def test_put_events_reaches_a_matching_rules_target(server: ServerProcess, events: Any) -> None:
    source = f"com.example.{name('src')}"
    rule = make_rule(
        events, json.dumps({"source": [source], "detail": {"n": [{"numeric": [">", 5]}]}})
    )
    whole = file_target(server, "whole")
    shaped = file_target(
        server,
        "shaped",
        InputTransformer={
            "InputPathsMap": {"n": "$.detail.n", "who": "$.detail.who"},
            "InputTemplate": '{"n": <n>, "text": "<who> has <n>", '
            '"rule": "<aws.events.rule-name>"}',
        },
    )
    path = file_target(server, "path", InputPath="$.detail")
    fixed = file_target(server, "fixed", Input='{"constant": [1, 2]}')
    events.put_targets(Rule=rule, Targets=[whole, shaped, path, fixed])
    out = events.put_events(
        Entries=[
            {"Source": source, "DetailType": "Count", "Detail": json.dumps({"n": 3, "who": "a"})},
            {
                "Source": source,
                "DetailType": "Count",
                "Detail": json.dumps({"n": 9, "who": "b"}),
                "Time": datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC),
                "Resources": ["arn:aws:example:::thing/1"],
            },
        ]
    )
    assert out["FailedEntryCount"] == 0
    matched_id = out["Entries"][1]["EventId"]
    [event] = delivered(server, whole["Arn"], 1)
    assert event["id"] == matched_id
    assert (event["source"], event["detail-type"], event["detail"]) == (
        source,
        "Count",
        {"n": 9, "who": "b"},
    )
    assert (event["account"], event["region"]) == (ACCOUNT_ID, REGION)
    assert event["time"] == "2026-03-04T05:06:07Z"
    assert event["resources"] == ["arn:aws:example:::thing/1"]
    assert delivered(server, shaped["Arn"], 1) == [{"n": 9, "text": "b has 9", "rule": rule}]
    assert delivered(server, path["Arn"], 1) == [{"n": 9, "who": "b"}]
    assert delivered(server, fixed["Arn"], 1) == [{"constant": [1, 2]}]


def test_a_disabled_rule_matches_nothing(server: ServerProcess, events: Any) -> None:
    source = f"com.example.{name('off')}"
    rule = make_rule(events, json.dumps({"source": [source]}), State="DISABLED")
    off = file_target(server, "off")
    events.put_targets(Rule=rule, Targets=[off])
    events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": '{"k": 1}'}])
    events.enable_rule(Name=rule)
    events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": '{"k": 2}'}])
    delivered(server, off["Arn"], 1)
    time.sleep(0.5)  # had the disabled rule matched, its delivery would be due too
    assert [e["detail"] for e in delivered(server, off["Arn"], 1)] == [{"k": 2}]


# -- TestEventPattern ----------------------------------------------------------------------------


def test_test_event_pattern(events: Any) -> None:
    event = {
        "id": "1",
        "account": ACCOUNT_ID,
        "source": "com.example.orders",
        "time": "2026-01-01T00:00:00Z",
        "region": REGION,
        "detail-type": "Order Placed",
        "resources": [],
        "detail": {"amount": 12},
    }
    yes = json.dumps({"detail": {"amount": [{"numeric": [">=", 10]}]}})
    no = json.dumps({"detail": {"amount": [{"numeric": ["<", 10]}]}})
    assert events.test_event_pattern(EventPattern=yes, Event=json.dumps(event))["Result"] is True
    assert events.test_event_pattern(EventPattern=no, Event=json.dumps(event))["Result"] is False
    with pytest.raises(ClientError) as exc:
        events.test_event_pattern(EventPattern="[]", Event=json.dumps(event))
    assert error(exc) == ("InvalidEventPatternException", 400)
    for bad in ("{not json", "[]", json.dumps({k: v for k, v in event.items() if k != "source"})):
        with pytest.raises(ClientError) as exc:
            events.test_event_pattern(EventPattern=yes, Event=bad)
        assert error(exc) == ("ValidationException", 400)


# -- tags ------------------------------------------------------------------------------------------


def test_rule_tags(events: Any) -> None:
    rule = make_rule(events, Tags=[{"Key": "team", "Value": "orders"}])
    arn = rule_arn(rule)
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "team", "Value": "orders"}
    ]
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "prod"}])
    events.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "env", "Value": "prod"}
    ]
    with pytest.raises(ClientError) as exc:
        events.tag_resource(ResourceARN=arn, Tags=[{"Key": "aws:reserved", "Value": "x"}])
    assert error(exc) == ("ValidationException", 400)
    with pytest.raises(ClientError) as exc:
        events.tag_resource(
            ResourceARN=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)]
        )
    assert error(exc) == ("LimitExceededException", 400)
    with pytest.raises(ClientError) as exc:
        events.list_tags_for_resource(ResourceARN=rule_arn(name("missing")))
    assert error(exc) == ("ResourceNotFoundException", 400)


def test_operations_left_out_are_unsupported(events: Any) -> None:
    with pytest.raises(ClientError) as exc:
        events.create_event_bus(Name=name("bus"))
    code, message = error_of(exc)
    assert code == "UnsupportedOperationException"
    assert "CreateEventBus" in message


def test_rule_calls_are_audited(server: ServerProcess, events: Any) -> None:
    rule = make_rule(events)
    trail = server.client("cloudtrail")
    found = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": rule_arn(rule)}]
    )["Events"]
    assert [e["EventName"] for e in found] == ["PutRule"]
    assert found[0]["EventSource"] == "events.amazonaws.com"
    put = json.loads(found[0]["CloudTrailEvent"])
    assert put["responseElements"]["ruleArn"] == rule_arn(rule)
    # read-only calls are recorded without responseElements, as CloudTrail does
    events.describe_rule(Name=rule)
    described = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "DescribeRule"}]
    )["Events"]
    mine = [json.loads(e["CloudTrailEvent"]) for e in described if rule in e["CloudTrailEvent"]]
    assert mine and all(e["readOnly"] and e["responseElements"] is None for e in mine)


# -- the AWS CLI ------------------------------------------------------------


def test_cli_rules_and_targets(aws: AwsCli, sqlite_server: ServerProcess) -> None:
    rule = name("cli")
    out = aws.json("events", "put-rule", "--name", rule, "--event-pattern", PATTERN)
    assert out["RuleArn"] == rule_arn(rule)
    assert aws.json("events", "describe-rule", "--name", rule)["EventPattern"] == PATTERN
    target = file_target(sqlite_server, "cli")
    done = aws.json("events", "put-targets", "--rule", rule, "--targets", json.dumps([target]))
    assert done["FailedEntryCount"] == 0
    listed = aws.json("events", "list-targets-by-rule", "--rule", rule)["Targets"]
    assert listed == [target]
    stderr = aws.fail("events", "delete-rule", "--name", rule)
    assert "ValidationException" in stderr
    aws.json("events", "remove-targets", "--rule", rule, "--ids", "cli")
    aws.ok("events", "delete-rule", "--name", rule)
    sent = aws.json(
        "events",
        "put-events",
        "--entries",
        json.dumps([{"Source": "com.example.cli", "DetailType": "t", "Detail": "{}"}]),
    )
    assert sent["FailedEntryCount"] == 0 and "EventId" in sent["Entries"][0]


def test_deeply_nested_json_is_refused_not_a_crash(server: ServerProcess, events: Any) -> None:
    deep = "[" * 50_000 + "]" * 50_000
    out = events.put_events(
        Entries=[{"Source": "com.example.deep", "DetailType": "t", "Detail": '{"a": ' + deep + "}"}]
    )
    assert out["Entries"][0]["ErrorCode"] == "MalformedDetail"
    with pytest.raises(ClientError) as exc:
        events.test_event_pattern(EventPattern=PATTERN, Event=deep)
    assert error(exc) == ("ValidationException", 400)
    rule = make_rule(events)
    with pytest.raises(ClientError) as exc:
        events.put_targets(Rule=rule, Targets=[file_target(server, Input=deep[:8000] + "]")])
    assert error(exc) == ("ValidationException", 400)


def test_permissions_are_checked_before_existence(server: ServerProcess, events: Any) -> None:
    _, key = iam_user(server.client("iam"), "reader")
    as_user = session_client(server, "events", key)
    for call in (as_user.describe_rule, as_user.delete_rule, as_user.disable_rule):
        with pytest.raises(ClientError) as exc:
            call(Name=name("missing"))
        assert error(exc) == ("AccessDeniedException", 400)

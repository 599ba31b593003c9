"""Parameter Store's "Parameter Store Change" events, on SQLite and PostgreSQL.

PutParameter (Create, Update), LabelParameterVersion, DeleteParameter and
DeleteParameters each publish AWS's event (source ``aws.ssm``, detail
``operation``, ``name``, ``type``, ``description``; the parameter's ARN as the
resource), matched by pattern rules and delivered to JSON-lines file targets.
A call that fails, or that AWS does not report (UnlabelParameterVersion, reads),
publishes nothing, and no event carries a parameter's value.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, REGION, ServerProcess
from tests.e2e.events_targets_helpers import delete_rule, file_arn, json_lines
from tests.e2e.events_targets_helpers import put_rule_with_target as put_rule

CHANGE = "Parameter Store Change"


@pytest.fixture
def ssm(server: ServerProcess) -> Any:
    return server.client("ssm")


@pytest.fixture
def events(server: ServerProcess) -> Any:
    return server.client("events")


def arn(name: str) -> str:
    return f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/{name.removeprefix('/')}"


class Target:
    """A rule with `pattern` and a file target; what arrives in the file."""

    def __init__(self, server: ServerProcess, events: Any, pattern: dict[str, Any]) -> None:
        run = secrets.token_hex(4)
        self.events = events
        self.rule = f"ssm-events-{run}"
        self.path: Path = server.data_dir.resolve() / "events" / f"ssm-events-{run}.jsonl"
        put_rule(events, self.rule, pattern, {"Arn": file_arn(self.path)})

    def lines(self, count: int, timeout: float = 20.0) -> list[Any]:
        """Wait for `count` events, then make sure no more arrive."""
        deadline = time.monotonic() + timeout
        while len(json_lines(self.path)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        lines = json_lines(self.path)
        assert len(lines) == count, lines
        return lines

    def raw(self) -> str:
        return self.path.read_text() if self.path.exists() else ""


@pytest.fixture
def target(server: ServerProcess, events: Any) -> Iterator[Any]:
    made: list[Target] = []

    def make(pattern: dict[str, Any]) -> Target:
        made.append(Target(server, events, pattern))
        return made[-1]

    yield make
    for t in made:
        delete_rule(t.events, t.rule)


def prefix() -> str:
    return f"/events-{secrets.token_hex(4)}"


def on(*names: str, **detail: list[Any]) -> dict[str, Any]:
    """AWS's documented pattern: the Parameter Store Change events of `names`."""
    return {
        "source": ["aws.ssm"],
        "detail-type": [CHANGE],
        "detail": {"name": list(names), **detail},
    }


def assert_envelope(event: Any, name: str) -> None:
    assert event["version"] == "0"
    assert event["source"] == "aws.ssm"
    assert event["detail-type"] == CHANGE
    assert (event["account"], event["region"]) == (ACCOUNT_ID, REGION)
    assert event["resources"] == [arn(name)]
    assert len(event["id"]) == 36
    assert event["time"].endswith("Z") and len(event["time"]) == 20


def test_each_operation_publishes_its_change_event(ssm: Any, target: Any) -> None:
    name = prefix() + "/db/host"
    t = target(on(name))
    ssm.put_parameter(Name=name, Value="one", Type="String", Description="the host")
    ssm.put_parameter(Name=name, Value="two", Overwrite=True)
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["stable"])
    ssm.delete_parameter(Name=name)
    lines = t.lines(4)
    for event in lines:
        assert_envelope(event, name)
    assert [e["detail"] for e in lines] == [
        {"operation": op, "name": name, "type": "String", "description": "the host"}
        for op in ("Create", "Update", "LabelParameterVersion", "Delete")
    ]
    assert len({e["id"] for e in lines}) == 4


def test_a_parameter_without_description_has_none_in_its_event(ssm: Any, target: Any) -> None:
    name = prefix() + "/list"
    t = target(on(name))
    ssm.put_parameter(Name=name, Value="a,b", Type="StringList")
    (event,) = t.lines(1)
    assert event["detail"] == {"operation": "Create", "name": name, "type": "StringList"}


def test_delete_parameters_publishes_one_delete_per_parameter(ssm: Any, target: Any) -> None:
    base = prefix()
    names = [f"{base}/a", f"{base}/b"]
    t = target(on(*names, operation=["Delete"]))
    for n in names:
        ssm.put_parameter(Name=n, Value="x", Type="String")
    out = ssm.delete_parameters(Names=[*names, f"{base}/missing"])
    assert sorted(out["DeletedParameters"]) == names
    lines = t.lines(2)
    assert sorted(e["detail"]["name"] for e in lines) == names
    assert {e["detail"]["operation"] for e in lines} == {"Delete"}
    assert sorted(e["resources"][0] for e in lines) == [arn(n) for n in names]


def test_a_pattern_on_the_operation_gets_only_those_events(ssm: Any, target: Any) -> None:
    # AWS's documented example: act when the parameter is updated
    name = prefix() + "/oncall"
    updates = target(on(name, operation=["Update"]))
    prefix_rule = target(
        {"source": ["aws.ssm"], "detail": {"name": [{"prefix": name}], "type": ["String"]}}
    )
    ssm.put_parameter(Name=name, Value="alice", Type="String")
    ssm.put_parameter(Name=name, Value="bob", Type="String", Overwrite=True)
    ssm.put_parameter(Name=name, Value="carol", Type="String", Overwrite=True)
    assert [e["detail"]["operation"] for e in updates.lines(2)] == ["Update", "Update"]
    assert len(prefix_rule.lines(3)) == 3


def test_secure_string_events_carry_no_value(ssm: Any, target: Any) -> None:
    name = prefix() + "/secret"
    secret = "s3cr3t-" + secrets.token_hex(8)
    t = target(on(name))
    ssm.put_parameter(Name=name, Value=secret, Type="SecureString", Description="d")
    ssm.put_parameter(Name=name, Value=secret + "2", Overwrite=True)
    lines = t.lines(2)
    assert [e["detail"]["type"] for e in lines] == ["SecureString", "SecureString"]
    assert secret not in t.raw()


def test_failed_and_unreported_calls_publish_nothing(ssm: Any, target: Any) -> None:
    name = prefix() + "/quiet"
    t = target(on(name))
    ssm.put_parameter(Name=name, Value="one", Type="String")
    ssm.label_parameter_version(Name=name, Labels=["l1"])
    t.lines(2)
    # refused: exists without Overwrite, a value over the tier's limit, a bad label
    with pytest.raises(ClientError):
        ssm.put_parameter(Name=name, Value="two", Type="String")
    with pytest.raises(ClientError):
        ssm.put_parameter(Name=name, Value="x" * 5000, Overwrite=True, Tier="Standard")
    out = ssm.label_parameter_version(Name=name, Labels=["aws-bad"])
    assert out["InvalidLabels"] == ["aws-bad"]
    with pytest.raises(ClientError):
        ssm.delete_parameter(Name=name + "-missing")
    # not in AWS's list of operations: reads and UnlabelParameterVersion
    ssm.get_parameter(Name=name)
    ssm.get_parameter_history(Name=name)
    ssm.unlabel_parameter_version(Name=name, ParameterVersion=1, Labels=["l1"])
    assert [e["detail"]["operation"] for e in t.lines(2)] == ["Create", "LabelParameterVersion"]


def test_a_disabled_rule_gets_nothing(ssm: Any, events: Any, target: Any) -> None:
    name = prefix() + "/disabled"
    t = target(on(name))
    events.disable_rule(Name=t.rule)
    ssm.put_parameter(Name=name, Value="one", Type="String")
    events.enable_rule(Name=t.rule)
    ssm.put_parameter(Name=name, Value="two", Overwrite=True)
    assert [e["detail"]["operation"] for e in t.lines(1)] == ["Update"]

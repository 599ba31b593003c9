"""Parameter policies run by the scheduler, with a moved clock, on SQLite and PostgreSQL.

Expiration deletes the parameter at its Timestamp; ExpirationNotification and
NoChangeNotification send their "Parameter Store Policy Action" event once (per
version); several policies on one parameter each act. Events are observed the
way a user would: an EventBridge rule on the parameter's name with a JSON-lines
file target. A dedicated server per backend: these tests move its clock by days.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, BACKENDS, REGION, ServerProcess, backend_server
from tests.e2e.events_targets_helpers import delete_rule, file_arn, json_lines
from tests.e2e.events_targets_helpers import put_rule_with_target as put_rule
from tests.e2e.helpers import error

JOB = "ssm-parameter-policies"
HOUR = 3600
DAY = 86_400


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_root: Path) -> Iterator[ServerProcess]:
    yield from backend_server(tmp_root / f"ssm-policies-{request.param}", request.param)


@pytest.fixture
def ssm(server: ServerProcess) -> Any:
    return server.client("ssm")


@pytest.fixture
def events(server: ServerProcess) -> Any:
    return server.client("events")


def server_now(server: ServerProcess) -> float:
    r = server.post("/_garrison/clock", {"advance_seconds": 0})
    assert r.status_code == 200, r.text
    return float(r.json()["now"])


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def expiration(at: float) -> dict[str, Any]:
    return {"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": iso(at)}}


def notification(before: int, unit: str) -> dict[str, Any]:
    attributes = {"Before": str(before), "Unit": unit}
    return {"Type": "ExpirationNotification", "Version": "1.0", "Attributes": attributes}


def no_change(after: int, unit: str) -> dict[str, Any]:
    attributes = {"After": str(after), "Unit": unit}
    return {"Type": "NoChangeNotification", "Version": "1.0", "Attributes": attributes}


def compact(policy: dict[str, Any]) -> str:
    return json.dumps(policy, separators=(",", ":"))


def arn(name: str) -> str:
    return f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/{name.removeprefix('/')}"


class Watch:
    """A rule matching every Parameter Store event of one parameter, into a file."""

    def __init__(self, server: ServerProcess, events: Any, name: str) -> None:
        run = secrets.token_hex(4)
        self.events = events
        self.rule = f"ssm-policies-{run}"
        self.path = server.data_dir.resolve() / "events" / f"ssm-policies-{run}.jsonl"
        pattern = {
            "source": ["aws.ssm"],
            "detail-type": ["Parameter Store Change", "Parameter Store Policy Action"],
            "$or": [{"detail": {"name": [name]}}, {"detail": {"parameter-name": [name]}}],
        }
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

    def policy_actions(self, count: int) -> list[Any]:
        lines = self.lines(count)
        return [e for e in lines if e["detail-type"] == "Parameter Store Policy Action"]

    def close(self) -> None:
        delete_rule(self.events, self.rule)


@pytest.fixture
def watch(server: ServerProcess, events: Any, ssm: Any) -> Iterator[Any]:
    """Watch a parameter's events; the parameter (and its pending actions) goes after
    the test, so the next test's runs count its own actions only."""
    made: list[tuple[Watch, str]] = []

    def make(name: str) -> Watch:
        made.append((Watch(server, events, name), name))
        return made[-1][0]

    yield make
    for w, name in made:
        w.close()
        ssm.delete_parameters(Names=[name])


def put(ssm: Any, name: str, *policies: dict[str, Any], **extra: Any) -> int:
    out = ssm.put_parameter(
        Name=name,
        Value="v-" + secrets.token_hex(4),
        Type="String",
        Tier="Advanced",
        Policies=json.dumps(list(policies)),
        **extra,
    )
    return int(out["Version"])


def run(server: ServerProcess) -> int:
    return server.run_scheduler()[JOB]


def new_name() -> str:
    return f"/policies-{secrets.token_hex(4)}/db/password"


def assert_policy_event(event: Any, name: str, policy: dict[str, Any]) -> None:
    assert event["source"] == "aws.ssm"
    assert event["detail-type"] == "Parameter Store Policy Action"
    assert (event["account"], event["region"]) == (ACCOUNT_ID, REGION)
    assert event["resources"] == [arn(name)]
    detail = event["detail"]
    assert set(detail) == {
        "parameter-name",
        "parameter-type",
        "policy-type",
        "policy-content",
        "action-status",
        "action-reason",
    }
    assert detail["parameter-name"] == name
    assert detail["parameter-type"] == "String"
    assert detail["policy-type"] == policy["Type"]
    assert json.loads(detail["policy-content"]) == policy
    assert detail["action-status"] == "Success"


# -- Expiration ------------------------------------------------------------------------------


def test_expiration_deletes_the_parameter_at_its_timestamp(
    server: ServerProcess, ssm: Any, watch: Any
) -> None:
    name = new_name()
    w = watch(name)
    policy = expiration(server_now(server) + 2 * HOUR)
    put(ssm, name, policy, Description="expires")
    w.lines(1)  # the Create

    server.advance(HOUR)
    assert run(server) == 0
    assert ssm.get_parameter(Name=name)["Parameter"]["Version"] == 1

    server.advance(HOUR + 60)
    assert run(server) == 1
    with pytest.raises(ClientError) as exc:
        ssm.get_parameter(Name=name)
    assert error(exc) == ("ParameterNotFound", 400)
    lines = w.lines(3)
    acted, deleted = lines[1], lines[2]
    assert_policy_event(acted, name, policy)
    assert name in acted["detail"]["action-reason"]
    assert deleted["detail-type"] == "Parameter Store Change"
    assert deleted["detail"] == {
        "operation": "Delete",
        "name": name,
        "type": "String",
        "description": "expires",
    }
    assert deleted["resources"] == [arn(name)]
    # once: the next runs find nothing to do
    assert run(server) == 0
    w.lines(3)
    # the name is free again, with no policy left over from the deleted parameter
    ssm.put_parameter(Name=name, Value="again", Type="String")
    server.advance(DAY)
    assert run(server) == 0
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "again"


def test_updating_a_parameter_keeps_its_expiration(
    server: ServerProcess, ssm: Any, watch: Any
) -> None:
    name = new_name()
    w = watch(name)
    put(ssm, name, expiration(server_now(server) + 2 * HOUR))
    server.advance(HOUR)
    # a new value without Policies keeps the policies, and the Timestamp with them
    ssm.put_parameter(Name=name, Value="rotated", Overwrite=True)
    history = ssm.get_parameter_history(Name=name)["Parameters"]
    assert [len(v["Policies"]) for v in history] == [1, 1]
    server.advance(HOUR + 60)
    assert run(server) == 1
    with pytest.raises(ClientError):
        ssm.get_parameter(Name=name)
    kinds = [(e["detail-type"], e["detail"].get("operation")) for e in w.lines(4)]
    assert kinds == [
        ("Parameter Store Change", "Create"),
        ("Parameter Store Change", "Update"),
        ("Parameter Store Policy Action", None),
        ("Parameter Store Change", "Delete"),
    ]


# -- ExpirationNotification ------------------------------------------------------------------


def test_expiration_notification_is_sent_once_before_the_expiration(
    server: ServerProcess, ssm: Any, watch: Any
) -> None:
    name = new_name()
    w = watch(name)
    expires = expiration(server_now(server) + 3 * DAY)
    notice = notification(1, "Days")
    put(ssm, name, expires, notice)
    w.lines(1)  # delivered before the clock moves a day (an event's maximum age)

    server.advance(DAY)
    assert run(server) == 0
    server.advance(DAY + 60)  # one day before the Timestamp
    assert run(server) == 1
    assert run(server) == 0
    lines = w.lines(2)
    assert_policy_event(lines[1], name, notice)
    assert "will expire in 1 day." in lines[1]["detail"]["action-reason"]
    assert ssm.get_parameter(Name=name)["Parameter"]["Version"] == 1  # only told

    server.advance(12 * HOUR)
    assert run(server) == 0
    w.lines(2)  # still once
    server.advance(12 * HOUR)
    assert run(server) == 1  # now the Expiration
    actions = w.policy_actions(4)
    assert [e["detail"]["policy-type"] for e in actions] == [
        "ExpirationNotification",
        "Expiration",
    ]


def test_an_update_does_not_send_the_expiration_notification_again(
    server: ServerProcess, ssm: Any, watch: Any
) -> None:
    name = new_name()
    w = watch(name)
    now = server_now(server)
    put(ssm, name, expiration(now + 4 * HOUR), notification(2, "Hours"))
    server.advance(2 * HOUR + 60)
    assert run(server) == 1
    # a new value keeps the policies: the notice for this Expiration was already sent
    ssm.put_parameter(Name=name, Value="rotated", Overwrite=True)
    assert run(server) == 0
    assert len(w.policy_actions(3)) == 1
    # a new Expiration is a new schedule, and its notice is due at once
    later = expiration(now + 5 * HOUR)
    put(ssm, name, later, notification(3, "Hours"), Overwrite=True)
    assert run(server) == 1
    actions = w.policy_actions(5)
    assert [e["detail"]["policy-type"] for e in actions] == ["ExpirationNotification"] * 2
    assert "expire in 3 hours" in actions[1]["detail"]["action-reason"]


# -- NoChangeNotification --------------------------------------------------------------------


def test_no_change_notification_counts_from_the_last_change_and_is_sent_once(
    server: ServerProcess, ssm: Any, watch: Any
) -> None:
    name = new_name()
    w = watch(name)
    policy = no_change(2, "Hours")
    put(ssm, name, policy)

    server.advance(HOUR)
    assert run(server) == 0
    ssm.put_parameter(Name=name, Value="changed", Overwrite=True)  # the period starts again
    server.advance(HOUR + 30 * 60)  # 2.5 h after creation, 1.5 h after the change
    assert run(server) == 0
    assert [e["detail"]["operation"] for e in w.lines(2)] == ["Create", "Update"]

    server.advance(HOUR)  # 2.5 h after the change
    assert run(server) == 1
    assert run(server) == 0
    lines = w.lines(3)
    assert_policy_event(lines[2], name, policy)
    assert "has not been changed for 2 hours." in lines[2]["detail"]["action-reason"]

    server.advance(DAY)  # not repeated while nothing changes
    assert run(server) == 0
    w.lines(3)
    got = ssm.get_parameter(Name=name)["Parameter"]
    assert (got["Version"], got["Value"]) == (2, "changed")


def test_a_new_version_sends_no_change_notification_again(
    server: ServerProcess, ssm: Any, watch: Any
) -> None:
    name = new_name()
    w = watch(name)
    put(ssm, name, no_change(1, "Hours"))
    server.advance(HOUR + 60)
    assert run(server) == 1
    ssm.put_parameter(Name=name, Value="v2", Overwrite=True)
    server.advance(HOUR + 60)
    assert run(server) == 1
    lines = w.lines(4)
    assert [e["detail-type"] for e in lines] == [
        "Parameter Store Change",
        "Parameter Store Policy Action",
        "Parameter Store Change",
        "Parameter Store Policy Action",
    ]


# -- several policies, removed policies ----------------------------------------------------


def test_several_policies_on_one_parameter_each_act(
    server: ServerProcess, ssm: Any, watch: Any
) -> None:
    name = new_name()
    w = watch(name)
    now = server_now(server)
    expires = expiration(now + 10 * HOUR)
    notice = notification(4, "Hours")
    stale = no_change(2, "Hours")
    put(ssm, name, expires, notice, stale)

    server.advance(2 * HOUR + 60)
    assert run(server) == 1  # NoChangeNotification
    server.advance(4 * HOUR)
    assert run(server) == 1  # ExpirationNotification (6 h: 4 h before the Timestamp)
    assert ssm.get_parameter(Name=name)["Parameter"]["Name"] == name
    server.advance(4 * HOUR)
    assert run(server) == 1  # Expiration
    with pytest.raises(ClientError):
        ssm.get_parameter(Name=name)
    lines = w.lines(5)
    actions = [e for e in lines if e["detail-type"] == "Parameter Store Policy Action"]
    for event, policy in zip(actions, (stale, notice, expires), strict=True):
        assert_policy_event(event, name, policy)
    assert lines[-1]["detail"]["operation"] == "Delete"


def test_policies_due_together_notify_before_the_parameter_goes(
    server: ServerProcess, ssm: Any, watch: Any
) -> None:
    name = new_name()
    w = watch(name)
    put(ssm, name, expiration(server_now(server) + 3 * HOUR), notification(1, "Hours"))
    server.advance(4 * HOUR)  # both overdue at the next run
    assert run(server) == 1
    lines = w.lines(4)
    assert [e["detail"].get("policy-type", e["detail"].get("operation")) for e in lines] == [
        "Create",
        "ExpirationNotification",
        "Expiration",
        "Delete",
    ]


@pytest.mark.parametrize("removal", ["[]", "[{}]"])
def test_removed_policies_do_not_act(
    server: ServerProcess, ssm: Any, watch: Any, removal: str
) -> None:
    name = new_name()
    w = watch(name)
    put(ssm, name, expiration(server_now(server) + HOUR), no_change(1, "Hours"))
    ssm.put_parameter(Name=name, Value="kept", Overwrite=True, Policies=removal)
    assert ssm.get_parameter_history(Name=name)["Parameters"][-1].get("Policies", []) == []
    server.advance(2 * HOUR)
    assert run(server) == 0
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "kept"
    w.lines(2)  # Create and Update only

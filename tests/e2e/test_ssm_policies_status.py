"""Parameter policies' PolicyStatus, and several policies of one type, on SQLite and
PostgreSQL, with a moved clock.

AWS reports each policy of a version as Pending until it is applied, then
Finished, in DescribeParameters' and GetParameterHistory's `Policies`. AWS's user
guide assigns two ExpirationNotification policies (Before 30 and 15 days) to one
parameter, and its IncompatiblePolicyException names two Expiration policies as
the conflict. A dedicated server per backend (with the client and watch fixtures of
test_ssm_policies): these tests move its clock by hours.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import BACKENDS, ServerProcess, backend_server
from tests.e2e.helpers import error
from tests.e2e.test_ssm_policies import (
    DAY,
    HOUR,
    assert_policy_event,
    compact,
    expiration,
    new_name,
    no_change,
    notification,
    put,
    run,
    server_now,
)
from tests.e2e.test_ssm_policies import events as events  # the fixtures, on `server` below
from tests.e2e.test_ssm_policies import ssm as ssm
from tests.e2e.test_ssm_policies import watch as watch


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_root: Path) -> Iterator[ServerProcess]:
    """This module's own server per backend (its own data directory)."""
    yield from backend_server(tmp_root / f"ssm-policy-status-{request.param}", request.param)


def described(ssm: Any, name: str) -> list[tuple[str, str]]:
    """DescribeParameters' Policies of `name`, as (PolicyText, PolicyStatus)."""
    found = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])
    (metadata,) = found["Parameters"]
    return [(p["PolicyText"], p["PolicyStatus"]) for p in metadata["Policies"]]


def history(ssm: Any, name: str) -> list[list[tuple[str, str]]]:
    """GetParameterHistory's Policies of every version, as (PolicyText, PolicyStatus)."""
    versions = ssm.get_parameter_history(Name=name)["Parameters"]
    return [[(p["PolicyText"], p["PolicyStatus"]) for p in v["Policies"]] for v in versions]


def statuses(ssm: Any, name: str) -> list[str]:
    """The latest version's statuses, the same in both operations."""
    latest = [status for _, status in history(ssm, name)[-1]]
    assert [status for _, status in described(ssm, name)] == latest
    return latest


# -- PolicyStatus ------------------------------------------------------------------------------


def test_each_policy_is_pending_until_it_acts_then_finished(
    server: ServerProcess, ssm: Any, watch: Any
) -> None:
    name = new_name()
    w = watch(name)
    expires = expiration(server_now(server) + 10 * HOUR)
    early, late = notification(6, "Hours"), notification(3, "Hours")
    stale = no_change(2, "Hours")
    put(ssm, name, expires, early, late, stale)
    texts = [compact(p) for p in (expires, early, late, stale)]
    assert described(ssm, name) == [(t, "Pending") for t in texts]
    (first,) = ssm.get_parameter_history(Name=name)["Parameters"]
    assert [p["PolicyType"] for p in first["Policies"]] == [
        "Expiration",
        "ExpirationNotification",
        "ExpirationNotification",
        "NoChangeNotification",
    ]

    server.advance(2 * HOUR + 60)
    assert run(server) == 1  # the NoChangeNotification
    assert statuses(ssm, name) == ["Pending", "Pending", "Pending", "Finished"]
    server.advance(2 * HOUR)  # 4 h: 6 h before the Timestamp
    assert run(server) == 1
    assert statuses(ssm, name) == ["Pending", "Finished", "Pending", "Finished"]
    assert run(server) == 0  # acted once: nothing more until the next one is due
    server.advance(3 * HOUR)  # 7 h: 3 h before
    assert run(server) == 1
    assert statuses(ssm, name) == ["Pending", "Finished", "Finished", "Finished"]
    assert history(ssm, name) == [list(zip(texts, statuses(ssm, name), strict=True))]

    server.advance(3 * HOUR)  # the Timestamp: the parameter goes with its statuses
    assert run(server) == 1
    with pytest.raises(ClientError) as exc:
        ssm.get_parameter_history(Name=name)
    assert error(exc) == ("ParameterNotFound", 400)
    found = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])
    assert found["Parameters"] == []

    lines = w.lines(6)
    acted = [e for e in lines if e["detail-type"] == "Parameter Store Policy Action"]
    for event, policy in zip(acted, (stale, early, late, expires), strict=True):
        assert_policy_event(event, name, policy)
    assert "will expire in 6 hours." in acted[1]["detail"]["action-reason"]
    assert "will expire in 3 hours." in acted[2]["detail"]["action-reason"]
    assert lines[-1]["detail"]["operation"] == "Delete"


def test_a_new_version_starts_its_own_policies_pending(
    server: ServerProcess, ssm: Any, watch: Any
) -> None:
    name = new_name()
    w = watch(name)
    policy = no_change(1, "Hours")
    put(ssm, name, policy)
    server.advance(HOUR + 60)
    assert run(server) == 1
    assert statuses(ssm, name) == ["Finished"]

    # a new value keeps the policies, Pending for the new version; the old one's stays
    ssm.put_parameter(Name=name, Value="v2", Overwrite=True)
    assert history(ssm, name) == [[(compact(policy), "Finished")], [(compact(policy), "Pending")]]
    assert statuses(ssm, name) == ["Pending"]
    server.advance(HOUR + 60)
    assert run(server) == 1
    assert history(ssm, name) == [[(compact(policy), "Finished")]] * 2
    assert len(w.policy_actions(4)) == 2

    # policies removed before they acted: that version's stay Pending in its history
    put(ssm, name, no_change(5, "Hours"), Overwrite=True)
    ssm.put_parameter(Name=name, Value="v4", Overwrite=True, Policies="[]")
    versions = history(ssm, name)
    assert [[s for _, s in v] for v in versions] == [["Finished"], ["Finished"], ["Pending"], []]
    server.advance(5 * HOUR + 60)
    assert run(server) == 0
    assert history(ssm, name) == versions


def test_a_sent_expiration_notification_stays_finished_in_new_versions(
    server: ServerProcess, ssm: Any, watch: Any
) -> None:
    name = new_name()
    w = watch(name)
    now = server_now(server)
    expires = expiration(now + 6 * HOUR)
    sent, unsent = notification(4, "Hours"), notification(1, "Hours")
    put(ssm, name, expires, sent, unsent)
    server.advance(2 * HOUR + 60)
    assert run(server) == 1
    assert statuses(ssm, name) == ["Pending", "Finished", "Pending"]

    # the same Expiration: its notice 4 h before was sent, and is not sent again
    ssm.put_parameter(Name=name, Value="rotated", Overwrite=True)
    put(ssm, name, expires, sent, unsent, Overwrite=True)  # the same policies, given again
    assert [[s for _, s in v] for v in history(ssm, name)] == [
        ["Pending", "Finished", "Pending"]
    ] * 3
    assert run(server) == 0
    assert len(w.policy_actions(4)) == 1

    # a new Expiration: a new schedule, every notice Pending again (this one due at once)
    put(ssm, name, expiration(now + 5 * HOUR), sent, Overwrite=True)
    assert statuses(ssm, name) == ["Pending", "Pending"]
    assert run(server) == 1
    assert statuses(ssm, name) == ["Pending", "Finished"]
    assert len(w.policy_actions(6)) == 2


# -- several policies of one type --------------------------------------------------------------


def test_two_expiration_policies_conflict(server: ServerProcess, ssm: Any) -> None:
    name = new_name()
    first = expiration(server_now(server) + DAY)
    second = expiration(server_now(server) + 2 * DAY)
    with pytest.raises(ClientError) as exc:
        put(ssm, name, first, notification(1, "Hours"), second)
    assert error(exc) == ("IncompatiblePolicyException", 400)
    assert "two Expiration policies" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        ssm.get_parameter(Name=name)
    assert error(exc) == ("ParameterNotFound", 400)  # nothing written


def test_several_notifications_of_one_type_each_act_in_turn(
    server: ServerProcess, ssm: Any, watch: Any
) -> None:
    name = new_name()
    w = watch(name)
    now = server_now(server)
    # AWS's example: two ExpirationNotification policies; and two NoChangeNotification
    policies = [
        expiration(now + 30 * HOUR),
        notification(1, "Days"),
        notification(2, "Hours"),
        no_change(3, "Hours"),
        no_change(1, "Hours"),
    ]
    put(ssm, name, *policies)
    w.lines(1)  # the Create, delivered before the clock moves a day (an event's maximum age)
    assert statuses(ssm, name) == ["Pending"] * 5

    server.advance(HOUR + 60)
    assert run(server) == 1
    assert statuses(ssm, name) == ["Pending", "Pending", "Pending", "Pending", "Finished"]
    server.advance(2 * HOUR)
    assert run(server) == 1
    assert statuses(ssm, name) == ["Pending", "Pending", "Pending", "Finished", "Finished"]
    server.advance(3 * HOUR)  # 6 h: 24 h before the Timestamp
    assert run(server) == 1
    server.advance(22 * HOUR)  # 28 h: 2 h before
    assert run(server) == 1
    assert statuses(ssm, name) == ["Pending"] + ["Finished"] * 4
    assert run(server) == 0

    acted = w.policy_actions(5)
    assert [json.loads(e["detail"]["policy-content"]) for e in acted] == [
        policies[4],
        policies[3],
        policies[1],
        policies[2],
    ]
    assert "has not been changed for 1 hour." in acted[0]["detail"]["action-reason"]
    assert "has not been changed for 3 hours." in acted[1]["detail"]["action-reason"]


def test_notifications_due_with_the_expiration_go_out_in_the_order_they_fell_due(
    server: ServerProcess, ssm: Any, watch: Any
) -> None:
    name = new_name()
    w = watch(name)
    expires = expiration(server_now(server) + 4 * HOUR)
    put(ssm, name, notification(1, "Hours"), expires, notification(3, "Hours"))
    server.advance(5 * HOUR)  # all three overdue at the next run
    assert run(server) == 1
    lines = w.lines(5)
    assert [
        (e["detail"].get("policy-type"), json.loads(e["detail"].get("policy-content", "{}")))
        for e in lines[1:4]
    ] == [
        ("ExpirationNotification", notification(3, "Hours")),
        ("ExpirationNotification", notification(1, "Hours")),
        ("Expiration", expires),
    ]
    assert lines[4]["detail"]["operation"] == "Delete"
    assert run(server) == 0


def test_the_same_notification_given_twice_is_two_policies(
    server: ServerProcess, ssm: Any, watch: Any
) -> None:
    name = new_name()
    w = watch(name)
    notice = notification(1, "Hours")
    put(ssm, name, expiration(server_now(server) + 3 * HOUR), notice, notice)
    server.advance(2 * HOUR + 60)
    assert run(server) == 1
    assert statuses(ssm, name) == ["Pending", "Finished", "Finished"]
    acted = w.policy_actions(3)
    assert [json.loads(e["detail"]["policy-content"]) for e in acted] == [notice, notice]

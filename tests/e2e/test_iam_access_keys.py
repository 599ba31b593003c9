"""Access keys over the wire: create, use, deactivate, delete, limits, last use, audit."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCESS_KEY_ID, ACCOUNT_ID, ServerProcess
from tests.e2e.helpers import error, events_by_name, name
from tests.e2e.helpers import iam as iam  # the fixture

IAM_READ = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"


def as_key(server: ServerProcess, key: dict[str, str]) -> Any:
    return server.client("iam", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])


def test_a_users_key_signs_requests_until_deactivated_or_deleted(
    server: ServerProcess, iam: Any
) -> None:
    user = name("keyuser")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    assert key["UserName"] == user and key["Status"] == "Active"
    assert key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40
    own = as_key(server, key)
    # a new user may do nothing until a policy allows it
    with pytest.raises(ClientError) as exc:
        own.get_user()
    assert error(exc) == ("AccessDenied", 403)
    iam.attach_user_policy(UserName=user, PolicyArn=IAM_READ)
    me = own.get_user()["User"]  # without UserName: the caller
    assert me["UserName"] == user
    listed = own.list_access_keys()["AccessKeyMetadata"]  # the caller's own keys
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]
    assert "SecretAccessKey" not in listed[0]
    iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as exc:
        own.get_user()
    assert error(exc) == ("InvalidClientTokenId", 403)
    iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Active")
    assert own.get_user()["User"]["UserName"] == user
    iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    with pytest.raises(ClientError) as exc:
        own.get_user()
    assert error(exc) == ("InvalidClientTokenId", 403)
    iam.detach_user_policy(UserName=user, PolicyArn=IAM_READ)
    iam.delete_user(UserName=user)


def test_two_keys_per_user(iam: Any) -> None:
    user = name("two")
    iam.create_user(UserName=user)
    ids = [iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"] for _ in range(2)]
    with pytest.raises(ClientError) as exc:
        iam.create_access_key(UserName=user)
    assert error(exc) == ("LimitExceeded", 409)
    listed = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert sorted(k["AccessKeyId"] for k in listed) == sorted(ids)
    with pytest.raises(ClientError) as exc:
        iam.delete_access_key(UserName=user, AccessKeyId=ACCESS_KEY_ID)  # not this user's
    assert error(exc) == ("NoSuchEntity", 404)
    for key_id in ids:
        iam.delete_access_key(UserName=user, AccessKeyId=key_id)
    iam.delete_user(UserName=user)


def test_root_manages_its_own_keys(server: ServerProcess, iam: Any) -> None:
    listed = iam.list_access_keys()["AccessKeyMetadata"]
    assert ACCESS_KEY_ID in [k["AccessKeyId"] for k in listed]
    key = iam.create_access_key()["AccessKey"]
    try:
        assert "UserName" not in key
        assert as_key(server, key).get_user()["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
        with pytest.raises(ClientError) as exc:
            iam.create_access_key()  # the root has two keys now
        assert error(exc) == ("LimitExceeded", 409)
    finally:
        iam.delete_access_key(AccessKeyId=key["AccessKeyId"])


def test_last_used_is_not_applicable_before_first_use(iam: Any) -> None:
    user = name("lu")
    iam.create_user(UserName=user)
    key_id = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    out = iam.get_access_key_last_used(AccessKeyId=key_id)
    assert out["UserName"] == user
    assert out["AccessKeyLastUsed"] == {"ServiceName": "N/A", "Region": "N/A"}
    iam.delete_access_key(UserName=user, AccessKeyId=key_id)
    iam.delete_user(UserName=user)


def test_last_used_names_the_service_and_region_of_the_latest_call(
    server: ServerProcess, iam: Any
) -> None:
    user = name("lu")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    caller = server.client("sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    assert caller.get_caller_identity()["Arn"].endswith(f":user/{user}")
    seen = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert (seen["ServiceName"], seen["Region"]) == ("sts", "us-east-1")
    assert "LastUsedDate" in seen
    # the scheduler writes the recorded use to the store; the answer stays the same
    server.run_scheduler()
    after = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert after == seen
    iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=user)


def test_the_secret_never_reaches_the_audit_trail(server: ServerProcess, iam: Any) -> None:
    user = name("audited")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    trail = server.client("cloudtrail")
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateAccessKey"}],
        MaxResults=50,
    )["Events"]
    bodies = [json.loads(e["CloudTrailEvent"]) for e in events]
    mine = [b for b in bodies if b.get("requestParameters", {}).get("userName") == user]
    assert len(mine) == 1
    event = mine[0]
    assert event["eventSource"] == "iam.amazonaws.com"
    assert event["responseElements"]["accessKey"]["accessKeyId"] == key["AccessKeyId"]
    assert "secretAccessKey" not in event["responseElements"]["accessKey"]
    assert key["SecretAccessKey"] not in json.dumps(bodies)
    iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=user)


def test_reset_keeps_aws_managed_policies_and_the_usage_job_runs(fresh_server_factory: Any) -> None:
    server = fresh_server_factory().start()
    iam = server.client("iam")
    user = name("gone")
    iam.create_user(UserName=user)
    assert server.post("/_garrison/reset").status_code == 200
    names = {p["PolicyName"] for p in iam.list_policies(Scope="AWS")["Policies"]}
    assert "AdministratorAccess" in names and "ReadOnlyAccess" in names
    assert iam.list_users()["Users"] == []
    jobs = server.run_scheduler()
    assert jobs["iam-access-key-last-used"] >= 0


def test_read_only_calls_are_audited_without_response_elements(
    server: ServerProcess, iam: Any
) -> None:
    user = name("ro")
    arn = iam.create_user(UserName=user)["User"]["Arn"]
    iam.get_user(UserName=user)
    bodies = events_by_name(server, arn)
    assert bodies["GetUser"]["readOnly"] is True
    assert bodies["GetUser"]["responseElements"] is None
    assert bodies["CreateUser"]["readOnly"] is False
    assert bodies["CreateUser"]["responseElements"]["user"]["userName"] == user
    iam.delete_user(UserName=user)

"""Managed and inline policies, boundaries, access keys and their last use, tags."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from garrison.services.iam.limits import policy_size
from garrison.services.iam.paging import decode_marker, encode_marker, page_of
from garrison.storage import schema
from garrison.storage.sql import select
from tests.services.iam.conftest import ACCOUNT, IamHarness

DOC = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
)
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                       "Action": "sts:AssumeRole"}],
    }
)  # fmt: skip


def test_policy_size_ignores_white_space() -> None:
    assert policy_size('{ "a" :\n\t"b c" }') == len('{"a":"bc"}')


def test_markers_round_trip_and_reject_forgeries() -> None:
    assert decode_marker(encode_marker("bob\x00AIDA1")) == "bob\x00AIDA1"
    page = page_of(["c", "a", "b"], lambda x: x, None, 2)
    assert page.items == ["a", "b"] and page.marker is not None
    assert page_of(["c", "a", "b"], lambda x: x, page.marker, 2).items == ["c"]


def test_documents_leave_url_encoded(iam: IamHarness) -> None:
    iam.call("CreateUser", {"UserName": "u"})
    iam.call("PutUserPolicy", {"UserName": "u", "PolicyName": "p", "PolicyDocument": DOC})
    out = iam.call("GetUserPolicy", {"UserName": "u", "PolicyName": "p"})
    assert out["PolicyDocument"].startswith("%7B%22Version%22")
    assert out["UserName"] == "u" and out["PolicyName"] == "p"


def test_aws_managed_policies_are_seeded_once(iam: IamHarness) -> None:
    assert iam.db.writer.run_sync(iam.provider.seed) == 0  # already there: nothing added
    listed = iam.call("ListPolicies", {"Scope": "AWS"})["Policies"]
    assert {p["Arn"] for p in listed} >= {"arn:aws:iam::aws:policy/AdministratorAccess"}
    assert iam.call("ListPolicies", {"Scope": "Local"})["Policies"] == []


def test_aws_managed_usage_counts_per_account(iam: IamHarness) -> None:
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    iam.call("CreateUser", {"UserName": "u"})
    iam.call("AttachUserPolicy", {"UserName": "u", "PolicyArn": arn})
    assert iam.call("GetPolicy", {"PolicyArn": arn})["Policy"]["AttachmentCount"] == 1
    attached = iam.call("ListPolicies", {"OnlyAttached": True})["Policies"]
    assert [p["Arn"] for p in attached] == [arn]
    boundary_only = iam.call(
        "ListPolicies", {"OnlyAttached": True, "PolicyUsageFilter": "PermissionsBoundary"}
    )
    assert boundary_only["Policies"] == []


def test_policy_version_rules(iam: IamHarness) -> None:
    arn = iam.call("CreatePolicy", {"PolicyName": "p", "PolicyDocument": DOC})["Policy"]["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/p"
    err = iam.error("CreatePolicy", {"PolicyName": "P", "PolicyDocument": DOC})
    assert (err.code, err.status) == ("EntityAlreadyExists", 409)
    for _ in range(4):
        iam.call("CreatePolicyVersion", {"PolicyArn": arn, "PolicyDocument": DOC})
    err = iam.error("CreatePolicyVersion", {"PolicyArn": arn, "PolicyDocument": DOC})
    assert (err.code, err.status) == ("LimitExceeded", 409)
    err = iam.error("DeletePolicyVersion", {"PolicyArn": arn, "VersionId": "v1"})
    assert err.code == "DeleteConflict"
    err = iam.error("GetPolicyVersion", {"PolicyArn": arn, "VersionId": "v9"})
    assert err.code == "NoSuchEntity"


def test_role_trust_and_boundary(iam: IamHarness) -> None:
    out = iam.call("CreateRole", {"RoleName": "r", "AssumeRolePolicyDocument": TRUST})["Role"]
    assert out["MaxSessionDuration"] == 3600 and "RoleLastUsed" not in out
    got = iam.call("GetRole", {"RoleName": "r"})["Role"]
    assert got["RoleLastUsed"] == {}
    err = iam.error("CreateRole", {"RoleName": "r2", "AssumeRolePolicyDocument": DOC})
    assert err.code == "MalformedPolicyDocument"
    missing = f"arn:aws:iam::{ACCOUNT}:policy/none"
    err = iam.error("PutRolePermissionsBoundary", {"RoleName": "r", "PermissionsBoundary": missing})
    assert err.code == "NoSuchEntity"
    arn = iam.call("CreatePolicy", {"PolicyName": "b", "PolicyDocument": DOC})["Policy"]["Arn"]
    iam.call("PutRolePermissionsBoundary", {"RoleName": "r", "PermissionsBoundary": arn})
    assert iam.call("GetPolicy", {"PolicyArn": arn})["Policy"]["PermissionsBoundaryUsageCount"] == 1
    assert iam.error("DeletePolicy", {"PolicyArn": arn}).code == "DeleteConflict"
    entities = iam.call(
        "ListEntitiesForPolicy", {"PolicyArn": arn, "PolicyUsageFilter": "PermissionsBoundary"}
    )
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == ["r"]


def test_access_keys_are_sealed_and_forgotten_after_changes(iam: IamHarness) -> None:
    iam.call("CreateUser", {"UserName": "k"})
    key = iam.call("CreateAccessKey", {"UserName": "k"})["AccessKey"]
    secret = key["SecretAccessKey"]
    stored = iam.db.read(
        lambda tx: tx.execute(
            select(schema.access_keys.c.secret).where(
                schema.access_keys.c.access_key_id == key["AccessKeyId"]
            )
        ).scalar_one()
    )
    assert secret.encode() not in stored  # sealed by the barrier
    assert iam.credentials.secret_for(key["AccessKeyId"]) == secret
    iam.call("UpdateAccessKey", {"UserName": "k", "AccessKeyId": key["AccessKeyId"],
                                 "Status": "Inactive"})  # fmt: skip
    assert iam.credentials.secret_for(key["AccessKeyId"]) is None  # the cache was dropped
    iam.call("DeleteAccessKey", {"UserName": "k", "AccessKeyId": key["AccessKeyId"]})
    assert iam.credentials.get(key["AccessKeyId"]) is None


def test_key_use_is_kept_in_memory_then_flushed(iam: IamHarness) -> None:
    iam.call("CreateUser", {"UserName": "lu"})
    key_id = iam.call("CreateAccessKey", {"UserName": "lu"})["AccessKey"]["AccessKeyId"]
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    iam.provider.record_access_key_use(key_id, "kms", "eu-west-1", when)
    out = iam.call("GetAccessKeyLastUsed", {"AccessKeyId": key_id})
    # visible before the flush, from this node's memory
    assert out["AccessKeyLastUsed"] == {
        "LastUsedDate": when, "ServiceName": "kms", "Region": "eu-west-1"
    }  # fmt: skip
    assert iam.db.writer.run_sync(iam.provider.flush_key_usage) == 1
    assert iam.db.writer.run_sync(iam.provider.flush_key_usage) == 0
    older = when - timedelta(days=1)
    iam.provider.record_access_key_use(key_id, "iam", "us-east-1", older)
    iam.db.writer.run_sync(iam.provider.flush_key_usage)  # an older use never overwrites
    out = iam.call("GetAccessKeyLastUsed", {"AccessKeyId": key_id})
    assert out["AccessKeyLastUsed"]["ServiceName"] == "kms"
    assert out["UserName"] == "lu"


def test_get_access_key_last_used_of_unknown_key(iam: IamHarness) -> None:
    err = iam.error("GetAccessKeyLastUsed", {"AccessKeyId": "AKIANOSUCHKEY0000000"})
    assert (err.code, err.status) == ("NoSuchEntity", 404)


@pytest.mark.parametrize(
    ("tags", "code"),
    [
        ([{"Key": "aws:x", "Value": "1"}], "InvalidInput"),
        ([{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}], "InvalidInput"),
    ],
)
def test_bad_tags_on_create(iam: IamHarness, tags: list[dict[str, str]], code: str) -> None:
    assert iam.error("CreateUser", {"UserName": "t", "Tags": tags}).code == code
    assert iam.error("GetUser", {"UserName": "t"}).code == "NoSuchEntity"


def test_tag_limit_counts_existing_tags(iam: IamHarness) -> None:
    tags = [{"Key": f"k{n}", "Value": "v"} for n in range(30)]
    iam.call("CreateUser", {"UserName": "t", "Tags": tags})
    more = [{"Key": f"m{n}", "Value": "v"} for n in range(21)]
    assert iam.error("TagUser", {"UserName": "t", "Tags": more}).code == "LimitExceeded"
    iam.call("TagUser", {"UserName": "t", "Tags": more[:20]})
    assert len(iam.call("ListUserTags", {"UserName": "t"})["Tags"]) == 50


def test_account_summary(iam: IamHarness) -> None:
    iam.call("CreateUser", {"UserName": "s"})
    summary = iam.call("GetAccountSummary")["SummaryMap"]
    assert summary["Users"] == 1 and summary["AccountAccessKeysPresent"] == 1

"""The real AWS CLI (`python -m awscli iam ...`) against Garrison: every IAM operation
Garrison serves is run through the CLI at least once, with the CLI's own argument
handling (``file://`` policy documents, shorthand tags, its paginators).

Each CLI run is a process start (~0.4 s), so tests group operations and check
effects with boto3. The CLI exercises the wire; backends are covered by the
boto3 tests, so one (SQLite) server serves these.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from garrison.iam.authorizer import Authorizer
from garrison.services.iam.provider import IamProvider
from tests.conftest import ACCOUNT_ID, ServerProcess
from tests.e2e.compat import check_matrix
from tests.e2e.helpers import TRUST_ROOT as TRUST
from tests.e2e.test_aws_cli import AwsCli
from tests.e2e.test_aws_cli import aws as aws  # the fixture: a clean CLI on sqlite_server


def doc(action: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}],
        }
    )


@pytest.fixture
def iam(sqlite_server: ServerProcess) -> Any:
    return sqlite_server.client("iam")


def suffix() -> str:
    return secrets.token_hex(4)


def test_cli_users_groups_and_keys(aws: AwsCli, iam: Any) -> None:
    s = suffix()
    user, group = f"cli-user-{s}", f"cli-group-{s}"
    made = aws.json(
        "iam", "create-user", "--user-name", user, "--path", "/cli/",
        "--tags", "Key=team,Value=core",
    )["User"]  # fmt: skip
    assert made["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/cli/{user}"
    assert aws.json("iam", "get-user", "--user-name", user)["User"]["UserId"] == made["UserId"]
    assert aws.json("iam", "get-user")["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
    listed = aws.json("iam", "list-users", "--path-prefix", "/cli/")["Users"]
    assert user in [u["UserName"] for u in listed]
    aws.ok("iam", "update-user", "--user-name", user, "--new-path", "/cli2/")
    aws.ok("iam", "tag-user", "--user-name", user, "--tags", "Key=env,Value=dev")
    aws.ok("iam", "untag-user", "--user-name", user, "--tag-keys", "team")
    assert aws.json("iam", "list-user-tags", "--user-name", user)["Tags"] == [
        {"Key": "env", "Value": "dev"}
    ]
    aws.json("iam", "create-group", "--group-name", group)
    aws.ok("iam", "add-user-to-group", "--group-name", group, "--user-name", user)
    got = aws.json("iam", "get-group", "--group-name", group)
    assert [u["UserName"] for u in got["Users"]] == [user]
    assert [g["GroupName"] for g in aws.json("iam", "list-groups")["Groups"]].count(group) == 1
    groups = aws.json("iam", "list-groups-for-user", "--user-name", user)["Groups"]
    assert [g["GroupName"] for g in groups] == [group]
    aws.ok("iam", "update-group", "--group-name", group, "--new-path", "/g/")
    aws.ok("iam", "remove-user-from-group", "--group-name", group, "--user-name", user)
    aws.ok("iam", "delete-group", "--group-name", group)
    key = aws.json("iam", "create-access-key", "--user-name", user)["AccessKey"]
    assert key["SecretAccessKey"] and key["Status"] == "Active"
    keys = aws.json("iam", "list-access-keys", "--user-name", user)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [key["AccessKeyId"]]
    aws.ok("iam", "update-access-key", "--user-name", user, "--access-key-id",
           key["AccessKeyId"], "--status", "Inactive")  # fmt: skip
    assert iam.list_access_keys(UserName=user)["AccessKeyMetadata"][0]["Status"] == "Inactive"
    last = aws.json("iam", "get-access-key-last-used", "--access-key-id", key["AccessKeyId"])
    assert last["AccessKeyLastUsed"]["ServiceName"] == "N/A"
    aws.ok("iam", "delete-access-key", "--user-name", user, "--access-key-id", key["AccessKeyId"])
    summary = aws.json("iam", "get-account-summary")["SummaryMap"]
    assert summary["AccessKeysPerUserQuota"] == 2
    aws.ok("iam", "delete-user", "--user-name", user)
    stderr = aws.fail("iam", "get-user", "--user-name", user)
    assert "NoSuchEntity" in stderr


def test_cli_roles_and_inline_policies(aws: AwsCli, iam: Any) -> None:
    s = suffix()
    role = f"cli-role-{s}"
    trust = aws.file("trust.json", json.dumps(TRUST))
    inline = aws.file("inline.json", doc("s3:GetObject"))
    made = aws.json(
        "iam", "create-role", "--role-name", role,
        "--assume-role-policy-document", f"file://{trust}",
        "--description", "from the cli", "--max-session-duration", "7200",
        "--tags", "Key=a,Value=b",
    )["Role"]  # fmt: skip
    assert made["AssumeRolePolicyDocument"] == TRUST
    got = aws.json("iam", "get-role", "--role-name", role)["Role"]
    assert got["MaxSessionDuration"] == 7200 and got["Description"] == "from the cli"
    assert role in [r["RoleName"] for r in aws.json("iam", "list-roles")["Roles"]]
    aws.ok("iam", "update-role", "--role-name", role, "--description", "d2")
    out = aws.json("iam", "update-role-description", "--role-name", role, "--description", "d3")
    assert out["Role"]["Description"] == "d3"
    aws.ok("iam", "update-assume-role-policy", "--role-name", role,
           "--policy-document", f"file://{trust}")  # fmt: skip
    aws.ok("iam", "tag-role", "--role-name", role, "--tags", "Key=c,Value=d")
    aws.ok("iam", "untag-role", "--role-name", role, "--tag-keys", "a")
    assert aws.json("iam", "list-role-tags", "--role-name", role)["Tags"] == [
        {"Key": "c", "Value": "d"}
    ]
    boundary = "arn:aws:iam::aws:policy/PowerUserAccess"
    aws.ok("iam", "put-role-permissions-boundary", "--role-name", role,
           "--permissions-boundary", boundary)  # fmt: skip
    assert iam.get_role(RoleName=role)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == (
        boundary
    )
    aws.ok("iam", "delete-role-permissions-boundary", "--role-name", role)
    aws.ok("iam", "put-role-policy", "--role-name", role, "--policy-name", "p",
           "--policy-document", f"file://{inline}")  # fmt: skip
    got_inline = aws.json("iam", "get-role-policy", "--role-name", role, "--policy-name", "p")
    assert got_inline["PolicyDocument"] == json.loads(doc("s3:GetObject"))
    assert aws.json("iam", "list-role-policies", "--role-name", role)["PolicyNames"] == ["p"]
    assert "DeleteConflict" in aws.fail("iam", "delete-role", "--role-name", role)
    aws.ok("iam", "delete-role-policy", "--role-name", role, "--policy-name", "p")
    aws.ok("iam", "delete-role", "--role-name", role)

    user, group = f"cli-iu-{s}", f"cli-ig-{s}"
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    for kind, flag, entity in (("user", "--user-name", user), ("group", "--group-name", group)):
        aws.ok("iam", f"put-{kind}-policy", flag, entity, "--policy-name", "q",
               "--policy-document", f"file://{inline}")  # fmt: skip
        got = aws.json("iam", f"get-{kind}-policy", flag, entity, "--policy-name", "q")
        assert got["PolicyName"] == "q"
        assert aws.json("iam", f"list-{kind}-policies", flag, entity)["PolicyNames"] == ["q"]
        aws.ok("iam", f"delete-{kind}-policy", flag, entity, "--policy-name", "q")
    aws.ok("iam", "put-user-permissions-boundary", "--user-name", user,
           "--permissions-boundary", boundary)  # fmt: skip
    aws.ok("iam", "delete-user-permissions-boundary", "--user-name", user)
    iam.delete_user(UserName=user)
    iam.delete_group(GroupName=group)


def test_cli_managed_policies(aws: AwsCli, iam: Any) -> None:
    s = suffix()
    name, user, group, role = f"cli-pol-{s}", f"cli-pu-{s}", f"cli-pg-{s}", f"cli-pr-{s}"
    v1 = aws.file("v1.json", doc("s3:GetObject"))
    v2 = aws.file("v2.json", doc("s3:PutObject"))
    arn = aws.json(
        "iam", "create-policy", "--policy-name", name, "--policy-document", f"file://{v1}",
        "--description", "cli", "--tags", "Key=k,Value=v",
    )["Policy"]["Arn"]  # fmt: skip
    assert aws.json("iam", "get-policy", "--policy-arn", arn)["Policy"]["PolicyName"] == name
    made = aws.json("iam", "create-policy-version", "--policy-arn", arn,
                    "--policy-document", f"file://{v2}", "--set-as-default")  # fmt: skip
    assert made["PolicyVersion"]["VersionId"] == "v2"
    got = aws.json("iam", "get-policy-version", "--policy-arn", arn, "--version-id", "v2")
    assert got["PolicyVersion"]["Document"] == json.loads(doc("s3:PutObject"))
    aws.ok("iam", "set-default-policy-version", "--policy-arn", arn, "--version-id", "v1")
    versions = aws.json("iam", "list-policy-versions", "--policy-arn", arn)["Versions"]
    assert {v["VersionId"]: v["IsDefaultVersion"] for v in versions} == {"v1": True, "v2": False}
    aws.ok("iam", "delete-policy-version", "--policy-arn", arn, "--version-id", "v2")
    aws.ok("iam", "tag-policy", "--policy-arn", arn, "--tags", "Key=x,Value=y")
    aws.ok("iam", "untag-policy", "--policy-arn", arn, "--tag-keys", "k")
    assert aws.json("iam", "list-policy-tags", "--policy-arn", arn)["Tags"] == [
        {"Key": "x", "Value": "y"}
    ]
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST))
    for kind, flag, entity in (
        ("user", "--user-name", user),
        ("group", "--group-name", group),
        ("role", "--role-name", role),
    ):
        aws.ok("iam", f"attach-{kind}-policy", flag, entity, "--policy-arn", arn)
        attached = aws.json("iam", f"list-attached-{kind}-policies", flag, entity)
        assert attached["AttachedPolicies"] == [{"PolicyName": name, "PolicyArn": arn}]
    entities = aws.json("iam", "list-entities-for-policy", "--policy-arn", arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == [user]
    local = aws.json("iam", "list-policies", "--scope", "Local", "--only-attached")["Policies"]
    assert arn in [p["Arn"] for p in local]
    assert "DeleteConflict" in aws.fail("iam", "delete-policy", "--policy-arn", arn)
    for kind, flag, entity in (
        ("user", "--user-name", user),
        ("group", "--group-name", group),
        ("role", "--role-name", role),
    ):
        aws.ok("iam", f"detach-{kind}-policy", flag, entity, "--policy-arn", arn)
    aws.ok("iam", "delete-policy", "--policy-arn", arn)
    iam.delete_user(UserName=user)
    iam.delete_group(GroupName=group)
    iam.delete_role(RoleName=role)
    # the CLI's paginator walks Marker/IsTruncated itself
    every = aws.json("iam", "list-policies", "--scope", "AWS", "--page-size", "2")["Policies"]
    assert "AdministratorAccess" in [p["PolicyName"] for p in every]


def test_cli_policy_simulator(aws: AwsCli, iam: Any) -> None:
    user = f"cli-sim-{suffix()}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=doc("s3:GetObject"))
    # CLI v1 reads a list parameter's file as JSON: a list holding the document text
    policy = aws.file("sim.json", json.dumps([doc("s3:GetObject")]))
    custom = aws.json(
        "iam", "simulate-custom-policy", "--policy-input-list", f"file://{policy}",
        "--action-names", "s3:GetObject", "s3:PutObject",
    )["EvaluationResults"]  # fmt: skip
    assert [(r["EvalActionName"], r["EvalDecision"]) for r in custom] == [
        ("s3:GetObject", "allowed"),
        ("s3:PutObject", "implicitDeny"),
    ]
    principal = aws.json(
        "iam", "simulate-principal-policy",
        "--policy-source-arn", f"arn:aws:iam::{ACCOUNT_ID}:user/{user}",
        "--action-names", "s3:GetObject", "s3:DeleteObject",
    )["EvaluationResults"]  # fmt: skip
    assert [r["EvalDecision"] for r in principal] == ["allowed", "implicitDeny"]
    iam.delete_user_policy(UserName=user, PolicyName="p")
    iam.delete_user(UserName=user)


def test_compatibility_matrix() -> None:
    """docs/compatibility/iam.md lists every operation once, truthfully, with real tests."""
    served = IamProvider(Authorizer(), lambda ids: None).handlers()
    # every supported operation is driven through the CLI
    check_matrix("iam", served, "tests/e2e/test_iam_cli.py::test_cli_")


def test_planned_operations_are_refused_by_name(iam: Any) -> None:
    for op, request in (
        ("ListInstanceProfiles", {}),
        ("CreateLoginProfile", {"UserName": "someone", "Password": "p4ssw0rd!P4SSW0RD"}),
        ("ListMFADevices", {}),
    ):
        with pytest.raises(ClientError) as exc:
            getattr(iam, xform_name(op))(**request)
        error = exc.value.response["Error"]
        assert error["Code"] == "UnsupportedOperationException", (op, error)
        assert error["Message"] == f"{op} is not supported by this Garrison release yet."

"""Malformed and forbidden IAM requests, each answered with AWS's error code and status.

Table-driven: every case is a boto3 call that must fail with exactly this code
and HTTP status (and a few that AWS accepts, which must succeed). A failed call
leaves nothing behind: the user count is unchanged by the whole table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import ACCESS_KEY_ID, ACCOUNT_ID, REGION, SECRET_ACCESS_KEY, ServerProcess
from tests.e2e.helpers import name as new

NAMES: dict[str, str] = {}


def statement(**fields: Any) -> str:
    body = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", **fields}
    return json.dumps({"Version": "2012-10-17", "Statement": [body]})


def trust(**fields: Any) -> str:
    body = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
        "Action": "sts:AssumeRole",
        **fields,
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [body]})


def big_policy(resources: int) -> str:
    arns = [f"arn:aws:s3:::bucket-number-{n:05d}/*" for n in range(resources)]
    return statement(Resource=arns)


@dataclass(frozen=True)
class Case:
    name: str
    op: str
    params: Callable[[dict[str, str]], dict[str, Any]]
    code: str | None  # None: AWS accepts it
    status: int = 400


CASES = [
    # --- policy documents (MalformedPolicyDocument, 400)
    Case("policy is not json", "CreatePolicy",
         lambda n: {"PolicyName": new("p"), "PolicyDocument": "{not json"},
         "MalformedPolicyDocument"),
    Case("effect is neither Allow nor Deny", "CreatePolicy",
         lambda n: {"PolicyName": new("p"), "PolicyDocument": statement(Effect="Permit")},
         "MalformedPolicyDocument"),
    Case("action without vendor prefix", "PutUserPolicy",
         lambda n: {"UserName": n["user"], "PolicyName": "x",
                    "PolicyDocument": statement(Action="GetObject")},
         "MalformedPolicyDocument"),
    Case("action with a bad vendor prefix", "PutRolePolicy",
         lambda n: {"RoleName": n["role"], "PolicyName": "x",
                    "PolicyDocument": statement(Action="s_3!:GetObject")},
         "MalformedPolicyDocument"),
    Case("unknown condition operator", "CreatePolicy",
         lambda n: {"PolicyName": new("p"), "PolicyDocument": statement(
             Condition={"StringLooksLike": {"aws:username": "x"}})},
         "MalformedPolicyDocument"),
    Case("resource is not an arn", "CreatePolicy",
         lambda n: {"PolicyName": new("p"), "PolicyDocument": statement(Resource="bucket")},
         "MalformedPolicyDocument"),
    Case("identity policy names a principal", "PutGroupPolicy",
         lambda n: {"GroupName": n["group"], "PolicyName": "x",
                    "PolicyDocument": statement(Principal="*")},
         "MalformedPolicyDocument"),
    Case("unknown policy version", "CreatePolicy",
         lambda n: {"PolicyName": new("p"), "PolicyDocument": json.dumps(
             {"Version": "2010-01-01", "Statement": []})},
         "MalformedPolicyDocument"),
    Case("trust policy with a malformed principal arn", "CreateRole",
         lambda n: {"RoleName": new("r"), "AssumeRolePolicyDocument": trust(
             Principal={"AWS": "arn:aws:iam::12345:user/x"})},
         "MalformedPolicyDocument"),
    Case("trust policy without a principal", "CreateRole",
         lambda n: {"RoleName": new("r"), "AssumeRolePolicyDocument": statement()},
         "MalformedPolicyDocument"),
    Case("NotPrincipal with Allow", "UpdateAssumeRolePolicy",
         lambda n: {"RoleName": n["role"], "PolicyDocument": json.dumps({
             "Version": "2012-10-17", "Statement": [{
                 "Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                 "Action": "sts:AssumeRole"}]})},
         "MalformedPolicyDocument"),
    # --- what AWS accepts
    Case("unknown action under a valid prefix is accepted", "CreatePolicy",
         lambda n: {"PolicyName": new("p"), "PolicyDocument": statement(Action="s3:NoSuchAction")},
         None),
    Case("unknown service condition key is accepted", "CreatePolicy",
         lambda n: {"PolicyName": new("p"), "PolicyDocument": statement(
             Condition={"StringEquals": {"s3:noSuchKey": "x"}})},
         None),
    # --- sizes and limits (LimitExceeded, 409)
    Case("managed policy over 6,144 characters", "CreatePolicy",
         lambda n: {"PolicyName": new("p"), "PolicyDocument": big_policy(200)},
         "LimitExceeded", 409),
    Case("trust policy over 2,048 characters", "UpdateAssumeRolePolicy",
         lambda n: {"RoleName": n["role"], "PolicyDocument": trust(
             Condition={"StringEquals": {"aws:username": [f"user-{i:04d}" for i in range(300)]}})},
         "LimitExceeded", 409),
    Case("user inline policies over 2,048 characters", "PutUserPolicy",
         lambda n: {"UserName": n["user"], "PolicyName": "big",
                    "PolicyDocument": big_policy(80)},
         "LimitExceeded", 409),
    # --- model validation (ValidationError, 400)
    Case("user name with a slash", "CreateUser", lambda n: {"UserName": "bad/name"},
         "ValidationError"),
    Case("path without a trailing slash", "CreateUser",
         lambda n: {"UserName": new("u"), "Path": "/a"}, "ValidationError"),
    Case("session duration below an hour", "CreateRole",
         lambda n: {"RoleName": new("r"), "AssumeRolePolicyDocument": trust(),
                    "MaxSessionDuration": 600},
         "ValidationError"),
    Case("MaxItems zero", "ListUsers", lambda n: {"MaxItems": 0}, "ValidationError"),
    Case("marker this server never issued", "ListRoles", lambda n: {"Marker": "forged"},
         "ValidationError"),
    Case("access key status not in the enum", "UpdateAccessKey",
         lambda n: {"UserName": n["user"], "AccessKeyId": "AKIAAAAAAAAAAAAAAAAA",
                    "Status": "Paused"},
         "ValidationError"),
    Case("51 tags", "CreateUser",
         lambda n: {"UserName": new("u"),
                    "Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(51)]},
         "ValidationError"),
    # --- IAM's own refusals
    Case("tag key with the reserved aws: prefix", "TagUser",
         lambda n: {"UserName": n["user"], "Tags": [{"Key": "aws:owner", "Value": "x"}]},
         "InvalidInput"),
    Case("tag keys equal but for case", "TagRole",
         lambda n: {"RoleName": n["role"],
                    "Tags": [{"Key": "Team", "Value": "a"}, {"Key": "team", "Value": "b"}]},
         "InvalidInput"),
    Case("policy arn that is not a policy arn", "GetPolicy",
         lambda n: {"PolicyArn": f"arn:aws:iam::{ACCOUNT_ID}:user/someone"}, "InvalidInput"),
    Case("attach a policy that does not exist", "AttachUserPolicy",
         lambda n: {"UserName": n["user"],
                    "PolicyArn": f"arn:aws:iam::{ACCOUNT_ID}:policy/nothing-here"},
         "NoSuchEntity", 404),
    Case("boundary that does not exist", "PutRolePermissionsBoundary",
         lambda n: {"RoleName": n["role"],
                    "PermissionsBoundary": f"arn:aws:iam::{ACCOUNT_ID}:policy/nothing-here"},
         "NoSuchEntity", 404),
    Case("delete the default policy version", "DeletePolicyVersion",
         lambda n: {"PolicyArn": n["policy"], "VersionId": "v1"}, "DeleteConflict", 409),
    Case("version of a policy that does not exist", "GetPolicyVersion",
         lambda n: {"PolicyArn": n["policy"], "VersionId": "v9"}, "NoSuchEntity", 404),
    Case("another user's access key", "DeleteAccessKey",
         lambda n: {"UserName": n["user"], "AccessKeyId": n["other_key"]}, "NoSuchEntity", 404),
    Case("remove a user that is not a member", "RemoveUserFromGroup",
         lambda n: {"GroupName": n["group"], "UserName": n["user"]}, "NoSuchEntity", 404),
    Case("create a group that exists", "CreateGroup",
         lambda n: {"GroupName": n["group"].upper()}, "EntityAlreadyExists", 409),
    Case("change an AWS managed policy", "SetDefaultPolicyVersion",
         lambda n: {"PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess", "VersionId": "v1"},
         "AccessDenied", 403),
]  # fmt: skip


@pytest.fixture
def iam(server: ServerProcess) -> Any:
    """boto3 with its own parameter checks off: the server must refuse by itself."""
    return boto3.client(
        "iam",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def names(server: ServerProcess, iam: Any) -> dict[str, str]:
    key = server.endpoint
    if key not in NAMES:
        user, role, group, other = new("bad-u"), new("bad-r"), new("bad-g"), new("bad-o")
        iam.create_user(UserName=user)
        iam.create_user(UserName=other)
        iam.create_group(GroupName=group)
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust())
        policy = iam.create_policy(PolicyName=new("bad-p"), PolicyDocument=statement())
        other_key = iam.create_access_key(UserName=other)["AccessKey"]["AccessKeyId"]
        arn = policy["Policy"]["Arn"]
        made = {"user": user, "role": role, "group": group, "policy": arn, "other_key": other_key}
        NAMES[key] = json.dumps(made)
    loaded: dict[str, str] = json.loads(NAMES[key])
    return loaded


def _method(op: str) -> str:
    return str(xform_name(op))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, iam: Any, names: dict[str, str]) -> None:
    users_before = len(iam.list_users(MaxItems=1000)["Users"])
    call = getattr(iam, _method(case.op))
    if case.code is None:
        call(**case.params(names))
        return
    with pytest.raises(ClientError) as exc:
        call(**case.params(names))
    response = exc.value.response
    assert response["Error"]["Code"] == case.code, response["Error"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == case.status
    assert response["Error"]["Message"]
    assert len(iam.list_users(MaxItems=1000)["Users"]) == users_before


@pytest.mark.parametrize("change", ["deactivate", "delete"])
def test_unusable_keys_are_invalid_client_token_id(
    server: ServerProcess, iam: Any, change: str
) -> None:
    user = new("kk")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    if change == "deactivate":
        iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    else:
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    client = server.client("iam", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        client.list_users()
    assert exc.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

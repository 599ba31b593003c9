"""IAM users, groups and roles over the wire with boto3, on both backends."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID
from tests.e2e.helpers import TRUST_ROOT as TRUST
from tests.e2e.helpers import error, name
from tests.e2e.helpers import iam as iam  # the fixture

ALLOW_S3 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}


def test_user_lifecycle_with_tags_and_path(iam: Any) -> None:
    user = name("alice")
    created = iam.create_user(UserName=user, Path="/eng/", Tags=[{"Key": "team", "Value": "core"}])[
        "User"
    ]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/eng/{user}"
    assert created["UserId"].startswith("AIDA") and len(created["UserId"]) == 21
    assert created["Tags"] == [{"Key": "team", "Value": "core"}]
    got = iam.get_user(UserName=user.upper())["User"]
    assert got["UserName"] == user and got["Tags"] == [{"Key": "team", "Value": "core"}]
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName=user.upper())
    assert error(exc) == ("EntityAlreadyExists", 409)
    new = user + "-renamed"
    iam.update_user(UserName=user, NewUserName=new, NewPath="/ops/")
    assert iam.get_user(UserName=new)["User"]["Arn"].endswith(f":user/ops/{new}")
    iam.delete_user(UserName=new)
    with pytest.raises(ClientError) as exc:
        iam.get_user(UserName=new)
    assert error(exc) == ("NoSuchEntity", 404)


def test_get_user_without_name_is_the_root(iam: Any) -> None:
    got = iam.get_user()["User"]
    assert got["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
    assert got["UserId"] == ACCOUNT_ID


def test_list_users_paginates_with_boto3_paginator(iam: Any) -> None:
    prefix = f"/page{secrets.token_hex(3)}/"
    users = sorted(name("p") for _ in range(5))
    for user in users:
        iam.create_user(UserName=user, Path=prefix)
    first = iam.list_users(PathPrefix=prefix, MaxItems=2)
    assert first["IsTruncated"] and len(first["Users"]) == 2
    pages = iam.get_paginator("list_users").paginate(
        PathPrefix=prefix, PaginationConfig={"PageSize": 2}
    )
    listed = [u["UserName"] for page in pages for u in page["Users"]]
    assert listed == users
    for user in users:
        iam.delete_user(UserName=user)


def test_delete_user_refused_while_it_has_keys_policies_and_groups(iam: Any) -> None:
    user, group = name("del"), name("grp")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(ALLOW_S3))
    iam.attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    fixes = [
        lambda: iam.delete_access_key(UserName=user, AccessKeyId=key),
        lambda: iam.delete_user_policy(UserName=user, PolicyName="p"),
        lambda: iam.detach_user_policy(
            UserName=user, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess"
        ),
        lambda: iam.remove_user_from_group(GroupName=group, UserName=user),
    ]
    for fix in fixes:
        with pytest.raises(ClientError) as exc:
            iam.delete_user(UserName=user)
        assert error(exc) == ("DeleteConflict", 409)
        fix()
    iam.delete_user(UserName=user)
    iam.delete_group(GroupName=group)


def test_groups_membership_and_paginated_get_group(iam: Any) -> None:
    group = name("g")
    created = iam.create_group(GroupName=group, Path="/teams/")["Group"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:group/teams/{group}"
    users = sorted(name("m") for _ in range(3))
    for user in users:
        iam.create_user(UserName=user)
        iam.add_user_to_group(GroupName=group, UserName=user)
    page = iam.get_group(GroupName=group, MaxItems=2)
    assert page["IsTruncated"] and [u["UserName"] for u in page["Users"]] == users[:2]
    rest = iam.get_group(GroupName=group, Marker=page["Marker"])
    assert [u["UserName"] for u in rest["Users"]] == users[2:] and not rest["IsTruncated"]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=users[0])["Groups"]] == [
        group
    ]
    with pytest.raises(ClientError) as exc:
        iam.delete_group(GroupName=group)
    assert error(exc) == ("DeleteConflict", 409)
    renamed = group + "-x"
    iam.update_group(GroupName=group, NewGroupName=renamed)
    for user in users:
        iam.remove_user_from_group(GroupName=renamed, UserName=user)
        iam.delete_user(UserName=user)
    assert renamed in [g["GroupName"] for g in iam.list_groups(PathPrefix="/teams/")["Groups"]]
    iam.delete_group(GroupName=renamed)


def test_role_lifecycle(iam: Any) -> None:
    role = name("role")
    boundary = "arn:aws:iam::aws:policy/PowerUserAccess"
    created = iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=json.dumps(TRUST),
        Description="deploys",
        MaxSessionDuration=7200,
        PermissionsBoundary=boundary,
        Tags=[{"Key": "env", "Value": "prod"}],
    )["Role"]
    assert created["RoleId"].startswith("AROA")
    assert created["AssumeRolePolicyDocument"] == TRUST  # boto3 decodes the URL-encoded JSON
    got = iam.get_role(RoleName=role)["Role"]
    assert got["Description"] == "deploys" and got["MaxSessionDuration"] == 7200
    assert got["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    assert got["Tags"] == [{"Key": "env", "Value": "prod"}]
    iam.update_role(RoleName=role, Description="d2", MaxSessionDuration=3600)
    assert iam.update_role_description(RoleName=role, Description="d3")["Role"]["Description"] == (
        "d3"
    )
    trust = {**TRUST, "Statement": [{**TRUST["Statement"][0], "Action": "sts:TagSession"}]}
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(trust))
    assert iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"] == trust
    with pytest.raises(ClientError) as exc:
        iam.update_role(RoleName=role, MaxSessionDuration=43201)
    assert error(exc)[0] == "ValidationError"
    iam.put_role_policy(RoleName=role, PolicyName="inline", PolicyDocument=json.dumps(ALLOW_S3))
    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName=role)
    assert error(exc) == ("DeleteConflict", 409)
    iam.delete_role_policy(RoleName=role, PolicyName="inline")
    iam.delete_role_permissions_boundary(RoleName=role)
    assert "PermissionsBoundary" not in iam.get_role(RoleName=role)["Role"]
    assert role in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    iam.delete_role(RoleName=role)
    with pytest.raises(ClientError) as exc:
        iam.get_role(RoleName=role)
    assert error(exc) == ("NoSuchEntity", 404)


def test_trust_policy_without_principal_is_malformed(iam: Any) -> None:
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=name("bad"), AssumeRolePolicyDocument=json.dumps(ALLOW_S3))
    assert error(exc) == ("MalformedPolicyDocument", 400)


def test_tags_of_users_and_roles(iam: Any) -> None:
    user = name("tagged")
    iam.create_user(UserName=user)
    iam.tag_user(UserName=user, Tags=[{"Key": "Dept", "Value": "a"}, {"Key": "x", "Value": ""}])
    iam.tag_user(UserName=user, Tags=[{"Key": "dept", "Value": "b"}])  # keys ignore case
    tags = iam.list_user_tags(UserName=user)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("dept", "b"), ("x", "")]
    iam.untag_user(UserName=user, TagKeys=["X"])
    assert iam.list_user_tags(UserName=user)["Tags"] == [{"Key": "dept", "Value": "b"}]
    many = [{"Key": f"k{n}", "Value": "v"} for n in range(50)]
    with pytest.raises(ClientError) as exc:
        iam.tag_user(UserName=user, Tags=many)
    assert error(exc) == ("LimitExceeded", 409)
    role = name("tagrole")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.tag_role(RoleName=role, Tags=[{"Key": "a", "Value": "1"}])
    assert iam.list_role_tags(RoleName=role)["Tags"] == [{"Key": "a", "Value": "1"}]
    iam.untag_role(RoleName=role, TagKeys=["a"])
    assert iam.list_role_tags(RoleName=role)["Tags"] == []
    iam.delete_role(RoleName=role)
    iam.delete_user(UserName=user)


def test_account_summary_counts(iam: Any) -> None:
    before = iam.get_account_summary()["SummaryMap"]
    user = name("sum")
    iam.create_user(UserName=user)
    after = iam.get_account_summary()["SummaryMap"]
    assert after["Users"] == before["Users"] + 1
    assert after["AccessKeysPerUserQuota"] == 2 and after["PolicySizeQuota"] == 6144
    iam.delete_user(UserName=user)

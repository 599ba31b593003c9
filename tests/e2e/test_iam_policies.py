"""Managed policies, versions, attachments, inline policies and boundaries over the wire."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID
from tests.e2e.helpers import error, name
from tests.e2e.helpers import iam as iam  # the fixture

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
AWS_MANAGED = {
    "AdministratorAccess",
    "PowerUserAccess",
    "ReadOnlyAccess",
    "IAMFullAccess",
    "IAMReadOnlyAccess",
    "AWSKeyManagementServicePowerUser",
}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:*"}
    ],
}


def doc(action: str = "s3:GetObject", resource: str = "*") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
        }
    )


def test_aws_managed_policies_are_shipped_and_read_only(iam: Any) -> None:
    listed = iam.list_policies(Scope="AWS", MaxItems=1000)["Policies"]
    assert {p["PolicyName"] for p in listed} >= AWS_MANAGED
    admin = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")["Policy"]
    version = iam.get_policy_version(PolicyArn=admin["Arn"], VersionId="v1")["PolicyVersion"]
    assert version["Document"]["Statement"][0] == {
        "Effect": "Allow",
        "Action": "*",
        "Resource": "*",
    }
    with pytest.raises(ClientError) as exc:
        iam.create_policy_version(PolicyArn=admin["Arn"], PolicyDocument=doc())
    assert error(exc) == ("AccessDenied", 403)


def test_policy_versions_lifecycle(iam: Any) -> None:
    created = iam.create_policy(
        PolicyName=name("pol"), Path="/app/", PolicyDocument=doc(), Description="mine",
        Tags=[{"Key": "o", "Value": "me"}],
    )["Policy"]  # fmt: skip
    arn = created["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT_ID}:policy/app/{created['PolicyName']}"
    assert created["PolicyId"].startswith("ANPA") and created["DefaultVersionId"] == "v1"
    for n in range(2, 6):
        made = iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(f"s3:Put{n}"))
        assert made["PolicyVersion"]["VersionId"] == f"v{n}"
        assert made["PolicyVersion"]["IsDefaultVersion"] is False
    with pytest.raises(ClientError) as exc:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc())
    assert error(exc) == ("LimitExceeded", 409)
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v3")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    got = iam.get_policy_version(PolicyArn=arn, VersionId="v3")["PolicyVersion"]
    assert got["IsDefaultVersion"] and got["Document"]["Statement"][0]["Action"] == "s3:Put3"
    with pytest.raises(ClientError) as exc:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    assert error(exc) == ("DeleteConflict", 409)
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=arn)
    assert error(exc) == ("DeleteConflict", 409)
    for v in ("v1", "v2", "v4", "v5"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=v)
    made = iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(), SetAsDefault=True)
    assert made["PolicyVersion"] == {**made["PolicyVersion"], "VersionId": "v6"}
    assert made["PolicyVersion"]["IsDefaultVersion"] is True
    iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "o", "Value": "me"}]
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.get_policy(PolicyArn=arn)
    assert error(exc) == ("NoSuchEntity", 404)


def test_attachments_counts_and_entities(iam: Any) -> None:
    user, group, role = name("au"), name("ag"), name("ar")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST))
    arn = iam.create_policy(PolicyName=name("att"), PolicyDocument=doc())["Policy"]["Arn"]
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    iam.attach_user_policy(UserName=user, PolicyArn=arn)  # attaching twice is one attachment
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    iam.put_user_permissions_boundary(UserName=user, PermissionsBoundary=arn)
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    assert policy["AttachmentCount"] == 3 and policy["PermissionsBoundaryUsageCount"] == 1
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == [user]
    assert [g["GroupName"] for g in entities["PolicyGroups"]] == [group]
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == [role]
    only_roles = iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Role")
    assert only_roles["PolicyUsers"] == [] and len(only_roles["PolicyRoles"]) == 1
    attached = iam.list_policies(Scope="Local", OnlyAttached=True, MaxItems=1000)["Policies"]
    assert arn in [p["Arn"] for p in attached]
    for listing, kw in (
        (iam.list_attached_user_policies, {"UserName": user}),
        (iam.list_attached_group_policies, {"GroupName": group}),
        (iam.list_attached_role_policies, {"RoleName": role}),
    ):
        assert listing(**kw)["AttachedPolicies"] == [
            {"PolicyName": policy["PolicyName"], "PolicyArn": arn}
        ]
    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=arn)
    assert error(exc) == ("DeleteConflict", 409)
    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    iam.detach_group_policy(GroupName=group, PolicyArn=arn)
    iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    assert error(exc) == ("NoSuchEntity", 404)
    iam.delete_user_permissions_boundary(UserName=user)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 0
    iam.delete_policy(PolicyArn=arn)
    iam.delete_user(UserName=user)
    iam.delete_group(GroupName=group)
    iam.delete_role(RoleName=role)


def test_attaching_more_than_ten_policies_is_limit_exceeded(iam: Any) -> None:
    role = name("many")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST))
    arns = [iam.create_policy(PolicyName=name("m"), PolicyDocument=doc())["Policy"]["Arn"]
            for _ in range(11)]  # fmt: skip
    for arn in arns[:10]:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.attach_role_policy(RoleName=role, PolicyArn=arns[10])
    assert error(exc) == ("LimitExceeded", 409)
    for arn in arns[:10]:
        iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    for arn in arns:
        iam.delete_policy(PolicyArn=arn)
    iam.delete_role(RoleName=role)


def test_inline_policies_of_users_groups_and_roles(iam: Any) -> None:
    user, group, role = name("iu"), name("ig"), name("ir")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST))
    targets = [
        ("user", {"UserName": user}),
        ("group", {"GroupName": group}),
        ("role", {"RoleName": role}),
    ]
    for kind, kw in targets:
        put = getattr(iam, f"put_{kind}_policy")
        put(**kw, PolicyName="b", PolicyDocument=doc("s3:B"))
        put(**kw, PolicyName="a", PolicyDocument=doc("s3:A"))
        put(**kw, PolicyName="a", PolicyDocument=doc("s3:A2"))  # replaces
        got = getattr(iam, f"get_{kind}_policy")(**kw, PolicyName="a")
        assert got["PolicyDocument"]["Statement"][0]["Action"] == "s3:A2"
        assert getattr(iam, f"list_{kind}_policies")(**kw)["PolicyNames"] == ["a", "b"]
        for policy_name in ("a", "b"):
            getattr(iam, f"delete_{kind}_policy")(**kw, PolicyName=policy_name)
        with pytest.raises(ClientError) as exc:
            getattr(iam, f"get_{kind}_policy")(**kw, PolicyName="a")
        assert error(exc) == ("NoSuchEntity", 404)
    # a user's inline policies may hold 2,048 characters (white space not counted) in all
    big = json.dumps(
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                        "Resource": [f"arn:aws:s3:::bucket-{n:04d}/*" for n in range(80)]}]}
    )  # fmt: skip
    with pytest.raises(ClientError) as exc:
        iam.put_user_policy(UserName=user, PolicyName="big", PolicyDocument=big)
    assert error(exc) == ("LimitExceeded", 409)
    iam.put_role_policy(RoleName=role, PolicyName="big", PolicyDocument=big)  # roles: 10,240
    iam.delete_role_policy(RoleName=role, PolicyName="big")
    iam.delete_user(UserName=user)
    iam.delete_group(GroupName=group)
    iam.delete_role(RoleName=role)


def test_policy_tags(iam: Any) -> None:
    arn = iam.create_policy(PolicyName=name("tp"), PolicyDocument=doc())["Policy"]["Arn"]
    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    iam.untag_policy(PolicyArn=arn, TagKeys=["a"])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Tags"] == [{"Key": "b", "Value": "2"}]
    iam.delete_policy(PolicyArn=arn)


def test_simulator_sees_the_principals_own_policies(iam: Any) -> None:
    user, group = name("sim"), name("simg")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.put_group_policy(GroupName=group, PolicyName="g", PolicyDocument=doc("s3:GetObject"))
    results = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT_ID}:user/{user}",
        ActionNames=["s3:GetObject", "s3:PutObject"],
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in results] == ["allowed", "implicitDeny"]
    custom = iam.simulate_custom_policy(PolicyInputList=[doc("s3:*")], ActionNames=["s3:PutObject"])
    assert custom["EvaluationResults"][0]["EvalDecision"] == "allowed"
    iam.delete_group_policy(GroupName=group, PolicyName="g")
    iam.remove_user_from_group(GroupName=group, UserName=user)
    iam.delete_group(GroupName=group)
    iam.delete_user(UserName=user)

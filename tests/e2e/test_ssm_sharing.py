"""Sharing Advanced parameters across accounts with resource policies, end to end,
on SQLite and PostgreSQL.

Two accounts on one server: A, the dev account (an organization's management
account), owns the parameters; B is a member account made by CreateAccount,
administered through OrganizationAccountAccessRole, where a `reader` user holds
an identity policy for A's parameters and a `stranger` holds none.

PutResourcePolicy's rules (Advanced only, no AWS managed key, read-only actions
for accounts, PolicyId/PolicyHash concurrency), GetResourcePolicies,
DeleteResourcePolicy; then B reads A's parameter by its ARN only when both A's
resource policy and B's identity policy allow, a shared SecureString decrypts
only when A's key policy lets B use the key, and DescribeParameters with
Shared lists what is shared with the caller.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, BACKENDS, REGION, backend_server
from tests.e2e.helpers import error, error_of, iam_user, member_account, session_client

A = ACCOUNT_ID


@pytest.fixture(scope="module", params=BACKENDS)
def two(request: pytest.FixtureRequest, tmp_root: Path) -> Iterator[dict[str, Any]]:
    """A server with accounts A and B, and clients: A's root, B's reader and stranger."""
    data = tmp_root / f"ssm-sharing-{request.param}-{secrets.token_hex(3)}"
    for server in backend_server(data, request.param):
        server.client("organizations").create_organization(FeatureSet="ALL")
        b, admin = member_account(server, "consumer")
        b_iam = session_client(server, "iam", admin)
        reader = [
            {"Effect": "Allow",
             "Action": ["ssm:GetParameter", "ssm:GetParameters", "ssm:DescribeParameters",
                        "ssm:GetParameterHistory", "ssm:DeleteParameter", "ssm:PutParameter"],
             "Resource": "*"},
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"},
        ]  # fmt: skip
        clients: dict[str, Any] = {"server": server, "b": b, "b_admin_ssm": None}
        for user, statements in (("reader", reader), ("stranger", [])):
            _, key = iam_user(b_iam, user, *statements)
            clients[user] = session_client(server, "ssm", key)
        clients["b_admin_ssm"] = session_client(server, "ssm", admin)
        clients["ssm"] = server.client("ssm")
        clients["kms"] = server.client("kms")
        yield clients


def arn_of(name: str, account: str = A) -> str:
    return f"arn:aws:ssm:{REGION}:{account}:parameter{name}"


def share_doc(name: str, account: str, actions: list[str] | None = None) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": account},
                    "Action": actions or ["ssm:GetParameter", "ssm:GetParameters",
                                          "ssm:DescribeParameters"],
                    "Resource": arn_of(name),
                }
            ],
        }
    )  # fmt: skip


def _advanced(ssm: Any, **extra: Any) -> str:
    p = f"/shared-{secrets.token_hex(4)}/cfg"
    ssm.put_parameter(Name=p, Value="shared-value", Type="String", Tier="Advanced", **extra)
    return p


def test_only_advanced_parameters_with_a_customer_key_are_shared(two: dict[str, Any]) -> None:
    ssm, b = two["ssm"], two["b"]
    standard = f"/shared-{secrets.token_hex(4)}/std"
    ssm.put_parameter(Name=standard, Value="v", Type="String")
    with pytest.raises(ClientError) as exc:
        ssm.put_resource_policy(ResourceArn=arn_of(standard), Policy=share_doc(standard, b))
    assert error(exc) == ("ResourcePolicyInvalidParameterException", 400)
    managed = f"/shared-{secrets.token_hex(4)}/managed"
    ssm.put_parameter(Name=managed, Value="s", Type="SecureString", Tier="Advanced")
    with pytest.raises(ClientError) as exc:
        ssm.put_resource_policy(ResourceArn=arn_of(managed), Policy=share_doc(managed, b))
    code, message = error_of(exc)
    assert code == "ResourcePolicyInvalidParameterException"
    assert "AWS managed key" in message
    with pytest.raises(ClientError) as exc:
        ssm.put_resource_policy(ResourceArn=arn_of("/no/such/param"), Policy=share_doc("/x", b))
    assert error(exc) == ("ResourceNotFoundException", 400)
    for p in (standard, managed):
        assert ssm.get_resource_policies(ResourceArn=arn_of(p))["Policies"] == []


def test_policy_documents_are_checked(two: dict[str, Any]) -> None:
    ssm, b = two["ssm"], two["b"]
    p = _advanced(ssm)
    target = arn_of(p)
    bad = {
        "not json": "{",
        "a write action": share_doc(p, b, ["ssm:PutParameter"]),
        "a wildcard action": share_doc(p, b, ["ssm:*"]),
        "everyone": share_doc(p, "*"),
        "another resource": share_doc(p, b).replace(target, arn_of("/other")),
    }
    for why, doc in bad.items():
        with pytest.raises(ClientError) as exc:
            ssm.put_resource_policy(ResourceArn=target, Policy=doc)
        assert error(exc) == ("MalformedResourcePolicyDocumentException", 400), why
    huge = json.loads(share_doc(p, b))
    huge["Statement"][0]["Sid"] = "x" * 1100
    with pytest.raises(ClientError) as exc:
        ssm.put_resource_policy(ResourceArn=target, Policy=json.dumps(huge))
    assert error(exc) == ("ResourcePolicyLimitExceededException", 400)
    assert ssm.get_resource_policies(ResourceArn=target)["Policies"] == []
    # the root ARN of the account is accepted as well as its id
    ssm.put_resource_policy(ResourceArn=target, Policy=share_doc(p, f"arn:aws:iam::{b}:root"))


def test_cross_account_read_needs_both_sides(two: dict[str, Any]) -> None:
    ssm, reader, stranger, b = two["ssm"], two["reader"], two["stranger"], two["b"]
    p = _advanced(ssm)
    with pytest.raises(ClientError) as exc:  # not shared yet
        reader.get_parameter(Name=arn_of(p))
    code, message = error_of(exc)
    assert code == "AccessDeniedException"
    assert f"ssm:GetParameter on resource: {arn_of(p)}" in message
    out = ssm.put_resource_policy(ResourceArn=arn_of(p), Policy=share_doc(p, b))
    assert out["PolicyId"] and out["PolicyHash"]
    got = reader.get_parameter(Name=arn_of(p))["Parameter"]
    assert (got["Value"], got["ARN"], got["Version"]) == ("shared-value", arn_of(p), 1)
    many = reader.get_parameters(Names=[arn_of(p), arn_of(p + "-none")])
    assert [x["Value"] for x in many["Parameters"]] == ["shared-value"]
    assert many["InvalidParameters"] == [arn_of(p + "-none")]
    # B's identity side must allow too
    with pytest.raises(ClientError) as exc:
        stranger.get_parameter(Name=arn_of(p))
    assert error(exc) == ("AccessDeniedException", 400)
    # by name, the caller's own account is meant
    with pytest.raises(ClientError) as exc:
        reader.get_parameter(Name=p)
    assert error(exc) == ("ParameterNotFound", 400)
    # read-only: what the policy does not grant stays denied, even to B's administrator
    with pytest.raises(ClientError) as exc:
        reader.get_parameter_history(Name=arn_of(p))
    assert error(exc) == ("AccessDeniedException", 400)
    for client in (reader, two["b_admin_ssm"]):
        with pytest.raises(ClientError) as exc:
            client.delete_parameter(Name=arn_of(p))
        assert error(exc) == ("AccessDeniedException", 400)
    assert ssm.get_parameter(Name=p)["Parameter"]["Value"] == "shared-value"


def test_shared_secure_string_needs_the_key_policy(two: dict[str, Any]) -> None:
    ssm, kms, reader, b = two["ssm"], two["kms"], two["reader"], two["b"]
    key = kms.create_key()["KeyMetadata"]
    p = f"/shared-{secrets.token_hex(4)}/secret"
    ssm.put_parameter(
        Name=p, Value="top-secret", Type="SecureString", Tier="Advanced", KeyId=key["KeyId"]
    )
    ssm.put_resource_policy(ResourceArn=arn_of(p), Policy=share_doc(p, b))
    got = reader.get_parameter(Name=arn_of(p))["Parameter"]  # no decryption: ciphertext
    assert got["Type"] == "SecureString" and got["Value"] != "top-secret"
    with pytest.raises(ClientError) as exc:  # A's key policy does not let B use the key
        reader.get_parameter(Name=arn_of(p), WithDecryption=True)
    code, message = error_of(exc)
    assert code == "AccessDeniedException" and "kms:Decrypt" in message
    policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    policy["Statement"].append(
        {
            "Sid": "ShareWithB",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{b}:root"},
            "Action": "kms:Decrypt",
            "Resource": "*",
        }
    )
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(policy))
    got = reader.get_parameter(Name=arn_of(p), WithDecryption=True)["Parameter"]
    assert got["Value"] == "top-secret"


def test_describe_shared_lists_what_is_shared_with_the_caller(two: dict[str, Any]) -> None:
    ssm, reader, stranger, b = two["ssm"], two["reader"], two["stranger"], two["b"]
    shared, private = _advanced(ssm), _advanced(ssm)
    ssm.put_resource_policy(ResourceArn=arn_of(shared), Policy=share_doc(shared, b))
    no_describe = _advanced(ssm)
    ssm.put_resource_policy(
        ResourceArn=arn_of(no_describe), Policy=share_doc(no_describe, b, ["ssm:GetParameter"])
    )
    listed = []
    for page in reader.get_paginator("describe_parameters").paginate(Shared=True):
        listed.extend(page["Parameters"])
    arns = {m["ARN"] for m in listed}
    assert arn_of(shared) in arns
    assert arn_of(private) not in arns and arn_of(no_describe) not in arns
    meta = next(m for m in listed if m["ARN"] == arn_of(shared))
    assert (meta["Name"], meta["Tier"], meta["Type"]) == (shared, "Advanced", "String")
    # without Shared: only the caller's own parameters
    own = reader.describe_parameters()["Parameters"]
    assert all(m["ARN"].split(":")[4] == b for m in own)
    # the owner's own Shared view does not list its own parameters
    mine = ssm.describe_parameters(Shared=True)["Parameters"]
    assert arn_of(shared) not in {m["ARN"] for m in mine}
    with pytest.raises(ClientError) as exc:  # no ssm:DescribeParameters on B's side
        stranger.describe_parameters(Shared=True)
    assert error(exc) == ("AccessDeniedException", 400)


def test_policy_updates_are_optimistic_and_deletion_unshares(two: dict[str, Any]) -> None:
    ssm, reader, b = two["ssm"], two["reader"], two["b"]
    p = _advanced(ssm)
    target = arn_of(p)
    first = ssm.put_resource_policy(ResourceArn=target, Policy=share_doc(p, b))
    listed = ssm.get_resource_policies(ResourceArn=target)["Policies"]
    assert listed == [
        {"PolicyId": first["PolicyId"], "PolicyHash": first["PolicyHash"],
         "Policy": share_doc(p, b)}
    ]  # fmt: skip
    with_history = share_doc(
        p, b, ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParameterHistory"]
    )
    with pytest.raises(ClientError) as exc:  # an update needs the current hash
        ssm.put_resource_policy(ResourceArn=target, Policy=with_history, PolicyId=first["PolicyId"])
    assert error(exc) == ("ResourcePolicyInvalidParameterException", 400)
    with pytest.raises(ClientError) as exc:
        ssm.put_resource_policy(
            ResourceArn=target, Policy=with_history, PolicyId=first["PolicyId"], PolicyHash="0" * 64
        )
    assert error(exc) == ("ResourcePolicyConflictException", 400)
    with pytest.raises(ClientError) as exc:
        ssm.put_resource_policy(
            ResourceArn=target, Policy=with_history, PolicyId="no-such-id",
            PolicyHash=first["PolicyHash"],
        )  # fmt: skip
    assert error(exc) == ("ResourcePolicyNotFoundException", 400)
    second = ssm.put_resource_policy(
        ResourceArn=target,
        Policy=with_history,
        PolicyId=first["PolicyId"],
        PolicyHash=first["PolicyHash"],
    )
    assert second["PolicyId"] == first["PolicyId"]
    assert second["PolicyHash"] != first["PolicyHash"]
    assert [h["Version"] for h in reader.get_parameter_history(Name=target)["Parameters"]] == [1]
    # a stale hash can neither update nor delete
    with pytest.raises(ClientError) as exc:
        ssm.delete_resource_policy(
            ResourceArn=target, PolicyId=first["PolicyId"], PolicyHash=first["PolicyHash"]
        )
    assert error(exc) == ("ResourcePolicyConflictException", 400)
    ssm.delete_resource_policy(
        ResourceArn=target, PolicyId=second["PolicyId"], PolicyHash=second["PolicyHash"]
    )
    assert ssm.get_resource_policies(ResourceArn=target)["Policies"] == []
    with pytest.raises(ClientError) as exc:
        reader.get_parameter(Name=target)
    assert error(exc) == ("AccessDeniedException", 400)
    with pytest.raises(ClientError) as exc:
        ssm.delete_resource_policy(
            ResourceArn=target, PolicyId=second["PolicyId"], PolicyHash=second["PolicyHash"]
        )
    assert error(exc) == ("ResourcePolicyNotFoundException", 400)


def test_the_consumer_cannot_share_or_read_the_owners_policies(two: dict[str, Any]) -> None:
    ssm, b = two["ssm"], two["b"]
    admin = two["b_admin_ssm"]
    p = _advanced(ssm)
    ssm.put_resource_policy(ResourceArn=arn_of(p), Policy=share_doc(p, b))
    for call in (
        lambda: admin.put_resource_policy(ResourceArn=arn_of(p), Policy=share_doc(p, b)),
        lambda: admin.get_resource_policies(ResourceArn=arn_of(p)),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc) == ("AccessDeniedException", 400)
    assert len(ssm.get_resource_policies(ResourceArn=arn_of(p))["Policies"]) == 1


def test_policies_page(two: dict[str, Any]) -> None:
    ssm, b = two["ssm"], two["b"]
    p = _advanced(ssm)
    ids = [
        ssm.put_resource_policy(ResourceArn=arn_of(p), Policy=share_doc(p, b))["PolicyId"]
        for _ in range(3)
    ]
    seen: list[str] = []
    request: dict[str, Any] = {"ResourceArn": arn_of(p), "MaxResults": 2}
    while True:
        out = ssm.get_resource_policies(**request)
        seen.extend(x["PolicyId"] for x in out["Policies"])
        if "NextToken" not in out:
            break
        request["NextToken"] = out["NextToken"]
    assert seen == ids

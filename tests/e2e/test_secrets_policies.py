"""Secret resource policies: Put/Get/Delete/ValidateResourcePolicy, BlockPublicPolicy and
cross-account reads, on SQLite and PostgreSQL.

A principal of account B reads A's secret by ARN when A's secret policy, B's
identity policy and the key's policy all allow it: the AWS managed key
aws/secretsmanager never lets another account decrypt, so AWS requires a
customer managed key for cross-account access.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, BACKENDS, backend_server
from tests.e2e.helpers import error, error_of, iam_user, member_account, session_client

A = ACCOUNT_ID


@pytest.fixture(scope="module", params=BACKENDS)
def two(request: pytest.FixtureRequest, tmp_root: Path) -> Iterator[dict[str, Any]]:
    """A server with accounts A and B; A's clients, B's reader and B's stranger."""
    data = tmp_root / f"sm-policies-{request.param}-{secrets.token_hex(3)}"
    for server in backend_server(data, request.param):
        server.client("organizations").create_organization(FeatureSet="ALL")
        b, admin = member_account(server, "consumer")
        b_iam = session_client(server, "iam", admin)
        reader = [
            {"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"},
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"},
        ]
        clients: dict[str, Any] = {"server": server, "b": b}
        for user, statements in (("reader", reader), ("stranger", [])):
            _, key = iam_user(b_iam, user, *statements)
            clients[user] = session_client(server, "secretsmanager", key)
        clients["sm"] = server.client("secretsmanager")
        clients["kms"] = server.client("kms")
        yield clients


def share(account: str, actions: list[str] | None = None) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": actions or ["secretsmanager:GetSecretValue"],
                    "Resource": "*",
                }
            ],
        }
    )


def public(condition: dict[str, Any] | None = None) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_put_get_delete_policy(two: dict[str, Any]) -> None:
    sm = two["sm"]
    n = f"pol/{secrets.token_hex(4)}"
    arn = sm.create_secret(Name=n, SecretString="x")["ARN"]
    got = sm.get_resource_policy(SecretId=n)
    assert (got["ARN"], got["Name"]) == (arn, n) and "ResourcePolicy" not in got
    doc = share(two["b"])
    assert sm.put_resource_policy(SecretId=n, ResourcePolicy=doc)["ARN"] == arn
    assert json.loads(sm.get_resource_policy(SecretId=arn)["ResourcePolicy"]) == json.loads(doc)
    sm.delete_resource_policy(SecretId=n)
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=n)
    with pytest.raises(ClientError) as exc:
        sm.put_resource_policy(SecretId=n, ResourcePolicy='{"Statement": [}')
    assert error(exc) == ("MalformedPolicyDocumentException", 400)
    with pytest.raises(ClientError) as exc:  # a resource policy needs a Principal
        sm.put_resource_policy(
            SecretId=n,
            ResourcePolicy=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*"}]}
            ),
        )
    assert error(exc) == ("MalformedPolicyDocumentException", 400)
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=n)


def test_block_public_policy(two: dict[str, Any]) -> None:
    sm = two["sm"]
    n = f"pub/{secrets.token_hex(4)}"
    sm.create_secret(Name=n, SecretString="x")
    with pytest.raises(ClientError) as exc:
        sm.put_resource_policy(SecretId=n, ResourcePolicy=public(), BlockPublicPolicy=True)
    assert error(exc) == ("PublicPolicyException", 400)
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=n)
    with pytest.raises(ClientError) as exc:  # any account is public too
        sm.put_resource_policy(
            SecretId=n,
            ResourcePolicy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": "*"},
                            "Action": "secretsmanager:*",
                            "Resource": "*",
                        }
                    ],
                }
            ),
            BlockPublicPolicy=True,
        )
    assert error(exc) == ("PublicPolicyException", 400)
    # pinned to an account by a condition: not public
    pinned = public({"StringEquals": {"aws:PrincipalAccount": two["b"]}})
    sm.put_resource_policy(SecretId=n, ResourcePolicy=pinned, BlockPublicPolicy=True)
    # without BlockPublicPolicy a public policy is accepted, as AWS does
    sm.put_resource_policy(SecretId=n, ResourcePolicy=public())
    assert json.loads(sm.get_resource_policy(SecretId=n)["ResourcePolicy"]) == json.loads(public())


def test_validate_resource_policy(two: dict[str, Any]) -> None:
    sm = two["sm"]
    ok = sm.validate_resource_policy(ResourcePolicy=share(two["b"]))
    assert ok["PolicyValidationPassed"] is True and ok["ValidationErrors"] == []
    bad = sm.validate_resource_policy(ResourcePolicy='{"Statement": "nope"}')
    assert bad["PolicyValidationPassed"] is False and bad["ValidationErrors"][0]["ErrorMessage"]
    broad = sm.validate_resource_policy(ResourcePolicy=public())
    assert broad["PolicyValidationPassed"] is False
    n = f"val/{secrets.token_hex(4)}"
    sm.create_secret(Name=n, SecretString="x")
    assert sm.validate_resource_policy(SecretId=n, ResourcePolicy=share(two["b"]))[
        "PolicyValidationPassed"
    ]
    with pytest.raises(ClientError) as exc:
        sm.validate_resource_policy(SecretId=n + "-missing", ResourcePolicy=share(two["b"]))
    assert error(exc) == ("ResourceNotFoundException", 400)


def test_cross_account_read_needs_policy_identity_and_a_customer_key(
    two: dict[str, Any],
) -> None:
    sm, kms, reader, stranger, b = two["sm"], two["kms"], two["reader"], two["stranger"], two["b"]
    n = f"shared/{secrets.token_hex(4)}"
    managed = sm.create_secret(Name=n, SecretString="managed-value")["ARN"]
    with pytest.raises(ClientError) as exc:  # no resource policy
        reader.get_secret_value(SecretId=managed)
    code, message = error_of(exc)
    assert code == "AccessDeniedException"
    assert f"secretsmanager:GetSecretValue on resource: {managed}" in message
    sm.put_resource_policy(SecretId=n, ResourcePolicy=share(b))
    with pytest.raises(ClientError) as exc:  # the AWS managed key: never cross-account
        reader.get_secret_value(SecretId=managed)
    code, message = error_of(exc)
    assert code == "AccessDeniedException" and "kms:Decrypt" in message
    # a customer managed key whose policy lets B decrypt
    key = kms.create_key()["KeyMetadata"]
    policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    policy["Statement"].append(
        {
            "Sid": "B",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{b}:root"},
            "Action": "kms:Decrypt",
            "Resource": "*",
        }
    )
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(policy))
    c = f"shared/{secrets.token_hex(4)}"
    arn = sm.create_secret(Name=c, SecretString="customer-value", KmsKeyId=key["Arn"])["ARN"]
    sm.put_resource_policy(SecretId=c, ResourcePolicy=share(b))
    got = reader.get_secret_value(SecretId=arn)
    assert (got["ARN"], got["SecretString"]) == (arn, "customer-value")
    # B's identity side must allow too
    with pytest.raises(ClientError) as exc:
        stranger.get_secret_value(SecretId=arn)
    assert error(exc) == ("AccessDeniedException", 400)
    # by name, B's own account is meant
    with pytest.raises(ClientError) as exc:
        reader.get_secret_value(SecretId=c)
    assert error(exc) == ("ResourceNotFoundException", 400)
    # what the policy does not grant stays denied
    for call in (
        lambda: reader.put_secret_value(SecretId=arn, SecretString="hijack"),
        lambda: reader.delete_secret(SecretId=arn),
        lambda: reader.describe_secret(SecretId=arn),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc) == ("AccessDeniedException", 400)
    assert sm.get_secret_value(SecretId=c)["SecretString"] == "customer-value"
    sm.delete_resource_policy(SecretId=c)
    with pytest.raises(ClientError) as exc:
        reader.get_secret_value(SecretId=arn)
    assert error(exc) == ("AccessDeniedException", 400)

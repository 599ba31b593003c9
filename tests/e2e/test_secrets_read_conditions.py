"""GetSecretValue's condition keys decide cached reads as uncached ones.

A cached GetSecretValue asks the authorizer for a kept verdict first and builds
its context (``secretsmanager:SecretId``, ``VersionStage``, ``VersionId``, the
tags) only when a policy reads it: these tests hold policies that read each key,
on a miss and on a hit, and a plain allow (whose verdict is kept) beside them.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ServerProcess
from tests.e2e.helpers import error, iam_user, session_client


def _reader(server: ServerProcess, statements: list[dict[str, Any]]) -> Any:
    _, key = iam_user(server.client("iam"), "sm-cond", *statements)
    return session_client(server, "secretsmanager", key)


def _allow(**condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
    }
    if condition:
        statement["Condition"] = condition
    return statement


def _kms_decrypt() -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}


def _value(client: Any, **kwargs: Any) -> str:
    return str(client.get_secret_value(**kwargs)["SecretString"])


def _denied(client: Any, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as exc:
        client.get_secret_value(**kwargs)
    assert error(exc) == ("AccessDeniedException", 400)


@pytest.fixture
def secret(server: ServerProcess) -> tuple[str, str, str]:
    """(name, the AWSPREVIOUS version id, the AWSCURRENT version id)."""
    sm = server.client("secretsmanager")
    name = f"cond/{secrets.token_hex(4)}"
    first = sm.create_secret(Name=name, SecretString="one")["VersionId"]
    second = sm.put_secret_value(SecretId=name, SecretString="two")["VersionId"]
    return name, first, second


def test_version_stage_condition_decides_each_read(
    server: ServerProcess, secret: tuple[str, str, str]
) -> None:
    name, first, second = secret
    only_current = {"StringEquals": {"secretsmanager:VersionStage": "AWSCURRENT"}}
    client = _reader(server, [_allow(**only_current), _kms_decrypt()])
    for _ in range(3):  # a miss, then hits
        assert _value(client, SecretId=name) == "two"
        assert _value(client, SecretId=name, VersionStage="AWSCURRENT") == "two"
        _denied(client, SecretId=name, VersionStage="AWSPREVIOUS")
        _denied(client, SecretId=name, VersionId=first)  # no VersionStage key: no match
        _denied(client, SecretId=name, VersionId=second)


def test_version_id_condition_decides_each_read(
    server: ServerProcess, secret: tuple[str, str, str]
) -> None:
    name, first, second = secret
    only_first = {"StringEquals": {"secretsmanager:VersionId": first}}
    client = _reader(server, [_allow(**only_first), _kms_decrypt()])
    for _ in range(3):
        assert _value(client, SecretId=name, VersionId=first) == "one"
        _denied(client, SecretId=name)
        _denied(client, SecretId=name, VersionStage="AWSPREVIOUS")
        _denied(client, SecretId=name, VersionId=second)


def test_secret_id_condition_names_the_arn_read(
    server: ServerProcess, secret: tuple[str, str, str]
) -> None:
    name, _, _ = secret
    arn = server.client("secretsmanager").describe_secret(SecretId=name)["ARN"]
    other = server.client("secretsmanager").create_secret(
        Name=f"cond/{secrets.token_hex(4)}", SecretString="other"
    )["Name"]
    client = _reader(
        server, [_allow(StringEquals={"secretsmanager:SecretId": arn}), _kms_decrypt()]
    )
    for _ in range(3):
        assert _value(client, SecretId=name) == "two"
        assert _value(client, SecretId=arn) == "two"
        _denied(client, SecretId=other)


def test_a_plain_allow_and_a_deny_beside_it(
    server: ServerProcess, secret: tuple[str, str, str]
) -> None:
    name, first, _ = secret
    deny_previous = {
        "Effect": "Deny",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
        "Condition": {"StringEquals": {"secretsmanager:VersionStage": "AWSPREVIOUS"}},
    }
    plain = _reader(server, [_allow(), _kms_decrypt()])
    guarded = _reader(server, [_allow(), deny_previous, _kms_decrypt()])
    for _ in range(3):
        assert _value(plain, SecretId=name, VersionStage="AWSPREVIOUS") == "one"
        assert _value(guarded, SecretId=name) == "two"
        assert _value(guarded, SecretId=name, VersionId=first) == "one"
        _denied(guarded, SecretId=name, VersionStage="AWSPREVIOUS")

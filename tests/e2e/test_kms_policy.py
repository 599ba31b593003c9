"""Key policies are enforced: the default policy, explicit denies, the lockout check."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.policies import ALLOW_ROOT, ROOT, deny, policy


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_default_policy_is_aws_default(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    assert kms.list_key_policies(KeyId=key_id)["PolicyNames"] == ["default"]
    doc = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    stmt = doc["Statement"][0]
    assert stmt["Sid"] == "Enable IAM User Permissions"
    assert stmt["Principal"] == {"AWS": ROOT}
    assert stmt["Action"] == "kms:*"


def test_explicit_deny_binds_the_root(kms: Any) -> None:
    key_id = kms.create_key(Policy=policy(ALLOW_ROOT, deny("kms:Encrypt")))["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert code(exc) == "AccessDeniedException"
    message = exc.value.response["Error"]["Message"]
    assert ROOT in message and "kms:Encrypt" in message and "explicit deny" in message
    # other operations still work
    out = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert kms.decrypt(CiphertextBlob=out["CiphertextBlob"])["Plaintext"] == out["Plaintext"]


def test_policy_without_root_denies(kms: Any) -> None:
    other = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    key_id = kms.create_key(Policy=policy(other), BypassPolicyLockoutSafetyCheck=True)[
        "KeyMetadata"
    ]["KeyId"]
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert code(exc) == "AccessDeniedException"


def test_lockout_safety_check(kms: Any) -> None:
    only_encrypt = {
        "Effect": "Allow",
        "Principal": {"AWS": ROOT},
        "Action": "kms:Encrypt",
        "Resource": "*",
    }
    with pytest.raises(ClientError) as exc:
        kms.create_key(Policy=policy(only_encrypt))
    assert code(exc) == "MalformedPolicyDocumentException"
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as exc:
        kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=policy(only_encrypt))
    assert code(exc) == "MalformedPolicyDocumentException"


def test_put_key_policy_takes_effect(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.encrypt(KeyId=key_id, Plaintext=b"x")
    denied = policy(ALLOW_ROOT, deny("kms:Encrypt"))
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=denied)
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert code(exc) == "AccessDeniedException"


def test_condition_on_encryption_context(kms: Any) -> None:
    only_alpha = deny(
        ["kms:Encrypt", "kms:Decrypt"],
        StringNotEquals={"kms:EncryptionContext:tenant": "alpha"},
    )
    key_id = kms.create_key(Policy=policy(ALLOW_ROOT, only_alpha))["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext={"tenant": "alpha"})[
        "CiphertextBlob"
    ]
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext={"tenant": "beta"})
    assert code(exc) == "AccessDeniedException"
    assert (
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"tenant": "alpha"})["Plaintext"] == b"x"
    )


def test_malformed_policy(kms: Any) -> None:
    for bad in (
        "not json",
        policy({"Effect": "Permit", "Principal": "*", "Action": "kms:*", "Resource": "*"}),
    ):
        with pytest.raises(ClientError) as exc:
            kms.create_key(Policy=bad)
        assert code(exc) == "MalformedPolicyDocumentException"

"""Aliases: create, update, delete, list, and keys addressed through them."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, REGION


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def alias() -> str:
    return "alias/test-" + secrets.token_hex(4)


def test_alias_addresses_the_key_everywhere(kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]
    name = alias()
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{name}"
    for ref in (key["KeyId"], key["Arn"], name, alias_arn):
        assert kms.describe_key(KeyId=ref)["KeyMetadata"]["KeyId"] == key["KeyId"]
        blob = kms.encrypt(KeyId=ref, Plaintext=b"a")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["KeyId"] == key["Arn"]


def test_list_aliases_filters_by_key(kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]
    names = {alias(), alias()}
    for name in names:
        kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    listed = kms.list_aliases(KeyId=key["KeyId"])["Aliases"]
    assert {a["AliasName"] for a in listed} == names
    assert all(a["TargetKeyId"] == key["KeyId"] for a in listed)
    assert all(
        a["AliasArn"] == f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{a['AliasName']}" for a in listed
    )


def test_update_and_delete_alias(kms: Any) -> None:
    a = kms.create_key()["KeyMetadata"]
    b = kms.create_key()["KeyMetadata"]
    name = alias()
    kms.create_alias(AliasName=name, TargetKeyId=a["KeyId"])
    kms.update_alias(AliasName=name, TargetKeyId=b["KeyId"])
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == b["KeyId"]
    kms.delete_alias(AliasName=name)
    with pytest.raises(ClientError) as exc:
        kms.describe_key(KeyId=name)
    assert code(exc) == "NotFoundException"


def test_duplicate_alias(kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]
    name = alias()
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    with pytest.raises(ClientError) as exc:
        kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    assert code(exc) == "AlreadyExistsException"


def test_reserved_alias_prefix(kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]
    with pytest.raises(ClientError) as exc:
        kms.create_alias(AliasName="alias/aws/mine", TargetKeyId=key["KeyId"])
    assert code(exc) in {
        "NotAuthorizedException",
        "InvalidAliasNameException",
        "AccessDeniedException",
    }
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

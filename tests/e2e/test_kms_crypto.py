"""Encrypt, Decrypt, ReEncrypt, data keys and random bytes, over HTTP with boto3."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


@pytest.fixture
def key(kms: Any) -> dict[str, Any]:
    meta: dict[str, Any] = kms.create_key(Description="crypto")["KeyMetadata"]
    return meta


def test_round_trip_without_key_id(kms: Any, key: dict[str, Any]) -> None:
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"attack at dawn")["CiphertextBlob"]
    assert b"attack at dawn" not in blob
    out = kms.decrypt(CiphertextBlob=blob)
    assert out["Plaintext"] == b"attack at dawn"
    assert out["KeyId"] == key["Arn"]
    assert out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"


def test_encryption_context_is_bound(kms: Any, key: dict[str, Any]) -> None:
    ctx = {"purpose": "test", "tenant": "a"}
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext=ctx)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)["Plaintext"] == b"p"
    for wrong in ({}, {"purpose": "test"}, {"purpose": "test", "tenant": "b"}):
        with pytest.raises(ClientError) as exc:
            kms.decrypt(CiphertextBlob=blob, EncryptionContext=wrong)
        assert code(exc) == "InvalidCiphertextException"


def test_tampered_ciphertext_is_refused(kms: Any, key: dict[str, Any]) -> None:
    blob = bytearray(kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")["CiphertextBlob"])
    blob[-1] ^= 1
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=bytes(blob))
    assert code(exc) == "InvalidCiphertextException"


def test_decrypt_with_wrong_key_id(kms: Any, key: dict[str, Any]) -> None:
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob, KeyId=other)
    assert code(exc) == "IncorrectKeyException"


def test_reencrypt_moves_ciphertext_between_keys(kms: Any, key: dict[str, Any]) -> None:
    dest = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"move me", EncryptionContext={"a": "1"})[
        "CiphertextBlob"
    ]
    out = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext={"a": "1"},
        DestinationKeyId=dest["KeyId"],
        DestinationEncryptionContext={"b": "2"},
    )
    assert out["SourceKeyId"] == key["Arn"]
    assert out["KeyId"] == dest["Arn"]
    plain = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"b": "2"})
    assert plain["Plaintext"] == b"move me"


def test_generate_data_key(kms: Any, key: dict[str, Any]) -> None:
    out = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    assert len(out["Plaintext"]) == 32
    assert kms.decrypt(CiphertextBlob=out["CiphertextBlob"])["Plaintext"] == out["Plaintext"]
    out = kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=64)
    assert len(out["Plaintext"]) == 64
    out = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_128")
    assert "Plaintext" not in out
    assert len(kms.decrypt(CiphertextBlob=out["CiphertextBlob"])["Plaintext"]) == 16


def test_generate_data_key_needs_exactly_one_size(kms: Any, key: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as exc:
        kms.generate_data_key(KeyId=key["KeyId"])
    assert code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256", NumberOfBytes=32)
    assert code(exc) == "ValidationException"


def test_generate_random(kms: Any) -> None:
    a = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    b = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    assert len(a) == 32 and a != b


def test_plaintext_limit(kms: Any, key: dict[str, Any]) -> None:
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x" * 4096)
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x" * 4097)
    assert code(exc) == "ValidationException"
    assert "4096" in exc.value.response["Error"]["Message"]
    assert "xxxx" not in exc.value.response["Error"]["Message"]


def test_key_last_usage(kms: Any, key: dict[str, Any]) -> None:
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    out = kms.get_key_last_usage(KeyId=key["KeyId"])
    assert out["KeyLastUsage"]["Operation"] == "Encrypt"

"""Malformed and forbidden requests, each answered with AWS's error code and status.

After the whole table the server must still be healthy, and no failed request
may have left a record behind (the key count is unchanged by failed CreateKeys).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.conftest import ServerProcess
from tests.e2e.signing import post

KMS = "TrentService."
GRANTEE = "arn:aws:iam::111122223333:user/bad-input-grantee"  # grants' cases
KEYS: dict[str, str] = {}


@dataclass(frozen=True)
class Case:
    name: str
    target: str | None
    body: Callable[[dict[str, str]], Any]
    code: str
    status: int = 400
    kwargs: Callable[[dict[str, str]], dict[str, Any]] | None = None
    raw: bool = False


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _past() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)


CASES = [
    # --- serialization and model validation
    Case(
        "body is not json",
        KMS + "ListKeys",
        lambda k: b"{not json",
        "SerializationException",
        raw=True,
    ),
    Case("body is a list", KMS + "ListKeys", lambda k: b"[]", "SerializationException", raw=True),
    Case(
        "bad base64 plaintext",
        KMS + "Encrypt",
        lambda k: {"KeyId": k["enabled"], "Plaintext": "***"},
        "SerializationException",
    ),
    Case(
        "plaintext over 4096 bytes",
        KMS + "Encrypt",
        lambda k: {"KeyId": k["enabled"], "Plaintext": b64(b"x" * 4097)},
        "ValidationException",
    ),
    Case(
        "empty plaintext",
        KMS + "Encrypt",
        lambda k: {"KeyId": k["enabled"], "Plaintext": ""},
        "ValidationException",
    ),
    Case(
        "missing KeyId", KMS + "Encrypt", lambda k: {"Plaintext": b64(b"x")}, "ValidationException"
    ),
    Case(
        "missing Plaintext",
        KMS + "Encrypt",
        lambda k: {"KeyId": k["enabled"]},
        "ValidationException",
    ),
    Case(
        "KeyId wrong type",
        KMS + "Encrypt",
        lambda k: {"KeyId": 5, "Plaintext": b64(b"x")},
        "SerializationException",
    ),
    Case(
        "context wrong type",
        KMS + "Encrypt",
        lambda k: {"KeyId": k["enabled"], "Plaintext": b64(b"x"), "EncryptionContext": ["a"]},
        "SerializationException",
    ),
    Case(
        "unknown algorithm",
        KMS + "Encrypt",
        lambda k: {"KeyId": k["enabled"], "Plaintext": b64(b"x"), "EncryptionAlgorithm": "ROT13"},
        "ValidationException",
    ),
    Case(
        "KeyId too long",
        KMS + "DescribeKey",
        lambda k: {"KeyId": "a" * 2049},
        "ValidationException",
    ),
    Case("ListKeys limit 0", KMS + "ListKeys", lambda k: {"Limit": 0}, "ValidationException"),
    Case("ListKeys limit 1001", KMS + "ListKeys", lambda k: {"Limit": 1001}, "ValidationException"),
    Case(
        "ListKeys bad marker",
        KMS + "ListKeys",
        lambda k: {"Marker": "!!garbage!!"},
        "InvalidMarkerException",
    ),
    Case("limit as string", KMS + "ListKeys", lambda k: {"Limit": "ten"}, "SerializationException"),
    Case(
        "GenerateRandom 0 bytes",
        KMS + "GenerateRandom",
        lambda k: {"NumberOfBytes": 0},
        "ValidationException",
    ),
    Case(
        "GenerateRandom 1025 bytes",
        KMS + "GenerateRandom",
        lambda k: {"NumberOfBytes": 1025},
        "ValidationException",
    ),
    Case(
        "data key without size",
        KMS + "GenerateDataKey",
        lambda k: {"KeyId": k["enabled"]},
        "ValidationException",
    ),
    Case(
        "data key with both sizes",
        KMS + "GenerateDataKey",
        lambda k: {"KeyId": k["enabled"], "KeySpec": "AES_256", "NumberOfBytes": 32},
        "ValidationException",
    ),
    Case(
        "data key bad spec",
        KMS + "GenerateDataKey",
        lambda k: {"KeyId": k["enabled"], "KeySpec": "AES_512"},
        "ValidationException",
    ),
    # --- keys in the wrong state, or unknown
    Case(
        "unknown key",
        KMS + "Encrypt",
        lambda k: {"KeyId": "11111111-2222-3333-4444-555555555555", "Plaintext": b64(b"x")},
        "NotFoundException",
    ),
    Case(
        "unknown alias",
        KMS + "Encrypt",
        lambda k: {"KeyId": "alias/nope-nope", "Plaintext": b64(b"x")},
        "NotFoundException",
    ),
    Case(
        "disabled key",
        KMS + "Encrypt",
        lambda k: {"KeyId": k["disabled"], "Plaintext": b64(b"x")},
        "DisabledException",
    ),
    Case(
        "pending-deletion key",
        KMS + "Encrypt",
        lambda k: {"KeyId": k["pending"], "Plaintext": b64(b"x")},
        "KMSInvalidStateException",
    ),
    Case(
        "enable pending-deletion key",
        KMS + "EnableKey",
        lambda k: {"KeyId": k["pending"]},
        "KMSInvalidStateException",
    ),
    Case(
        "wrong encryption context",
        KMS + "Decrypt",
        lambda k: {"CiphertextBlob": k["blob_ctx"], "EncryptionContext": {"a": "2"}},
        "InvalidCiphertextException",
    ),
    Case(
        "garbage ciphertext",
        KMS + "Decrypt",
        lambda k: {"CiphertextBlob": b64(b"\x01" * 80)},
        "InvalidCiphertextException",
    ),
    Case(
        "short ciphertext",
        KMS + "Decrypt",
        lambda k: {"CiphertextBlob": b64(b"\x01")},
        "InvalidCiphertextException",
    ),
    Case(
        "deletion window 6",
        KMS + "ScheduleKeyDeletion",
        lambda k: {"KeyId": k["enabled"], "PendingWindowInDays": 6},
        "ValidationException",
    ),
    Case(
        "deletion window 31",
        KMS + "ScheduleKeyDeletion",
        lambda k: {"KeyId": k["enabled"], "PendingWindowInDays": 31},
        "ValidationException",
    ),
    Case(
        "rotation period 89",
        KMS + "EnableKeyRotation",
        lambda k: {"KeyId": k["enabled"], "RotationPeriodInDays": 89},
        "ValidationException",
    ),
    Case(
        "reserved alias",
        KMS + "CreateAlias",
        lambda k: {"AliasName": "alias/aws/x", "TargetKeyId": k["enabled"]},
        "NotAuthorizedException",
    ),
    Case(
        "alias without prefix",
        KMS + "CreateAlias",
        lambda k: {"AliasName": "noprefix", "TargetKeyId": k["enabled"]},
        "ValidationException",
    ),
    Case(
        "malformed key policy",
        KMS + "CreateKey",
        lambda k: {"Policy": "{]"},
        "MalformedPolicyDocumentException",
    ),
    Case(
        "key spec of China Regions only",
        KMS + "CreateKey",
        lambda k: {"KeySpec": "SM2", "KeyUsage": "SIGN_VERIFY"},
        "UnsupportedOperationException",
    ),
    Case(
        "unknown key spec",
        KMS + "CreateKey",
        lambda k: {"KeySpec": "RSA_1024"},
        "ValidationException",
    ),
    Case(
        "reserved tag",
        KMS + "CreateKey",
        lambda k: {"Tags": [{"TagKey": "aws:x", "TagValue": "y"}]},
        "TagException",
    ),
    Case(
        "unknown policy name",
        KMS + "GetKeyPolicy",
        lambda k: {"KeyId": k["enabled"], "PolicyName": "other"},
        "NotFoundException",
    ),
    # --- asymmetric and HMAC keys
    Case(
        "create key with incompatible spec and usage",
        KMS + "CreateKey",
        lambda k: {"KeySpec": "ECC_NIST_P256", "KeyUsage": "ENCRYPT_DECRYPT"},
        "ValidationException",
    ),
    Case(
        "create HMAC key without KeyUsage",
        KMS + "CreateKey",
        lambda k: {"KeySpec": "HMAC_256"},
        "ValidationException",
    ),
    Case(
        "sign without a signing algorithm",
        KMS + "Sign",
        lambda k: {"KeyId": k["ecc_sign"], "Message": b64(b"m")},
        "ValidationException",
    ),
    Case(
        "sign with an unknown signing algorithm",
        KMS + "Sign",
        lambda k: {"KeyId": k["ecc_sign"], "Message": b64(b"m"), "SigningAlgorithm": "MD5"},
        "ValidationException",
    ),
    Case(
        "sign a digest of the wrong length",
        KMS + "Sign",
        lambda k: {
            "KeyId": k["ecc_sign"],
            "Message": b64(b"d" * 31),
            "MessageType": "DIGEST",
            "SigningAlgorithm": "ECDSA_SHA_256",
        },
        "ValidationException",
    ),
    Case(
        "sign with an algorithm of another key spec",
        KMS + "Sign",
        lambda k: {
            "KeyId": k["ecc_sign"],
            "Message": b64(b"m"),
            "SigningAlgorithm": "RSASSA_PSS_SHA_256",
        },
        "InvalidKeyUsageException",
    ),
    Case(
        "verify a wrong signature",
        KMS + "Verify",
        lambda k: {
            "KeyId": k["ecc_sign"],
            "Message": b64(b"m"),
            "Signature": b64(b"\x30" * 70),
            "SigningAlgorithm": "ECDSA_SHA_256",
        },
        "KMSInvalidSignatureException",
    ),
    Case(
        "verify a wrong MAC",
        KMS + "VerifyMac",
        lambda k: {
            "KeyId": k["hmac"],
            "Message": b64(b"m"),
            "Mac": b64(b"\x00" * 32),
            "MacAlgorithm": "HMAC_SHA_256",
        },
        "KMSInvalidMacException",
    ),
    Case(
        "MAC with the algorithm of another key spec",
        KMS + "GenerateMac",
        lambda k: {"KeyId": k["hmac"], "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_384"},
        "InvalidKeyUsageException",
    ),
    Case(
        "public key of a symmetric key",
        KMS + "GetPublicKey",
        lambda k: {"KeyId": k["enabled"]},
        "UnsupportedOperationException",
    ),
    Case(
        "RSA plaintext over the OAEP limit",
        KMS + "Encrypt",
        lambda k: {
            "KeyId": k["rsa_encrypt"],
            "Plaintext": b64(b"x" * 191),
            "EncryptionAlgorithm": "RSAES_OAEP_SHA_256",
        },
        "ValidationException",
    ),
    Case(
        "key agreement with a signing key",
        KMS + "DeriveSharedSecret",
        lambda k: {
            "KeyId": k["ecc_sign"],
            "KeyAgreementAlgorithm": "ECDH",
            "PublicKey": b64(b"not a key"),
        },
        "InvalidKeyUsageException",
    ),
    Case(
        "data key pair under an asymmetric key",
        KMS + "GenerateDataKeyPair",
        lambda k: {"KeyId": k["rsa_encrypt"], "KeyPairSpec": "ECC_NIST_P256"},
        "InvalidKeyUsageException",
    ),
    # --- routing and authentication
    Case("unknown operation", KMS + "FlyToTheMoon", lambda k: {}, "UnknownOperationException"),
    Case("unknown service target", "NoSuchService.Do", lambda k: {}, "UnknownOperationException"),
    Case("no target", None, lambda k: {}, "UnknownOperationException"),
    Case(
        "unknown access key",
        KMS + "ListKeys",
        lambda k: {},
        "UnrecognizedClientException",
        kwargs=lambda k: {"access_key": "AKIAUNKNOWNUNKNOWN00"},
    ),
    Case(
        "wrong secret",
        KMS + "ListKeys",
        lambda k: {},
        "InvalidSignatureException",
        kwargs=lambda k: {"secret_key": "x" * 40},
    ),
    Case(
        "expired signature",
        KMS + "ListKeys",
        lambda k: {},
        "InvalidSignatureException",
        kwargs=lambda k: {"when": _past()},
    ),
    # --- grants (CreateGrant, ListGrants, RetireGrant, RevokeGrant, grant tokens)
    Case(
        "grant with no operations",
        KMS + "CreateGrant",
        lambda k: {"KeyId": k["enabled"], "GranteePrincipal": GRANTEE, "Operations": []},
        "ValidationException",
    ),
    Case(
        "grant of an unknown operation",
        KMS + "CreateGrant",
        lambda k: {"KeyId": k["enabled"], "GranteePrincipal": GRANTEE, "Operations": ["Fly"]},
        "ValidationException",
    ),
    Case(
        "grant Sign on a symmetric key",
        KMS + "CreateGrant",
        lambda k: {"KeyId": k["enabled"], "GranteePrincipal": GRANTEE, "Operations": ["Sign"]},
        "ValidationException",
    ),
    Case(
        "grant with both constraints",
        KMS + "CreateGrant",
        lambda k: {
            "KeyId": k["enabled"],
            "GranteePrincipal": GRANTEE,
            "Operations": ["Encrypt"],
            "Constraints": {
                "EncryptionContextSubset": {"a": "1"},
                "EncryptionContextEquals": {"a": "1"},
            },
        },
        "ValidationException",
    ),
    Case(
        "grant to a malformed principal",
        KMS + "CreateGrant",
        lambda k: {"KeyId": k["enabled"], "GranteePrincipal": "bob", "Operations": ["Encrypt"]},
        "ValidationException",
    ),
    Case(
        "grant without a grantee",
        KMS + "CreateGrant",
        lambda k: {"KeyId": k["enabled"], "Operations": ["Encrypt"]},
        "ValidationException",
    ),
    Case(
        "grant name with a space",
        KMS + "CreateGrant",
        lambda k: {
            "KeyId": k["enabled"],
            "GranteePrincipal": GRANTEE,
            "Operations": ["Encrypt"],
            "Name": "a b",
        },
        "ValidationException",
    ),
    Case(
        "grant on a key pending deletion",
        KMS + "CreateGrant",
        lambda k: {"KeyId": k["pending"], "GranteePrincipal": GRANTEE, "Operations": ["Encrypt"]},
        "KMSInvalidStateException",
    ),
    Case(
        "grant on an unknown key",
        KMS + "CreateGrant",
        lambda k: {
            "KeyId": "00000000-0000-0000-0000-000000000000",
            "GranteePrincipal": GRANTEE,
            "Operations": ["Encrypt"],
        },
        "NotFoundException",
    ),
    Case(
        "grant with a malformed grant token",
        KMS + "CreateGrant",
        lambda k: {
            "KeyId": k["enabled"],
            "GranteePrincipal": GRANTEE,
            "Operations": ["Encrypt"],
            "GrantTokens": ["x"],
        },
        "InvalidGrantTokenException",
    ),
    Case(
        "grant constraint on an HMAC key",
        KMS + "CreateGrant",
        lambda k: {
            "KeyId": k["hmac"],
            "GranteePrincipal": GRANTEE,
            "Operations": ["GenerateMac"],
            "Constraints": {"EncryptionContextSubset": {"a": "1"}},
        },
        "ValidationException",
    ),
    Case(
        "encrypt with a malformed grant token",
        KMS + "Encrypt",
        lambda k: {"KeyId": k["enabled"], "Plaintext": b64(b"x"), "GrantTokens": ["nope"]},
        "InvalidGrantTokenException",
    ),
    Case(
        "eleven grant tokens",
        KMS + "Encrypt",
        lambda k: {"KeyId": k["enabled"], "Plaintext": b64(b"x"), "GrantTokens": ["t"] * 11},
        "ValidationException",
    ),
    Case(
        "list grants with a malformed grant id",
        KMS + "ListGrants",
        lambda k: {"KeyId": k["enabled"], "GrantId": "not-hex"},
        "InvalidGrantIdException",
    ),
    Case(
        "list grants with limit 0",
        KMS + "ListGrants",
        lambda k: {"KeyId": k["enabled"], "Limit": 0},
        "ValidationException",
    ),
    Case(
        "list grants with a foreign marker",
        KMS + "ListGrants",
        lambda k: {"KeyId": k["enabled"], "Marker": "bm9wZQ"},
        "InvalidMarkerException",
    ),
    Case(
        "list retirable grants without a principal",
        KMS + "ListRetirableGrants",
        lambda k: {},
        "ValidationException",
    ),
    Case("retire grant with nothing", KMS + "RetireGrant", lambda k: {}, "ValidationException"),
    Case(
        "retire grant with a malformed token",
        KMS + "RetireGrant",
        lambda k: {"GrantToken": "not-a-token"},
        "InvalidGrantTokenException",
    ),
    Case(
        "retire an unknown grant",
        KMS + "RetireGrant",
        lambda k: {"KeyId": k["enabled"], "GrantId": "a" * 64},
        "NotFoundException",
    ),
    Case(
        "revoke a malformed grant id",
        KMS + "RevokeGrant",
        lambda k: {"KeyId": k["enabled"], "GrantId": "zz"},
        "InvalidGrantIdException",
    ),
    Case(
        "revoke an unknown grant",
        KMS + "RevokeGrant",
        lambda k: {"KeyId": k["enabled"], "GrantId": "b" * 64},
        "NotFoundException",
    ),
    Case(
        "revoke without a grant id",
        KMS + "RevokeGrant",
        lambda k: {"KeyId": k["enabled"]},
        "ValidationException",
    ),
    # --- multi-Region keys
    Case(
        "replicate without a replica region",
        KMS + "ReplicateKey",
        lambda k: {"KeyId": k["mrk"]},
        "ValidationException",
    ),
    Case(
        "replicate to a malformed region",
        KMS + "ReplicateKey",
        lambda k: {"KeyId": k["mrk"], "ReplicaRegion": "Mars"},
        "ValidationException",
    ),
    Case(
        "replicate to a region name too long to keep",
        KMS + "ReplicateKey",
        lambda k: {"KeyId": k["mrk"], "ReplicaRegion": "aaaaaaaaaa-bbbbbbbbbb-cccccc-1"},
        "UnsupportedOperationException",
    ),
    Case(
        "replicate a single-Region key",
        KMS + "ReplicateKey",
        lambda k: {"KeyId": k["enabled"], "ReplicaRegion": "eu-west-1"},
        "UnsupportedOperationException",
    ),
    Case(
        "replicate into the primary's own region",
        KMS + "ReplicateKey",
        lambda k: {"KeyId": k["mrk"], "ReplicaRegion": "us-east-1"},
        "AlreadyExistsException",
    ),
    Case(
        "update the primary region of a single-Region key",
        KMS + "UpdatePrimaryRegion",
        lambda k: {"KeyId": k["enabled"], "PrimaryRegion": "eu-west-1"},
        "UnsupportedOperationException",
    ),
    Case(
        "update the primary region to a region without a replica",
        KMS + "UpdatePrimaryRegion",
        lambda k: {"KeyId": k["mrk"], "PrimaryRegion": "eu-north-1"},
        "NotFoundException",
    ),
    # --- imported key material (test_kms_import.py)
    Case(
        "import parameters for a key with KMS material",
        KMS + "GetParametersForImport",
        lambda k: {
            "KeyId": k["enabled"],
            "WrappingAlgorithm": "RSAES_OAEP_SHA_256",
            "WrappingKeySpec": "RSA_2048",
        },
        "UnsupportedOperationException",
    ),
    Case(
        "wrapping key spec outside the model",
        KMS + "GetParametersForImport",
        lambda k: {
            "KeyId": k["enabled"],
            "WrappingAlgorithm": "RSAES_OAEP_SHA_256",
            "WrappingKeySpec": "RSA_1024",
        },
        "ValidationException",
    ),
    Case(
        "import into a key with KMS material",
        KMS + "ImportKeyMaterial",
        lambda k: {
            "KeyId": k["enabled"],
            "ImportToken": b64(b"token"),
            "EncryptedKeyMaterial": b64(b"material"),
            "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
        },
        "UnsupportedOperationException",
    ),
    Case(
        "key material id that is not one",
        KMS + "ImportKeyMaterial",
        lambda k: {
            "KeyId": k["enabled"],
            "ImportToken": b64(b"token"),
            "EncryptedKeyMaterial": b64(b"material"),
            "KeyMaterialId": "not-hex",
        },
        "ValidationException",
    ),
    Case(
        "delete imported material of an unknown key",
        KMS + "DeleteImportedKeyMaterial",
        lambda k: {"KeyId": "11111111-2222-3333-4444-555555555555"},
        "NotFoundException",
    ),
]


@pytest.fixture(scope="module")
def prepared(server: ServerProcess) -> dict[str, str]:
    kms = server.client()
    keys = {
        "enabled": kms.create_key()["KeyMetadata"]["KeyId"],
        "disabled": kms.create_key()["KeyMetadata"]["KeyId"],
        "pending": kms.create_key()["KeyMetadata"]["KeyId"],
        "mrk": kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"],  # multi-Region
    }
    for name, spec, usage in (
        ("ecc_sign", "ECC_NIST_P256", "SIGN_VERIFY"),
        ("hmac", "HMAC_256", "GENERATE_VERIFY_MAC"),
        ("rsa_encrypt", "RSA_2048", "ENCRYPT_DECRYPT"),
    ):
        keys[name] = kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=keys["disabled"])
    kms.schedule_key_deletion(KeyId=keys["pending"], PendingWindowInDays=7)
    blob = kms.encrypt(KeyId=keys["enabled"], Plaintext=b"x", EncryptionContext={"a": "1"})
    keys["blob_ctx"] = b64(blob["CiphertextBlob"])
    return keys


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_request(server: ServerProcess, prepared: dict[str, str], case: Case) -> None:
    body = case.body(prepared)
    data = body if case.raw else json.dumps(body).encode()
    kwargs = case.kwargs(prepared) if case.kwargs else {}
    r = post(server.endpoint, case.target, data, **kwargs)
    assert r.status_code == case.status, r.text
    payload = r.json()
    assert payload["__type"].rsplit("#", 1)[-1] == case.code, payload
    assert payload.get("message"), payload
    assert "Traceback" not in r.text


def test_unsigned_request(server: ServerProcess) -> None:
    r = requests.post(
        server.endpoint + "/", data=b"{}", headers={"X-Amz-Target": KMS + "ListKeys"}, timeout=10
    )
    assert r.status_code == 400
    assert r.json()["__type"] == "MissingAuthenticationTokenException"


def test_incomplete_signature(server: ServerProcess) -> None:
    r = requests.post(
        server.endpoint + "/",
        data=b"{}",
        headers={
            "X-Amz-Target": KMS + "ListKeys",
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIA/x",
        },
        timeout=10,
    )
    assert r.status_code == 400
    assert r.json()["__type"] == "IncompleteSignatureException"


def test_oversized_body(server: ServerProcess) -> None:
    r = post(server.endpoint, KMS + "ListKeys", b" " * (2 * 1024 * 1024))
    assert r.status_code == 413
    assert r.json()["__type"] == "RequestEntityTooLargeException"


def test_failed_creates_leave_nothing_and_server_stays_healthy(
    server: ServerProcess, prepared: dict[str, str]
) -> None:
    kms = server.client()
    before = len(list(_all_keys(kms)))
    for bad in (
        {"Policy": "{]"},
        {"Tags": [{"TagKey": "aws:x", "TagValue": "y"}]},
        {"KeySpec": "RSA_2048", "KeyUsage": "GENERATE_VERIFY_MAC"},
    ):
        r = post(server.endpoint, KMS + "CreateKey", json.dumps(bad).encode())
        assert r.status_code == 400
    assert len(list(_all_keys(kms))) == before
    assert requests.get(server.endpoint + "/_garrison/health", timeout=5).json()["status"] == "ok"


def _all_keys(kms: Any) -> Any:
    for page in kms.get_paginator("list_keys").paginate():
        yield from page["Keys"]


def test_session_token_on_a_long_term_key_is_refused(server: ServerProcess) -> None:
    r = post(
        server.endpoint,
        KMS + "ListKeys",
        b"{}",
        extra_headers={"X-Amz-Security-Token": "FwoGZXIvYXdzEXAMPLE"},
    )
    assert r.status_code == 400
    assert r.json()["__type"] == "UnrecognizedClientException"


def test_credential_scoped_to_another_service_is_refused(server: ServerProcess) -> None:
    r = post(server.endpoint, KMS + "ListKeys", b"{}", service="s3")
    assert r.status_code == 400
    body = r.json()
    assert body["__type"] == "InvalidSignatureException"
    assert "'kms'" in body["message"]


def test_forwarded_for_header_does_not_spoof_the_source_ip(server: ServerProcess) -> None:
    kms = server.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    r = post(
        server.endpoint,
        KMS + "DescribeKey",
        json.dumps({"KeyId": key_id}).encode(),
        extra_headers={"X-Forwarded-For": "203.0.113.7"},
    )
    assert r.status_code == 200
    events = server.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "DescribeKey"}]
    )["Events"]
    body = json.loads(next(e for e in events if key_id in e["CloudTrailEvent"])["CloudTrailEvent"])
    assert body["sourceIPAddress"] == "127.0.0.1"


def test_clock_cannot_leave_the_representable_range(sqlite_server: ServerProcess) -> None:
    r = sqlite_server.post("/_garrison/clock", {"advance_seconds": 1e12})
    assert r.status_code == 400
    assert requests.get(sqlite_server.endpoint + "/_garrison/health", timeout=5).status_code == 200

"""Imported key material (Origin EXTERNAL), driven with boto3 as a user would.

The material is wrapped client-side with `cryptography` under the public key
GetParametersForImport returns, by each of KMS's wrapping algorithms; then
Encrypt/Decrypt round trips, deletion and re-import, refusal of different
material and of bad tokens, and expiry at ValidTo run by the scheduler.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from tests.conftest import ServerProcess

_HASH = {"SHA_1": hashes.SHA1, "SHA_256": hashes.SHA256}


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def wrap(public_der: bytes, algorithm: str, material: bytes) -> bytes:
    """Wrap `material` as the KMS developer guide tells users to (OpenSSL's equivalent)."""
    public = serialization.load_der_public_key(public_der)
    assert isinstance(public, rsa.RSAPublicKey)
    chosen = _HASH[algorithm.rsplit("_", 2)[-2] + "_" + algorithm.rsplit("_", 1)[-1]]()
    oaep = padding.OAEP(mgf=padding.MGF1(chosen), algorithm=chosen, label=None)
    if algorithm.startswith("RSAES_OAEP"):
        return public.encrypt(material, oaep)
    aes_key = os.urandom(32)
    return public.encrypt(aes_key, oaep) + aes_key_wrap_with_padding(aes_key, material)


def import_material(
    kms: Any,
    key_id: str,
    material: bytes,
    *,
    algorithm: str = "RSAES_OAEP_SHA_256",
    spec: str = "RSA_2048",
    **extra: Any,
) -> dict[str, Any]:
    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=spec
    )
    if "ValidTo" not in extra:  # with a ValidTo, AWS's default model (it expires) applies
        extra.setdefault("ExpirationModel", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    result: dict[str, Any] = kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], algorithm, material),
        **extra,
    )
    return result


def external_key(kms: Any) -> str:
    metadata = kms.create_key(Origin="EXTERNAL", Description="imported")["KeyMetadata"]
    assert metadata["Origin"] == "EXTERNAL"
    assert metadata["KeyState"] == "PendingImport"
    assert metadata["Enabled"] is False
    assert "CurrentKeyMaterialId" not in metadata
    return str(metadata["KeyId"])


@pytest.mark.parametrize(
    ("algorithm", "spec"),
    [
        ("RSAES_OAEP_SHA_1", "RSA_2048"),
        ("RSAES_OAEP_SHA_256", "RSA_3072"),
        ("RSA_AES_KEY_WRAP_SHA_1", "RSA_2048"),
        ("RSA_AES_KEY_WRAP_SHA_256", "RSA_4096"),
    ],
)
def test_import_then_encrypt_decrypt(kms: Any, algorithm: str, spec: str) -> None:
    key_id = external_key(kms)
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key_id, Plaintext=b"too early")
    assert code(exc) == "KMSInvalidStateException"

    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=spec
    )
    public = serialization.load_der_public_key(params["PublicKey"])
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == int(spec.split("_")[1])
    assert params["KeyId"].endswith(key_id)
    hours = (params["ParametersValidTo"] - datetime.now(UTC)) / timedelta(hours=1)
    assert 23 < hours <= 24.1  # the dev clock may be ahead of the wall clock
    material = os.urandom(32)
    result = kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], algorithm, material),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        KeyMaterialDescription="from the HSM",
    )
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert metadata["KeyState"] == "Enabled"
    assert metadata["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    assert "ValidTo" not in metadata
    assert metadata["CurrentKeyMaterialId"] == result["KeyMaterialId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"


def test_delete_and_reimport_same_material_restores_ciphertexts(kms: Any) -> None:
    key_id = external_key(kms)
    material = os.urandom(32)
    first = import_material(kms, key_id, material)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"kept")["CiphertextBlob"]

    deleted = kms.delete_imported_key_material(KeyId=key_id)
    assert deleted["KeyMaterialId"] == first["KeyMaterialId"]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob)
    assert code(exc) == "KMSInvalidStateException"
    with pytest.raises(ClientError) as exc:
        kms.enable_key(KeyId=key_id)
    assert code(exc) == "KMSInvalidStateException"

    with pytest.raises(ClientError) as exc:
        import_material(kms, key_id, os.urandom(32))
    assert code(exc) == "IncorrectKeyMaterialException"

    again = import_material(
        kms,
        key_id,
        material,
        algorithm="RSA_AES_KEY_WRAP_SHA_256",
        ImportType="EXISTING_KEY_MATERIAL",
        KeyMaterialId=first["KeyMaterialId"],
    )
    assert again["KeyMaterialId"] == first["KeyMaterialId"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"
    [entry] = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")[
        "Rotations"
    ]
    assert entry["KeyMaterialId"] == first["KeyMaterialId"]
    assert entry["ImportState"] == "IMPORTED"
    assert entry["KeyMaterialState"] == "CURRENT"
    assert entry["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    # a different key gets a different id for the same material
    other = external_key(kms)
    assert import_material(kms, other, material)["KeyMaterialId"] != first["KeyMaterialId"]


def test_import_token_checks(kms: Any) -> None:
    key_id = external_key(kms)
    other = external_key(kms)
    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    wrapped = wrap(params["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(32))
    cases = [
        (other, params["ImportToken"], wrapped, "InvalidImportTokenException"),
        (key_id, b"not a token", wrapped, "InvalidImportTokenException"),
        (key_id, params["ImportToken"], b"\x00" * 256, "InvalidCiphertextException"),
        (
            key_id,
            params["ImportToken"],
            wrap(params["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(16)),
            "IncorrectKeyMaterialException",
        ),
    ]
    for target, token, blob, expected in cases:
        with pytest.raises(ClientError) as exc:
            kms.import_key_material(
                KeyId=target,
                ImportToken=token,
                EncryptedKeyMaterial=blob,
                ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
            )
        assert code(exc) == expected, expected
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"


def test_refusals(kms: Any) -> None:
    generated = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as exc:
        kms.get_parameters_for_import(
            KeyId=generated, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
        )
    assert code(exc) == "UnsupportedOperationException"
    with pytest.raises(ClientError) as exc:
        kms.delete_imported_key_material(KeyId=generated)
    assert code(exc) == "UnsupportedOperationException"
    key_id = external_key(kms)
    with pytest.raises(ClientError) as exc:
        kms.get_parameters_for_import(
            KeyId=key_id, WrappingAlgorithm="RSAES_PKCS1_V1_5", WrappingKeySpec="RSA_2048"
        )
    assert code(exc) == "UnsupportedOperationException"
    material = os.urandom(32)
    now = datetime.now(UTC)
    for extra in (
        {"ExpirationModel": "KEY_MATERIAL_EXPIRES"},  # without ValidTo
        {"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE", "ValidTo": now + timedelta(days=1)},
        {"ExpirationModel": "KEY_MATERIAL_EXPIRES", "ValidTo": now + timedelta(days=400)},
        {"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE", "ImportType": "EXISTING_KEY_MATERIAL"},
    ):
        with pytest.raises(ClientError) as exc:
            import_material(kms, key_id, material, **extra)
        assert code(exc) == "ValidationException", extra
    import_material(kms, key_id, material)
    with pytest.raises(ClientError) as exc:  # the same material is not new
        import_material(kms, key_id, material, ImportType="NEW_KEY_MATERIAL")
    assert code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:  # imported material rotates on demand only
        kms.enable_key_rotation(KeyId=key_id)
    assert code(exc) == "UnsupportedOperationException"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_material_expires_at_valid_to(fresh_server_factory: Any, backend: str) -> None:
    server: ServerProcess = fresh_server_factory(backend).start()
    kms = server.client()
    key_id = external_key(kms)
    material = os.urandom(32)
    valid_to = datetime.now(UTC) + timedelta(days=2)
    import_material(kms, key_id, material, ValidTo=valid_to)  # KEY_MATERIAL_EXPIRES by default
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert metadata["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert abs((metadata["ValidTo"] - valid_to).total_seconds()) < 1
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"short-lived")["CiphertextBlob"]
    stale = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_1", WrappingKeySpec="RSA_2048"
    )

    server.advance(86400)
    server.run_scheduler()
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    server.advance(86400 + 60)
    server.run_scheduler()
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert metadata["KeyState"] == "PendingImport"
    assert "ValidTo" not in metadata
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob)
    assert code(exc) == "KMSInvalidStateException"
    events = server.client("cloudtrail").lookup_events(
        LookupAttributes=[
            {"AttributeKey": "EventName", "AttributeValue": "DeleteExpiredKeyMaterial"}
        ]
    )["Events"]
    assert [e["Resources"][0]["ResourceName"] for e in events] == [metadata["Arn"]]
    # the wrapped material and the import token never reach the trail
    [imported] = server.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ImportKeyMaterial"}]
    )["Events"]
    assert "encryptedKeyMaterial" not in imported["CloudTrailEvent"]
    assert "importToken" not in imported["CloudTrailEvent"]

    with pytest.raises(ClientError) as exc:  # its 24 hours are over
        kms.import_key_material(
            KeyId=key_id,
            ImportToken=stale["ImportToken"],
            EncryptedKeyMaterial=wrap(stale["PublicKey"], "RSAES_OAEP_SHA_1", material),
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        )
    assert code(exc) == "ExpiredImportTokenException"
    import_material(kms, key_id, material)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"short-lived"
    # the scheduler leaves material that does not expire alone
    server.advance(400 * 86400)
    server.run_scheduler()
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"

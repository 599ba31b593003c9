"""Imported asymmetric and HMAC key material, driven with boto3 as a user would.

Each key is generated outside Garrison with `cryptography`, wrapped under the
public key GetParametersForImport returns and imported into an Origin EXTERNAL
KMS key; then the test proves the KMS key IS that key: its signatures verify
under the outside public key, GetPublicKey returns it, an outside RSA-OAEP
ciphertext decrypts, ECDH agrees on the outside shared secret, GenerateMac
equals the outside HMAC. Then the refusals: wrong key size, curve or length,
garbage, a wrapping that cannot carry the material, different material on
re-import.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

_HASH = {"SHA_1": hashes.SHA1, "SHA_256": hashes.SHA256}
_CURVES: dict[str, Callable[[], ec.EllipticCurve]] = {
    "ECC_NIST_P256": ec.SECP256R1,
    "ECC_NIST_P384": ec.SECP384R1,
    "ECC_NIST_P521": ec.SECP521R1,
    "ECC_SECG_P256K1": ec.SECP256K1,
}
_HMAC = {"HMAC_224": 28, "HMAC_256": 32, "HMAC_384": 48, "HMAC_512": 64}


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


def pkcs8(private: Any) -> bytes:
    der: bytes = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return der


def spki(private: Any) -> bytes:
    der: bytes = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def external_key(kms: Any, spec: str, usage: str) -> str:
    metadata = kms.create_key(Origin="EXTERNAL", KeySpec=spec, KeyUsage=usage)["KeyMetadata"]
    assert (metadata["Origin"], metadata["KeyState"]) == ("EXTERNAL", "PendingImport")
    assert (metadata["KeySpec"], metadata["KeyUsage"]) == (spec, usage)
    return str(metadata["KeyId"])


def import_material(
    kms: Any,
    key_id: str,
    material: bytes,
    *,
    algorithm: str = "RSA_AES_KEY_WRAP_SHA_256",
    wrapping_spec: str = "RSA_3072",
) -> dict[str, Any]:
    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=wrapping_spec
    )
    result: dict[str, Any] = kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], algorithm, material),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    return result


def state(kms: Any, key_id: str) -> str:
    return str(kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"])


def new_ec(spec: str) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(_CURVES[spec]())


# -- the imported key is the outside key ------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "algorithm", "wrapping_spec", "signing"),
    [
        ("RSA_2048", "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048", "RSASSA_PSS_SHA_256"),
        ("RSA_4096", "RSA_AES_KEY_WRAP_SHA_1", "RSA_3072", "RSASSA_PKCS1_V1_5_SHA_512"),
        ("ECC_NIST_P256", "RSAES_OAEP_SHA_256", "RSA_2048", "ECDSA_SHA_256"),
        ("ECC_NIST_P521", "RSAES_OAEP_SHA_256", "RSA_3072", "ECDSA_SHA_512"),
        ("ECC_SECG_P256K1", "RSA_AES_KEY_WRAP_SHA_256", "RSA_4096", "ECDSA_SHA_256"),
    ],
)
def test_imported_signing_key_signs_as_the_outside_key(
    kms: Any, spec: str, algorithm: str, wrapping_spec: str, signing: str
) -> None:
    private: Any = (
        rsa.generate_private_key(public_exponent=65537, key_size=int(spec.split("_")[1]))
        if spec.startswith("RSA_")
        else new_ec(spec)
    )
    key_id = external_key(kms, spec, "SIGN_VERIFY")
    import_material(kms, key_id, pkcs8(private), algorithm=algorithm, wrapping_spec=wrapping_spec)
    assert state(kms, key_id) == "Enabled"

    public = kms.get_public_key(KeyId=key_id)
    assert public["PublicKey"] == spki(private)
    assert public["KeySpec"] == spec and signing in public["SigningAlgorithms"]
    message = b"signed inside, verified outside"
    signature = kms.sign(KeyId=key_id, Message=message, SigningAlgorithm=signing)["Signature"]
    chosen = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}[signing[-3:]]()
    outside = private.public_key()
    if signing.startswith("ECDSA_"):
        outside.verify(signature, message, ec.ECDSA(chosen))  # raises if it is not the key
    elif signing.startswith("RSASSA_PSS_"):
        pss = padding.PSS(mgf=padding.MGF1(chosen), salt_length=chosen.digest_size)
        outside.verify(signature, message, pss, chosen)
    else:
        outside.verify(signature, message, padding.PKCS1v15(), chosen)
    # and the other way round: an outside signature verifies in Garrison
    if signing.startswith("ECDSA_"):
        theirs = private.sign(message, ec.ECDSA(chosen))
        verified = kms.verify(
            KeyId=key_id, Message=message, Signature=theirs, SigningAlgorithm=signing
        )
        assert verified["SignatureValid"] is True


def test_imported_rsa_key_decrypts_outside_ciphertexts(kms: Any) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    key_id = external_key(kms, "RSA_3072", "ENCRYPT_DECRYPT")
    import_material(kms, key_id, pkcs8(private), algorithm="RSA_AES_KEY_WRAP_SHA_1")
    assert kms.get_public_key(KeyId=key_id)["PublicKey"] == spki(private)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    blob = private.public_key().encrypt(b"encrypted outside", oaep)
    plain = kms.decrypt(KeyId=key_id, CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert plain["Plaintext"] == b"encrypted outside"
    # and Garrison's ciphertexts open outside
    inside = kms.encrypt(
        KeyId=key_id, Plaintext=b"encrypted inside", EncryptionAlgorithm="RSAES_OAEP_SHA_256"
    )["CiphertextBlob"]
    assert private.decrypt(inside, oaep) == b"encrypted inside"


@pytest.mark.parametrize(
    ("spec", "algorithm", "wrapping_spec"),
    [
        ("ECC_NIST_P384", "RSAES_OAEP_SHA_1", "RSA_3072"),
        ("ECC_NIST_P256", "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048"),
    ],
)
def test_imported_key_agreement_key_derives_the_outside_secret(
    kms: Any, spec: str, algorithm: str, wrapping_spec: str
) -> None:
    private = new_ec(spec)
    peer = new_ec(spec)
    key_id = external_key(kms, spec, "KEY_AGREEMENT")
    import_material(kms, key_id, pkcs8(private), algorithm=algorithm, wrapping_spec=wrapping_spec)
    assert kms.get_public_key(KeyId=key_id)["PublicKey"] == spki(private)
    derived = kms.derive_shared_secret(
        KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=spki(peer)
    )
    assert derived["SharedSecret"] == peer.exchange(ec.ECDH(), private.public_key())


@pytest.mark.parametrize("spec", sorted(_HMAC))
def test_imported_hmac_key_macs_as_the_outside_key(kms: Any, spec: str) -> None:
    material = os.urandom(_HMAC[spec])
    key_id = external_key(kms, spec, "GENERATE_VERIFY_MAC")
    import_material(kms, key_id, material, algorithm="RSAES_OAEP_SHA_256", wrapping_spec="RSA_2048")
    algorithm = "HMAC_SHA_" + spec.split("_")[1]
    digest = getattr(hashlib, "sha" + spec.split("_")[1])
    message = b"authenticated inside and out"
    mac = kms.generate_mac(KeyId=key_id, Message=message, MacAlgorithm=algorithm)["Mac"]
    assert mac == hmac.new(material, message, digest).digest()
    outside = hmac.new(material, b"other", digest).digest()
    verified = kms.verify_mac(KeyId=key_id, Message=b"other", Mac=outside, MacAlgorithm=algorithm)
    assert verified["MacValid"] is True


# -- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "usage"),
    [
        ("ECC_NIST_EDWARDS25519", "SIGN_VERIFY"),
        ("ML_DSA_44", "SIGN_VERIFY"),
        ("ML_DSA_87", "SIGN_VERIFY"),
    ],
)
def test_key_specs_aws_cannot_import_are_refused(kms: Any, spec: str, usage: str) -> None:
    with pytest.raises(ClientError) as exc:
        kms.create_key(Origin="EXTERNAL", KeySpec=spec, KeyUsage=usage)
    assert code(exc) == "UnsupportedOperationException"
    assert spec in exc.value.response["Error"]["Message"]


def test_wrapping_that_cannot_carry_the_material_is_refused(kms: Any) -> None:
    rsa_key = external_key(kms, "RSA_2048", "SIGN_VERIFY")
    for algorithm in ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"):
        with pytest.raises(ClientError) as exc:
            kms.get_parameters_for_import(
                KeyId=rsa_key, WrappingAlgorithm=algorithm, WrappingKeySpec="RSA_4096"
            )
        assert code(exc) == "UnsupportedOperationException"
        assert "RSA_AES_KEY_WRAP" in exc.value.response["Error"]["Message"]
    p521 = external_key(kms, "ECC_NIST_P521", "SIGN_VERIFY")
    with pytest.raises(ClientError) as exc:
        kms.get_parameters_for_import(
            KeyId=p521, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
        )
    assert code(exc) == "UnsupportedOperationException"
    # a longer wrapping key, or AES key wrap, carries it
    for algorithm, wrapping_spec in (
        ("RSAES_OAEP_SHA_256", "RSA_3072"),
        ("RSA_AES_KEY_WRAP_SHA_256", "RSA_2048"),
    ):
        kms.get_parameters_for_import(
            KeyId=p521, WrappingAlgorithm=algorithm, WrappingKeySpec=wrapping_spec
        )
    assert state(kms, rsa_key) == state(kms, p521) == "PendingImport"


def _wrong_material() -> list[tuple[str, str, bytes]]:
    rsa_2048 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pkcs1 = rsa_2048.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return [
        ("RSA_3072", "SIGN_VERIFY", pkcs8(rsa_2048)),  # wrong RSA size
        ("RSA_2048", "SIGN_VERIFY", pkcs1),  # PKCS #1, not PKCS #8
        ("RSA_2048", "ENCRYPT_DECRYPT", pkcs8(new_ec("ECC_NIST_P256"))),  # not RSA
        ("ECC_NIST_P256", "SIGN_VERIFY", pkcs8(new_ec("ECC_NIST_P384"))),  # wrong curve
        ("ECC_NIST_P256", "SIGN_VERIFY", pkcs8(new_ec("ECC_SECG_P256K1"))),  # wrong curve
        ("ECC_NIST_P384", "KEY_AGREEMENT", os.urandom(48)),  # garbage
        ("ECC_SECG_P256K1", "SIGN_VERIFY", pkcs8(rsa_2048)),  # not ECC
        ("HMAC_256", "GENERATE_VERIFY_MAC", os.urandom(31)),  # too short
        ("HMAC_256", "GENERATE_VERIFY_MAC", os.urandom(64)),  # too long
        ("HMAC_512", "GENERATE_VERIFY_MAC", os.urandom(32)),
    ]


def test_material_of_the_wrong_kind_is_incorrect_key_material(kms: Any) -> None:
    for spec, usage, material in _wrong_material():
        key_id = external_key(kms, spec, usage)
        with pytest.raises(ClientError) as exc:
            import_material(kms, key_id, material)
        assert code(exc) == "IncorrectKeyMaterialException", spec
        message = exc.value.response["Error"]["Message"]
        assert spec in message or "bytes" in message
        assert material.hex()[:16] not in message  # the material is never echoed
        assert state(kms, key_id) == "PendingImport"


def test_reimport_after_delete_restores_only_the_same_key(kms: Any) -> None:
    private = new_ec("ECC_NIST_P256")
    key_id = external_key(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    import_material(kms, key_id, pkcs8(private))
    message = b"before the deletion"
    signature = kms.sign(KeyId=key_id, Message=message, SigningAlgorithm="ECDSA_SHA_256")

    kms.delete_imported_key_material(KeyId=key_id)
    assert state(kms, key_id) == "PendingImport"
    with pytest.raises(ClientError) as exc:
        kms.sign(KeyId=key_id, Message=message, SigningAlgorithm="ECDSA_SHA_256")
    assert code(exc) == "KMSInvalidStateException"
    with pytest.raises(ClientError) as exc:
        kms.get_public_key(KeyId=key_id)
    assert code(exc) == "KMSInvalidStateException"
    with pytest.raises(ClientError) as exc:
        import_material(kms, key_id, pkcs8(new_ec("ECC_NIST_P256")))
    assert code(exc) == "IncorrectKeyMaterialException"
    assert state(kms, key_id) == "PendingImport"

    import_material(kms, key_id, pkcs8(private), algorithm="RSAES_OAEP_SHA_1")
    assert state(kms, key_id) == "Enabled"
    assert kms.get_public_key(KeyId=key_id)["PublicKey"] == spki(private)
    verified = kms.verify(
        KeyId=key_id,
        Message=message,
        Signature=signature["Signature"],
        SigningAlgorithm="ECDSA_SHA_256",
    )
    assert verified["SignatureValid"] is True


def test_reimport_recognises_the_same_rsa_key_in_another_encoding(kms: Any) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_id = external_key(kms, "RSA_2048", "SIGN_VERIFY")
    import_material(kms, key_id, pkcs8(private))
    kms.delete_imported_key_material(KeyId=key_id)
    # the same key with d modulo phi(n) instead of lambda(n) and p, q swapped
    n = private.private_numbers()
    d = pow(n.public_numbers.e, -1, (n.p - 1) * (n.q - 1))
    same = rsa.RSAPrivateNumbers(
        p=n.q, q=n.p, d=d, dmp1=rsa.rsa_crt_dmp1(d, n.q), dmq1=rsa.rsa_crt_dmq1(d, n.p),
        iqmp=rsa.rsa_crt_iqmp(n.q, n.p), public_numbers=n.public_numbers,
    ).private_key()  # fmt: skip
    assert pkcs8(same) != pkcs8(private)
    import_material(kms, key_id, pkcs8(same))
    assert state(kms, key_id) == "Enabled"
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kms.delete_imported_key_material(KeyId=key_id)
    with pytest.raises(ClientError) as exc:
        import_material(kms, key_id, pkcs8(other))
    assert code(exc) == "IncorrectKeyMaterialException"


def test_reimported_hmac_key_gives_the_same_macs(kms: Any) -> None:
    material = os.urandom(48)
    key_id = external_key(kms, "HMAC_384", "GENERATE_VERIFY_MAC")
    import_material(kms, key_id, material)
    before = kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_384")["Mac"]
    kms.delete_imported_key_material(KeyId=key_id)
    with pytest.raises(ClientError) as exc:
        kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_384")
    assert code(exc) == "KMSInvalidStateException"
    with pytest.raises(ClientError) as exc:
        import_material(kms, key_id, os.urandom(48))
    assert code(exc) == "IncorrectKeyMaterialException"
    import_material(kms, key_id, material, algorithm="RSAES_OAEP_SHA_256")
    after = kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_384")["Mac"]
    assert after == before == hmac.new(material, b"m", hashlib.sha384).digest()

"""Asymmetric and HMAC KMS keys over HTTP with boto3: creation, GetPublicKey,
Sign/Verify, RSA Encrypt/Decrypt, GenerateMac/VerifyMac, data key pairs and ECDH.

Interoperability is checked against an independent implementation: signatures
verify with `cryptography` and the `openssl` CLI against the DER public key,
RSA ciphertexts made outside decrypt inside, shared secrets match.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, rsa

from tests.conftest import ServerProcess


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def create(kms: Any, spec: str, usage: str) -> dict[str, Any]:
    meta: dict[str, Any] = kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]
    return meta


RSA_SIGNING = [
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
]
HASHES: dict[str, Any] = {
    "SHA_256": hashes.SHA256,
    "SHA_384": hashes.SHA384,
    "SHA_512": hashes.SHA512,
}


def _hash_of(algorithm: str) -> Any:
    return HASHES["SHA_" + algorithm.rsplit("_", 1)[1]]()


def verify_outside(public_der: bytes, algorithm: str, message: bytes, signature: bytes) -> None:
    """Raises InvalidSignature unless `signature` is valid (pyca/cryptography, not Garrison)."""
    key = serialization.load_der_public_key(public_der)
    if isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(signature, message)
    elif isinstance(key, rsa.RSAPublicKey):
        chosen = _hash_of(algorithm)
        pad: padding.AsymmetricPadding = (
            padding.PSS(mgf=padding.MGF1(chosen), salt_length=chosen.digest_size)
            if "PSS" in algorithm
            else padding.PKCS1v15()
        )
        key.verify(signature, message, pad, chosen)
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(signature, message, ec.ECDSA(_hash_of(algorithm)))


# -- 1. signing keys ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "algorithms"),
    [
        ("RSA_2048", RSA_SIGNING),
        ("ECC_NIST_P256", ["ECDSA_SHA_256"]),
        ("ECC_NIST_P384", ["ECDSA_SHA_384"]),
        ("ECC_NIST_P521", ["ECDSA_SHA_512"]),
        ("ECC_SECG_P256K1", ["ECDSA_SHA_256"]),
        ("ECC_NIST_EDWARDS25519", ["ED25519_SHA_512"]),
    ],
)
def test_sign_verify_interoperates(kms: Any, spec: str, algorithms: list[str]) -> None:
    key = create(kms, spec, "SIGN_VERIFY")
    assert key["KeySpec"] == spec and key["KeyUsage"] == "SIGN_VERIFY"
    assert "EncryptionAlgorithms" not in key
    described = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert set(algorithms) <= set(described["SigningAlgorithms"])
    public = kms.get_public_key(KeyId=key["KeyId"])
    assert public["KeySpec"] == spec and public["KeyUsage"] == "SIGN_VERIFY"
    assert public["SigningAlgorithms"] == described["SigningAlgorithms"]
    assert public["KeyId"] == key["Arn"]
    message = b"the message, signed by Garrison"
    for algorithm in algorithms:
        signed = kms.sign(KeyId=key["KeyId"], Message=message, SigningAlgorithm=algorithm)
        assert signed["SigningAlgorithm"] == algorithm and signed["KeyId"] == key["Arn"]
        verify_outside(public["PublicKey"], algorithm, message, signed["Signature"])
        ok = kms.verify(
            KeyId=key["KeyId"],
            Message=message,
            Signature=signed["Signature"],
            SigningAlgorithm=algorithm,
        )
        assert ok["SignatureValid"] is True
        with pytest.raises(ClientError) as exc:
            kms.verify(
                KeyId=key["KeyId"],
                Message=message + b"!",
                Signature=signed["Signature"],
                SigningAlgorithm=algorithm,
            )
        assert code(exc) == "KMSInvalidSignatureException"


@pytest.mark.parametrize(
    ("spec", "algorithm", "hash_name"),
    [
        ("RSA_3072", "RSASSA_PSS_SHA_384", "sha384"),
        ("ECC_NIST_P256", "ECDSA_SHA_256", "sha256"),
        ("ECC_NIST_P521", "ECDSA_SHA_512", "sha512"),
    ],
)
def test_sign_a_digest(kms: Any, spec: str, algorithm: str, hash_name: str) -> None:
    key = create(kms, spec, "SIGN_VERIFY")
    message = b"a large document, hashed by the caller"
    digest = hashlib.new(hash_name, message).digest()
    signed = kms.sign(
        KeyId=key["KeyId"], Message=digest, MessageType="DIGEST", SigningAlgorithm=algorithm
    )["Signature"]
    # a signature over the digest is a signature over the message
    public = kms.get_public_key(KeyId=key["KeyId"])["PublicKey"]
    verify_outside(public, algorithm, message, signed)
    assert kms.verify(
        KeyId=key["KeyId"],
        Message=message,
        MessageType="RAW",
        Signature=signed,
        SigningAlgorithm=algorithm,
    )["SignatureValid"]
    with pytest.raises(ClientError) as exc:
        kms.sign(
            KeyId=key["KeyId"],
            Message=digest[:-1],
            MessageType="DIGEST",
            SigningAlgorithm=algorithm,
        )
    assert code(exc) == "ValidationException"


def test_signature_made_outside_verifies_inside_is_not_possible_without_key(kms: Any) -> None:
    """A signature by another key (same curve) is refused: the key is the key's own."""
    key = create(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    other = ec.generate_private_key(ec.SECP256R1())
    forged = other.sign(b"m", ec.ECDSA(hashes.SHA256()))
    with pytest.raises(ClientError) as exc:
        kms.verify(
            KeyId=key["KeyId"], Message=b"m", Signature=forged, SigningAlgorithm="ECDSA_SHA_256"
        )
    assert code(exc) == "KMSInvalidSignatureException"


def test_wrong_algorithm_usage_and_message_type(kms: Any) -> None:
    ecc = create(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    ed = create(kms, "ECC_NIST_EDWARDS25519", "SIGN_VERIFY")
    symmetric = kms.create_key()["KeyMetadata"]
    usage = "InvalidKeyUsageException"
    cases = [
        (dict(KeyId=ecc["KeyId"], SigningAlgorithm="ECDSA_SHA_384"), usage),
        (dict(KeyId=ecc["KeyId"], SigningAlgorithm="RSASSA_PSS_SHA_256"), usage),
        (dict(KeyId=symmetric["KeyId"], SigningAlgorithm="ECDSA_SHA_256"), usage),
        (
            dict(KeyId=ed["KeyId"], SigningAlgorithm="ED25519_SHA_512", MessageType="DIGEST"),
            "ValidationException",
        ),
        (dict(KeyId=ecc["KeyId"], SigningAlgorithm="SIGNING_WITH_A_TYPO"), "ValidationException"),
    ]
    for request, expected in cases:
        with pytest.raises(ClientError) as exc:
            kms.sign(Message=b"m" * 32, **request)
        assert code(exc) == expected, request
    # a signing key neither encrypts nor shows data keys, and a symmetric key has no public key
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=ecc["KeyId"], Plaintext=b"p", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert code(exc) == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as exc:
        kms.generate_data_key(KeyId=ecc["KeyId"], KeySpec="AES_256")
    assert code(exc) == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as exc:
        kms.get_public_key(KeyId=symmetric["KeyId"])
    assert code(exc) == "UnsupportedOperationException"


def test_create_key_refuses_incompatible_spec_and_usage(kms: Any) -> None:
    for spec, usage in [
        ("ECC_NIST_P256", "ENCRYPT_DECRYPT"),
        ("ECC_SECG_P256K1", "KEY_AGREEMENT"),
        ("HMAC_256", "SIGN_VERIFY"),
        ("SYMMETRIC_DEFAULT", "SIGN_VERIFY"),
        ("RSA_2048", "GENERATE_VERIFY_MAC"),
    ]:
        with pytest.raises(ClientError) as exc:
            kms.create_key(KeySpec=spec, KeyUsage=usage)
        assert code(exc) == "ValidationException", (spec, usage)
    with pytest.raises(ClientError) as exc:
        kms.create_key(KeySpec="HMAC_256")  # KeyUsage defaults to ENCRYPT_DECRYPT
    assert code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        kms.create_key(KeySpec="SM2", KeyUsage="SIGN_VERIFY")
    assert code(exc) == "UnsupportedOperationException"


def test_disabled_key_does_not_sign(kms: Any) -> None:
    key = create(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as exc:
        kms.sign(KeyId=key["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    assert code(exc) == "DisabledException"
    with pytest.raises(ClientError) as exc:
        kms.get_public_key(KeyId=key["KeyId"])
    assert code(exc) == "DisabledException"


def test_dry_run_signs_nothing(kms: Any) -> None:
    key = create(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    with pytest.raises(ClientError) as exc:
        kms.sign(KeyId=key["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256", DryRun=True)
    assert code(exc) == "DryRunOperationException"


@pytest.mark.parametrize(
    ("spec", "algorithm", "digest"),
    [
        ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256", "-sha256"),
        ("ECC_NIST_P384", "ECDSA_SHA_384", "-sha384"),
    ],
)
def test_openssl_verifies_signatures(
    kms: Any, tmp_path: Path, spec: str, algorithm: str, digest: str
) -> None:
    key = create(kms, spec, "SIGN_VERIFY")
    message = b"verified by openssl dgst\n"
    signature = kms.sign(KeyId=key["KeyId"], Message=message, SigningAlgorithm=algorithm)
    (tmp_path / "pub.der").write_bytes(kms.get_public_key(KeyId=key["KeyId"])["PublicKey"])
    (tmp_path / "msg").write_bytes(message)
    (tmp_path / "sig").write_bytes(signature["Signature"])

    def openssl_verify(msg: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["openssl", "dgst", digest, "-verify", "pub.der", "-keyform", "DER",
             "-signature", "sig", msg],
            cwd=tmp_path, capture_output=True, timeout=30,
        )  # fmt: skip

    assert openssl_verify("msg").returncode == 0
    (tmp_path / "other").write_bytes(message + b"x")
    assert openssl_verify("other").returncode != 0


@pytest.mark.parametrize(
    ("spec", "public_type"),
    [
        ("ML_DSA_44", mldsa.MLDSA44PublicKey),
        ("ML_DSA_65", mldsa.MLDSA65PublicKey),
        ("ML_DSA_87", mldsa.MLDSA87PublicKey),
    ],
)
def test_ml_dsa_sign_verify_interoperates(kms: Any, spec: str, public_type: Any) -> None:
    key = create(kms, spec, "SIGN_VERIFY")
    assert key["SigningAlgorithms"] == ["ML_DSA_SHAKE_256"]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key["KeyId"])["PublicKey"])
    assert isinstance(public, public_type)
    message = b"post-quantum" * 300  # 3,600 bytes, under the 4,096-byte limit
    signature = kms.sign(KeyId=key["KeyId"], Message=message, SigningAlgorithm="ML_DSA_SHAKE_256")[
        "Signature"
    ]
    public.verify(signature, message)  # FIPS 204 pure ML-DSA, empty context
    assert kms.verify(
        KeyId=key["KeyId"],
        Message=message,
        Signature=signature,
        SigningAlgorithm="ML_DSA_SHAKE_256",
    )["SignatureValid"]
    with pytest.raises(ClientError) as exc:
        kms.verify(
            KeyId=key["KeyId"],
            Message=message[1:],
            Signature=signature,
            SigningAlgorithm="ML_DSA_SHAKE_256",
        )
    assert code(exc) == "KMSInvalidSignatureException"
    for message_type, expected in (
        ("DIGEST", "ValidationException"),
        ("EXTERNAL_MU", "UnsupportedOperationException"),
    ):
        with pytest.raises(ClientError) as exc:
            kms.sign(
                KeyId=key["KeyId"],
                Message=b"m" * 64,
                MessageType=message_type,
                SigningAlgorithm="ML_DSA_SHAKE_256",
            )
        assert code(exc) == expected, message_type


# -- 2. RSA encryption keys ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "limits"),
    [
        ("RSA_2048", {"RSAES_OAEP_SHA_1": 214, "RSAES_OAEP_SHA_256": 190}),
        ("RSA_4096", {"RSAES_OAEP_SHA_1": 470, "RSAES_OAEP_SHA_256": 446}),
    ],
)
def test_rsa_encrypt_decrypt(kms: Any, spec: str, limits: dict[str, int]) -> None:
    key = create(kms, spec, "ENCRYPT_DECRYPT")
    assert key["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    assert "SigningAlgorithms" not in key
    public = kms.get_public_key(KeyId=key["KeyId"])
    assert public["EncryptionAlgorithms"] == key["EncryptionAlgorithms"]
    public_key = serialization.load_der_public_key(public["PublicKey"])
    assert isinstance(public_key, rsa.RSAPublicKey)
    for algorithm, limit in limits.items():
        chosen: hashes.HashAlgorithm = (
            hashes.SHA1() if algorithm.endswith("SHA_1") else hashes.SHA256()  # noqa: S303
        )
        oaep = padding.OAEP(mgf=padding.MGF1(chosen), algorithm=chosen, label=None)
        plaintext = bytes(range(256))[:limit] if limit <= 256 else b"x" * limit
        out = kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext, EncryptionAlgorithm=algorithm)
        assert out["EncryptionAlgorithm"] == algorithm and out["KeyId"] == key["Arn"]
        back = kms.decrypt(
            KeyId=key["KeyId"], CiphertextBlob=out["CiphertextBlob"], EncryptionAlgorithm=algorithm
        )
        assert back["Plaintext"] == plaintext and back["EncryptionAlgorithm"] == algorithm
        # a ciphertext made outside with the public key decrypts through Garrison
        outside = public_key.encrypt(b"made outside", oaep)
        assert (
            kms.decrypt(KeyId=key["KeyId"], CiphertextBlob=outside, EncryptionAlgorithm=algorithm)[
                "Plaintext"
            ]
            == b"made outside"
        )
        with pytest.raises(ClientError) as exc:
            kms.encrypt(
                KeyId=key["KeyId"], Plaintext=b"x" * (limit + 1), EncryptionAlgorithm=algorithm
            )
        assert code(exc) == "ValidationException"


def test_rsa_encryption_errors(kms: Any) -> None:
    key = create(kms, "RSA_2048", "ENCRYPT_DECRYPT")
    blob = kms.encrypt(
        KeyId=key["KeyId"], Plaintext=b"p", EncryptionAlgorithm="RSAES_OAEP_SHA_256"
    )["CiphertextBlob"]
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("encrypt", dict(Plaintext=b"p"), "InvalidKeyUsageException"),  # SYMMETRIC_DEFAULT
        (
            "encrypt",
            dict(Plaintext=b"p", EncryptionAlgorithm="RSAES_OAEP_SHA_256",
                 EncryptionContext={"a": "b"}),
            "ValidationException",
        ),
        ("decrypt", dict(CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_1"),
         "InvalidCiphertextException"),
        ("decrypt", dict(CiphertextBlob=blob[:-1] + bytes([blob[-1] ^ 1]),
                         EncryptionAlgorithm="RSAES_OAEP_SHA_256"), "InvalidCiphertextException"),
        ("generate_data_key", dict(KeySpec="AES_256"), "InvalidKeyUsageException"),
        ("sign", dict(Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256"),
         "InvalidKeyUsageException"),
    ]  # fmt: skip
    for operation, request, expected in cases:
        with pytest.raises(ClientError) as exc:
            getattr(kms, operation)(KeyId=key["KeyId"], **request)
        assert code(exc) == expected, (operation, request)
    # Without KeyId an RSA ciphertext names no key: it is not a Garrison symmetric blob.
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert code(exc) == "InvalidCiphertextException"


def test_re_encrypt_between_rsa_and_symmetric_keys(kms: Any) -> None:
    rsa_key = create(kms, "RSA_2048", "ENCRYPT_DECRYPT")
    other_rsa = create(kms, "RSA_3072", "ENCRYPT_DECRYPT")
    symmetric = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(
        KeyId=rsa_key["KeyId"], Plaintext=b"secret", EncryptionAlgorithm="RSAES_OAEP_SHA_256"
    )["CiphertextBlob"]
    # RSA -> symmetric: the new blob decrypts with Decrypt and no KeyId
    out = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceKeyId=rsa_key["KeyId"],
        SourceEncryptionAlgorithm="RSAES_OAEP_SHA_256",
        DestinationKeyId=symmetric["KeyId"],
        DestinationEncryptionContext={"purpose": "test"},
    )
    assert out["SourceKeyId"] == rsa_key["Arn"] and out["KeyId"] == symmetric["Arn"]
    assert out["SourceEncryptionAlgorithm"] == "RSAES_OAEP_SHA_256"
    assert out["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    opened = kms.decrypt(
        CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"purpose": "test"}
    )
    assert opened["Plaintext"] == b"secret" and opened["KeyId"] == symmetric["Arn"]
    # symmetric -> RSA: decrypts with the private key through Garrison's Decrypt
    sealed = kms.encrypt(KeyId=symmetric["KeyId"], Plaintext=b"data", EncryptionContext={"a": "b"})
    out = kms.re_encrypt(
        CiphertextBlob=sealed["CiphertextBlob"],
        SourceEncryptionContext={"a": "b"},
        DestinationKeyId=rsa_key["Arn"],
        DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_1",
    )
    assert out["DestinationEncryptionAlgorithm"] == "RSAES_OAEP_SHA_1"
    assert out["SourceEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    opened = kms.decrypt(
        CiphertextBlob=out["CiphertextBlob"],
        KeyId=rsa_key["KeyId"],
        EncryptionAlgorithm="RSAES_OAEP_SHA_1",
    )
    assert opened["Plaintext"] == b"data"
    # RSA -> RSA, across algorithms; the result is a plain OAEP ciphertext of the public key
    out = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceKeyId=rsa_key["KeyId"],
        SourceEncryptionAlgorithm="RSAES_OAEP_SHA_256",
        DestinationKeyId=other_rsa["KeyId"],
        DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_1",
    )
    assert out["KeyId"] == other_rsa["Arn"]
    opened = kms.decrypt(
        CiphertextBlob=out["CiphertextBlob"],
        KeyId=other_rsa["KeyId"],
        EncryptionAlgorithm="RSAES_OAEP_SHA_1",
    )
    assert opened["Plaintext"] == b"secret"


def test_re_encrypt_with_rsa_keys_refuses_bad_requests(kms: Any) -> None:
    rsa_key = create(kms, "RSA_2048", "ENCRYPT_DECRYPT")
    signing = create(kms, "RSA_2048", "SIGN_VERIFY")
    symmetric = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(
        KeyId=rsa_key["KeyId"], Plaintext=b"secret", EncryptionAlgorithm="RSAES_OAEP_SHA_256"
    )["CiphertextBlob"]
    sealed = kms.encrypt(KeyId=symmetric["KeyId"], Plaintext=b"x" * 215)["CiphertextBlob"]
    from_rsa = dict(
        CiphertextBlob=blob, SourceKeyId=rsa_key["KeyId"], DestinationKeyId=symmetric["KeyId"]
    )
    to_rsa = dict(CiphertextBlob=sealed, DestinationKeyId=rsa_key["KeyId"])
    cases: list[tuple[dict[str, Any], str]] = [
        # the wrong OAEP hash does not open the ciphertext
        ({**from_rsa, "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_1"},
         "InvalidCiphertextException"),
        # no source algorithm means SYMMETRIC_DEFAULT, which an RSA key cannot do
        (from_rsa, "InvalidKeyUsageException"),
        ({**from_rsa, "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_256",
          "DestinationEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}, "InvalidKeyUsageException"),
        ({**from_rsa, "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_256",
          "SourceEncryptionContext": {"a": "b"}}, "ValidationException"),
        # without SourceKeyId an RSA ciphertext names no key
        ({"CiphertextBlob": blob, "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_256",
          "DestinationKeyId": symmetric["KeyId"]}, "InvalidCiphertextException"),
        (to_rsa, "InvalidKeyUsageException"),
        ({**to_rsa, "DestinationEncryptionAlgorithm": "RSAES_OAEP_SHA_1",
          "DestinationEncryptionContext": {"a": "b"}}, "ValidationException"),
        # 215 bytes: over RSA_2048's 214-byte limit with RSAES_OAEP_SHA_1
        ({**to_rsa, "DestinationEncryptionAlgorithm": "RSAES_OAEP_SHA_1"},
         "ValidationException"),
        ({**to_rsa, "DestinationKeyId": signing["KeyId"],
          "DestinationEncryptionAlgorithm": "RSAES_OAEP_SHA_1"}, "InvalidKeyUsageException"),
    ]  # fmt: skip
    for request, expected in cases:
        with pytest.raises(ClientError) as exc:
            kms.re_encrypt(**request)
        assert code(exc) == expected, request
    # DryRun checks everything and seals nothing
    with pytest.raises(ClientError) as exc:
        kms.re_encrypt(**from_rsa, SourceEncryptionAlgorithm="RSAES_OAEP_SHA_256", DryRun=True)
    assert code(exc) == "DryRunOperationException"


def test_asymmetric_and_hmac_keys_do_not_rotate(kms: Any) -> None:
    for spec, usage in [("RSA_2048", "ENCRYPT_DECRYPT"), ("HMAC_256", "GENERATE_VERIFY_MAC")]:
        key = create(kms, spec, usage)
        for call in (kms.enable_key_rotation, kms.rotate_key_on_demand):
            with pytest.raises(ClientError) as exc:
                call(KeyId=key["KeyId"])
            assert code(exc) == "UnsupportedOperationException", (spec, call)
        assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False


# -- 3. HMAC keys ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "algorithm", "digest"),
    [
        ("HMAC_224", "HMAC_SHA_224", "sha224"),
        ("HMAC_256", "HMAC_SHA_256", "sha256"),
        ("HMAC_384", "HMAC_SHA_384", "sha384"),
        ("HMAC_512", "HMAC_SHA_512", "sha512"),
    ],
)
def test_generate_and_verify_mac(kms: Any, spec: str, algorithm: str, digest: str) -> None:
    key = create(kms, spec, "GENERATE_VERIFY_MAC")
    assert key["MacAlgorithms"] == [algorithm]
    assert "EncryptionAlgorithms" not in key and "SigningAlgorithms" not in key
    out = kms.generate_mac(KeyId=key["KeyId"], Message=b"msg", MacAlgorithm=algorithm)
    assert out["MacAlgorithm"] == algorithm and out["KeyId"] == key["Arn"]
    assert len(out["Mac"]) == hashlib.new(digest).digest_size
    again = kms.generate_mac(KeyId=key["KeyId"], Message=b"msg", MacAlgorithm=algorithm)["Mac"]
    assert again == out["Mac"]  # deterministic
    assert kms.verify_mac(
        KeyId=key["KeyId"], Message=b"msg", MacAlgorithm=algorithm, Mac=out["Mac"]
    )["MacValid"]
    for message, mac in [(b"msg!", out["Mac"]), (b"msg", bytes(len(out["Mac"])))]:
        with pytest.raises(ClientError) as exc:
            kms.verify_mac(KeyId=key["KeyId"], Message=message, MacAlgorithm=algorithm, Mac=mac)
        assert code(exc) == "KMSInvalidMacException"


def test_mac_errors(kms: Any) -> None:
    key = create(kms, "HMAC_256", "GENERATE_VERIFY_MAC")
    symmetric = kms.create_key()["KeyMetadata"]
    with pytest.raises(ClientError) as exc:
        kms.generate_mac(KeyId=key["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_512")
    assert code(exc) == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as exc:
        kms.generate_mac(KeyId=symmetric["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256")
    assert code(exc) == "InvalidKeyUsageException"
    for operation, request in [
        ("encrypt", dict(Plaintext=b"p")),
        ("get_public_key", {}),
        ("sign", dict(Message=b"m", SigningAlgorithm="ECDSA_SHA_256")),
    ]:
        with pytest.raises(ClientError) as exc:
            getattr(kms, operation)(KeyId=key["KeyId"], **request)
        assert code(exc) in ("InvalidKeyUsageException", "UnsupportedOperationException")


# -- 4. data key pairs -------------------------------------------------------------------------
@pytest.mark.parametrize("pair_spec", ["RSA_2048", "ECC_NIST_P256", "ECC_NIST_EDWARDS25519"])
def test_generate_data_key_pair(kms: Any, pair_spec: str) -> None:
    key = kms.create_key()["KeyMetadata"]
    context = {"purpose": "pairs"}
    out = kms.generate_data_key_pair(
        KeyId=key["KeyId"], KeyPairSpec=pair_spec, EncryptionContext=context
    )
    assert out["KeyPairSpec"] == pair_spec and out["KeyId"] == key["Arn"]
    private = serialization.load_der_private_key(out["PrivateKeyPlaintext"], password=None)
    public_der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public_der == out["PublicKey"]
    # the encrypted private key is an ordinary symmetric ciphertext of the KMS key
    opened = kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"], EncryptionContext=context)
    assert opened["Plaintext"] == out["PrivateKeyPlaintext"]
    bare = kms.generate_data_key_pair_without_plaintext(KeyId=key["KeyId"], KeyPairSpec=pair_spec)
    assert "PrivateKeyPlaintext" not in bare
    private2 = serialization.load_der_private_key(
        kms.decrypt(CiphertextBlob=bare["PrivateKeyCiphertextBlob"])["Plaintext"], password=None
    )
    assert (
        private2.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == bare["PublicKey"]
    )


def test_data_key_pair_needs_a_symmetric_key(kms: Any) -> None:
    rsa_key = create(kms, "RSA_2048", "ENCRYPT_DECRYPT")
    with pytest.raises(ClientError) as exc:
        kms.generate_data_key_pair(KeyId=rsa_key["KeyId"], KeyPairSpec="ECC_NIST_P256")
    assert code(exc) == "InvalidKeyUsageException"
    symmetric = kms.create_key()["KeyMetadata"]
    with pytest.raises(ClientError) as exc:
        kms.generate_data_key_pair(KeyId=symmetric["KeyId"], KeyPairSpec="SM2")
    assert code(exc) == "UnsupportedOperationException"


# -- 5. key agreement --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "curve"),
    [
        ("ECC_NIST_P256", ec.SECP256R1),
        ("ECC_NIST_P384", ec.SECP384R1),
        ("ECC_NIST_P521", ec.SECP521R1),
    ],
)
def test_derive_shared_secret_matches_outside(kms: Any, spec: str, curve: Any) -> None:
    key = create(kms, spec, "KEY_AGREEMENT")
    assert key["KeyAgreementAlgorithms"] == ["ECDH"]
    public = kms.get_public_key(KeyId=key["KeyId"])
    assert public["KeyAgreementAlgorithms"] == ["ECDH"]
    kms_public = serialization.load_der_public_key(public["PublicKey"])
    assert isinstance(kms_public, ec.EllipticCurvePublicKey)
    mine = ec.generate_private_key(curve())
    mine_der = mine.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    out = kms.derive_shared_secret(
        KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=mine_der
    )
    assert out["SharedSecret"] == mine.exchange(ec.ECDH(), kms_public)
    assert out["KeyAgreementAlgorithm"] == "ECDH" and out["KeyOrigin"] == "AWS_KMS"
    wrong_curve = (
        ec.generate_private_key(ec.SECP256K1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for bad in (wrong_curve, b"not a key"):
        with pytest.raises(ClientError) as exc:
            kms.derive_shared_secret(
                KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=bad
            )
        assert code(exc) == "ValidationException"
    signing = create(kms, spec, "SIGN_VERIFY")
    with pytest.raises(ClientError) as exc:
        kms.derive_shared_secret(
            KeyId=signing["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=mine_der
        )
    assert code(exc) == "InvalidKeyUsageException"


# -- audit ---------------------------------------------------------------------------------------
def test_no_secret_reaches_the_trail(server: ServerProcess, kms: Any) -> None:
    hmac_key = create(kms, "HMAC_256", "GENERATE_VERIFY_MAC")
    message = b"audit-canary-message-4f1c"
    mac = kms.generate_mac(KeyId=hmac_key["KeyId"], Message=message, MacAlgorithm="HMAC_SHA_256")
    symmetric = kms.create_key()["KeyMetadata"]
    pair = kms.generate_data_key_pair(KeyId=symmetric["KeyId"], KeyPairSpec="ECC_NIST_P256")
    agree = create(kms, "ECC_NIST_P256", "KEY_AGREEMENT")
    peer = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    shared = kms.derive_shared_secret(
        KeyId=agree["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer
    )["SharedSecret"]
    cloudtrail = server.client("cloudtrail")
    events = cloudtrail.lookup_events(MaxResults=50)["Events"]
    trail = "\n".join(e["CloudTrailEvent"] for e in events)
    assert "GenerateMac" in trail and "DeriveSharedSecret" in trail
    for secret in (message, mac["Mac"], pair["PrivateKeyPlaintext"], shared):
        assert base64.b64encode(secret).decode() not in trail
        assert secret.hex() not in trail
    assert message.decode() not in trail

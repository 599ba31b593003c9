"""What imported key material must look like: which key specs import, which wrapping
carries which material, and the canonical form of imported private keys."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from garrison.crypto.asymmetric import PrivateKey
from garrison.services.kms.errors import (
    IncorrectKeyMaterialException,
    UnsupportedOperationException,
)
from garrison.services.kms.import_material import (
    canonical_material,
    check_importable,
    check_wrapping,
)

OAEP = ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256")
AES_WRAP = ("RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256")
WRAPPING_SPECS = ("RSA_2048", "RSA_3072", "RSA_4096")


def pkcs8(
    key: object, fmt: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8
) -> bytes:
    der: bytes = key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, fmt, serialization.NoEncryption()
    )
    return der


@pytest.fixture(scope="module")
def rsa_2048() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize(
    "spec",
    ["SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_512", "RSA_2048", "RSA_4096", "ECC_NIST_P521",
     "ECC_SECG_P256K1"],
)  # fmt: skip
def test_importable_key_specs(spec: str) -> None:
    check_importable(spec)


@pytest.mark.parametrize(
    "spec", ["ECC_NIST_EDWARDS25519", "ML_DSA_44", "ML_DSA_65", "ML_DSA_87", "SM2"]
)
def test_key_specs_aws_does_not_import_are_refused_by_name(spec: str) -> None:
    with pytest.raises(UnsupportedOperationException) as exc:
        check_importable(spec)
    assert spec in exc.value.message


def test_an_unknown_key_spec_is_left_to_create_key() -> None:
    check_importable("NOT_A_SPEC")  # CreateKey's own validation answers for it


@pytest.mark.parametrize("spec", ["RSA_2048", "RSA_3072", "RSA_4096"])
@pytest.mark.parametrize("algorithm", OAEP)
def test_rsa_private_keys_need_an_rsa_aes_wrapping(spec: str, algorithm: str) -> None:
    with pytest.raises(UnsupportedOperationException) as exc:
        check_wrapping(spec, algorithm, "RSA_4096")
    assert "RSA_AES_KEY_WRAP_SHA_256" in exc.value.message
    for wrapping_spec in WRAPPING_SPECS:
        for aes in AES_WRAP:
            check_wrapping(spec, aes, wrapping_spec)


@pytest.mark.parametrize("algorithm", OAEP)
def test_rsa_2048_oaep_cannot_carry_p521(algorithm: str) -> None:
    with pytest.raises(UnsupportedOperationException) as exc:
        check_wrapping("ECC_NIST_P521", algorithm, "RSA_2048")
    assert "ECC_NIST_P521" in exc.value.message
    check_wrapping("ECC_NIST_P521", algorithm, "RSA_3072")
    check_wrapping("ECC_NIST_P521", "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048")


@pytest.mark.parametrize(
    "spec", ["SYMMETRIC_DEFAULT", "HMAC_512", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_SECG_P256K1"]
)
def test_everything_else_fits_every_wrapping(spec: str) -> None:
    for wrapping_spec in WRAPPING_SPECS:
        for algorithm in OAEP + AES_WRAP:
            check_wrapping(spec, algorithm, wrapping_spec)


@pytest.mark.parametrize(
    ("spec", "size"), [("HMAC_224", 28), ("HMAC_256", 32), ("HMAC_384", 48), ("HMAC_512", 64)]
)
def test_hmac_material_is_exactly_the_digest_length(spec: str, size: int) -> None:
    material = os.urandom(size)
    assert canonical_material(spec, material) == material
    for wrong in (size - 1, size + 1, 0):
        with pytest.raises(IncorrectKeyMaterialException) as exc:
            canonical_material(spec, os.urandom(wrong))
        assert f"{size} bytes" in exc.value.message


def test_symmetric_material_is_256_bits() -> None:
    material = os.urandom(32)
    assert canonical_material("SYMMETRIC_DEFAULT", material) == material
    with pytest.raises(IncorrectKeyMaterialException):
        canonical_material("SYMMETRIC_DEFAULT", os.urandom(16))


def test_rsa_material_is_canonical_pkcs8_of_the_same_key(rsa_2048: rsa.RSAPrivateKey) -> None:
    stored = canonical_material("RSA_2048", pkcs8(rsa_2048))
    loaded = serialization.load_der_private_key(stored, password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    assert loaded.public_key().public_numbers() == rsa_2048.public_key().public_numbers()
    # the same key encoded another way (d modulo phi(n), p and q swapped) stores the same bytes
    n = rsa_2048.private_numbers()
    phi = (n.p - 1) * (n.q - 1)
    d = pow(n.public_numbers.e, -1, phi)
    other = rsa.RSAPrivateNumbers(
        p=n.q, q=n.p, d=d, dmp1=rsa.rsa_crt_dmp1(d, n.q), dmq1=rsa.rsa_crt_dmq1(d, n.p),
        iqmp=rsa.rsa_crt_iqmp(n.q, n.p), public_numbers=n.public_numbers,
    ).private_key()  # fmt: skip
    assert pkcs8(other) != pkcs8(rsa_2048)
    assert canonical_material("RSA_2048", pkcs8(other)) == stored
    # and the stored form is what Sign/Decrypt load
    assert PrivateKey(stored).rsa_bytes == 256


def test_rsa_material_of_the_wrong_size_is_refused(rsa_2048: rsa.RSAPrivateKey) -> None:
    with pytest.raises(IncorrectKeyMaterialException) as exc:
        canonical_material("RSA_3072", pkcs8(rsa_2048))
    assert "2048-bit" in exc.value.message and "RSA_3072" in exc.value.message


def test_pkcs1_and_sec1_encodings_are_refused(rsa_2048: rsa.RSAPrivateKey) -> None:
    with pytest.raises(IncorrectKeyMaterialException) as exc:
        canonical_material(
            "RSA_2048", pkcs8(rsa_2048, serialization.PrivateFormat.TraditionalOpenSSL)
        )
    assert "PKCS #8" in exc.value.message
    p256 = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(IncorrectKeyMaterialException):
        canonical_material(
            "ECC_NIST_P256", pkcs8(p256, serialization.PrivateFormat.TraditionalOpenSSL)
        )


def test_encrypted_pkcs8_is_refused() -> None:
    p256 = ec.generate_private_key(ec.SECP256R1())
    encrypted = p256.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    with pytest.raises(IncorrectKeyMaterialException):
        canonical_material("ECC_NIST_P256", encrypted)


@pytest.mark.parametrize(
    ("spec", "curve"),
    [
        ("ECC_NIST_P256", ec.SECP256R1()),
        ("ECC_NIST_P384", ec.SECP384R1()),
        ("ECC_NIST_P521", ec.SECP521R1()),
        ("ECC_SECG_P256K1", ec.SECP256K1()),
    ],
)
def test_ecc_material_must_be_on_the_key_specs_curve(spec: str, curve: ec.EllipticCurve) -> None:
    key = ec.generate_private_key(curve)
    stored = canonical_material(spec, pkcs8(key))
    assert PrivateKey(stored).public_der == key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert canonical_material(spec, pkcs8(key)) == stored  # deterministic
    other = ec.SECP384R1() if spec != "ECC_NIST_P384" else ec.SECP256R1()
    with pytest.raises(IncorrectKeyMaterialException) as exc:
        canonical_material(spec, pkcs8(ec.generate_private_key(other)))
    assert other.name in exc.value.message


@pytest.mark.parametrize(
    "material",
    [
        b"",
        os.urandom(32),
        b"\x30\x03\x02\x01\x00",
        b"\x30\x82\xff\xff" + bytes(10),  # a length past the end
        pkcs8(ed25519.Ed25519PrivateKey.generate()),  # PKCS #8, but not an ECDSA/ECDH key
    ],
    ids=["empty", "random", "empty-sequence", "overlong", "ed25519"],
)
def test_garbage_is_incorrect_key_material(material: bytes) -> None:
    for spec in ("ECC_NIST_P256", "RSA_2048"):
        with pytest.raises(IncorrectKeyMaterialException) as exc:
            canonical_material(spec, material)
        assert material.hex() not in exc.value.message or not material


def test_an_rsa_key_is_not_ecc_material(rsa_2048: rsa.RSAPrivateKey) -> None:
    with pytest.raises(IncorrectKeyMaterialException) as exc:
        canonical_material("ECC_NIST_P256", pkcs8(rsa_2048))
    assert "elliptic curve" in exc.value.message
    with pytest.raises(IncorrectKeyMaterialException) as exc:
        canonical_material("RSA_2048", pkcs8(ec.generate_private_key(ec.SECP256R1())))
    assert "RSA private key" in exc.value.message


def test_a_public_key_of_another_key_is_refused() -> None:
    mine, theirs = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    point = serialization.PublicFormat.UncompressedPoint
    own = mine.public_key().public_bytes(serialization.Encoding.X962, point)
    der = pkcs8(mine)
    assert der.endswith(own)  # PKCS #8 of an EC key ends with its public point
    forged = der[: -len(own)] + theirs.public_key().public_bytes(serialization.Encoding.X962, point)
    with pytest.raises(IncorrectKeyMaterialException):
        canonical_material("ECC_NIST_P256", forged)

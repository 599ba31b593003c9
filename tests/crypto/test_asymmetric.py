"""garrison.crypto.asymmetric: key generation, signatures, RSA-OAEP, ECDH and HMAC,
checked against known answers and against pyca/cryptography used directly."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from garrison.crypto.asymmetric import (
    AsymmetricDecryptionError,
    PrivateKey,
    encrypt_with_public,
    generate_key_pair,
    hmac_tag,
    hmac_verify,
    new_hmac_key,
    rsa_oaep_max_plaintext,
    signing_hash,
    verify_with_public,
)

SPECS = [
    ("RSA_2048", "RSASSA_PSS_SHA_256"),
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_512"),
    ("ECC_NIST_P256", "ECDSA_SHA_256"),
    ("ECC_NIST_P384", "ECDSA_SHA_384"),
    ("ECC_NIST_P521", "ECDSA_SHA_512"),
    ("ECC_SECG_P256K1", "ECDSA_SHA_256"),
    ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512"),
    ("ML_DSA_44", "ML_DSA_SHAKE_256"),
    ("ML_DSA_65", "ML_DSA_SHAKE_256"),
    ("ML_DSA_87", "ML_DSA_SHAKE_256"),
]


@pytest.mark.parametrize(("spec", "algorithm"), SPECS)
def test_sign_and_verify(spec: str, algorithm: str) -> None:
    pair = generate_key_pair(spec)
    key = PrivateKey(pair.private_der)
    assert key.public_der == pair.public_der
    signature = key.sign(algorithm, b"message", digest=False)
    assert verify_with_public(pair.public_der, algorithm, b"message", signature, digest=False)
    assert not verify_with_public(pair.public_der, algorithm, b"messagf", signature, digest=False)
    assert not verify_with_public(pair.public_der, algorithm, b"message", b"\0" * 8, digest=False)


def test_private_key_is_pkcs8_der_and_public_key_is_spki() -> None:
    pair = generate_key_pair("ECC_NIST_P256")
    private = serialization.load_der_private_key(pair.private_der, password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    assert private.curve.name == "secp256r1"
    public = serialization.load_der_public_key(pair.public_der)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    with pytest.raises(ValueError):
        generate_key_pair("SYMMETRIC_DEFAULT")


def test_digest_signature_equals_message_signature_for_ecdsa() -> None:
    key = PrivateKey(generate_key_pair("ECC_NIST_P384").private_der)
    digest = hashlib.sha384(b"document").digest()
    signature = key.sign("ECDSA_SHA_384", digest, digest=True)
    assert key.verify("ECDSA_SHA_384", b"document", signature, digest=False)
    assert key.verify("ECDSA_SHA_384", digest, signature, digest=True)


def test_pss_uses_digest_length_salt() -> None:
    pair = generate_key_pair("RSA_2048")
    signature = PrivateKey(pair.private_der).sign("RSASSA_PSS_SHA_384", b"m", digest=False)
    public = serialization.load_der_public_key(pair.public_der)
    assert isinstance(public, rsa.RSAPublicKey)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)
    public.verify(signature, b"m", pss, hashes.SHA384())  # raises if not


def test_algorithm_must_fit_the_key() -> None:
    ecc = PrivateKey(generate_key_pair("ECC_NIST_P256").private_der)
    with pytest.raises(ValueError):
        ecc.sign("RSASSA_PSS_SHA_256", b"m", digest=False)
    ed = PrivateKey(generate_key_pair("ECC_NIST_EDWARDS25519").private_der)
    with pytest.raises(ValueError):
        ed.sign("ED25519_SHA_512", b"m" * 64, digest=True)


@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
def test_rsa_oaep_round_trip_and_limit(algorithm: str) -> None:
    pair = generate_key_pair("RSA_2048")
    key = PrivateKey(pair.private_der)
    limit = rsa_oaep_max_plaintext(key.rsa_bytes, algorithm)
    assert limit == {"RSAES_OAEP_SHA_1": 214, "RSAES_OAEP_SHA_256": 190}[algorithm]
    plaintext = b"p" * limit
    blob = encrypt_with_public(pair.public_der, algorithm, plaintext)
    assert key.decrypt(algorithm, blob) == plaintext
    other = "RSAES_OAEP_SHA_256" if algorithm == "RSAES_OAEP_SHA_1" else "RSAES_OAEP_SHA_1"
    with pytest.raises(AsymmetricDecryptionError):
        key.decrypt(other, blob)
    with pytest.raises(ValueError):
        encrypt_with_public(pair.public_der, algorithm, plaintext + b"x")
    with pytest.raises(ValueError):
        encrypt_with_public(pair.public_der, "RSAES_PKCS1_V1_5", b"p")


def test_ecdh_matches_and_checks_the_curve() -> None:
    key = PrivateKey(generate_key_pair("ECC_NIST_P256").private_der)
    peer = ec.generate_private_key(ec.SECP256R1())
    peer_der = peer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ours = key.derive_shared_secret(peer_der)
    mine = serialization.load_der_public_key(key.public_der)
    assert isinstance(mine, ec.EllipticCurvePublicKey)
    assert ours == peer.exchange(ec.ECDH(), mine)
    wrong = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for bad in (wrong, b"garbage"):
        with pytest.raises(ValueError):
            key.derive_shared_secret(bad)


def test_hmac_known_answer_and_lengths() -> None:
    # RFC 4231 test case 2
    tag = hmac_tag(b"Jefe", "HMAC_SHA_256", b"what do ya want for nothing?")
    assert tag.hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert hmac_verify(b"Jefe", "HMAC_SHA_256", b"what do ya want for nothing?", tag)
    assert not hmac_verify(b"Jefe", "HMAC_SHA_256", b"what do ya want for nothing!", tag)
    for spec, size in [("HMAC_224", 28), ("HMAC_256", 32), ("HMAC_384", 48), ("HMAC_512", 64)]:
        key = new_hmac_key(spec)
        assert len(key) == size
        algorithm = "HMAC_SHA_" + spec[5:]
        assert hmac_tag(key, algorithm, b"m") == hmac.digest(key, b"m", f"sha{spec[5:]}")


def test_signing_hash_names() -> None:
    assert signing_hash("RSASSA_PKCS1_V1_5_SHA_384") == "SHA_384"
    assert signing_hash("ECDSA_SHA_512") == "SHA_512"
    assert signing_hash("RSASSA_PSS_SHA_256") == "SHA_256"

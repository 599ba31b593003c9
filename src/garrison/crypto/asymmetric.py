"""Asymmetric and MAC primitives for KMS keys: generation, signing, RSA-OAEP, ECDH, HMAC.

A small, closed API: callers name a key spec and an algorithm by the strings
KMS uses (``RSA_2048``, ``ECDSA_SHA_256``, ``RSAES_OAEP_SHA_256``, ...), never a
padding or a hash object, so there is no unsafe default to pick by mistake
(no PKCS#1 v1.5 encryption, no SHA-1 signatures, PSS salt = digest length as
KMS uses). Private keys travel as PKCS#8 DER (for sealing by the barrier),
public keys as DER SubjectPublicKeyInfo (what GetPublicKey returns).

Every verification failure is ``False``, every decryption failure the same
`AsymmetricDecryptionError`, saying nothing about why. Imported private keys
(ImportKeyMaterial) go through `canonical_private_key`: PKCS#8 only, of exactly
the key spec, rebuilt into one canonical encoding, else `KeyMaterialError`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, rsa, utils

_RSA_BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ECC_NIST_P256": ec.SECP256R1,
    "ECC_NIST_P384": ec.SECP384R1,
    "ECC_NIST_P521": ec.SECP521R1,
    "ECC_SECG_P256K1": ec.SECP256K1,
}
EDWARDS25519 = "ECC_NIST_EDWARDS25519"
_MLDSA: dict[str, Any] = {
    "ML_DSA_44": mldsa.MLDSA44PrivateKey,
    "ML_DSA_65": mldsa.MLDSA65PrivateKey,
    "ML_DSA_87": mldsa.MLDSA87PrivateKey,
}
_MLDSA_PRIVATE = (mldsa.MLDSA44PrivateKey, mldsa.MLDSA65PrivateKey, mldsa.MLDSA87PrivateKey)
_MLDSA_PUBLIC = (mldsa.MLDSA44PublicKey, mldsa.MLDSA65PublicKey, mldsa.MLDSA87PublicKey)
ML_DSA_SHAKE_256 = "ML_DSA_SHAKE_256"
HMAC_KEY_BYTES = {"HMAC_224": 28, "HMAC_256": 32, "HMAC_384": 48, "HMAC_512": 64}
_HMAC_DIGESTS = {
    "HMAC_SHA_224": "sha224",
    "HMAC_SHA_256": "sha256",
    "HMAC_SHA_384": "sha384",
    "HMAC_SHA_512": "sha512",
}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA_1": hashes.SHA1,
    "SHA_256": hashes.SHA256,
    "SHA_384": hashes.SHA384,
    "SHA_512": hashes.SHA512,
}
# The digest length a DIGEST message must have, per signing algorithm's hash.
DIGEST_BYTES = {"SHA_256": 32, "SHA_384": 48, "SHA_512": 64}

ASYMMETRIC_SPECS = frozenset({*_RSA_BITS, *_CURVES, EDWARDS25519, *_MLDSA})


class AsymmetricDecryptionError(Exception):
    """An RSA ciphertext did not decrypt; deliberately uninformative."""

    def __init__(self) -> None:
        super().__init__("decryption failed")


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A generated key pair: PKCS#8 DER private key (secret) and DER SPKI public key."""

    private_der: bytes
    public_der: bytes


def signing_hash(algorithm: str) -> str:
    """The hash name (``SHA_256``, ...) of a KMS signing algorithm."""
    return algorithm.rsplit("_", 2)[-2] + "_" + algorithm.rsplit("_", 1)[-1]


def generate_key_pair(spec: str) -> KeyPair:
    """A fresh key pair for an asymmetric KMS key spec."""
    private: Any
    if spec in _RSA_BITS:
        private = rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS[spec])
    elif spec in _CURVES:
        private = ec.generate_private_key(_CURVES[spec]())
    elif spec == EDWARDS25519:
        private = ed25519.Ed25519PrivateKey.generate()
    elif spec in _MLDSA:
        # FIPS 204 ML-DSA; PKCS#8 holds the 32-byte seed (RFC 9881's seed form)
        private = _MLDSA[spec].generate()
    else:
        raise ValueError(f"not an asymmetric key spec: {spec}")
    private_der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return KeyPair(private_der, _spki(private))


def _spki(private: Any) -> bytes:
    public_bytes: bytes = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public_bytes


def new_hmac_key(spec: str) -> bytes:
    """Fresh HMAC key material, as long as the key spec's hash output (as KMS's)."""
    return os.urandom(HMAC_KEY_BYTES[spec])


class PrivateKey:
    """One loaded private key; build once from its PKCS#8 DER and reuse."""

    __slots__ = ("_key", "public_der")

    def __init__(self, private_der: bytes) -> None:
        key = serialization.load_der_private_key(private_der, password=None)
        if not isinstance(
            key,
            (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)
            + _MLDSA_PRIVATE,
        ):
            raise ValueError("unsupported private key type")
        self._key = key
        self.public_der = _spki(key)

    @property
    def rsa_bytes(self) -> int:
        """The RSA modulus length in bytes (0 for other keys)."""
        return self._key.key_size // 8 if isinstance(self._key, rsa.RSAPrivateKey) else 0

    # -- signatures --------------------------------------------------------------
    def sign(self, algorithm: str, message: bytes, *, digest: bool) -> bytes:
        """Sign `message` (or, with `digest`, an already computed digest of it)."""
        key = self._key
        if isinstance(key, ed25519.Ed25519PrivateKey):
            if algorithm != "ED25519_SHA_512" or digest:
                raise ValueError("Ed25519 signs raw messages with ED25519_SHA_512")
            return key.sign(message)
        if isinstance(key, _MLDSA_PRIVATE):
            if algorithm != ML_DSA_SHAKE_256 or digest:
                raise ValueError("ML-DSA signs raw messages with ML_DSA_SHAKE_256")
            signed: bytes = key.sign(message)  # pure ML-DSA, empty context
            return signed
        chosen = _HASHES[signing_hash(algorithm)]()
        prehashed: hashes.HashAlgorithm | utils.Prehashed = (
            utils.Prehashed(chosen) if digest else chosen
        )
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(message, _signature_padding(algorithm, chosen), prehashed)
        if not algorithm.startswith("ECDSA_"):
            raise ValueError(f"{algorithm} does not apply to an elliptic curve key")
        return key.sign(message, ec.ECDSA(prehashed))

    def verify(self, algorithm: str, message: bytes, signature: bytes, *, digest: bool) -> bool:
        return verify_with_public(self.public_der, algorithm, message, signature, digest=digest)

    # -- RSA-OAEP ----------------------------------------------------------------
    def decrypt(self, algorithm: str, ciphertext: bytes) -> bytes:
        key = self._key
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("only RSA keys decrypt")
        try:
            return key.decrypt(ciphertext, _oaep(algorithm))
        except ValueError:
            raise AsymmetricDecryptionError() from None

    # -- ECDH ----------------------------------------------------------------------
    def derive_shared_secret(self, peer_public_der: bytes) -> bytes:
        """The raw ECDH shared secret (the x coordinate) with a peer's SPKI public key.

        Raises ValueError when the peer key is not a public key on this key's curve.
        """
        key = self._key
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("only elliptic curve keys agree on secrets")
        try:
            peer = serialization.load_der_public_key(peer_public_der)
        except (ValueError, TypeError):
            raise ValueError("not a DER SubjectPublicKeyInfo public key") from None
        if not isinstance(peer, ec.EllipticCurvePublicKey) or peer.curve.name != key.curve.name:
            raise ValueError("the public key is not on this key's curve")
        return key.exchange(ec.ECDH(), peer)


def _oaep(algorithm: str) -> padding.OAEP:
    if algorithm == "RSAES_OAEP_SHA_1":
        # KMS's RSAES_OAEP_SHA_1: OAEP needs no collision resistance, so SHA-1 stays sound here.
        chosen: hashes.HashAlgorithm = hashes.SHA1()  # noqa: S303
    elif algorithm == "RSAES_OAEP_SHA_256":
        chosen = hashes.SHA256()
    else:
        raise ValueError(f"not an RSA-OAEP algorithm: {algorithm}")
    return padding.OAEP(mgf=padding.MGF1(chosen), algorithm=chosen, label=None)


def _signature_padding(algorithm: str, chosen: hashes.HashAlgorithm) -> padding.AsymmetricPadding:
    if algorithm.startswith("RSASSA_PSS_"):
        # KMS's PSS: MGF1 with the same hash, salt as long as the digest.
        return padding.PSS(mgf=padding.MGF1(chosen), salt_length=chosen.digest_size)
    if algorithm.startswith("RSASSA_PKCS1_V1_5_"):
        return padding.PKCS1v15()
    raise ValueError(f"{algorithm} does not apply to an RSA key")


def rsa_oaep_max_plaintext(modulus_bytes: int, algorithm: str) -> int:
    """The longest plaintext RSA-OAEP takes: k - 2*hLen - 2 (RFC 8017, 7.1.1)."""
    digest = 20 if algorithm == "RSAES_OAEP_SHA_1" else 32
    return modulus_bytes - 2 * digest - 2


def encrypt_with_public(public_der: bytes, algorithm: str, plaintext: bytes) -> bytes:
    """RSA-OAEP encryption with a DER SPKI public key (what KMS's Encrypt does)."""
    key = serialization.load_der_public_key(public_der)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("only RSA keys encrypt")
    return key.encrypt(plaintext, _oaep(algorithm))


def verify_with_public(
    public_der: bytes, algorithm: str, message: bytes, signature: bytes, *, digest: bool
) -> bool:
    """Whether `signature` is valid over `message` (or its digest) for a DER SPKI key."""
    key = serialization.load_der_public_key(public_der)
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            if algorithm != "ED25519_SHA_512" or digest:
                return False
            key.verify(signature, message)
            return True
        if isinstance(key, _MLDSA_PUBLIC):
            if algorithm != ML_DSA_SHAKE_256 or digest:
                return False
            key.verify(signature, message)
            return True
        chosen = _HASHES[signing_hash(algorithm)]()
        prehashed: hashes.HashAlgorithm | utils.Prehashed = (
            utils.Prehashed(chosen) if digest else chosen
        )
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, _signature_padding(algorithm, chosen), prehashed)
            return True
        if isinstance(key, ec.EllipticCurvePublicKey) and algorithm.startswith("ECDSA_"):
            key.verify(signature, message, ec.ECDSA(prehashed))
            return True
    except (InvalidSignature, ValueError):
        return False
    return False


# -- HMAC --------------------------------------------------------------------------
def hmac_tag(key: bytes, algorithm: str, message: bytes) -> bytes:
    return hmac.new(key, message, getattr(hashlib, _HMAC_DIGESTS[algorithm])).digest()


def hmac_verify(key: bytes, algorithm: str, message: bytes, tag: bytes) -> bool:
    """Constant-time comparison of the expected tag with `tag`."""
    return hmac.compare_digest(hmac_tag(key, algorithm, message), tag)


# -- imported private keys (ImportKeyMaterial) -------------------------------------
class KeyMaterialError(ValueError):
    """Imported private key material is not a private key of the expected key spec.

    The message says what is wrong in KMS's terms and never quotes the material.
    """


def _der_element(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, start of contents, end) of the DER element at `offset`; ValueError if malformed."""
    if offset + 2 > len(data) or data[offset] & 0x1F == 0x1F:
        raise ValueError("truncated or high-tag-number element")
    tag, first = data[offset], data[offset + 1]
    start = offset + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise ValueError("indefinite or oversized length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise ValueError("element overruns its container")
    return tag, start, end


def _is_pkcs8(der: bytes) -> bool:
    """Whether `der` is shaped as an unencrypted PKCS#8 PrivateKeyInfo (RFC 5208/5958):
    SEQUENCE { INTEGER version, SEQUENCE algorithm, OCTET STRING privateKey, ... }.

    load_der_private_key also takes PKCS#1 and SEC1 keys; KMS takes PKCS#8 only.
    """
    try:
        tag, start, end = _der_element(der, 0)
        if tag != 0x30 or end != len(der):
            return False
        expected = (0x02, 0x30, 0x04)  # version, AlgorithmIdentifier, the key
        offset = start
        for want in expected:
            tag, _, offset = _der_element(der, offset)
            if tag != want:
                return False
        return offset <= end
    except ValueError:
        return False


def _pkcs8(private: Any) -> bytes:
    der: bytes = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return der


def canonical_private_key(spec: str, der: bytes) -> bytes:
    """The canonical PKCS#8 DER of an imported RSA or elliptic curve private key of `spec`.

    Checks the material is an unencrypted PKCS#8 private key of exactly that spec
    (RSA modulus size, named curve) and rebuilds it from its secret numbers, so the
    same key always gives the same bytes (re-imports are recognised by them) and
    the stored public key is the one the private key implies.
    Raises `KeyMaterialError` otherwise.
    """
    if spec not in _RSA_BITS and spec not in _CURVES:
        raise ValueError(f"key material of {spec} keys is not a PKCS#8 private key")
    if not _is_pkcs8(der):
        raise KeyMaterialError("it is not a DER-encoded PKCS #8 private key.")
    try:
        loaded = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise KeyMaterialError("it is not a valid, unencrypted PKCS #8 private key.") from None
    try:
        if spec in _RSA_BITS:
            return _canonical_rsa(spec, loaded)
        return _canonical_ec(spec, loaded)
    except KeyMaterialError:
        raise
    except ValueError:  # numbers the backend accepted on load but not on rebuilding
        raise KeyMaterialError("it is not a consistent private key.") from None


def _canonical_rsa(spec: str, loaded: Any) -> bytes:
    bits = _RSA_BITS[spec]
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise KeyMaterialError(f"{spec} key material must be an RSA private key.")
    if loaded.key_size != bits:
        raise KeyMaterialError(
            f"it is a {loaded.key_size}-bit RSA key; {spec} key material is a {bits}-bit RSA key."
        )
    numbers = loaded.private_numbers()
    public = numbers.public_numbers
    p, q = max(numbers.p, numbers.q), min(numbers.p, numbers.q)
    # d modulo lcm(p-1, q-1) (FIPS 186-5, as OpenSSL generates): the same key, one encoding
    d = pow(public.e, -1, math.lcm(p - 1, q - 1))
    rebuilt = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=public,
    ).private_key()
    return _pkcs8(rebuilt)


def _canonical_ec(spec: str, loaded: Any) -> bytes:
    curve = _CURVES[spec]()
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise KeyMaterialError(f"{spec} key material must be an elliptic curve private key.")
    if loaded.curve.name != curve.name:
        raise KeyMaterialError(
            f"it is a key on curve {loaded.curve.name}; {spec} key material is a key on "
            f"curve {curve.name}."
        )
    rebuilt = ec.derive_private_key(loaded.private_numbers().private_value, curve)
    if rebuilt.public_key().public_numbers() != loaded.public_key().public_numbers():
        raise KeyMaterialError("its public key does not belong to its private key.")
    return _pkcs8(rebuilt)

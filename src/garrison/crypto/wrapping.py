"""Unwrapping imported KMS key material: RSA-OAEP and RSA + AES key wrap with padding.

GetParametersForImport hands out an RSA public key; the caller wraps their key
material under it with one of KMS's wrapping algorithms, named by KMS's strings:

    RSAES_OAEP_SHA_1 / RSAES_OAEP_SHA_256
        the material, RSA-OAEP encrypted (MGF1 with the same hash, no label)
    RSA_AES_KEY_WRAP_SHA_1 / RSA_AES_KEY_WRAP_SHA_256
        a fresh 256-bit AES key, RSA-OAEP encrypted (its size is the modulus
        size), followed by the material wrapped under that AES key with AES key
        wrap with padding (RFC 5649)

RSAES_PKCS1_V1_5 is not offered (AWS retired it: padding-oracle prone). Every
unwrap failure is the same `UnwrapError`, saying nothing about why.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap_with_padding

WRAPPING_KEY_SPECS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "RSAES_OAEP_SHA_1": hashes.SHA1,
    "RSAES_OAEP_SHA_256": hashes.SHA256,
    "RSA_AES_KEY_WRAP_SHA_1": hashes.SHA1,
    "RSA_AES_KEY_WRAP_SHA_256": hashes.SHA256,
}
WRAPPING_ALGORITHMS = tuple(_HASHES)


class UnwrapError(Exception):
    """The wrapped material does not open under this wrapping key and algorithm."""


def new_wrapping_key(spec: str) -> tuple[bytes, bytes]:
    """(PKCS#8 DER private key, DER SubjectPublicKeyInfo) of a fresh RSA wrapping key."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=WRAPPING_KEY_SPECS[spec])
    private_der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_der, public_der


def _oaep(algorithm: str) -> padding.OAEP:
    chosen = _HASHES[algorithm]()
    return padding.OAEP(mgf=padding.MGF1(chosen), algorithm=chosen, label=None)


def unwrap(private_der: bytes, algorithm: str, wrapped: bytes) -> bytes:
    """The key material inside `wrapped`; `UnwrapError` if it does not open."""
    if algorithm not in _HASHES:
        raise ValueError(f"unknown wrapping algorithm {algorithm}")
    private = serialization.load_der_private_key(private_der, password=None)
    if not isinstance(private, rsa.RSAPrivateKey):
        raise ValueError("the wrapping key is not an RSA key")
    modulus_bytes = (private.key_size + 7) // 8
    try:
        if algorithm.startswith("RSAES_OAEP"):
            return private.decrypt(wrapped, _oaep(algorithm))
        if len(wrapped) <= modulus_bytes:
            raise UnwrapError
        aes_key = private.decrypt(wrapped[:modulus_bytes], _oaep(algorithm))
        if len(aes_key) != 32:
            raise UnwrapError
        return aes_key_unwrap_with_padding(aes_key, wrapped[modulus_bytes:])
    except (ValueError, InvalidUnwrap) as exc:
        raise UnwrapError from exc

"""Unwrapping imported key material: every KMS wrapping algorithm, and opaque failures."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from garrison.crypto.wrapping import WRAPPING_ALGORITHMS, UnwrapError, new_wrapping_key, unwrap


@pytest.fixture(scope="module")
def wrapping_key() -> tuple[bytes, rsa.RSAPublicKey]:
    private_der, public_der = new_wrapping_key("RSA_2048")
    public = serialization.load_der_public_key(public_der)
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048
    return private_der, public


def _wrap(public: rsa.RSAPublicKey, algorithm: str, material: bytes) -> bytes:
    chosen: hashes.HashAlgorithm = hashes.SHA1() if algorithm.endswith("SHA_1") else hashes.SHA256()
    oaep = padding.OAEP(mgf=padding.MGF1(chosen), algorithm=chosen, label=None)
    if algorithm.startswith("RSAES_OAEP"):
        return public.encrypt(material, oaep)
    aes_key = os.urandom(32)
    return public.encrypt(aes_key, oaep) + aes_key_wrap_with_padding(aes_key, material)


@pytest.mark.parametrize("algorithm", WRAPPING_ALGORITHMS)
def test_round_trip(wrapping_key: tuple[bytes, rsa.RSAPublicKey], algorithm: str) -> None:
    private_der, public = wrapping_key
    material = os.urandom(32)
    assert unwrap(private_der, algorithm, _wrap(public, algorithm, material)) == material


def test_failures_are_one_opaque_error(wrapping_key: tuple[bytes, rsa.RSAPublicKey]) -> None:
    private_der, public = wrapping_key
    material = os.urandom(32)
    sha1 = _wrap(public, "RSAES_OAEP_SHA_1", material)
    with pytest.raises(UnwrapError):  # wrapped with another hash
        unwrap(private_der, "RSAES_OAEP_SHA_256", sha1)
    aes = bytearray(_wrap(public, "RSA_AES_KEY_WRAP_SHA_256", material))
    aes[-1] ^= 1
    for algorithm, blob in (
        ("RSA_AES_KEY_WRAP_SHA_256", bytes(aes)),  # the AES-wrapped part altered
        ("RSA_AES_KEY_WRAP_SHA_256", sha1),  # no AES-wrapped part
        ("RSAES_OAEP_SHA_1", b"\x00" * 256),
    ):
        with pytest.raises(UnwrapError):
            unwrap(private_der, algorithm, blob)
    with pytest.raises(ValueError):
        unwrap(private_der, "RSAES_PKCS1_V1_5", sha1)

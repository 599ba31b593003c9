"""AES-256-GCM with mandatory associated data and random 96-bit nonces.

Blob layout produced by `seal`: nonce (12 bytes) || ciphertext || tag (16 bytes).
Every failure to open (wrong key, wrong associated data, truncated or altered
blob) raises the same `DecryptionError`, which says nothing about why.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
OVERHEAD = NONCE_BYTES + TAG_BYTES


class DecryptionError(Exception):
    """A blob did not open; deliberately uninformative."""

    def __init__(self) -> None:
        super().__init__("decryption failed")


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def random_bytes(n: int) -> bytes:
    return os.urandom(n)


class Aead:
    """One AES-256-GCM key; construct once and reuse (the cipher is cached)."""

    __slots__ = ("_gcm",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("AES-256-GCM needs a 32-byte key")
        self._gcm = AESGCM(key)

    def seal(self, plaintext: bytes, associated_data: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._gcm.encrypt(nonce, plaintext, associated_data)

    def open(self, blob: bytes, associated_data: bytes) -> bytes:
        if len(blob) < OVERHEAD:
            raise DecryptionError()
        try:
            return self._gcm.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated_data)
        except InvalidTag:
            raise DecryptionError() from None

"""AES-256-GCM with mandatory associated data and random 96-bit nonces.

Blob layout produced by `seal`: nonce (12 bytes) || ciphertext || tag (16 bytes).
Every failure to open (wrong key, wrong associated data, truncated or altered
blob) raises the same `DecryptionError`, which says nothing about why.
"""

from __future__ import annotations

import os
import threading

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
    """Secret randomness (keys, data keys): straight from the OS, never buffered."""
    return os.urandom(n)


class _PublicPool:
    """Randomness that is public once used (nonces, salts), read 4 KiB at a time.

    Each byte is handed out once, under a lock. A getrandom syscall per nonce and
    per salt were 2 of a KMS Encrypt's syscalls (0.6 us each); from the pool,
    0.2 us. A forked child starts empty: it must never repeat its parent's bytes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._offset = 0
        os.register_at_fork(after_in_child=self._drop)

    def _drop(self) -> None:
        self._buffer, self._offset = b"", 0

    def take(self, n: int) -> bytes:
        with self._lock:
            offset = self._offset
            if offset + n > len(self._buffer):
                self._buffer, offset = os.urandom(max(4096, n)), 0
            self._offset = offset + n
            return self._buffer[offset : offset + n]


_public = _PublicPool()


def public_random(n: int) -> bytes:
    """Random bytes that are not secret (a GCM nonce, a KDF salt): from a buffered pool."""
    return _public.take(n)


class Aead:
    """One AES-256-GCM key; construct once and reuse (the cipher is cached)."""

    __slots__ = ("_gcm",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("AES-256-GCM needs a 32-byte key")
        self._gcm = AESGCM(key)

    def seal(self, plaintext: bytes, associated_data: bytes) -> bytes:
        nonce = _public.take(NONCE_BYTES)
        return nonce + self._gcm.encrypt(nonce, plaintext, associated_data)

    def open(self, blob: bytes, associated_data: bytes) -> bytes:
        if len(blob) < OVERHEAD:
            raise DecryptionError()
        try:
            return self._gcm.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated_data)
        except InvalidTag:
            raise DecryptionError() from None


def seal_once(key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """`Aead(key).seal(...)` for a key that seals one message (KMS's per-blob keys).

    No wrapper object to build and drop: 2.4 -> 1.6 us a key.
    """
    if len(key) != KEY_BYTES:
        raise ValueError("AES-256-GCM needs a 32-byte key")
    nonce = _public.take(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)


def open_once(key: bytes, blob: bytes, associated_data: bytes) -> bytes:
    """`Aead(key).open(...)` for a key that opens one message; the same `DecryptionError`."""
    if len(key) != KEY_BYTES:
        raise ValueError("AES-256-GCM needs a 32-byte key")
    if len(blob) < OVERHEAD:
        raise DecryptionError()
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated_data)
    except InvalidTag:
        raise DecryptionError() from None

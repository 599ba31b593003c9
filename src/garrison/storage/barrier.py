"""The storage barrier: every sensitive value is sealed before it reaches a table.

    root key (key file, or Shamir shares)  --seals-->  keyring terms (table keyring)
    keyring term N                          --seals-->  column values

A sealed value is `0x01 || term (4 bytes, big-endian) || AES-256-GCM blob`, with
the record's identity (table, primary key, column) as associated data, so a
ciphertext copied into another row or column fails to open. Rotation adds a
term; old values keep opening under the term they name, new ones use the newest.
"""

from __future__ import annotations

import struct

from garrison.crypto.aead import Aead, DecryptionError

FORMAT_VERSION = 1
_HEADER = struct.Struct(">BI")
ROOT_CHECK_PLAINTEXT = b"garrison root key check v1"


class SealedError(Exception):
    """The barrier has no keys: the server is sealed."""


def identity(table: str, pk: str, column: str) -> bytes:
    return f"{table}\x00{pk}\x00{column}".encode()


def keyring_identity(term: int) -> bytes:
    return identity("keyring", str(term), "sealed_key")


class Barrier:
    """Seals and opens column values with the keyring; empty while sealed."""

    def __init__(self) -> None:
        self._terms: dict[int, Aead] = {}
        self._active = 0

    @property
    def sealed(self) -> bool:
        return not self._terms

    @property
    def active_term(self) -> int:
        return self._active

    def load(self, terms: dict[int, bytes]) -> None:
        """Install decrypted term keys (called once the root key is known)."""
        self._terms = {term: Aead(key) for term, key in terms.items()}
        self._active = max(self._terms) if self._terms else 0

    def add_term(self, term: int, key: bytes) -> None:
        self._terms[term] = Aead(key)
        self._active = max(self._active, term)

    def seal_off(self) -> None:
        self._terms = {}
        self._active = 0

    def seal(self, table: str, pk: str, column: str, plaintext: bytes) -> bytes:
        if not self._terms:
            raise SealedError("the barrier is sealed")
        aead = self._terms[self._active]
        blob = aead.seal(plaintext, identity(table, pk, column))
        return _HEADER.pack(FORMAT_VERSION, self._active) + blob

    def open(self, table: str, pk: str, column: str, value: bytes) -> bytes:
        if not self._terms:
            raise SealedError("the barrier is sealed")
        if len(value) < _HEADER.size:
            raise DecryptionError()
        version, term = _HEADER.unpack_from(value)
        aead = self._terms.get(term)
        if version != FORMAT_VERSION or aead is None:
            raise DecryptionError()
        return aead.open(value[_HEADER.size :], identity(table, pk, column))


def seal_term_key(root: Aead, term: int, key: bytes) -> bytes:
    return root.seal(key, keyring_identity(term))


def open_term_key(root: Aead, term: int, sealed: bytes) -> bytes:
    return root.open(sealed, keyring_identity(term))


def root_check_value(root: Aead) -> bytes:
    return root.seal(ROOT_CHECK_PLAINTEXT, b"garrison-root-check")


def root_matches(root: Aead, check: bytes) -> bool:
    try:
        return root.open(check, b"garrison-root-check") == ROOT_CHECK_PLAINTEXT
    except DecryptionError:
        return False

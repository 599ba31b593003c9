"""The storage barrier: every sensitive value is sealed before it reaches a table.

    root key (key file, or Shamir shares)  --seals-->  keyring terms (table keyring)
    keyring term N                          --seals-->  column values

A sealed value is `0x01 || term (4 bytes, big-endian) || AES-256-GCM blob`, with
the record's identity (table, primary key, column) as associated data, so a
ciphertext copied into another row or column fails to open. Rotation adds a
term; old values keep opening under the term they name, new ones use the newest.

Two states, kept apart on purpose:

    no keys --load()--> keys loaded, sealed --unseal()--> serving
       ^                                                     |
       +-------------------------- seal_off() ---------------+

`sealed` is what the HTTP layer asks ("may I serve?"); the keys are usable as
soon as they are loaded, so the node can finish its own start-up (audit signing
key, first account) before it answers any caller.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping

from garrison.crypto.aead import Aead, DecryptionError

FORMAT_VERSION = 1
_HEADER = struct.Struct(">BI")
HEADER_BYTES = _HEADER.size
ROOT_CHECK_PLAINTEXT = b"garrison root key check v1"


class SealedError(Exception):
    """The barrier has no keys: the server is sealed."""


def identity(table: str, pk: str, column: str) -> bytes:
    return f"{table}\x00{pk}\x00{column}".encode()


def keyring_identity(term: int) -> bytes:
    return identity("keyring", str(term), "sealed_key")


def sealed_term(value: bytes) -> int:
    """The keyring term a sealed value names (its header; not authenticated until opened)."""
    if len(value) < HEADER_BYTES:
        raise DecryptionError()
    version, term = _HEADER.unpack_from(value)
    if version != FORMAT_VERSION:
        raise DecryptionError()
    return int(term)


class Barrier:
    """Seals and opens column values with the keyring; empty while sealed."""

    def __init__(self) -> None:
        # Replaced whole, never mutated: readers on other threads see either
        # the old or the new mapping, never a half-updated one.
        self._terms: Mapping[int, Aead] = {}
        self._active = 0
        self._serving = False
        # Called when a value names a term this node has not loaded (another
        # node rotated the keyring a moment ago): loads new terms from the store.
        self.term_loader: Callable[[], object] | None = None

    @property
    def sealed(self) -> bool:
        """True until the node is unsealed and ready to serve."""
        return not self._serving

    @property
    def has_keys(self) -> bool:
        return bool(self._terms)

    @property
    def active_term(self) -> int:
        return self._active

    @property
    def terms(self) -> frozenset[int]:
        return frozenset(self._terms)

    def load(self, terms: Mapping[int, bytes]) -> None:
        """Install decrypted term keys (called once the root key is known)."""
        loaded = {term: Aead(key) for term, key in terms.items()}
        self._terms = loaded
        self._active = max(loaded) if loaded else 0

    def add_term(self, term: int, key: bytes) -> None:
        if term in self._terms:
            return
        self._terms = {**self._terms, term: Aead(key)}
        self._active = max(self._active, term)

    def unseal(self) -> None:
        """Start serving; the keys must be loaded."""
        if not self._terms:
            raise SealedError("the barrier has no keys")
        self._serving = True

    def seal_off(self) -> None:
        self._serving = False
        self._terms = {}
        self._active = 0
        self.term_loader = None

    def seal(self, table: str, pk: str, column: str, plaintext: bytes) -> bytes:
        terms, active = self._terms, self._active
        if not terms:
            raise SealedError("the barrier is sealed")
        blob = terms[active].seal(plaintext, identity(table, pk, column))
        return _HEADER.pack(FORMAT_VERSION, active) + blob

    def open(self, table: str, pk: str, column: str, value: bytes) -> bytes:
        if not self._terms:
            raise SealedError("the barrier is sealed")
        term = sealed_term(value)
        aead = self._terms.get(term)
        if aead is None and self.term_loader is not None:
            self.term_loader()
            aead = self._terms.get(term)
        if aead is None:
            raise DecryptionError()
        return aead.open(value[HEADER_BYTES:], identity(table, pk, column))


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

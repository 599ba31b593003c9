"""Where the root key comes from, and unsealing the barrier with it.

Two sources today:
- `file`: a random 32-byte key in a file (0600) beside the data; auto-unsealed.
- `shamir`: the key exists only as N shares, K of which unseal the server
  (`garrison operator init --shares N --threshold K`, then `operator unseal`).

The store keeps a check value (a constant sealed under the root key) so a wrong
key or wrong shares are refused instead of producing garbage.

Once unsealed, a node keeps the root key in memory (`RootKey`) so that keyring
terms added later by `garrison operator rotate`, or by another node, can be
opened without a restart: the state-version poll and the barrier's unknown-term
hook both call `RootKey.load_new_terms`.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from garrison.crypto import shamir
from garrison.crypto.aead import Aead, DecryptionError, new_key
from garrison.storage import schema
from garrison.storage.barrier import (
    open_term_key,
    root_check_value,
    root_matches,
    seal_term_key,
)
from garrison.storage.database import Database
from garrison.storage.writer import Tx


class SealError(Exception):
    """Wrong key or shares, or a store in the wrong state; the message is safe to show."""


def get_meta(tx: Tx, name: str) -> bytes | None:
    row = tx.execute(select(schema.meta.c.value).where(schema.meta.c.name == name)).first()
    return bytes(row[0]) if row else None


def set_meta(tx: Tx, name: str, value: bytes) -> None:
    t = schema.meta
    if get_meta(tx, name) is None:
        tx.execute(t.insert(), {"name": name, "value": value})
    else:
        tx.execute(t.update().where(t.c.name == name).values(value=value))


def seal_type(db: Database) -> str | None:
    value = db.read(lambda tx: get_meta(tx, "seal_type"))
    return value.decode() if value else None


def shamir_threshold(db: Database) -> int:
    value = db.read(lambda tx: get_meta(tx, "shamir_threshold"))
    if value is None:
        raise SealError("the store is not sealed with Shamir shares")
    return int(value.decode())


def _create_keyring(tx: Tx, root: Aead) -> None:
    set_meta(tx, "root_check", root_check_value(root))
    term_key = new_key()
    tx.execute(
        schema.keyring.insert(),
        {"term": 1, "sealed_key": seal_term_key(root, 1, term_key), "created_at": time.time()},
    )


def write_key_file(path: Path, key: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.b64encode(key) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_key_file(path: Path) -> bytes:
    try:
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except FileNotFoundError:
        raise SealError(
            f"the root key file {path} is missing: this store cannot be unsealed without it"
        ) from None
    except (OSError, ValueError) as exc:
        raise SealError(f"cannot read the root key file {path}: {exc}") from None
    if len(key) != 32:
        raise SealError(f"the root key file {path} does not hold a 32-byte key")
    return key


def init_file_seal(db: Database, key_path: Path) -> None:
    """A new store whose root key lives in `key_path`.

    The key file is written (and synced) before the store records it, so a
    crash in between leaves a stray key file, never a store nobody can open.
    """
    if seal_type(db) is not None:
        raise SealError("the store is already initialised")
    key = new_key()
    root = Aead(key)
    try:
        write_key_file(key_path, key)
    except FileExistsError:
        raise SealError(f"refusing to overwrite the existing root key file {key_path}") from None

    def unit(tx: Tx) -> None:
        if get_meta(tx, "seal_type") is not None:
            raise SealError("the store is already initialised")
        set_meta(tx, "seal_type", b"file")
        _create_keyring(tx, root)

    try:
        db.writer.run_sync(unit)
    except BaseException:
        key_path.unlink(missing_ok=True)
        raise


def init_shamir_seal(db: Database, shares: int, threshold: int) -> list[str]:
    """A new store whose root key is split into shares; returns them (shown once)."""
    if not (1 <= threshold <= shares <= 255) or (threshold == 1 and shares != 1):
        raise SealError("need 2 <= threshold <= shares <= 255 (or a single share)")
    key = new_key()
    root = Aead(key)
    parts = shamir.split(key, shares, threshold)

    def unit(tx: Tx) -> None:
        if get_meta(tx, "seal_type") is not None:
            raise SealError("the store is already initialised")
        set_meta(tx, "seal_type", b"shamir")
        set_meta(tx, "shamir_threshold", str(threshold).encode())
        set_meta(tx, "shamir_shares", str(shares).encode())
        _create_keyring(tx, root)

    db.writer.run_sync(unit)
    return [base64.b64encode(p).decode() for p in parts]


def decode_share(text: str) -> bytes:
    try:
        part = base64.b64decode(text.strip(), validate=True)
    except (ValueError, binascii.Error):
        raise SealError("a share is base64 text as printed by `operator init`") from None
    # a share of a 32-byte key is 33 bytes (its x-coordinate last); a store
    # with a single share has the key itself as that share
    if len(part) not in (32, 33):
        raise SealError("a share is base64 text as printed by `operator init`")
    return part


def combine_shares(parts: list[bytes]) -> bytes:
    """The root key from `threshold` shares (not yet checked against the store)."""
    if len(parts) == 1:
        return parts[0]
    try:
        return shamir.combine(parts)
    except ValueError:
        raise SealError("the shares given do not unseal this store") from None


class RootKey:
    """The root key of an unsealed node, kept to open keyring terms added later."""

    def __init__(self, db: Database, key: bytes) -> None:
        self._db = db
        self._root = Aead(key)
        self._lock = threading.Lock()

    def check(self, tx: Tx) -> None:
        stored = get_meta(tx, "root_check")
        if stored is None:
            raise SealError("the store is not initialised")
        if not root_matches(self._root, stored):
            raise SealError("the root key does not match this store")

    def load_keyring(self) -> None:
        """Check the key against the store and install every term in the barrier."""

        def load(tx: Tx) -> dict[int, bytes]:
            self.check(tx)
            rows = tx.execute(select(schema.keyring)).all()
            return {int(r.term): self._open(int(r.term), bytes(r.sealed_key)) for r in rows}

        terms = self._db.read(load)
        if not terms:
            raise SealError("the store has no keyring")
        self._db.barrier.load(terms)

    def load_new_terms(self) -> list[int]:
        """Terms added since the barrier was loaded (by `operator rotate` or another node)."""
        with self._lock:
            barrier = self._db.barrier
            known = max(barrier.terms, default=0)

            def load(tx: Tx) -> dict[int, bytes]:
                rows = tx.execute(select(schema.keyring).where(schema.keyring.c.term > known)).all()
                return {int(r.term): self._open(int(r.term), bytes(r.sealed_key)) for r in rows}

            new = self._db.read(load)
            for term in sorted(new):
                barrier.add_term(term, new[term])
            return sorted(new)

    def add_term(self) -> int:
        """Add a keyring term; new values are sealed under it, old ones still open."""

        def unit(tx: Tx) -> tuple[int, bytes]:
            self.check(tx)
            current = tx.execute(
                select(schema.keyring.c.term).order_by(schema.keyring.c.term.desc())
            ).first()
            term = (int(current[0]) if current else 0) + 1
            term_key = new_key()
            tx.execute(
                schema.keyring.insert(),
                {
                    "term": term,
                    "sealed_key": seal_term_key(self._root, term, term_key),
                    "created_at": time.time(),
                },
            )
            # bumps the state version: running nodes reload the keyring on it
            tx.mark_changed()
            return term, term_key

        try:
            term, term_key = self._db.writer.run_sync(unit)
        except IntegrityError:
            raise SealError("another rotation added the same term; run it again") from None
        self._db.barrier.add_term(term, term_key)
        return term

    def _open(self, term: int, sealed: bytes) -> bytes:
        try:
            return open_term_key(self._root, term, sealed)
        except DecryptionError:
            raise SealError(f"keyring term {term} does not open under the root key") from None


def unseal_with_key(db: Database, key: bytes) -> RootKey:
    """Check the root key against the store and load the keyring into the barrier.

    The barrier's keys are usable afterwards but it does not serve yet: the
    caller finishes its start-up, then calls `db.barrier.unseal()`.
    """
    if len(key) != 32:
        raise SealError("the root key does not match this store")
    root = RootKey(db, key)
    root.load_keyring()
    db.barrier.term_loader = root.load_new_terms
    return root


def rotate_keyring(db: Database, key: bytes) -> int:
    """Add a keyring term under the root key `key`; returns the new term."""
    return RootKey(db, key).add_term()


class ShamirUnsealer:
    """Collects shares until the threshold is met, then loads the keyring."""

    def __init__(self, db: Database, threshold: int) -> None:
        self.db = db
        self.threshold = threshold
        self._parts: list[bytes] = []
        self._lock = threading.Lock()
        self.root: RootKey | None = None

    @property
    def progress(self) -> int:
        return len(self._parts)

    def reset(self) -> None:
        with self._lock:
            self._parts = []

    def submit(self, share_b64: str) -> bool:
        """Add one share; True once the keyring is loaded. Raises SealError on a bad share."""
        part = decode_share(share_b64)
        with self._lock:
            if self.root is not None:
                return True
            if any(p == part for p in self._parts):
                raise SealError("this share was already given")
            if any(p[-1] == part[-1] for p in self._parts):
                self._parts = []
                raise SealError(
                    "this share does not belong with the ones given before; start again"
                )
            self._parts.append(part)
            if len(self._parts) < self.threshold:
                return False
            parts, self._parts = self._parts, []
            try:
                self.root = unseal_with_key(self.db, combine_shares(parts))
            except SealError:
                raise SealError("the shares given do not unseal this store; start again") from None
            return True

"""Where the root key comes from, and unsealing the barrier with it.

Two sources today:
- `file`: a random 32-byte key in a file (0600) beside the data; auto-unsealed.
- `shamir`: the key exists only as N shares, K of which unseal the server
  (`garrison operator init --shares N --threshold K`, then `operator unseal`).

The store keeps a check value (a constant sealed under the root key) so a wrong
key or wrong shares are refused instead of producing garbage.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from pathlib import Path

from sqlalchemy import select

from garrison.crypto import shamir
from garrison.crypto.aead import Aead, new_key
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


def _create_keyring(tx: Tx, root: Aead) -> None:
    set_meta(tx, "root_check", root_check_value(root))
    term_key = new_key()
    tx.execute(
        schema.keyring.insert(),
        {"term": 1, "sealed_key": seal_term_key(root, 1, term_key), "created_at": time.time()},
    )


def write_key_file(path: Path, key: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.b64encode(key) + b"\n")


def read_key_file(path: Path) -> bytes:
    try:
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except (OSError, ValueError) as exc:
        raise SealError(f"cannot read the root key file {path}: {exc}") from None
    if len(key) != 32:
        raise SealError(f"the root key file {path} does not hold a 32-byte key")
    return key


def init_file_seal(db: Database, key_path: Path) -> None:
    """A new store whose root key lives in `key_path`."""
    if key_path.exists():
        raise SealError(f"refusing to overwrite the existing root key file {key_path}")
    key = new_key()
    root = Aead(key)

    def unit(tx: Tx) -> None:
        if get_meta(tx, "seal_type") is not None:
            raise SealError("the store is already initialised")
        set_meta(tx, "seal_type", b"file")
        _create_keyring(tx, root)

    db.writer.run_sync(unit)
    write_key_file(key_path, key)


def init_shamir_seal(db: Database, shares: int, threshold: int) -> list[str]:
    """A new store whose root key is split into shares; returns them (shown once)."""
    if not (1 <= threshold <= shares <= 255) or (threshold == 1 and shares != 1):
        raise SealError("need 2 <= threshold <= shares <= 255 (or a single share)")
    key = new_key()
    root = Aead(key)

    def unit(tx: Tx) -> None:
        if get_meta(tx, "seal_type") is not None:
            raise SealError("the store is already initialised")
        set_meta(tx, "seal_type", b"shamir")
        set_meta(tx, "shamir_threshold", str(threshold).encode())
        set_meta(tx, "shamir_shares", str(shares).encode())
        _create_keyring(tx, root)

    db.writer.run_sync(unit)
    parts = shamir.split(key, shares, threshold) if shares > 1 else [key]
    return [base64.b64encode(p).decode() for p in parts]


def unseal_with_key(db: Database, key: bytes) -> None:
    """Check the root key against the store and load the keyring into the barrier."""
    root = Aead(key)

    def load(tx: Tx) -> dict[int, bytes]:
        check = get_meta(tx, "root_check")
        if check is None or not root_matches(root, check):
            raise SealError("the root key does not match this store")
        rows = tx.execute(select(schema.keyring)).all()
        return {int(r.term): open_term_key(root, int(r.term), bytes(r.sealed_key)) for r in rows}

    db.barrier.load(db.read(load))


def rotate_keyring(db: Database, key: bytes) -> int:
    """Add a keyring term; new values are sealed under it, old ones still open."""
    root = Aead(key)

    def unit(tx: Tx) -> tuple[int, bytes]:
        check = get_meta(tx, "root_check")
        if check is None or not root_matches(root, check):
            raise SealError("the root key does not match this store")
        current = tx.execute(
            select(schema.keyring.c.term).order_by(schema.keyring.c.term.desc())
        ).first()
        term = (int(current[0]) if current else 0) + 1
        term_key = new_key()
        tx.execute(
            schema.keyring.insert(),
            {
                "term": term,
                "sealed_key": seal_term_key(root, term, term_key),
                "created_at": time.time(),
            },
        )
        tx.mark_changed()
        return term, term_key

    term, term_key = db.writer.run_sync(unit)
    db.barrier.add_term(term, term_key)
    return term


def reload_keyring_if_needed(db: Database, key: bytes | None) -> None:
    """Another node rotated: pick up new terms (needs the root key kept in memory)."""
    if key is not None:
        unseal_with_key(db, key)


class ShamirUnsealer:
    """Collects shares until the threshold is met, then unseals."""

    def __init__(self, db: Database, threshold: int) -> None:
        self.db = db
        self.threshold = threshold
        self._parts: list[bytes] = []
        self._lock = threading.Lock()
        self.root_key: bytes | None = None

    @property
    def progress(self) -> int:
        return len(self._parts)

    def reset(self) -> None:
        with self._lock:
            self._parts = []

    def submit(self, share_b64: str) -> bool:
        """Add one share; True once unsealed. Raises SealError on a bad share."""
        try:
            part = base64.b64decode(share_b64.strip(), validate=True)
        except ValueError:
            raise SealError("a share is base64 text as printed by `operator init`") from None
        with self._lock:
            if not self.db.barrier.sealed:
                return True
            if part in self._parts:
                raise SealError("this share was already given")
            self._parts.append(part)
            if len(self._parts) < self.threshold:
                return False
            parts, self._parts = self._parts, []
        try:
            key = shamir.combine(parts) if self.threshold > 1 else parts[0]
            unseal_with_key(self.db, key)
        except (ValueError, SealError):
            raise SealError("the shares given do not unseal this store; start again") from None
        self.root_key = key
        return True

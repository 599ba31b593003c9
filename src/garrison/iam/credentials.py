"""Access keys: who signed a request, and the secret SigV4 needs to check it.

Secrets are sealed in the table by the barrier and held decrypted only in this
in-memory cache, which is filled lazily and dropped when another node changes
state (the version poller calls `invalidate`).
"""

from __future__ import annotations

import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from garrison.context import Principal, PrincipalType
from garrison.storage import schema
from garrison.storage.barrier import Barrier
from garrison.storage.sql import insert, select
from garrison.storage.writer import Tx

ReadFn = Callable[[Callable[[Tx], Any]], Any]
_KEY_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"


@dataclass(frozen=True, slots=True)
class AccessKey:
    access_key_id: str
    secret: str
    principal: Principal
    active: bool


def new_access_key_id(prefix: str = "AKIA") -> str:
    return prefix + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))


def new_secret_access_key() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


def new_account_id() -> str:
    return str(secrets.randbelow(9 * 10**11) + 10**11)


def root_principal(account_id: str, access_key_id: str = "") -> Principal:
    return Principal(
        arn=f"arn:aws:iam::{account_id}:root",
        account_id=account_id,
        type="Root",
        user_id=account_id,
        access_key_id=access_key_id,
    )


class CredentialStore:
    def __init__(self, barrier: Barrier, read: ReadFn) -> None:
        self._barrier = barrier
        self._read = read
        self._cache: dict[str, AccessKey | None] = {}
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._cache = {}

    def get(self, access_key_id: str) -> AccessKey | None:
        cache = self._cache
        if access_key_id in cache:
            return cache[access_key_id]
        key: AccessKey | None = self._read(lambda tx: self._load(tx, access_key_id))
        with self._lock:
            if len(self._cache) > 100_000:
                self._cache = {}
            self._cache[access_key_id] = key
        return key

    def secret_for(self, access_key_id: str) -> str | None:
        key = self.get(access_key_id)
        return key.secret if key is not None and key.active else None

    def _load(self, tx: Tx, access_key_id: str) -> AccessKey | None:
        t = schema.access_keys
        row = tx.execute(select(t).where(t.c.access_key_id == access_key_id)).first()
        if row is None:
            return None
        secret = self._barrier.open("access_keys", access_key_id, "secret", row.secret).decode()
        ptype: PrincipalType = row.principal_type
        principal = Principal(
            arn=row.principal_arn,
            account_id=row.account_id,
            type=ptype,
            user_id=row.user_id,
            access_key_id=access_key_id,
            user_name=row.user_name,
        )
        return AccessKey(access_key_id, secret, principal, row.status == "Active")


def create_root_access_key(
    tx: Tx, account_id: str, access_key_id: str, secret: str, now: float
) -> None:
    principal = root_principal(account_id)
    tx.execute(
        insert(schema.access_keys),
        {
            "access_key_id": access_key_id,
            "account_id": account_id,
            "principal_arn": principal.arn,
            "principal_type": principal.type,
            "user_id": principal.user_id,
            "user_name": "",
            "secret": tx.barrier.seal("access_keys", access_key_id, "secret", secret.encode()),
            "status": "Active",
            "created_at": now,
        },
    )


def service_principal(account_id: str, service: str) -> Principal:
    """An AWS service acting on its own (scheduled deletions and rotations)."""
    return Principal(arn=service, account_id=account_id, type="AWSService", user_id=service)

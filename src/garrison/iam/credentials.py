"""Access keys: who signed a request, and the secret SigV4 needs to check it.

Two kinds of key share one lookup (`CredentialStore.get`):

    long-term   access_keys    AKIA... of the root user and IAM users
    temporary   sts_sessions   ASIA... issued by AssumeRole, with a session token
                               (only its SHA-256 is stored) and an expiry

Secrets are sealed in the tables by the barrier and held decrypted only in this
in-memory cache, which is filled lazily and dropped when another node changes
state (the version poller calls `invalidate`). `check_session_token` is the one
place that decides whether a request's X-Amz-Security-Token fits its key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from garrison.context import Principal, PrincipalType, RoleSession
from garrison.errors import ExpiredTokenException, UnrecognizedClientException
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
    # temporary credentials only: SHA-256 of the session token, epoch expiry
    token_hash: bytes | None = None
    expires_at: float | None = None


_INVALID_TOKEN = "The security token included in the request is invalid."  # noqa: S105
_EXPIRED_TOKEN = "The security token included in the request is expired"  # noqa: S105


def new_session_token() -> str:
    """An opaque session token: 96 random bytes, base64 (AWS's are similar in shape)."""
    return base64.b64encode(os.urandom(96)).decode()


def session_token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def check_session_token(key: AccessKey, token: str | None, now: float) -> None:
    """Refuse a request whose security token does not fit its access key.

    A temporary key needs its own token and must not have expired (judged on the
    injected clock); a long-term key must come without one. Every mismatch gets
    the same answer, so a caller learns nothing about which part was wrong.
    """
    if key.token_hash is None:
        if token is not None:
            raise UnrecognizedClientException(_INVALID_TOKEN)
        return
    if token is None or not hmac.compare_digest(session_token_digest(token), key.token_hash):
        raise UnrecognizedClientException(_INVALID_TOKEN)
    if key.expires_at is not None and now >= key.expires_at:
        raise ExpiredTokenException(_EXPIRED_TOKEN)


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
            return self._load_session(tx, access_key_id)
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

    def _load_session(self, tx: Tx, access_key_id: str) -> AccessKey | None:
        t = schema.sts_sessions
        row = tx.execute(select(t).where(t.c.access_key_id == access_key_id)).first()
        if row is None:
            return None
        secret = self._barrier.open("sts_sessions", access_key_id, "secret", row.secret).decode()
        tags: dict[str, str] = orjson.loads(row.tags)
        session = RoleSession(
            role_arn=row.role_arn,
            role_id=row.role_id,
            role_name=row.role_arn.rsplit("/", 1)[-1],
            session_name=row.session_name,
            created_at=row.created_at,
            expires_at=row.expires_at,
            source_identity=row.source_identity or "",
            tags=tuple(tags.items()),
            transitive_tag_keys=tuple(orjson.loads(row.transitive_tag_keys)),
            session_policy=row.session_policy,
            policy_arns=tuple(orjson.loads(row.policy_arns)),
            chained=bool(row.chained),
        )
        principal = Principal(
            arn=row.assumed_role_arn,
            account_id=row.account_id,
            type="AssumedRole",
            user_id=f"{row.role_id}:{row.session_name}",
            access_key_id=access_key_id,
            session=session,
        )
        return AccessKey(
            access_key_id,
            secret,
            principal,
            True,
            token_hash=bytes(row.token_hash),
            expires_at=row.expires_at,
        )


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


def forget_keys(store: CredentialStore, access_key_ids: list[str]) -> None:
    """Drop some keys from this node's cache (IAM changed or deleted them)."""
    with store._lock:
        for key_id in access_key_ids:
            store._cache.pop(key_id, None)

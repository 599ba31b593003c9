"""STS persistence: the roles AssumeRole reads, the sessions it writes.

Roles belong to the IAM service (`iam_roles`); STS only reads them and records
their last use. Sessions (`sts_sessions`) hold the secret sealed by the barrier
and the session token's SHA-256 only; `garrison.iam.credentials` reads them back
to authenticate requests.
"""

from __future__ import annotations

import orjson

from garrison.services.sts.domain import IssuedSession, Role
from garrison.storage import schema
from garrison.storage.sql import and_, delete, insert, select, update
from garrison.storage.writer import Tx


def find_role(tx: Tx, account_id: str, role_name: str) -> Role | None:
    """The role called `role_name` (case-insensitively, as IAM names are) in an account."""
    t = schema.iam_roles
    row = tx.execute(
        select(
            t.c.role_id,
            t.c.account_id,
            t.c.role_name,
            t.c.arn,
            t.c.trust_policy,
            t.c.max_session_duration,
        ).where(and_(t.c.account_id == account_id, t.c.name_lower == role_name.lower()))
    ).first()
    if row is None:
        return None
    return Role(
        role_id=row.role_id,
        account_id=row.account_id,
        name=row.role_name,
        arn=row.arn,
        trust_policy=row.trust_policy,
        max_session_duration=int(row.max_session_duration),
    )


def record_role_use(tx: Tx, role_id: str, now: float, region: str) -> None:
    """RoleLastUsed: AWS updates it when the role is assumed."""
    t = schema.iam_roles
    tx.execute(
        update(t).where(t.c.role_id == role_id).values(last_used_at=now, last_used_region=region)
    )


def insert_session(tx: Tx, session: IssuedSession, token_hash: bytes) -> None:
    grant = session.grant
    key_id = session.access_key_id
    tx.execute(
        insert(schema.sts_sessions),
        {
            "access_key_id": key_id,
            "account_id": grant.role.account_id,
            "secret": tx.barrier.seal(
                "sts_sessions", key_id, "secret", session.secret_access_key.encode()
            ),
            "token_hash": token_hash,
            "role_id": grant.role.role_id,
            "role_arn": grant.role.arn,
            "session_name": grant.session_name,
            "assumed_role_arn": grant.assumed_role_arn,
            "source_identity": grant.source_identity or None,
            "session_policy": grant.session_policy,
            "policy_arns": orjson.dumps(list(grant.policy_arns)).decode(),
            "tags": orjson.dumps(dict(grant.tags)).decode(),
            "transitive_tag_keys": orjson.dumps(list(grant.transitive_tag_keys)).decode(),
            "chained": grant.chained,
            "issued_by": grant.issued_by,
            "created_at": grant.created_at,
            "expires_at": grant.expires_at,
        },
    )


def session_account(tx: Tx, access_key_id: str) -> str | None:
    """The account of a temporary access key, if Garrison issued it."""
    t = schema.sts_sessions
    return tx.execute(  # type: ignore[no-any-return]
        select(t.c.account_id).where(t.c.access_key_id == access_key_id)
    ).scalar()


def access_key_account(tx: Tx, access_key_id: str) -> str | None:
    """The account of a long-term access key (root or IAM user), if it exists."""
    t = schema.access_keys
    return tx.execute(  # type: ignore[no-any-return]
        select(t.c.account_id).where(t.c.access_key_id == access_key_id)
    ).scalar()


def purge_expired(tx: Tx, expired_before: float, limit: int = 1000) -> int:
    """Delete up to `limit` sessions that expired before `expired_before`; how many went."""
    t = schema.sts_sessions
    keys = [
        row.access_key_id
        for row in tx.execute(
            select(t.c.access_key_id).where(t.c.expires_at < expired_before).limit(limit)
        )
    ]
    if keys:
        tx.execute(delete(t).where(t.c.access_key_id.in_(keys)))
    return len(keys)

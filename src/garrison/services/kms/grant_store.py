"""KMS grant persistence: the ``kms_grants`` table, in `Grant` values.

Only this module knows the table. Operations are stored space-separated and
the constraint's encryption context as canonical JSON (sorted keys), so equal
grants read back equal. Grants hold no secret: nothing here is sealed. Every
function runs inside the caller's `Tx`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from garrison.services.kms.domain import key_arn
from garrison.services.kms.grant_domain import ConstraintType, Grant, GrantConstraint
from garrison.storage import schema
from garrison.storage.sql import delete, func, insert, select
from garrison.storage.writer import Tx

_grants = schema.kms_grants
_keys = schema.kms_keys


def _row(grant: Grant) -> dict[str, Any]:
    constraint = grant.constraint
    return {
        "grant_id": grant.grant_id,
        "key_id": grant.key_id,
        "issuing_account": grant.issuing_account,
        "grantee_principal": grant.grantee_principal,
        "retiring_principal": grant.retiring_principal,
        "operations": " ".join(grant.operations),
        "constraint_type": constraint.kind.value if constraint else None,
        "constraint_context": (
            json.dumps(dict(constraint.context), sort_keys=True) if constraint else None
        ),
        "name": grant.name,
        "created_at": grant.created_at.timestamp(),
    }


def _grant(row: Mapping[str, Any], region: str, account: str) -> Grant:
    constraint = None
    if row["constraint_type"] is not None:
        context = json.loads(row["constraint_context"] or "{}")
        constraint = GrantConstraint.of(ConstraintType(row["constraint_type"]), context)
    return Grant(
        grant_id=row["grant_id"],
        key_id=row["key_id"],
        key_arn=key_arn(account, region, row["key_id"]),
        issuing_account=row["issuing_account"],
        grantee_principal=row["grantee_principal"],
        retiring_principal=row["retiring_principal"],
        operations=tuple(row["operations"].split()),
        constraint=constraint,
        name=row["name"],
        created_at=datetime.fromtimestamp(row["created_at"], UTC),
    )


_COLUMNS = (*_grants.c, _keys.c.region, _keys.c.account_id)


def _select() -> Any:
    return select(*_COLUMNS).join(_keys, _keys.c.key_id == _grants.c.key_id)


def _many(tx: Tx, stmt: Any) -> list[Grant]:
    return [_grant(row, row["region"], row["account_id"]) for row in tx.execute(stmt).mappings()]


def insert_grant(tx: Tx, grant: Grant) -> None:
    tx.execute(insert(_grants).values(**_row(grant)))


def get_grant(tx: Tx, grant_id: str) -> Grant | None:
    found = _many(tx, _select().where(_grants.c.grant_id == grant_id))
    return found[0] if found else None


def grants_named(tx: Tx, key_id: str, name: str) -> list[Grant]:
    stmt = _select().where(_grants.c.key_id == key_id).where(_grants.c.name == name)
    return _many(tx, stmt.order_by(_grants.c.grant_id))


def grants_of_key(tx: Tx, key_id: str, limit: int) -> list[Grant]:
    """Up to `limit` of the key's grants (the cache's copy for authorisation)."""
    stmt = _select().where(_grants.c.key_id == key_id).order_by(_grants.c.grant_id)
    return _many(tx, stmt.limit(limit))


def grants_for(tx: Tx, key_id: str, grantees: tuple[str, ...]) -> list[Grant]:
    """The key's grants whose grantee is one of `grantees` (authorisation)."""
    stmt = (
        _select().where(_grants.c.key_id == key_id).where(_grants.c.grantee_principal.in_(grantees))
    )
    return _many(tx, stmt)


def list_grants(
    tx: Tx,
    key_id: str,
    *,
    after: str | None,
    limit: int,
    grant_id: str | None = None,
    grantee: str | None = None,
) -> list[Grant]:
    stmt = _select().where(_grants.c.key_id == key_id)
    if grant_id is not None:
        stmt = stmt.where(_grants.c.grant_id == grant_id)
    if grantee is not None:
        stmt = stmt.where(_grants.c.grantee_principal == grantee)
    if after is not None:
        stmt = stmt.where(_grants.c.grant_id > after)
    return _many(tx, stmt.order_by(_grants.c.grant_id).limit(limit))


def list_retirable(
    tx: Tx, region: str, retiring_principal: str, *, after: str | None, limit: int
) -> list[Grant]:
    stmt = (
        _select()
        .where(_grants.c.retiring_principal == retiring_principal)
        .where(_keys.c.region == region)
    )
    if after is not None:
        stmt = stmt.where(_grants.c.grant_id > after)
    return _many(tx, stmt.order_by(_grants.c.grant_id).limit(limit))


def count_grants(tx: Tx, key_id: str) -> int:
    stmt = select(func.count()).select_from(_grants).where(_grants.c.key_id == key_id)
    return int(tx.execute(stmt).scalar_one())


def delete_grant(tx: Tx, grant_id: str) -> None:
    tx.execute(delete(_grants).where(_grants.c.grant_id == grant_id))


def delete_key_grants(tx: Tx, key_id: str) -> None:
    """Grants go with their key (key deletion)."""
    tx.execute(delete(_grants).where(_grants.c.key_id == key_id))

"""IAM persistence for policies: managed policies and versions, attachments, inline policies.

AWS managed policies are rows like any other, under account ``aws``; their use
is counted per account by joining the attachments to the account's principals
(an AWS managed policy attached in two accounts counts once in each).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from garrison.services.common.rows import count, dt, exists, first, ts
from garrison.services.iam.domain import (
    Kind,
    ManagedPolicy,
    PolicyUsage,
    PolicyVersion,
    Principal,
)
from garrison.storage import schema
from garrison.storage.sql import delete, func, insert, select, update
from garrison.storage.writer import Tx

_policies = schema.iam_policies
_versions = schema.iam_policy_versions
_attach = schema.iam_attachments
_inline = schema.iam_inline_policies
_users = schema.iam_users
_groups = schema.iam_groups
_roles = schema.iam_roles

# kind -> (table, id column, name column)
_PRINCIPAL_TABLES: dict[Kind, tuple[Any, Any, Any]] = {
    Kind.USER: (_users, _users.c.user_id, _users.c.user_name),
    Kind.GROUP: (_groups, _groups.c.group_id, _groups.c.group_name),
    Kind.ROLE: (_roles, _roles.c.role_id, _roles.c.role_name),
}


# -- managed policies -------------------------------------------------------------------


def _policy(row: Any) -> ManagedPolicy:
    return ManagedPolicy(
        policy_id=row.policy_id,
        account_id=row.account_id,
        name=row.policy_name,
        path=row.path,
        arn=row.arn,
        description=row.description,
        default_version_id=row.default_version_id,
        next_version=row.next_version,
        created_at=dt(row.created_at),
        updated_at=dt(row.updated_at),
    )


def get_policy(tx: Tx, arn: str) -> ManagedPolicy | None:
    return first(tx, select(_policies).where(_policies.c.arn == arn), _policy)


def policy_name_taken(tx: Tx, account_id: str, name: str) -> bool:
    return exists(
        tx,
        select(_policies.c.policy_id).where(
            _policies.c.account_id == account_id, _policies.c.name_lower == name.lower()
        ),
    )


def insert_policy(tx: Tx, policy: ManagedPolicy, first: PolicyVersion) -> None:
    tx.execute(
        insert(_policies),
        {
            "policy_id": policy.policy_id,
            "account_id": policy.account_id,
            "policy_name": policy.name,
            "name_lower": policy.name.lower(),
            "path": policy.path,
            "arn": policy.arn,
            "description": policy.description,
            "default_version_id": policy.default_version_id,
            "next_version": policy.next_version,
            "created_at": ts(policy.created_at),
            "updated_at": ts(policy.updated_at),
        },
    )
    insert_version(tx, first)


def update_policy(tx: Tx, policy_id: str, **values: Any) -> None:
    """Set columns of iam_policies (default_version_id, next_version, updated_at as floats)."""
    tx.execute(update(_policies).where(_policies.c.policy_id == policy_id).values(**values))


def delete_policy(tx: Tx, policy_id: str) -> None:
    tx.execute(delete(_versions).where(_versions.c.policy_id == policy_id))
    tx.execute(delete(schema.iam_tags).where(schema.iam_tags.c.resource_id == policy_id))
    tx.execute(delete(_policies).where(_policies.c.policy_id == policy_id))


def policies_of(tx: Tx, account_ids: Iterable[str], path_prefix: str | None) -> list[ManagedPolicy]:
    stmt = select(_policies).where(_policies.c.account_id.in_(list(account_ids)))
    if path_prefix and path_prefix != "/":
        rows = tx.execute(stmt)
        return [_policy(r) for r in rows if r.path.startswith(path_prefix)]
    return [_policy(r) for r in tx.execute(stmt)]


def count_policies(tx: Tx, account_id: str) -> int:
    return count(tx, _policies, _policies.c.account_id == account_id)


# -- versions ---------------------------------------------------------------------------


def _version(row: Any) -> PolicyVersion:
    return PolicyVersion(row.policy_id, row.version_id, row.document, dt(row.created_at))


def insert_version(tx: Tx, version: PolicyVersion) -> None:
    tx.execute(
        insert(_versions),
        {
            "policy_id": version.policy_id,
            "version_id": version.version_id,
            "document": version.document,
            "created_at": ts(version.created_at),
        },
    )


def get_version(tx: Tx, policy_id: str, version_id: str) -> PolicyVersion | None:
    stmt = select(_versions).where(
        _versions.c.policy_id == policy_id, _versions.c.version_id == version_id
    )
    return first(tx, stmt, _version)


def versions_of(tx: Tx, policy_id: str) -> list[PolicyVersion]:
    rows = tx.execute(select(_versions).where(_versions.c.policy_id == policy_id))
    return sorted((_version(r) for r in rows), key=lambda v: int(v.version_id[1:]))


def delete_version(tx: Tx, policy_id: str, version_id: str) -> None:
    tx.execute(
        delete(_versions).where(
            _versions.c.policy_id == policy_id, _versions.c.version_id == version_id
        )
    )


# -- usage ------------------------------------------------------------------------------


def _account_principal_ids(account_id: str) -> Any:
    """Every user, group and role id of one account (a subquery)."""
    return (
        select(_users.c.user_id.label("id"))
        .where(_users.c.account_id == account_id)
        .union_all(
            select(_groups.c.group_id).where(_groups.c.account_id == account_id),
            select(_roles.c.role_id).where(_roles.c.account_id == account_id),
        )
    )


def usage(tx: Tx, account_id: str, arns: Iterable[str] | None = None) -> dict[str, PolicyUsage]:
    """Attachments and boundary uses per policy ARN within one account."""
    wanted = None if arns is None else list(arns)
    attached = select(_attach.c.policy_arn, func.count()).where(
        _attach.c.principal_id.in_(_account_principal_ids(account_id))
    )
    if wanted is not None:
        attached = attached.where(_attach.c.policy_arn.in_(wanted))
    counts: dict[str, list[int]] = {}
    for arn, n in tx.execute(attached.group_by(_attach.c.policy_arn)):
        counts.setdefault(arn, [0, 0])[0] = int(n)
    for table in (_users, _roles):
        col = table.c.permissions_boundary
        stmt = select(col, func.count()).where(table.c.account_id == account_id, col.is_not(None))
        if wanted is not None:
            stmt = stmt.where(col.in_(wanted))
        for arn, n in tx.execute(stmt.group_by(col)):
            counts.setdefault(arn, [0, 0])[1] += int(n)
    return {arn: PolicyUsage(a, b) for arn, (a, b) in counts.items()}


def boundary_holders(tx: Tx, account_id: str, arn: str) -> list[Principal]:
    out: list[Principal] = []
    for kind in (Kind.USER, Kind.ROLE):
        table, id_col, name_col = _PRINCIPAL_TABLES[kind]
        rows = tx.execute(
            select(id_col, name_col, table.c.arn).where(
                table.c.account_id == account_id, table.c.permissions_boundary == arn
            )
        )
        out += [Principal(kind, r[0], r[1], account_id, r[2]) for r in rows]
    return out


# -- attachments ------------------------------------------------------------------------


def _of(table: Any, kind: Kind, principal_id: str) -> tuple[Any, Any]:
    """The conditions for one principal's rows of iam_attachments or iam_inline_policies."""
    return table.c.principal_kind == kind.value, table.c.principal_id == principal_id


def attached_arns(tx: Tx, kind: Kind, principal_id: str) -> list[str]:
    rows = tx.execute(select(_attach.c.policy_arn).where(*_of(_attach, kind, principal_id)))
    return [r.policy_arn for r in rows]


def attach(tx: Tx, kind: Kind, principal_id: str, arn: str, now: float) -> None:
    tx.execute(
        insert(_attach),
        {
            "principal_kind": kind.value,
            "principal_id": principal_id,
            "policy_arn": arn,
            "attached_at": now,
        },
    )


def detach(tx: Tx, kind: Kind, principal_id: str, arn: str) -> bool:
    done = tx.execute(
        delete(_attach).where(*_of(_attach, kind, principal_id), _attach.c.policy_arn == arn)
    )
    return bool(done.rowcount)


def attached_entities(tx: Tx, account_id: str, arn: str) -> list[Principal]:
    out: list[Principal] = []
    for kind, (table, id_col, name_col) in _PRINCIPAL_TABLES.items():
        rows = tx.execute(
            select(id_col, name_col, table.c.arn)
            .join(_attach, _attach.c.principal_id == id_col)
            .where(
                _attach.c.policy_arn == arn,
                _attach.c.principal_kind == kind.value,
                table.c.account_id == account_id,
            )
        )
        out += [Principal(kind, r[0], r[1], account_id, r[2]) for r in rows]
    return out


# -- inline policies --------------------------------------------------------------------


def inline_policies(tx: Tx, kind: Kind, principal_id: str) -> dict[str, str]:
    """Name -> document of every inline policy of one principal."""
    rows = tx.execute(
        select(_inline.c.policy_name, _inline.c.document).where(*_of(_inline, kind, principal_id))
    )
    return {r.policy_name: r.document for r in rows}


def put_inline(tx: Tx, kind: Kind, principal_id: str, name: str, document: str) -> None:
    """Create or replace an inline policy (names are case-sensitive, as in AWS)."""
    delete_inline(tx, kind, principal_id, name)
    tx.execute(
        insert(_inline),
        {
            "principal_kind": kind.value,
            "principal_id": principal_id,
            "policy_name": name,
            "document": document,
        },
    )


def delete_inline(tx: Tx, kind: Kind, principal_id: str, name: str) -> bool:
    done = tx.execute(
        delete(_inline).where(*_of(_inline, kind, principal_id), _inline.c.policy_name == name)
    )
    return bool(done.rowcount)

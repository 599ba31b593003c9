"""Persistence of organizations: rows of the org_* tables <-> domain objects.

Lists are keyset-paginated on each table's id (`after`: the last id of the
previous page), so a page stays correct while other requests add or remove
entries. The one AWS managed policy (p-FullAWSAccess) is a single row shared by
every organization; its attachments are told apart by the targets' organization.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from garrison.services.common.rows import after_key, count, exists, first
from garrison.services.organizations.domain import (
    FULL_AWS_ACCESS_ID,
    MANAGED_OWNER,
    CreateAccountState,
    CreateAccountStatus,
    MemberAccount,
    Organization,
    OrgPolicy,
    Unit,
    UnitKind,
    full_aws_access,
)
from garrison.storage import schema
from garrison.storage.sql import IntegrityError, delete, func, insert, or_, select, update
from garrison.storage.writer import Tx

ORGS = schema.org_organizations
U = schema.org_units
A = schema.org_accounts
S = schema.org_create_account_status
P = schema.org_policies
T = schema.org_policy_targets
G = schema.org_tags


# -- organizations --------------------------------------------------------------------
def _org(row: Any) -> Organization:
    return Organization(
        row.org_id, row.management_account_id, row.feature_set, row.arn, row.created_at
    )


def org_of_account(tx: Tx, account_id: str) -> Organization | None:
    """The organization `account_id` belongs to (as management or member account)."""
    q = select(ORGS).join(A, A.c.org_id == ORGS.c.org_id).where(A.c.account_id == account_id)
    return first(tx, q, _org)


def insert_org(tx: Tx, org: Organization) -> None:
    tx.execute(
        insert(ORGS),
        {
            "org_id": org.org_id,
            "management_account_id": org.management_account_id,
            "feature_set": org.feature_set,
            "arn": org.arn,
            "created_at": org.created_at,
        },
    )


def delete_org(tx: Tx, org_id: str) -> None:
    """Remove the organization and everything it holds (its accounts must be gone)."""
    units = select(U.c.unit_id).where(U.c.org_id == org_id)
    accounts = select(A.c.account_id).where(A.c.org_id == org_id)
    policies = select(P.c.policy_id).where(P.c.org_id == org_id)
    tx.execute(delete(T).where(or_(T.c.target_id.in_(units), T.c.target_id.in_(accounts))))
    tx.execute(delete(T).where(T.c.policy_id.in_(policies)))
    tx.execute(
        delete(G).where(
            or_(G.c.resource_id.in_(units), G.c.resource_id.in_(accounts)),
        )
    )
    tx.execute(delete(G).where(G.c.resource_id.in_(policies)))
    tx.execute(delete(P).where(P.c.org_id == org_id))
    tx.execute(delete(S).where(S.c.org_id == org_id))
    tx.execute(delete(A).where(A.c.org_id == org_id))
    tx.execute(delete(U).where(U.c.org_id == org_id))
    tx.execute(delete(ORGS).where(ORGS.c.org_id == org_id))


# -- roots and OUs --------------------------------------------------------------------
def _unit(row: Any) -> Unit:
    return Unit(
        unit_id=row.unit_id,
        org_id=row.org_id,
        kind=UnitKind(row.kind),
        parent_id=row.parent_id,
        name=row.name,
        arn=row.arn,
        policy_types=tuple(orjson.loads(row.policy_types)),
    )


def insert_unit(tx: Tx, unit: Unit) -> None:
    tx.execute(
        insert(U),
        {
            "unit_id": unit.unit_id,
            "org_id": unit.org_id,
            "kind": unit.kind.value,
            "parent_id": unit.parent_id,
            "name": unit.name,
            "arn": unit.arn,
            "policy_types": orjson.dumps(list(unit.policy_types)).decode(),
        },
    )


def get_unit(tx: Tx, org_id: str, unit_id: str) -> Unit | None:
    return first(tx, select(U).where(U.c.unit_id == unit_id, U.c.org_id == org_id), _unit)


def roots(tx: Tx, org_id: str) -> list[Unit]:
    rows = tx.execute(select(U).where(U.c.org_id == org_id, U.c.kind == UnitKind.ROOT.value))
    return [_unit(r) for r in rows]


def set_policy_types(tx: Tx, unit_id: str, types: Sequence[str]) -> None:
    tx.execute(
        update(U)
        .where(U.c.unit_id == unit_id)
        .values(policy_types=orjson.dumps(sorted(types)).decode())
    )


def rename_unit(tx: Tx, unit_id: str, name: str) -> None:
    tx.execute(update(U).where(U.c.unit_id == unit_id).values(name=name))


def delete_unit(tx: Tx, unit_id: str) -> None:
    tx.execute(delete(T).where(T.c.target_id == unit_id))
    tx.execute(delete(G).where(G.c.resource_id == unit_id))
    tx.execute(delete(U).where(U.c.unit_id == unit_id))


def child_units(tx: Tx, org_id: str, parent_id: str, after: str | None, limit: int) -> list[Unit]:
    q = select(U).where(U.c.org_id == org_id, U.c.parent_id == parent_id)
    return [_unit(r) for r in tx.execute(after_key(q, U.c.unit_id, after, limit))]


def ou_name_taken(tx: Tx, org_id: str, parent_id: str, name: str) -> bool:
    q = select(U.c.unit_id).where(U.c.org_id == org_id, U.c.parent_id == parent_id)
    return exists(tx, q.where(U.c.name == name))


def count_ous(tx: Tx, org_id: str) -> int:
    return count(tx, U, U.c.org_id == org_id, U.c.kind == "ou")


def has_children(tx: Tx, unit_id: str) -> bool:
    return exists(tx, select(U.c.unit_id).where(U.c.parent_id == unit_id)) or exists(
        tx, select(A.c.account_id).where(A.c.parent_id == unit_id)
    )


def units_of(tx: Tx, org_id: str) -> list[Unit]:
    return [_unit(r) for r in tx.execute(select(U).where(U.c.org_id == org_id))]


# -- accounts -------------------------------------------------------------------------
def _account(row: Any) -> MemberAccount:
    return MemberAccount(
        account_id=row.account_id,
        org_id=row.org_id,
        parent_id=row.parent_id,
        name=row.name,
        email=row.email,
        arn=row.arn,
        status=row.status,
        joined_method=row.joined_method,
        joined_at=row.joined_at,
    )


def insert_account(tx: Tx, account: MemberAccount) -> None:
    tx.execute(
        insert(A),
        {
            "account_id": account.account_id,
            "org_id": account.org_id,
            "parent_id": account.parent_id,
            "name": account.name,
            "email": account.email,
            "arn": account.arn,
            "status": account.status,
            "joined_method": account.joined_method,
            "joined_at": account.joined_at,
        },
    )


def get_account(tx: Tx, org_id: str, account_id: str) -> MemberAccount | None:
    return first(tx, select(A).where(A.c.account_id == account_id, A.c.org_id == org_id), _account)


def remove_account(tx: Tx, account_id: str) -> None:
    """The account leaves its organization: its attachments and tags go with it."""
    tx.execute(delete(T).where(T.c.target_id == account_id))
    tx.execute(delete(G).where(G.c.resource_id == account_id))
    tx.execute(delete(A).where(A.c.account_id == account_id))


def move_account(tx: Tx, account_id: str, parent_id: str) -> None:
    tx.execute(update(A).where(A.c.account_id == account_id).values(parent_id=parent_id))


def list_accounts(
    tx: Tx, org_id: str, parent_id: str | None, after: str | None, limit: int
) -> list[MemberAccount]:
    q = select(A).where(A.c.org_id == org_id)
    if parent_id is not None:
        q = q.where(A.c.parent_id == parent_id)
    return [_account(r) for r in tx.execute(after_key(q, A.c.account_id, after, limit))]


def count_accounts(tx: Tx, org_id: str) -> int:
    return count(tx, A, A.c.org_id == org_id)


def email_taken(tx: Tx, email: str) -> bool:
    return exists(tx, select(A.c.account_id).where(func.lower(A.c.email) == email.lower()))


def account_ids_of(tx: Tx, org_id: str) -> list[str]:
    return list(tx.execute(select(A.c.account_id).where(A.c.org_id == org_id)).scalars())


# -- account creation requests --------------------------------------------------------
def _status(row: Any) -> CreateAccountStatus:
    return CreateAccountStatus(
        request_id=row.request_id,
        org_id=row.org_id,
        account_name=row.account_name,
        state=CreateAccountState(row.state),
        account_id=row.account_id,
        failure_reason=row.failure_reason,
        requested_at=row.requested_at,
        completed_at=row.completed_at,
    )


def insert_status(tx: Tx, status: CreateAccountStatus) -> None:
    tx.execute(
        insert(S),
        {
            "request_id": status.request_id,
            "org_id": status.org_id,
            "account_name": status.account_name,
            "state": status.state.value,
            "account_id": status.account_id,
            "failure_reason": status.failure_reason,
            "requested_at": status.requested_at,
            "completed_at": status.completed_at,
        },
    )


def get_status(tx: Tx, org_id: str, request_id: str) -> CreateAccountStatus | None:
    return first(tx, select(S).where(S.c.request_id == request_id, S.c.org_id == org_id), _status)


def list_statuses(
    tx: Tx, org_id: str, states: Iterable[str] | None, after: str | None, limit: int
) -> list[CreateAccountStatus]:
    q = select(S).where(S.c.org_id == org_id)
    if states is not None:
        q = q.where(S.c.state.in_(list(states)))
    return [_status(r) for r in tx.execute(after_key(q, S.c.request_id, after, limit))]


# -- policies -------------------------------------------------------------------------
def _policy(row: Any) -> OrgPolicy:
    return OrgPolicy(
        policy_id=row.policy_id,
        org_id=row.org_id,
        name=row.name,
        description=row.description,
        type=row.type,
        content=row.content,
        arn=row.arn,
        aws_managed=bool(row.aws_managed),
    )


def _policy_row(policy: OrgPolicy) -> dict[str, Any]:
    return {
        "policy_id": policy.policy_id,
        "org_id": policy.org_id,
        "name": policy.name,
        "description": policy.description,
        "type": policy.type,
        "content": policy.content,
        "arn": policy.arn,
        "aws_managed": policy.aws_managed,
    }


def ensure_full_aws_access(tx: Tx) -> None:
    """Seed the shared AWS managed FullAWSAccess row if no unit did yet."""
    if exists(tx, select(P.c.policy_id).where(P.c.policy_id == FULL_AWS_ACCESS_ID)):
        return
    savepoint = tx.savepoint()
    try:
        tx.execute(insert(P), _policy_row(full_aws_access()))
        savepoint.commit()
    except IntegrityError:  # another node seeded it in the meantime
        savepoint.rollback()


def insert_policy(tx: Tx, policy: OrgPolicy) -> None:
    tx.execute(insert(P), _policy_row(policy))


def visible(org_id: str) -> Any:
    """Policies an organization sees: its own and the AWS managed ones."""
    return or_(P.c.org_id == org_id, P.c.org_id == MANAGED_OWNER)


def get_policy(tx: Tx, org_id: str, policy_id: str) -> OrgPolicy | None:
    return first(tx, select(P).where(P.c.policy_id == policy_id, visible(org_id)), _policy)


def update_policy(tx: Tx, policy: OrgPolicy) -> None:
    row = _policy_row(policy)
    del row["policy_id"]
    tx.execute(update(P).where(P.c.policy_id == policy.policy_id).values(**row))


def delete_policy(tx: Tx, policy_id: str) -> None:
    tx.execute(delete(G).where(G.c.resource_id == policy_id))
    tx.execute(delete(P).where(P.c.policy_id == policy_id))


def list_policies(
    tx: Tx, org_id: str, policy_type: str, after: str | None, limit: int
) -> list[OrgPolicy]:
    q = select(P).where(visible(org_id), P.c.type == policy_type)
    return [_policy(r) for r in tx.execute(after_key(q, P.c.policy_id, after, limit))]


def policy_name_taken(tx: Tx, org_id: str, policy_type: str, name: str) -> bool:
    q = select(P.c.policy_id).where(visible(org_id), P.c.type == policy_type, P.c.name == name)
    return exists(tx, q)


def count_policies(tx: Tx, org_id: str, policy_type: str) -> int:
    return count(tx, P, P.c.org_id == org_id, P.c.type == policy_type)


# -- attachments ----------------------------------------------------------------------
def _in_org(org_id: str) -> Any:
    units = select(U.c.unit_id).where(U.c.org_id == org_id)
    accounts = select(A.c.account_id).where(A.c.org_id == org_id)
    return or_(T.c.target_id.in_(units), T.c.target_id.in_(accounts))


def attach(tx: Tx, policy_id: str, target_id: str) -> None:
    tx.execute(insert(T), {"policy_id": policy_id, "target_id": target_id})


def attach_many(tx: Tx, policy_id: str, target_ids: Iterable[str]) -> None:
    rows = [{"policy_id": policy_id, "target_id": t} for t in target_ids]
    if rows:
        tx.execute(insert(T), rows)


def detach(tx: Tx, policy_id: str, target_id: str) -> None:
    tx.execute(delete(T).where(T.c.policy_id == policy_id, T.c.target_id == target_id))


def detach_type(tx: Tx, org_id: str, policy_type: str) -> None:
    """Detach every policy of `policy_type` from every target of the organization."""
    of_type = select(P.c.policy_id).where(visible(org_id), P.c.type == policy_type)
    tx.execute(delete(T).where(T.c.policy_id.in_(of_type), _in_org(org_id)))


def is_attached(tx: Tx, policy_id: str, target_id: str) -> bool:
    q = select(T.c.policy_id).where(T.c.policy_id == policy_id, T.c.target_id == target_id)
    return exists(tx, q)


def policies_for_target(
    tx: Tx, org_id: str, target_id: str, policy_type: str, after: str | None, limit: int
) -> list[OrgPolicy]:
    q = (
        select(P)
        .join(T, T.c.policy_id == P.c.policy_id)
        .where(T.c.target_id == target_id, P.c.type == policy_type, visible(org_id))
    )
    return [_policy(r) for r in tx.execute(after_key(q, P.c.policy_id, after, limit))]


def count_attached(tx: Tx, org_id: str, target_id: str, policy_type: str) -> int:
    return count(
        tx,
        T.join(P, T.c.policy_id == P.c.policy_id),
        T.c.target_id == target_id,
        P.c.type == policy_type,
        visible(org_id),
    )


def targets_of(tx: Tx, org_id: str, policy_id: str, after: str | None, limit: int) -> list[str]:
    q = select(T.c.target_id).where(T.c.policy_id == policy_id, _in_org(org_id))
    return list(tx.execute(after_key(q, T.c.target_id, after, limit)).scalars())


def attached_anywhere(tx: Tx, policy_id: str) -> bool:
    return exists(tx, select(T.c.target_id).where(T.c.policy_id == policy_id))


# -- tags -----------------------------------------------------------------------------
def tags_of(tx: Tx, resource_id: str) -> dict[str, str]:
    rows = tx.execute(select(G).where(G.c.resource_id == resource_id).order_by(G.c.tag_key))
    return {r.tag_key: r.tag_value for r in rows}


def put_tags(tx: Tx, resource_id: str, tags: dict[str, str]) -> None:
    if not tags:
        return
    tx.execute(delete(G).where(G.c.resource_id == resource_id, G.c.tag_key.in_(list(tags))))
    tx.execute(
        insert(G),
        [{"resource_id": resource_id, "tag_key": k, "tag_value": v} for k, v in tags.items()],
    )


def remove_tags(tx: Tx, resource_id: str, keys: Iterable[str]) -> None:
    tx.execute(delete(G).where(G.c.resource_id == resource_id, G.c.tag_key.in_(list(keys))))

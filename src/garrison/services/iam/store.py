"""IAM persistence for identities: users, groups, memberships, roles, tags, access keys.

Only this module and `policy_store` know the ``iam_*`` tables. Names are unique
per account case-insensitively (``name_lower`` under a unique index); listings
are ordered by (name_lower, id), which is also the key their markers carry.
Timestamps are epoch-second floats in the database, aware datetimes outside.
Every function runs inside the caller's `Tx`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from garrison.services.common.rows import count as count_rows
from garrison.services.common.rows import dt, exists, first, opt_dt, ts
from garrison.services.iam.domain import (
    AccessKeyInfo,
    Group,
    KeyStatus,
    Role,
    Tag,
    User,
)
from garrison.storage import schema
from garrison.storage.sql import and_, delete, insert, or_, select, update
from garrison.storage.writer import Tx

_users = schema.iam_users
_groups = schema.iam_groups
_members = schema.iam_group_members
_roles = schema.iam_roles
_tags = schema.iam_tags
_keys = schema.access_keys

T = TypeVar("T")


def sort_key(name: str, entity_id: str) -> str:
    """The key listings are ordered by, and their markers carry."""
    return f"{name.lower()}\x00{entity_id}"


def _keyset(stmt: Any, name_col: Any, id_col: Any, after: str | None, limit: int) -> Any:
    """Rows after the marker's key, in key order, one more than a page (to see a next one)."""
    if after is not None:
        name, _, entity_id = after.partition("\x00")
        stmt = stmt.where(or_(name_col > name, and_(name_col == name, id_col > entity_id)))
    return stmt.order_by(name_col, id_col).limit(limit + 1)


def _path_prefix(stmt: Any, path_col: Any, prefix: str | None) -> Any:
    if prefix and prefix != "/":
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(path_col.like(escaped + "%", escape="\\"))
    return stmt


def _by_name(tx: Tx, table: Any, account_id: str, name: str, build: Callable[[Any], T]) -> T | None:
    """The row of `table` named `name` (case-insensitively) in the account, built."""
    stmt = select(table).where(table.c.account_id == account_id, table.c.name_lower == name.lower())
    return first(tx, stmt, build)


def _listing(
    tx: Tx,
    table: Any,
    id_col: Any,
    build: Callable[[Any], T],
    account_id: str,
    path_prefix: str | None,
    after: str | None,
    limit: int,
) -> list[T]:
    """One keyset page (plus one row) of an account's users, groups or roles under a path."""
    stmt = _path_prefix(
        select(table).where(table.c.account_id == account_id), table.c.path, path_prefix
    )
    return [build(r) for r in tx.execute(_keyset(stmt, table.c.name_lower, id_col, after, limit))]


# -- users ----------------------------------------------------------------------------


def _user(row: Any) -> User:
    return User(
        user_id=row.user_id,
        account_id=row.account_id,
        name=row.user_name,
        path=row.path,
        arn=row.arn,
        created_at=dt(row.created_at),
        permissions_boundary=row.permissions_boundary,
    )


def get_user(tx: Tx, account_id: str, name: str) -> User | None:
    return _by_name(tx, _users, account_id, name, _user)


def get_user_by_id(tx: Tx, user_id: str) -> User | None:
    return first(tx, select(_users).where(_users.c.user_id == user_id), _user)


def insert_user(tx: Tx, user: User) -> None:
    tx.execute(
        insert(_users),
        {
            "user_id": user.user_id,
            "account_id": user.account_id,
            "user_name": user.name,
            "name_lower": user.name.lower(),
            "path": user.path,
            "arn": user.arn,
            "permissions_boundary": user.permissions_boundary,
            "created_at": ts(user.created_at),
        },
    )


def rename_user(tx: Tx, user: User) -> None:
    """Store `user`'s (new) name, path and ARN, and carry them to its access keys."""
    tx.execute(
        update(_users)
        .where(_users.c.user_id == user.user_id)
        .values(user_name=user.name, name_lower=user.name.lower(), path=user.path, arn=user.arn)
    )
    tx.execute(
        update(_keys)
        .where(_keys.c.principal_type == "IAMUser", _keys.c.user_id == user.user_id)
        .values(user_name=user.name, principal_arn=user.arn)
    )


def set_user_boundary(tx: Tx, user_id: str, arn: str | None) -> None:
    tx.execute(update(_users).where(_users.c.user_id == user_id).values(permissions_boundary=arn))


def delete_user(tx: Tx, user_id: str) -> None:
    tx.execute(delete(_tags).where(_tags.c.resource_id == user_id))
    tx.execute(delete(_users).where(_users.c.user_id == user_id))


def list_users(
    tx: Tx, account_id: str, path_prefix: str | None, after: str | None, limit: int
) -> list[User]:
    return _listing(tx, _users, _users.c.user_id, _user, account_id, path_prefix, after, limit)


def count(tx: Tx, table_name: str, account_id: str) -> int:
    """How many rows of iam_users, iam_groups or iam_roles one account has."""
    table = {"users": _users, "groups": _groups, "roles": _roles}[table_name]
    return count_rows(tx, table, table.c.account_id == account_id)


# -- groups and membership ------------------------------------------------------------


def _group(row: Any) -> Group:
    return Group(
        group_id=row.group_id,
        account_id=row.account_id,
        name=row.group_name,
        path=row.path,
        arn=row.arn,
        created_at=dt(row.created_at),
    )


def get_group(tx: Tx, account_id: str, name: str) -> Group | None:
    return _by_name(tx, _groups, account_id, name, _group)


def insert_group(tx: Tx, group: Group) -> None:
    tx.execute(
        insert(_groups),
        {
            "group_id": group.group_id,
            "account_id": group.account_id,
            "group_name": group.name,
            "name_lower": group.name.lower(),
            "path": group.path,
            "arn": group.arn,
            "created_at": ts(group.created_at),
        },
    )


def rename_group(tx: Tx, group: Group) -> None:
    tx.execute(
        update(_groups)
        .where(_groups.c.group_id == group.group_id)
        .values(
            group_name=group.name, name_lower=group.name.lower(), path=group.path, arn=group.arn
        )
    )


def delete_group(tx: Tx, group_id: str) -> None:
    tx.execute(delete(_groups).where(_groups.c.group_id == group_id))


def list_groups(
    tx: Tx, account_id: str, path_prefix: str | None, after: str | None, limit: int
) -> list[Group]:
    return _listing(tx, _groups, _groups.c.group_id, _group, account_id, path_prefix, after, limit)


def add_member(tx: Tx, group_id: str, user_id: str, now: datetime) -> bool:
    """Add the user to the group; False if it already was a member."""
    if is_member(tx, group_id, user_id):
        return False
    tx.execute(insert(_members), {"group_id": group_id, "user_id": user_id, "added_at": ts(now)})
    return True


def remove_member(tx: Tx, group_id: str, user_id: str) -> bool:
    done = tx.execute(
        delete(_members).where(_members.c.group_id == group_id, _members.c.user_id == user_id)
    )
    return bool(done.rowcount)


def is_member(tx: Tx, group_id: str, user_id: str) -> bool:
    return exists(
        tx,
        select(_members.c.user_id).where(
            _members.c.group_id == group_id, _members.c.user_id == user_id
        ),
    )


def group_users(tx: Tx, group_id: str) -> list[User]:
    stmt = select(_users).join(_members, _members.c.user_id == _users.c.user_id)
    return [_user(r) for r in tx.execute(stmt.where(_members.c.group_id == group_id))]


def user_groups(tx: Tx, user_id: str) -> list[Group]:
    stmt = select(_groups).join(_members, _members.c.group_id == _groups.c.group_id)
    return [_group(r) for r in tx.execute(stmt.where(_members.c.user_id == user_id))]


# -- roles ----------------------------------------------------------------------------


def _role(row: Any) -> Role:
    return Role(
        role_id=row.role_id,
        account_id=row.account_id,
        name=row.role_name,
        path=row.path,
        arn=row.arn,
        created_at=dt(row.created_at),
        trust_policy=row.trust_policy,
        description=row.description,
        max_session_duration=row.max_session_duration,
        permissions_boundary=row.permissions_boundary,
        last_used_at=opt_dt(row.last_used_at),
        last_used_region=row.last_used_region,
    )


def get_role(tx: Tx, account_id: str, name: str) -> Role | None:
    return _by_name(tx, _roles, account_id, name, _role)


def insert_role(tx: Tx, role: Role) -> None:
    tx.execute(
        insert(_roles),
        {
            "role_id": role.role_id,
            "account_id": role.account_id,
            "role_name": role.name,
            "name_lower": role.name.lower(),
            "path": role.path,
            "arn": role.arn,
            "trust_policy": role.trust_policy,
            "description": role.description,
            "max_session_duration": role.max_session_duration,
            "permissions_boundary": role.permissions_boundary,
            "created_at": ts(role.created_at),
        },
    )


def update_role(tx: Tx, role_id: str, **values: Any) -> None:
    """Set columns of iam_roles (trust_policy, description, max_session_duration, ...)."""
    tx.execute(update(_roles).where(_roles.c.role_id == role_id).values(**values))


def delete_role(tx: Tx, role_id: str) -> None:
    tx.execute(delete(_tags).where(_tags.c.resource_id == role_id))
    tx.execute(delete(_roles).where(_roles.c.role_id == role_id))


def list_roles(
    tx: Tx, account_id: str, path_prefix: str | None, after: str | None, limit: int
) -> list[Role]:
    return _listing(tx, _roles, _roles.c.role_id, _role, account_id, path_prefix, after, limit)


# -- tags -----------------------------------------------------------------------------


def get_tags(tx: Tx, resource_id: str) -> list[Tag]:
    rows = tx.execute(
        select(_tags.c.tag_key, _tags.c.tag_value)
        .where(_tags.c.resource_id == resource_id)
        .order_by(_tags.c.tag_key)
    )
    return [Tag(r.tag_key, r.tag_value) for r in rows]


def set_tags(tx: Tx, resource_id: str, tags: Sequence[Tag]) -> None:
    """Replace every tag of the resource with `tags`."""
    tx.execute(delete(_tags).where(_tags.c.resource_id == resource_id))
    if tags:
        tx.execute(
            insert(_tags),
            [{"resource_id": resource_id, "tag_key": t.key, "tag_value": t.value} for t in tags],
        )


# -- access keys ----------------------------------------------------------------------


def _key(row: Any) -> AccessKeyInfo:
    return AccessKeyInfo(
        access_key_id=row.access_key_id,
        account_id=row.account_id,
        principal_type=row.principal_type,
        user_id=row.user_id,
        user_name=row.user_name,
        status=KeyStatus(row.status),
        created_at=dt(row.created_at),
        last_used_at=opt_dt(row.last_used_at),
        last_used_service=row.last_used_service,
        last_used_region=row.last_used_region,
    )


_KEY_COLUMNS = [c for c in _keys.c if c.name != "secret"]  # the sealed secret is never read here


def get_access_key(tx: Tx, access_key_id: str) -> AccessKeyInfo | None:
    return first(tx, select(*_KEY_COLUMNS).where(_keys.c.access_key_id == access_key_id), _key)


def access_keys_of(tx: Tx, account_id: str, user_id: str | None) -> list[AccessKeyInfo]:
    """The keys of an IAM user (by id), or of the account root when `user_id` is None."""
    stmt = select(*_KEY_COLUMNS).where(_keys.c.account_id == account_id)
    if user_id is None:
        stmt = stmt.where(_keys.c.principal_type == "Root")
    else:
        stmt = stmt.where(_keys.c.principal_type == "IAMUser", _keys.c.user_id == user_id)
    return [_key(r) for r in tx.execute(stmt.order_by(_keys.c.created_at))]


def insert_access_key(tx: Tx, key: AccessKeyInfo, principal_arn: str, sealed_secret: bytes) -> None:
    tx.execute(
        insert(_keys),
        {
            "access_key_id": key.access_key_id,
            "account_id": key.account_id,
            "principal_arn": principal_arn,
            "principal_type": key.principal_type,
            "user_id": key.user_id,
            "user_name": key.user_name,
            "secret": sealed_secret,
            "status": key.status.value,
            "created_at": ts(key.created_at),
        },
    )


def set_access_key_status(tx: Tx, access_key_id: str, status: KeyStatus) -> None:
    tx.execute(
        update(_keys).where(_keys.c.access_key_id == access_key_id).values(status=status.value)
    )


def delete_access_key(tx: Tx, access_key_id: str) -> None:
    tx.execute(delete(_keys).where(_keys.c.access_key_id == access_key_id))


def record_key_use(tx: Tx, access_key_id: str, when: float, service: str, region: str) -> None:
    """Write one key's last use, unless a later one is already recorded."""
    tx.execute(
        update(_keys)
        .where(
            _keys.c.access_key_id == access_key_id,
            or_(_keys.c.last_used_at.is_(None), _keys.c.last_used_at < when),
        )
        .values(last_used_at=when, last_used_service=service, last_used_region=region)
    )


def account_created_at(tx: Tx, account_id: str) -> datetime | None:
    stmt = select(schema.accounts.c.created_at).where(schema.accounts.c.account_id == account_id)
    return first(tx, stmt, lambda row: dt(row.created_at))

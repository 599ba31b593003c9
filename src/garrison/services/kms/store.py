"""KMS persistence: keys, key material versions, aliases and tags in SQL.

Only this module knows the tables (`garrison.storage.schema`, ``kms_*``). It
speaks domain values (`Key`, `KeyVersion`, `Alias`) and epoch-second floats in
the database. Key material is sealed by the storage barrier with the row's
identity (``kms_key_versions``, ``<key id>/<version>``, ``material``) as
associated data, so a DBA sees no plaintext and cannot swap material between
keys. Every function runs inside the caller's `Tx`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from garrison.services.kms.domain import (
    Alias,
    Key,
    KeyManager,
    KeyState,
    KeyVersion,
    LastUsage,
    RotationType,
)
from garrison.storage import schema
from garrison.storage.sql import and_, bindparam, delete, func, insert, select, update
from garrison.storage.writer import Prepared, Tx

_keys = schema.kms_keys
_versions = schema.kms_key_versions
_aliases = schema.kms_aliases
_tags = schema.kms_tags
AWS_ALIAS_LIKE = "alias/aws/%"


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _material_pk(key_id: str, version: int) -> str:
    return f"{key_id}/{version}"


# --------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------

_associated = _versions.alias("associated")
# Everything a `Key` holds; the last-usage columns are read only by GetKeyLastUsage.
_KEY_COLUMNS = (
    *(c for c in _keys.c if not c.name.startswith("last_used_")),
    _versions.c.material_id,
    # imported key material (importing.py): the current material's expiry model, and
    # AWS's ValidTo, the earliest expiry of the materials permanently associated
    _versions.c.expiration_model,
    select(func.min(_associated.c.valid_to))
    .where(_associated.c.key_id == _keys.c.key_id)
    .where(_associated.c.version <= _keys.c.current_version)
    .where(_associated.c.import_state == "IMPORTED")
    .correlate(_keys)
    .scalar_subquery()
    .label("valid_to"),
)


def _key_select() -> Any:
    return select(*_KEY_COLUMNS).join(
        _versions,
        and_(_versions.c.key_id == _keys.c.key_id, _versions.c.version == _keys.c.current_version),
    )


def _key(row: Any) -> Key:
    m = row._mapping
    created = _dt(m["created_at"])
    assert created is not None
    return Key(
        key_id=m["key_id"],
        account_id=m["account_id"],
        region=m["region"],
        description=m["description"],
        key_usage=m["key_usage"],
        key_spec=m["key_spec"],
        origin=m["origin"],
        key_manager=KeyManager(m["key_manager"]),
        state=KeyState(m["state"]),
        created_at=created,
        policy=m["policy"],
        current_version=m["current_version"],
        current_material_id=m["material_id"],
        deletion_date=_dt(m["deletion_date"]),
        pending_window_days=m["pending_window_days"],
        rotation_period_days=m["rotation_period_days"],
        next_rotation_at=_dt(m["next_rotation_at"]),
        expiration_model=m["expiration_model"],
        valid_to=_dt(m["valid_to"]),
    )


def _mutable(key: Key) -> dict[str, Any]:
    return {
        "description": key.description,
        "state": key.state.value,
        "deletion_date": _ts(key.deletion_date),
        "pending_window_days": key.pending_window_days,
        "policy": key.policy,
        "rotation_period_days": key.rotation_period_days,
        "next_rotation_at": _ts(key.next_rotation_at),
        "current_version": key.current_version,
    }


def insert_key(tx: Tx, key: Key) -> None:
    """Insert a key row; its first version must be inserted in the same unit."""
    tx.execute(
        insert(_keys),
        {
            "key_id": key.key_id,
            "account_id": key.account_id,
            "region": key.region,
            "key_usage": key.key_usage,
            "key_spec": key.key_spec,
            "origin": key.origin,
            "key_manager": key.key_manager.value,
            "created_at": _ts(key.created_at),
            **_mutable(key),
        },
    )


def get_key(tx: Tx, key_id: str) -> Key | None:
    row = tx.execute(_key_select().where(_keys.c.key_id == key_id)).first()
    return None if row is None else _key(row)


def update_key(tx: Tx, key: Key, *, expected_state: KeyState | None = None) -> bool:
    """Write a key's mutable columns; False if `expected_state` no longer holds."""
    stmt = update(_keys).where(_keys.c.key_id == key.key_id)
    if expected_state is not None:
        stmt = stmt.where(_keys.c.state == expected_state.value)
    return bool(tx.execute(stmt.values(**_mutable(key))).rowcount)


def delete_key(tx: Tx, key_id: str) -> None:
    """Delete a key with its material, tags, grants and every alias that points to it."""
    tx.execute(delete(_aliases).where(_aliases.c.target_key_id == key_id))
    tx.execute(delete(_tags).where(_tags.c.key_id == key_id))
    tx.execute(delete(_versions).where(_versions.c.key_id == key_id))
    # grants go with their key (the grants helper's table, schema.kms_grants)
    tx.execute(delete(schema.kms_grants).where(schema.kms_grants.c.key_id == key_id))
    tx.execute(delete(_keys).where(_keys.c.key_id == key_id))


def count_customer_keys(tx: Tx, account_id: str, region: str) -> int:
    return int(
        tx.execute(
            select(func.count())
            .select_from(_keys)
            .where(_keys.c.account_id == account_id)
            .where(_keys.c.region == region)
            .where(_keys.c.key_manager == KeyManager.CUSTOMER.value)
        ).scalar_one()
    )


def list_key_ids(tx: Tx, account_id: str, region: str, after: str | None, limit: int) -> list[str]:
    stmt = (
        select(_keys.c.key_id)
        .where(_keys.c.account_id == account_id)
        .where(_keys.c.region == region)
        .order_by(_keys.c.key_id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(_keys.c.key_id > after)
    return [row.key_id for row in tx.execute(stmt)]


def keys_due_for_deletion(tx: Tx, now: datetime, limit: int) -> list[str]:
    rows = tx.execute(
        select(_keys.c.key_id)
        .where(_keys.c.state == KeyState.PENDING_DELETION.value)
        .where(_keys.c.deletion_date <= now.timestamp())
        .order_by(_keys.c.deletion_date)
        .limit(limit)
    )
    return [row.key_id for row in rows]


def keys_due_for_rotation(tx: Tx, now: datetime, limit: int) -> list[str]:
    rows = tx.execute(
        select(_keys.c.key_id)
        .where(_keys.c.next_rotation_at <= now.timestamp())
        .where(_keys.c.state == KeyState.ENABLED.value)
        .order_by(_keys.c.next_rotation_at)
        .limit(limit)
    )
    return [row.key_id for row in rows]


# Run once per key and batch (a coalesced write): on the DB-API cursor, compiled once.
_USAGE_UPDATE = Prepared(update(_keys).where(_keys.c.key_id == bindparam("usage_key_id")))


def record_usage(tx: Tx, key_id: str, usage: LastUsage, event_id: str | None) -> None:
    _USAGE_UPDATE.run(
        tx,
        {
            "usage_key_id": key_id,
            "last_used_at": usage.at.timestamp(),
            "last_used_operation": usage.operation,
            "last_used_request_id": usage.request_id,
            "last_used_event_id": event_id,
        },
    )


def last_usage(tx: Tx, key_id: str) -> tuple[LastUsage, str | None] | None:
    """The last usage and its CloudTrail event id (None when it was not known)."""
    row = tx.execute(
        select(
            _keys.c.last_used_at,
            _keys.c.last_used_operation,
            _keys.c.last_used_request_id,
            _keys.c.last_used_event_id,
        ).where(_keys.c.key_id == key_id)
    ).first()
    if row is None or row.last_used_at is None:
        return None
    at = _dt(row.last_used_at)
    assert at is not None
    usage = LastUsage(row.last_used_operation or "", at, row.last_used_request_id or "")
    return usage, row.last_used_event_id


# --------------------------------------------------------------------------
# Key material versions
# --------------------------------------------------------------------------


def _version(row: Any) -> KeyVersion:
    created = _dt(row.created_at)
    assert created is not None
    return KeyVersion(
        key_id=row.key_id,
        version=row.version,
        material_id=row.material_id,
        created_at=created,
        rotation_type=RotationType(row.rotation_type) if row.rotation_type else None,
    )


def insert_version(tx: Tx, version: KeyVersion, material: bytes) -> None:
    sealed = tx.barrier.seal(
        "kms_key_versions", _material_pk(version.key_id, version.version), "material", material
    )
    tx.execute(
        insert(_versions),
        {
            "key_id": version.key_id,
            "version": version.version,
            "material_id": version.material_id,
            "material": sealed,
            "created_at": version.created_at.timestamp(),
            "rotation_type": version.rotation_type.value if version.rotation_type else None,
        },
    )


def load_material(tx: Tx, key_id: str, version: int) -> tuple[str, bytes] | None:
    """(material id, opened material) of one version, or None if there is no such version."""
    row = tx.execute(
        select(_versions.c.material_id, _versions.c.material)
        .where(_versions.c.key_id == key_id)
        .where(_versions.c.version == version)
    ).first()
    if row is None or row.material is None:  # None: imported material deleted or expired
        return None
    material = tx.barrier.open(
        "kms_key_versions", _material_pk(key_id, version), "material", row.material
    )
    return row.material_id, material


def list_versions(
    tx: Tx, key_id: str, *, after: int, limit: int, rotations_only: bool
) -> list[KeyVersion]:
    stmt = (
        select(_versions.c.key_id, _versions.c.version, _versions.c.material_id,
               _versions.c.created_at, _versions.c.rotation_type)
        .where(_versions.c.key_id == key_id)
        .where(_versions.c.version > after)
        .order_by(_versions.c.version)
        .limit(limit)
    )  # fmt: skip
    if rotations_only:
        stmt = stmt.where(_versions.c.rotation_type.is_not(None))
    return [_version(row) for row in tx.execute(stmt)]


def count_rotations(tx: Tx, key_id: str, rotation_type: RotationType) -> int:
    return int(
        tx.execute(
            select(func.count())
            .select_from(_versions)
            .where(_versions.c.key_id == key_id)
            .where(_versions.c.rotation_type == rotation_type.value)
        ).scalar_one()
    )


# --------------------------------------------------------------------------
# Aliases
# --------------------------------------------------------------------------


def _alias(row: Any) -> Alias:
    created, updated = _dt(row.created_at), _dt(row.updated_at)
    assert created is not None and updated is not None
    return Alias(row.account_id, row.region, row.alias_name, row.target_key_id, created, updated)


def _alias_where(stmt: Any, account_id: str, region: str) -> Any:
    return stmt.where(_aliases.c.account_id == account_id).where(_aliases.c.region == region)


def get_alias(tx: Tx, account_id: str, region: str, name: str) -> Alias | None:
    stmt = _alias_where(select(_aliases), account_id, region).where(_aliases.c.alias_name == name)
    row = tx.execute(stmt).first()
    return None if row is None else _alias(row)


def insert_alias(tx: Tx, alias: Alias) -> None:
    tx.execute(
        insert(_aliases),
        {
            "account_id": alias.account_id,
            "region": alias.region,
            "alias_name": alias.name,
            "target_key_id": alias.target_key_id,
            "created_at": alias.created_at.timestamp(),
            "updated_at": alias.updated_at.timestamp(),
        },
    )


def retarget_alias(tx: Tx, alias: Alias) -> None:
    stmt = _alias_where(update(_aliases), alias.account_id, alias.region)
    tx.execute(
        stmt.where(_aliases.c.alias_name == alias.name).values(
            target_key_id=alias.target_key_id, updated_at=alias.updated_at.timestamp()
        )
    )


def delete_alias(tx: Tx, alias: Alias) -> None:
    stmt = _alias_where(delete(_aliases), alias.account_id, alias.region)
    tx.execute(stmt.where(_aliases.c.alias_name == alias.name))


def list_aliases(
    tx: Tx, account_id: str, region: str, *, key_id: str | None, after: str | None, limit: int
) -> list[Alias]:
    stmt = _alias_where(select(_aliases), account_id, region)
    if key_id is not None:
        stmt = stmt.where(_aliases.c.target_key_id == key_id)
    if after is not None:
        stmt = stmt.where(_aliases.c.alias_name > after)
    return [_alias(row) for row in tx.execute(stmt.order_by(_aliases.c.alias_name).limit(limit))]


def alias_names_of(tx: Tx, key_id: str) -> tuple[str, ...]:
    rows = tx.execute(
        select(_aliases.c.alias_name)
        .where(_aliases.c.target_key_id == key_id)
        .order_by(_aliases.c.alias_name)
    )
    return tuple(row.alias_name for row in rows)


def count_customer_aliases(tx: Tx, account_id: str, region: str) -> int:
    stmt = _alias_where(select(func.count()).select_from(_aliases), account_id, region)
    return int(tx.execute(stmt.where(_aliases.c.alias_name.not_like(AWS_ALIAS_LIKE))).scalar_one())


# --------------------------------------------------------------------------
# Tags
# --------------------------------------------------------------------------


def get_tags(tx: Tx, key_id: str) -> dict[str, str]:
    rows = tx.execute(
        select(_tags.c.tag_key, _tags.c.tag_value)
        .where(_tags.c.key_id == key_id)
        .order_by(_tags.c.tag_key)
    )
    return {row.tag_key: row.tag_value for row in rows}


def put_tags(tx: Tx, key_id: str, tags: Mapping[str, str]) -> None:
    """Add tags, replacing the value of a tag key the key already has."""
    if not tags:
        return
    remove_tags(tx, key_id, tags.keys())
    tx.execute(
        insert(_tags),
        [{"key_id": key_id, "tag_key": k, "tag_value": v} for k, v in tags.items()],
    )


def remove_tags(tx: Tx, key_id: str, tag_keys: Iterable[str]) -> None:
    names = list(tag_keys)
    if names:
        tx.execute(delete(_tags).where(_tags.c.key_id == key_id).where(_tags.c.tag_key.in_(names)))

"""Persistence of imported key material (Origin EXTERNAL): import tokens and material.

Beside store.py (which keeps keys and their versions), this module knows the
import columns of ``kms_key_versions`` and the ``kms_import_tokens`` table. Each
key material of an EXTERNAL key is a version row: the first from the key's
creation (its ``material_id`` empty until the first import), one more per
rotation, and at most one *pending* row (version above the key's
``current_version``) holding new material imported for the next on-demand
rotation. A row's ``material`` is NULL while that material is not imported
(PENDING_IMPORT: never yet, deleted or expired), and sealed by the barrier with
the same associated data as generated material once it is. The wrapping private
key of an import token is sealed too (``kms_import_tokens``, ``<token id>``,
``private_key``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from garrison.services.kms import store
from garrison.services.kms.domain import (
    ENCRYPT_DECRYPT,
    ORIGIN_EXTERNAL,
    SYMMETRIC_DEFAULT,
    Key,
    KeyManager,
    KeyState,
)
from garrison.storage import schema
from garrison.storage.sql import and_, delete, insert, select, update
from garrison.storage.writer import Tx

_versions = schema.kms_key_versions
_tokens = schema.kms_import_tokens
IMPORTED = "IMPORTED"
PENDING_IMPORT = "PENDING_IMPORT"


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


@dataclass(frozen=True, slots=True)
class ImportToken:
    token_id: str
    key_id: str
    wrapping_algorithm: str
    wrapping_key_spec: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ImportedMaterial:
    """The import facts of one version of an EXTERNAL key (never the material itself)."""

    key_id: str
    version: int
    material_id: str  # "" before the first import
    import_state: str
    expiration_model: str | None
    valid_to: datetime | None
    description: str | None
    digest: bytes | None  # keyed by the material, of the key id: recognises re-imports
    created_at: datetime | None = None
    rotation_type: str | None = None

    @property
    def imported(self) -> bool:
        return self.import_state == IMPORTED


def insert_pending_version(tx: Tx, key: Key) -> None:
    """The material row of a new EXTERNAL key: no material, nothing imported yet."""
    tx.execute(
        insert(_versions),
        {
            "key_id": key.key_id,
            "version": key.current_version,
            "material_id": key.current_material_id,
            "material": None,
            "created_at": key.created_at.timestamp(),
            "rotation_type": None,
            "import_state": PENDING_IMPORT,
        },
    )


def insert_external_key(
    tx: Tx,
    *,
    key_id: str,
    account_id: str,
    region: str,
    now: datetime,
    description: str,
    policy: str,
    key_manager: KeyManager,
    key_spec: str = SYMMETRIC_DEFAULT,
    key_usage: str = ENCRYPT_DECRYPT,
) -> Key:
    """Create an Origin EXTERNAL key: PendingImport, its material row empty."""
    key = Key(
        key_id=key_id,
        account_id=account_id,
        region=region,
        description=description,
        key_usage=key_usage,
        key_spec=key_spec,
        origin=ORIGIN_EXTERNAL,
        key_manager=key_manager,
        state=KeyState.PENDING_IMPORT,
        created_at=now,
        policy=policy,
        current_version=1,
        current_material_id="",  # assigned by the first import
    )
    store.insert_key(tx, key)
    insert_pending_version(tx, key)
    tx.mark_changed()
    return key


_MATERIAL_COLUMNS = (
    _versions.c.version,
    _versions.c.material_id,
    _versions.c.import_state,
    _versions.c.expiration_model,
    _versions.c.valid_to,
    _versions.c.material_description,
    _versions.c.material_digest,
    _versions.c.created_at,
    _versions.c.rotation_type,
)


def _imported(key_id: str, row: Any) -> ImportedMaterial:
    return ImportedMaterial(
        key_id=key_id,
        version=row.version,
        material_id=row.material_id,
        import_state=row.import_state or IMPORTED,
        expiration_model=row.expiration_model,
        valid_to=_dt(row.valid_to),
        description=row.material_description,
        digest=row.material_digest,
        created_at=_dt(row.created_at),
        rotation_type=row.rotation_type,
    )


def get_material(tx: Tx, key_id: str, version: int) -> ImportedMaterial | None:
    row = tx.execute(
        select(*_MATERIAL_COLUMNS).where(
            and_(_versions.c.key_id == key_id, _versions.c.version == version)
        )
    ).first()
    return None if row is None else _imported(key_id, row)


def list_materials(tx: Tx, key_id: str) -> list[ImportedMaterial]:
    """Every material row of a key, by version (a key has at most 27: AWS's limits)."""
    rows = tx.execute(
        select(*_MATERIAL_COLUMNS).where(_versions.c.key_id == key_id).order_by(_versions.c.version)
    )
    return [_imported(key_id, row) for row in rows]


def materials_imported(tx: Tx, key_id: str, current_version: int) -> bool:
    """Whether every material permanently associated with the key (the current one
    and those before it) is imported; pending materials do not count."""
    missing = tx.execute(
        select(_versions.c.version)
        .where(_versions.c.key_id == key_id)
        .where(_versions.c.version <= current_version)
        .where(_versions.c.import_state != IMPORTED)
        .limit(1)
    ).first()
    return missing is None


def insert_material_row(
    tx: Tx, imported: ImportedMaterial, created_at: datetime, material: bytes | None
) -> None:
    """A new material row: pending rotation (sealed material), or a replica's
    placeholder for the primary's material (no material, PENDING_IMPORT)."""
    tx.execute(
        insert(_versions),
        {
            "key_id": imported.key_id,
            "version": imported.version,
            "material_id": imported.material_id,
            "material": None,
            "created_at": created_at.timestamp(),
            "rotation_type": imported.rotation_type,
            "import_state": PENDING_IMPORT,
            "material_description": imported.description,
            "material_digest": imported.digest,
        },
    )
    if material is not None:
        put_material(tx, imported, material)


def copy_rows(tx: Tx, from_key_id: str, to_key_id: str) -> None:
    """A new replica's material rows: the primary's facts, no material (PENDING_IMPORT)."""
    for row in list_materials(tx, from_key_id):
        created = row.created_at
        assert created is not None
        facts = ImportedMaterial(
            key_id=to_key_id,
            version=row.version,
            material_id=row.material_id,
            import_state=PENDING_IMPORT,
            expiration_model=None,
            valid_to=None,
            description=row.description,
            digest=row.digest,
            rotation_type=row.rotation_type,
        )
        insert_material_row(tx, facts, created, None)


def set_identity(tx: Tx, key_id: str, version: int, material_id: str, digest: bytes) -> None:
    """Name a row's material (a replica learning the material its primary imported)."""
    tx.execute(
        update(_versions)
        .where(and_(_versions.c.key_id == key_id, _versions.c.version == version))
        .values(material_id=material_id, material_digest=digest)
    )


def mark_rotated(tx: Tx, key_id: str, version: int, now: datetime, rotation_type: str) -> None:
    """A pending material became current by an on-demand rotation at `now`."""
    tx.execute(
        update(_versions)
        .where(and_(_versions.c.key_id == key_id, _versions.c.version == version))
        .values(rotation_type=rotation_type, created_at=now.timestamp())
    )


def delete_row(tx: Tx, key_id: str, version: int) -> None:
    """Forget a pending material altogether (AWS: it is not permanently associated)."""
    tx.execute(
        delete(_versions).where(and_(_versions.c.key_id == key_id, _versions.c.version == version))
    )


def put_material(tx: Tx, imported: ImportedMaterial, material: bytes) -> None:
    """Store imported material (sealed) with its import facts."""
    sealed = tx.barrier.seal(
        "kms_key_versions", f"{imported.key_id}/{imported.version}", "material", material
    )
    tx.execute(
        update(_versions)
        .where(and_(_versions.c.key_id == imported.key_id, _versions.c.version == imported.version))
        .values(
            material=sealed,
            material_id=imported.material_id,
            import_state=IMPORTED,
            expiration_model=imported.expiration_model,
            valid_to=None if imported.valid_to is None else imported.valid_to.timestamp(),
            material_description=imported.description,
            material_digest=imported.digest,
        )
    )


def drop_material(tx: Tx, key_id: str, version: int) -> None:
    """Delete imported material; its id, digest and description stay for a re-import."""
    tx.execute(
        update(_versions)
        .where(and_(_versions.c.key_id == key_id, _versions.c.version == version))
        .values(material=None, import_state=PENDING_IMPORT, expiration_model=None, valid_to=None)
    )


def keys_with_expired_material(tx: Tx, now: datetime, limit: int) -> list[str]:
    rows = tx.execute(
        select(_versions.c.key_id)
        .where(_versions.c.valid_to <= now.timestamp())
        .where(_versions.c.import_state == IMPORTED)
        .order_by(_versions.c.valid_to)
        .limit(limit)
    )
    return list(dict.fromkeys(row.key_id for row in rows))  # a key once, however many


# -- import tokens -------------------------------------------------------------------


def insert_token(tx: Tx, token: ImportToken, private_der: bytes) -> None:
    sealed = tx.barrier.seal("kms_import_tokens", token.token_id, "private_key", private_der)
    tx.execute(
        insert(_tokens),
        {
            "token_id": token.token_id,
            "key_id": token.key_id,
            "wrapping_algorithm": token.wrapping_algorithm,
            "wrapping_key_spec": token.wrapping_key_spec,
            "private_key": sealed,
            "created_at": token.created_at.timestamp(),
            "expires_at": token.expires_at.timestamp(),
        },
    )


def get_token(tx: Tx, token_id: str) -> tuple[ImportToken, bytes] | None:
    """The token and its opened wrapping private key, or None."""
    row = tx.execute(select(_tokens).where(_tokens.c.token_id == token_id)).first()
    if row is None:
        return None
    created, expires = _dt(row.created_at), _dt(row.expires_at)
    assert created is not None and expires is not None
    token = ImportToken(
        row.token_id, row.key_id, row.wrapping_algorithm, row.wrapping_key_spec, created, expires
    )
    private = tx.barrier.open("kms_import_tokens", token.token_id, "private_key", row.private_key)
    return token, private


def delete_tokens_of(tx: Tx, key_id: str) -> None:
    tx.execute(delete(_tokens).where(_tokens.c.key_id == key_id))


def delete_expired_tokens(tx: Tx, now: datetime) -> None:
    tx.execute(delete(_tokens).where(_tokens.c.expires_at <= now.timestamp()))

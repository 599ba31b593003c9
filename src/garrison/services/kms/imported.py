"""The materials of a key with imported key material, as one state: which are
current, non-current and pending, what the key's state follows from them, and
on-demand rotation to a pending material (importing.py has the rules and the
operations; this module is what rotation.py and the expiry job share with it).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from garrison.services.kms import import_store, store
from garrison.services.kms.cache import KmsCache
from garrison.services.kms.domain import Key, RotationType
from garrison.services.kms.errors import KMSInvalidStateException
from garrison.services.kms.multiregion import is_replica, related_keys
from garrison.storage.writer import Tx

PENDING_MULTI_REGION_IMPORT_AND_ROTATION = "PENDING_MULTI_REGION_IMPORT_AND_ROTATION"


def settle_state(tx: Tx, cache: KmsCache, key: Key) -> Key:
    """Enabled while every permanently associated material is imported, else
    PendingImport (AWS); saves the key when its state moved."""
    complete = import_store.materials_imported(tx, key.key_id, key.current_version)
    settled = key.material_imported() if complete else key.material_removed()
    if settled.state is not key.state:
        store.update_key(tx, settled)
    cache.invalidate_key(tx, key.key_id, material=True)
    tx.mark_changed()
    return settled


def remove_material(tx: Tx, cache: KmsCache, key: Key, row: import_store.ImportedMaterial) -> Key:
    """Delete one imported material. A pending one is forgotten (on a multi-Region
    primary, with its replicas' copies); an associated one waits for the same
    material, and the key is PendingImport until it returns."""
    if row.version > key.current_version and not is_replica(tx, key):
        for holder in (key, *related_keys(tx, key)):
            import_store.delete_row(tx, holder.key_id, row.version)
            cache.invalidate_key(tx, holder.key_id, material=True)
        tx.mark_changed()
        return key
    import_store.drop_material(tx, key.key_id, row.version)
    return settle_state(tx, cache, key)


def rotate_imported(tx: Tx, cache: KmsCache, key: Key, now: datetime) -> Key:
    """RotateKeyOnDemand of an EXTERNAL symmetric key: its pending material becomes
    current (on a multi-Region primary, on every key of the set)."""
    pending = [
        r for r in import_store.list_materials(tx, key.key_id) if r.version > key.current_version
    ]
    if not pending or not pending[0].imported:
        raise KMSInvalidStateException(
            f"{key.arn} has no key material in PENDING_ROTATION state: import new key "
            "material (ImportType NEW_KEY_MATERIAL) before rotating it on demand."
        )
    row = pending[0]
    related = related_keys(tx, key)
    missing = [
        k.region
        for k in related
        if not (m := import_store.get_material(tx, k.key_id, row.version)) or not m.imported
    ]
    if missing:
        raise KMSInvalidStateException(
            f"Key material {row.material_id} of {key.arn} is in state "
            f"{PENDING_MULTI_REGION_IMPORT_AND_ROTATION}: import it into the replica keys in "
            f"{', '.join(sorted(missing))} (ImportType EXISTING_KEY_MATERIAL) first."
        )
    rotated = key
    for holder in (key, *related):
        import_store.mark_rotated(tx, holder.key_id, row.version, now, RotationType.ON_DEMAND.value)
        moved = replace(holder, current_version=row.version, current_material_id=row.material_id)
        store.update_key(tx, moved)
        cache.invalidate_key(tx, holder.key_id, material=True)
        if holder is key:
            rotated = moved
    tx.mark_changed()
    return rotated


def material_state(tx: Tx, key: Key, row: import_store.ImportedMaterial) -> str:
    """ListKeyRotations' KeyMaterialState of one of an EXTERNAL key's materials."""
    if row.version == key.current_version:
        return "CURRENT"
    if row.version < key.current_version:
        return "NON_CURRENT"
    for holder in (key, *related_keys(tx, key)):
        found = import_store.get_material(tx, holder.key_id, row.version)
        if found is None or not found.imported:
            return PENDING_MULTI_REGION_IMPORT_AND_ROTATION
    return "PENDING_ROTATION"

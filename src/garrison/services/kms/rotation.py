"""Key material rotation: automatic (scheduled) and on demand.

Rotating adds a key material version and makes it current; the key id, ARN,
policy and aliases stay. Ciphertexts name the version that made them, so every
earlier version keeps decrypting. Automatic rotation is run by the scheduler
(`garrison.services.kms.jobs`) through `rotate_key`; on-demand rotations do not
move the automatic schedule, and a key may be rotated on demand at most
`max_on_demand_rotations` times (25 in the pinned model's documentation).
Keys with imported key material rotate on demand only, to material imported
for it beforehand (`imported.rotate_imported`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from garrison.api import Call
from garrison.services.kms import import_store, store
from garrison.services.kms.access import KeyAccess
from garrison.services.kms.cache import KmsCache
from garrison.services.kms.ciphertext import new_material
from garrison.services.kms.domain import (
    DEFAULT_ROTATION_PERIOD_DAYS,
    ORIGIN_AWS_KMS,
    ORIGIN_EXTERNAL,
    SYMMETRIC_DEFAULT,
    Key,
    KeyVersion,
    RotationType,
)
from garrison.services.kms.errors import (
    InvalidMarkerException,
    LimitExceededException,
    UnsupportedOperationException,
)
from garrison.services.kms.identifiers import decode_marker, encode_marker, page_size
from garrison.services.kms.imported import material_state, rotate_imported
from garrison.services.kms.keys import Page, new_material_id, unsupported_for_aws_managed
from garrison.services.kms.multiregion import (
    propagate_rotation,
    refuse_on_replica,
    replica_rotation_view,
)
from garrison.storage.writer import Tx

DEFAULT_MAX_ON_DEMAND_ROTATIONS = 25


def rotate_key(tx: Tx, cache: KmsCache, key: Key, now: datetime, *, automatic: bool) -> Key:
    """Give `key` new key material; returns the key as it now is."""
    kind = RotationType.AUTOMATIC if automatic else RotationType.ON_DEMAND
    version = KeyVersion(key.key_id, key.current_version + 1, new_material_id(), now, kind)
    material = new_material()
    store.insert_version(tx, version, material)
    rotated = key.rotated(version, automatic=automatic)
    store.update_key(tx, rotated)
    # a multi-Region primary's replicas share its material (multiregion.py)
    propagate_rotation(tx, cache, key, version, material)
    cache.invalidate_key(tx, key.key_id)
    tx.mark_changed()
    return rotated


def symmetric_only(key: Key, operation: str, *, imported: bool = False) -> None:
    """AWS rotates symmetric encryption keys only: asymmetric and HMAC keys refuse it,
    and keys with imported material rotate on demand only (`imported`)."""
    if key.key_spec != SYMMETRIC_DEFAULT:
        raise UnsupportedOperationException(
            f"{key.arn} has key spec {key.key_spec}; {operation} applies to symmetric "
            "encryption KMS keys only."
        )
    if key.origin == ORIGIN_EXTERNAL and not imported:
        raise UnsupportedOperationException(
            f"{key.arn} has imported key material (Origin {ORIGIN_EXTERNAL}): KMS does not "
            "rotate it automatically; import new key material and rotate it with "
            "RotateKeyOnDemand."
        )
    if key.origin not in (ORIGIN_AWS_KMS, ORIGIN_EXTERNAL):
        raise UnsupportedOperationException(
            f"{key.arn} has Origin {key.origin}; {operation} does not apply to it."
        )


@dataclass(frozen=True, slots=True)
class RotationEntry:
    version: KeyVersion
    state: str  # KeyMaterialState: CURRENT, NON_CURRENT, PENDING_ROTATION, ...


class RotationUseCases:
    def __init__(
        self,
        access: KeyAccess,
        cache: KmsCache,
        *,
        max_on_demand_rotations: int = DEFAULT_MAX_ON_DEMAND_ROTATIONS,
    ) -> None:
        self.access = access
        self.cache = cache
        self.max_on_demand_rotations = max_on_demand_rotations

    def enable_key_rotation(self, call: Call, key_id: str, period_days: int | None) -> None:
        period = DEFAULT_ROTATION_PERIOD_DAYS if period_days is None else period_days
        target = self.access.find(call, key_id, aliases=False, fresh=True)
        self.access.authorize(
            call, target, "kms:EnableKeyRotation", {"kms:RotationPeriodInDays": (str(period),)}
        )
        key = target.key.enable_rotation(call.ctx.now, period)
        unsupported_for_aws_managed(target.key, "EnableKeyRotation")
        symmetric_only(target.key, "EnableKeyRotation")
        refuse_on_replica(call.tx, target.key, "EnableKeyRotation")  # multi-Region
        self._save(call, key)

    def disable_key_rotation(self, call: Call, key_id: str) -> None:
        target = self.access.find(call, key_id, aliases=False, fresh=True)
        self.access.authorize(call, target, "kms:DisableKeyRotation")
        key = target.key.disable_rotation()
        unsupported_for_aws_managed(target.key, "DisableKeyRotation")
        symmetric_only(target.key, "DisableKeyRotation")
        refuse_on_replica(call.tx, target.key, "DisableKeyRotation")  # multi-Region
        self._save(call, key)

    def get_key_rotation_status(self, call: Call, key_id: str) -> Key:
        target = self.access.find(call, key_id, aliases=False)
        self.access.authorize(call, target, "kms:GetKeyRotationStatus")
        return replica_rotation_view(call.tx, target.key)  # multi-Region: the primary's

    def rotate_key_on_demand(self, call: Call, key_id: str) -> Key:
        target = self.access.find(call, key_id, aliases=False, fresh=True)
        self.access.authorize(call, target, "kms:RotateKeyOnDemand")
        key = target.key
        key.require("RotateKeyOnDemand")
        unsupported_for_aws_managed(key, "RotateKeyOnDemand")
        symmetric_only(key, "RotateKeyOnDemand", imported=True)
        refuse_on_replica(call.tx, key, "RotateKeyOnDemand")  # multi-Region
        done = store.count_rotations(call.tx, key.key_id, RotationType.ON_DEMAND)
        if done >= self.max_on_demand_rotations:
            raise LimitExceededException(
                f"{key.arn} has reached the limit of {self.max_on_demand_rotations} "
                "on-demand rotations."
            )
        if key.origin == ORIGIN_EXTERNAL:  # to the material imported for it (importing.py)
            return rotate_imported(call.tx, self.cache, key, call.ctx.now)
        return rotate_key(call.tx, self.cache, key, call.ctx.now, automatic=False)

    def list_key_rotations(
        self,
        call: Call,
        key_id: str,
        *,
        include_key_material: str | None,
        limit: int | None,
        marker: str | None,
    ) -> tuple[Key, Page[RotationEntry]]:
        target = self.access.find(call, key_id, aliases=False)
        self.access.authorize(call, target, "kms:ListKeyRotations")
        position = decode_marker("rotations", marker)
        if position is not None and not position.isdigit():
            raise InvalidMarkerException()
        after = int(position) if position is not None else 0
        size = page_size(limit, default=100, maximum=1000)
        versions = store.list_versions(
            call.tx,
            target.key.key_id,
            after=after,
            limit=size + 1,
            rotations_only=include_key_material != "ALL_KEY_MATERIAL",
        )
        more = len(versions) > size
        versions = versions[:size]
        entries = [RotationEntry(v, _material_state(call.tx, target.key, v)) for v in versions]
        next_marker = encode_marker("rotations", str(versions[-1].version)) if more else None
        return target.key, Page(entries, next_marker)

    def _save(self, call: Call, key: Key) -> None:
        store.update_key(call.tx, key)
        self.cache.invalidate_key(call.tx, key.key_id)
        call.tx.mark_changed()


def _material_state(tx: Tx, key: Key, version: KeyVersion) -> str:
    if key.origin == ORIGIN_EXTERNAL and version.version > key.current_version:
        found = import_store.get_material(tx, key.key_id, version.version)
        if found is not None:  # imported for the next on-demand rotation
            return material_state(tx, key, found)
    return "CURRENT" if version.version == key.current_version else "NON_CURRENT"

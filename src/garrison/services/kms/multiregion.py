"""Multi-Region keys: ReplicateKey, UpdatePrimaryRegion, and what DescribeKey and the
condition keys show of them (AWS's KMS developer guide, "Multi-Region keys").

A set of related multi-Region keys shares one key id (``mrk-`` and 32 hex digits,
only multi-Region keys have such ids) and its key material, one key per Region:
a primary and its replicas. Regions are namespaces of one Garrison deployment
(the SigV4 scope Region), so a replica is a row of the same store:

- every key of the set is a ``kms_keys`` row with store id ``mrk-...@<region>``
  (`domain.row_key_id`); `access` maps the key id a request names to the row of
  the request's Region, so tags, aliases, grants, policy, description and
  enabled state are each key's own, as AWS has them;
- ``kms_multi_region_keys`` names the Region of the primary (UpdatePrimaryRegion
  changes it);
- every key material version exists on every key of the set with the same
  version number and material id (sealed per row), and a ciphertext names the key
  id, not a Region (ciphertext.py, format 0x02), so what one key encrypts every
  related key decrypts;
- rotation is the primary's: automatic and on-demand rotations of the primary
  add the new material to every replica (`propagate_rotation`); replicas refuse
  Enable/DisableKeyRotation and RotateKeyOnDemand, and GetKeyRotationStatus of a
  replica shows the primary's schedule.

A replica is created Enabled at once (AWS shows Creating for a while first:
there is no asynchronous copy to wait for here). A replica of a key with
imported material is created PendingImport with none of it: the same material
must be imported into it (importing.py), as AWS requires.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from garrison.api import Call
from garrison.services.kms import import_store, store
from garrison.services.kms import multiregion_store as sets
from garrison.services.kms.access import KeyAccess, Target, audit_key
from garrison.services.kms.cache import KmsCache, load_view
from garrison.services.kms.domain import (
    ORIGIN_AWS_KMS,
    ROW_REGION_SEPARATOR,
    Key,
    KeyManager,
    KeyState,
    KeyVersion,
    key_arn,
    row_key_id,
)
from garrison.services.kms.errors import (
    AlreadyExistsException,
    LimitExceededException,
    NotFoundException,
    UnsupportedOperationException,
    ValidationException,
)
from garrison.services.kms.keypolicy import (
    caller_context,
    check_lockout,
    compile_key_policy,
    default_key_policy,
    request_tags_context,
)
from garrison.services.kms.keys import check_tag_count, check_tag_keys, parse_tags
from garrison.services.kms.multiregion_store import (
    PRIMARY,
    REPLICA,
    is_multi_region,
    multi_region_key_type,
)
from garrison.storage.writer import Tx

_VERSION_PAGE = 1000


@dataclass(frozen=True, slots=True)
class RelatedKey:
    """One key of a set of related multi-Region keys: its ARN and Region."""

    arn: str
    region: str


@dataclass(frozen=True, slots=True)
class MultiRegionConfiguration:
    """DescribeKey's MultiRegionConfiguration: which kind of key this is, the
    primary key of its set, and the replicas of that primary."""

    key_type: str  # PRIMARY or REPLICA
    primary: RelatedKey
    replicas: tuple[RelatedKey, ...] = ()


def configuration(tx: Tx, key: Key) -> MultiRegionConfiguration | None:
    """The multi-Region configuration of `key`, None for a single-Region key."""
    if not is_multi_region(key.key_id):
        return None
    public = key.public_id
    primary_region = sets.primary_region(tx, public) or key.region
    rows = sets.related_row_ids(tx, public)
    regions = [row.partition(ROW_REGION_SEPARATOR)[2] for row in rows]
    replicas = tuple(
        RelatedKey(key_arn(key.account_id, region, public), region)
        for region in regions
        if region != primary_region
    )
    primary = RelatedKey(key_arn(key.account_id, primary_region, public), primary_region)
    key_type = PRIMARY if key.region == primary_region else REPLICA
    return MultiRegionConfiguration(key_type, primary, replicas)


def is_replica(tx: Tx, key: Key) -> bool:
    return multi_region_key_type(tx, key) == REPLICA


def refuse_on_replica(tx: Tx, key: Key, operation: str) -> None:
    """Rotation is a shared property that only the primary key controls (AWS)."""
    if is_replica(tx, key):
        raise UnsupportedOperationException(
            f"{key.arn} is a multi-Region replica key; {operation} applies to its primary key."
        )


def primary_of(tx: Tx, key: Key) -> Key | None:
    """The primary key of a replica's set (None if `key` is not a replica)."""
    if not is_replica(tx, key):
        return None
    region = sets.primary_region(tx, key.public_id)
    return None if region is None else store.get_key(tx, row_key_id(key.public_id, region))


def related_keys(tx: Tx, key: Key) -> list[Key]:
    """The other keys of `key`'s set (empty for a single-Region key)."""
    if not is_multi_region(key.key_id):
        return []
    found = (store.get_key(tx, row) for row in sets.related_row_ids(tx, key.public_id))
    return [k for k in found if k is not None and k.key_id != key.key_id]


def propagate_rotation(
    tx: Tx, cache: KmsCache, key: Key, version: KeyVersion, material: bytes
) -> None:
    """Give every replica of `key` the version a rotation just added to it."""
    for replica in related_keys(tx, key):
        copy = replace(version, key_id=replica.key_id)
        store.insert_version(tx, copy, material)
        # a replica keeps no schedule of its own: only its current material moves
        store.update_key(
            tx,
            replace(
                replica,
                current_version=copy.version,
                current_material_id=copy.material_id,
            ),
        )
        cache.invalidate_key(tx, replica.key_id)


def replica_rotation_view(tx: Tx, key: Key) -> Key:
    """GetKeyRotationStatus of a replica shows its primary's schedule."""
    primary = primary_of(tx, key)
    if primary is None:
        return key
    return replace(
        key,
        rotation_period_days=primary.rotation_period_days,
        next_rotation_at=primary.next_rotation_at,
    )


@dataclass(frozen=True, slots=True)
class Replicated:
    """ReplicateKey's answer: the replica, its policy and its tags."""

    key: Key
    policy: str
    tags: dict[str, str]


class MultiRegionUseCases:
    def __init__(self, access: KeyAccess, cache: KmsCache, *, max_keys: int) -> None:
        self.access = access
        self.cache = cache
        self.max_keys = max_keys

    def _primary(
        self, call: Call, key_id: str, action: str, extra: Mapping[str, Sequence[str]]
    ) -> Key:
        target = self.access.find(call, key_id, aliases=False, fresh=True)
        self.access.authorize(call, target, action, extra)
        key = target.key
        operation = action.removeprefix("kms:")
        if not is_multi_region(key.key_id):
            raise UnsupportedOperationException(
                f"{key.arn} is not a multi-Region key; {operation} applies to multi-Region "
                "primary keys only."
            )
        if is_replica(call.tx, key):
            raise UnsupportedOperationException(
                f"{key.arn} is a multi-Region replica key; {operation} applies to multi-Region "
                "primary keys only."
            )
        key.require(operation)
        return key

    def _invalidate_set(self, call: Call, public: str) -> None:
        for row in sets.related_row_ids(call.tx, public):
            self.cache.invalidate_key(call.tx, row)
        call.tx.mark_changed()

    # -- ReplicateKey -----------------------------------------------------------------
    def replicate_key(
        self,
        call: Call,
        key_id: str,
        replica_region: str,
        *,
        policy: str | None = None,
        bypass_policy_lockout_safety_check: bool = False,
        description: str = "",
        tags: Sequence[Mapping[str, str]] | None = None,
    ) -> Replicated:
        ctx, tx = call.ctx, call.tx
        bypass = "true" if bypass_policy_lockout_safety_check else "false"
        primary = self._primary(
            call,
            key_id,
            "kms:ReplicateKey",
            {
                "kms:ReplicaRegion": (replica_region,),
                "kms:BypassPolicyLockoutSafetyCheck": (bypass,),
            },
        )
        public = primary.public_id
        replica_arn = key_arn(primary.account_id, replica_region, public)
        requested_tags = parse_tags(tags)
        # AWS: kms:CreateKey (and kms:TagResource for Tags) in the replica Region
        create_context: dict[str, Sequence[str]] = {
            "kms:KeySpec": (primary.key_spec,),
            "kms:KeyUsage": (primary.key_usage,),
            "kms:KeyOrigin": (primary.origin,),
            "kms:MultiRegion": ("true",),
            "kms:MultiRegionKeyType": (REPLICA,),
            "kms:BypassPolicyLockoutSafetyCheck": (bypass,),
        }
        self.access.authorize_identity(call, "kms:CreateKey", "*", create_context)
        if requested_tags:
            self.access.authorize_identity(
                call, "kms:TagResource", replica_arn, request_tags_context(requested_tags)
            )
        sets.check_region_name(replica_region)
        if store.get_key(tx, row_key_id(public, replica_region)) is not None:
            raise AlreadyExistsException(
                f"{replica_arn} already exists: a key related to {primary.arn} is in "
                f"{replica_region}."
            )
        check_tag_keys(list(requested_tags))
        check_tag_count(len(requested_tags))
        if store.count_customer_keys(tx, primary.account_id, replica_region) >= self.max_keys:
            raise LimitExceededException(
                f"The request was rejected because the account and Region {replica_region} "
                f"already have {self.max_keys} customer managed KMS keys, the quota."
            )
        document = policy if policy is not None else default_key_policy(primary.account_id)
        compiled = compile_key_policy(document)
        if policy is not None and not bypass_policy_lockout_safety_check:
            check_lockout(compiled, ctx, replica_arn, caller_context(ctx))

        replica = Key(
            key_id=row_key_id(public, replica_region),
            account_id=primary.account_id,
            region=replica_region,
            description=description,
            key_usage=primary.key_usage,
            key_spec=primary.key_spec,
            origin=primary.origin,
            key_manager=KeyManager.CUSTOMER,
            # imported key material is the replica's to import (importing.py)
            state=KeyState.ENABLED if primary.origin == ORIGIN_AWS_KMS else KeyState.PENDING_IMPORT,
            created_at=ctx.now,
            policy=document,
            current_version=primary.current_version,
            current_material_id=primary.current_material_id,
        )
        store.insert_key(tx, replica)
        if primary.origin == ORIGIN_AWS_KMS:
            self._copy_material(tx, primary, replica.key_id)
        else:  # the primary's material ids, none of its material
            import_store.copy_rows(tx, primary.key_id, replica.key_id)
        store.put_tags(tx, replica.key_id, requested_tags)
        audit_key(call, replica_arn)
        self._invalidate_set(call, public)
        return Replicated(replica, document, requested_tags)

    @staticmethod
    def _copy_material(tx: Tx, primary: Key, row_id: str) -> None:
        """Every version of the primary's material, sealed again for the replica's row."""
        after = 0
        while True:
            versions = store.list_versions(
                tx, primary.key_id, after=after, limit=_VERSION_PAGE, rotations_only=False
            )
            for version in versions:
                found = store.load_material(tx, primary.key_id, version.version)
                if found is None:  # a version row without material: never written so
                    raise NotFoundException(f"Key material of {primary.arn} is unavailable.")
                store.insert_version(tx, replace(version, key_id=row_id), found[1])
            if len(versions) < _VERSION_PAGE:
                return
            after = versions[-1].version

    # -- UpdatePrimaryRegion -----------------------------------------------------------
    def update_primary_region(self, call: Call, key_id: str, primary_region: str) -> None:
        tx = call.tx
        primary = self._primary(
            call, key_id, "kms:UpdatePrimaryRegion", {"kms:PrimaryRegion": (primary_region,)}
        )
        public = primary.public_id
        if primary_region == primary.region:
            raise ValidationException(
                f"{primary.arn} is already the primary key; PrimaryRegion must name the Region "
                "of one of its replicas."
            )
        view = load_view(tx, row_key_id(public, primary_region))
        if view is None:
            raise NotFoundException(
                f"Key '{key_arn(primary.account_id, primary_region, public)}' does not exist"
            )
        # AWS requires kms:UpdatePrimaryRegion on the replica that becomes primary too
        audit_key(call, view.key.arn)
        self.access.authorize(
            call, Target(view), "kms:UpdatePrimaryRegion", {"kms:PrimaryRegion": (primary_region,)}
        )
        view.key.require("UpdatePrimaryRegion")
        # the rotation schedule is the set's, held by whichever key is primary
        store.update_key(
            tx,
            replace(
                view.key,
                rotation_period_days=primary.rotation_period_days,
                next_rotation_at=primary.next_rotation_at,
            ),
        )
        store.update_key(tx, replace(primary, rotation_period_days=None, next_rotation_at=None))
        sets.set_primary_region(tx, public, primary_region)
        self._invalidate_set(call, public)


def key_deleted(tx: Tx, cache: KmsCache, key: Key, now: datetime) -> None:
    """After the deletion job deleted `key`: a primary waiting in PendingReplicaDeletion
    whose last replica this was starts its own waiting period; a set with no key
    left is forgotten."""
    if not is_multi_region(key.key_id):
        return
    public = key.public_id
    remaining = sets.related_row_ids(tx, public)
    if not remaining:
        sets.delete_set(tx, public)
        return
    region = sets.primary_region(tx, public)
    primary = None if region is None else store.get_key(tx, row_key_id(public, region))
    if (
        primary is not None
        and primary.state is KeyState.PENDING_REPLICA_DELETION
        and remaining == [primary.key_id]
    ):
        store.update_key(tx, primary.replicas_deleted(now))
        cache.invalidate_key(tx, primary.key_id)
        tx.mark_changed()

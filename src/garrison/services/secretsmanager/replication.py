"""Multi-Region secrets (AWS's "Replicate secrets across Regions"): replicas, their
status, and every change of a primary propagated to its replicas.

Regions are namespaces of one Garrison deployment (as for multi-Region KMS keys,
`garrison.services.kms.multiregion`), so a replica is an ``sm_secrets`` row in the
replica Region with the primary's name and ARN suffix
(``arn:aws:secretsmanager:<replica region>:<account>:secret:<name>-<suffix>``) and
``primary_arn`` set; the primary lists its replicas in ``sm_replicas``.

Each replica version is a value of its own: the same version id, value, creation
date and staging labels as the primary's, envelope-encrypted under the replica
Region's KMS key (the replica's KmsKeyId, default that Region's
``alias/aws/secretsmanager``) with the replica's ARN in the encryption context.
KMS is called as the caller, in the replica Region, through ``via_service``
(``kms:ViaService`` ``secretsmanager.<replica region>.amazonaws.com``).

Propagation is synchronous, in the transaction of the primary's change: values,
staging labels, description, tags and the resource policy (what AWS replicates).
Rotation's own writes (its AWSPENDING version, before and after createSecret gives it
a value, and the label's removal) propagate the same way (`rotation`).
A replica that cannot follow (its key disabled or missing, its name taken in its
Region) is left as it was and marked ``Failed`` with the reason; the next change
of the primary resynchronises every replica, so one that failed recovers as soon
as its cause is gone::

    ReplicateSecretToRegions ──> InSync ──(KMS refuses)──> Failed ──(next change)──> InSync
                                   │
           RemoveRegionsFromReplication: the replica is deleted at once
           StopReplicationToReplica (in the replica's Region): a standalone secret

Replicas are read-only: every write to one is refused as AWS refuses it
(InvalidParameterException, "Operation not permitted on a replica secret. Call
must be made in primary secret's region."). A primary with replicas can't be
deleted until they are removed.
"""

from __future__ import annotations

import re
import secrets as pyrandom
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from garrison.api import Call, InnerCall
from garrison.errors import AwsError
from garrison.services.secretsmanager import replication_store as rstore
from garrison.services.secretsmanager import store
from garrison.services.secretsmanager.domain import NewValue, to_datetime
from garrison.services.secretsmanager.errors import (
    InvalidParameterException,
    InvalidRequestException,
)
from garrison.services.secretsmanager.replication_store import ReplicaRow
from garrison.services.secretsmanager.store import Secret
from garrison.services.secretsmanager.values import DEFAULT_KEY_ID, SecretValues

IN_SYNC = "InSync"
IN_PROGRESS = "InProgress"
FAILED = "Failed"
SUCCEEDED = "Replication succeeded"
NOT_ON_REPLICA = (
    "Operation not permitted on a replica secret. Call must be made in primary secret's region."
)
# Writes refused on a replica (reads are served from the replica's own copy).
REFUSED_ON_REPLICA = frozenset(
    {
        "PutSecretValue",
        "UpdateSecret",
        "UpdateSecretVersionStage",
        "DeleteSecret",
        "RestoreSecret",
        "TagResource",
        "UntagResource",
        "PutResourcePolicy",
        "DeleteResourcePolicy",
        "RotateSecret",
        "CancelRotateSecret",
        "ReplicateSecretToRegions",
        "RemoveRegionsFromReplication",
    }
)
MAX_REPLICA_REGIONS = 50
_REGION = re.compile(r"([a-z]+-)+\d+")


def refuse_on_replica(secret: Secret, operation: str) -> None:
    if secret.primary_arn is not None and operation in REFUSED_ON_REPLICA:
        raise InvalidParameterException(NOT_ON_REPLICA)


def region_of(arn: str) -> str:
    return arn.split(":")[3]


def replica_arn(primary_arn: str, region: str) -> str:
    parts = primary_arn.split(":")
    parts[3] = region
    return ":".join(parts)


def check_add_regions(call: Call, regions: Sequence[Any]) -> list[tuple[str, str | None]]:
    """AddReplicaRegions as (Region, KmsKeyId); refused before anything is written."""
    if not regions:
        raise InvalidParameterException("AddReplicaRegions must list at least one Region.")
    out: list[tuple[str, str | None]] = []
    for entry in regions:
        region = entry.get("Region") if isinstance(entry, dict) else None
        key = entry.get("KmsKeyId") if isinstance(entry, dict) else None
        if not isinstance(region, str) or not region:
            raise InvalidParameterException("Each replica Region must have a Region.")
        if len(region) > 128 or not _REGION.fullmatch(region):
            raise InvalidParameterException(f"Invalid replica region: {region}.")
        if region == call.ctx.region:
            raise InvalidParameterException("Invalid replica region.")
        if key is not None and (not isinstance(key, str) or len(key) > 2048):
            raise InvalidParameterException("KmsKeyId must be at most 2048 characters long.")
        if any(r == region for r, _ in out):
            raise InvalidParameterException(f"Duplicate replica region: {region}.")
        out.append((region, key or None))
    if len(out) > MAX_REPLICA_REGIONS:
        raise InvalidParameterException(
            f"A secret can be replicated to at most {MAX_REPLICA_REGIONS} Regions."
        )
    return out


def check_remove_regions(regions: Sequence[Any]) -> list[str]:
    if not regions:
        raise InvalidParameterException("RemoveReplicaRegions must list at least one Region.")
    for region in regions:
        if not isinstance(region, str) or len(region) > 128 or not _REGION.fullmatch(region):
            raise InvalidParameterException(f"Invalid replica region: {region}.")
    return list(dict.fromkeys(regions))


def _in_region(call: Call, region: str) -> Call:
    """`call` as made in `region`: KMS resolves keys there and ViaService names it; the
    resources and inner calls it records are the outer call's."""
    return Call(
        replace(call.ctx, region=region),
        call.tx,
        resources=call.resources,
        inner=call.inner,
        event_ids=call.event_ids,
    )


class Replication:
    def __init__(self, values: SecretValues) -> None:
        self.values = values

    # -- ReplicateSecretToRegions / CreateSecret's AddReplicaRegions ---------------------
    def add_regions(
        self,
        call: Call,
        primary: Secret,
        regions: Sequence[tuple[str, str | None]],
        force: bool,
        fresh: Mapping[str, NewValue],
    ) -> None:
        if primary.primary_arn is not None:
            raise InvalidParameterException(NOT_ON_REPLICA)
        existing = {row.region for row in rstore.replicas(call.tx, primary.secret_id)}
        for region, _ in regions:
            if region in existing:
                raise InvalidParameterException(
                    f"The secret is already replicated to the Region {region}."
                )
        for region, key in regions:
            row = ReplicaRow(region, key, IN_PROGRESS, None, None)
            rstore.put_replica(call.tx, primary.secret_id, row)
            self._sync_one(call, primary, row, fresh, force=force)
        call.tx.mark_changed()

    # -- propagation ------------------------------------------------------------------------
    def propagate(
        self, call: Call, secret: Secret, fresh: Mapping[str, NewValue] | None = None
    ) -> None:
        """Bring every replica of `secret` (a primary) up to date with it; `fresh`: the
        plaintext of versions written in this call (no need to decrypt them again)."""
        rows = rstore.replicas(call.tx, secret.secret_id)
        if not rows:
            return
        primary = store.by_arn(call.tx, secret.arn)
        if primary is None:
            return
        for row in rows:
            self._sync_one(call, primary, row, fresh or {}, force=False)

    def _sync_one(
        self,
        call: Call,
        primary: Secret,
        row: ReplicaRow,
        fresh: Mapping[str, NewValue],
        *,
        force: bool,
    ) -> None:
        savepoint = call.tx.savepoint()
        before = len(call.inner)
        try:
            replica = self._replica_secret(call, primary, row, force)
            self._copy(call, primary, replica, fresh)
        except AwsError as err:
            savepoint.rollback()
            rstore.set_status(
                call.tx,
                primary.secret_id,
                row.region,
                FAILED,
                _failure_message(call.inner[before:], err),
                row.replica_secret_id,
            )
            return
        savepoint.commit()
        rstore.set_status(
            call.tx, primary.secret_id, row.region, IN_SYNC, SUCCEEDED, replica.secret_id
        )

    def _replica_secret(self, call: Call, primary: Secret, row: ReplicaRow, force: bool) -> Secret:
        arn = replica_arn(primary.arn, row.region)
        found = store.by_arn(call.tx, arn)
        if found is not None and found.primary_arn == primary.arn:
            return found
        taken = store.by_name(call.tx, primary.account_id, row.region, primary.name)
        if taken is not None:
            if not force:
                raise InvalidRequestException(
                    f"Secret name {primary.name} already exists in region {row.region}."
                )
            if taken.primary_arn is not None or rstore.has_replicas(call.tx, taken.secret_id):
                raise InvalidRequestException(  # never overwrite another replication set
                    f"Secret name {primary.name} in region {row.region} belongs to another "
                    "replicated secret and can't be overwritten."
                )
            store.delete_secret(call.tx, taken.secret_id)  # ForceOverwriteReplicaSecret
        now = call.ctx.now.timestamp()
        replica = Secret(
            secret_id=str(pyrandom.token_hex(16)),
            account_id=primary.account_id,
            region=row.region,
            name=primary.name,
            arn=arn,
            description=primary.description,
            kms_key_id=row.kms_key_id,
            created_at=now,
            last_changed=primary.last_changed,
            last_accessed=None,
            deleted_at=None,
            deletion_date=None,
            rotation_enabled=False,
            owning_service=primary.owning_service,
            primary_arn=primary.arn,
        )
        store.insert_secret(call.tx, replica)
        store.update_secret(
            call.tx,
            replica.secret_id,
            primary_arn=primary.arn,
            owning_service=primary.owning_service,
        )
        return replica

    def _copy(
        self, call: Call, primary: Secret, replica: Secret, fresh: Mapping[str, NewValue]
    ) -> None:
        """Make `replica` hold what `primary` holds: labelled versions, labels, metadata."""
        tx = call.tx
        held = store.stages(tx, primary.secret_id)
        labelled = set(held.values())
        theirs = {v.version_id: v for v in store.versions(tx, primary.secret_id)}
        copies = {v.version_id: v for v in store.versions(tx, replica.secret_id)}
        # a copy made while the primary's version had no value yet (RotateSecret's
        # AWSPENDING before createSecret filled it) is made again
        stale = {
            version_id
            for version_id, copy in copies.items()
            if (source := theirs.get(version_id)) is not None
            and (copy.value is None) != (source.value is None)
        }
        for version_id in stale:
            store.delete_version(tx, replica.secret_id, version_id)
        mine = set(copies) - stale
        regional = _in_region(call, replica.region)
        for version_id in sorted(labelled - mine):
            version = theirs.get(version_id)
            if version is None:
                continue
            envelope = key_arn = None
            if version.value is not None:
                value = fresh.get(version_id)
                data = (
                    value.data
                    if value is not None
                    else self.values.decrypt(
                        call, primary.arn, version_id, primary.kms_key_id, version.value
                    )
                )
                envelope, key_arn = self.values.encrypt(
                    regional, replica.arn, version_id, replica.kms_key_id, data
                )
            store.insert_version(
                tx,
                replica.secret_id,
                version_id,
                version.value_type,
                envelope,
                version.digest,
                key_arn,
                version.created_at,
            )
        for version_id in mine - set(theirs):
            store.delete_version(tx, replica.secret_id, version_id)
        current = store.stages(tx, replica.secret_id)
        for stage in set(current) - set(held):
            store.remove_stage(tx, replica.secret_id, stage)
        for stage, version_id in held.items():
            if current.get(stage) != version_id:
                store.set_stage(tx, replica.secret_id, stage, version_id)
        tags = store.tags(tx, primary.secret_id)
        for key in set(store.tags(tx, replica.secret_id)) - set(tags):
            store.remove_tag(tx, replica.secret_id, key)
        for key, tag_value in tags.items():
            store.put_tag(tx, replica.secret_id, key, tag_value)
        document = store.policy(tx, primary.secret_id)
        if document is None:
            store.delete_policy(tx, replica.secret_id)
        else:
            store.put_policy(tx, replica.secret_id, document)
        store.update_secret(
            tx,
            replica.secret_id,
            description=primary.description,
            last_changed=primary.last_changed,
        )

    # -- deletion rules -----------------------------------------------------------------------
    def refuse_delete_with_replicas(self, call: Call, secret: Secret) -> None:
        rows = rstore.replicas(call.tx, secret.secret_id)
        if rows:
            regions = ", ".join(r.region for r in rows)
            raise InvalidParameterException(
                f"You can't delete secret {secret.arn} that still has replica regions [{regions}]"
            )

    # -- RemoveRegionsFromReplication ---------------------------------------------------------
    def remove_regions(self, call: Call, primary: Secret, regions: Sequence[str]) -> None:
        rows = {r.region: r for r in rstore.replicas(call.tx, primary.secret_id)}
        for region in regions:
            row = rows.get(region)
            if row is None:
                continue  # not a replica Region: nothing to remove, as AWS
            replica = store.by_arn(call.tx, replica_arn(primary.arn, region))
            if replica is not None and replica.primary_arn == primary.arn:
                store.delete_secret(call.tx, replica.secret_id)
            rstore.delete_replica(call.tx, primary.secret_id, region)
        call.tx.mark_changed()

    # -- StopReplicationToReplica ---------------------------------------------------------------
    def promote(self, call: Call, replica: Secret) -> Secret:
        if replica.primary_arn is None:
            raise InvalidRequestException(
                f"The secret {replica.name} is not a replica secret: StopReplicationToReplica "
                "promotes a replica, called in the replica's Region."
            )
        rstore.unlink_replica(call.tx, replica.secret_id)
        store.update_secret(
            call.tx, replica.secret_id, primary_arn=None, last_changed=call.ctx.now.timestamp()
        )
        call.tx.mark_changed()
        return replace(replica, primary_arn=None)

    # -- what DescribeSecret and the replication operations show --------------------------------
    def status(self, call: Call, secret: Secret) -> list[dict[str, Any]]:
        out = []
        for row in rstore.replicas(call.tx, secret.secret_id):
            entry: dict[str, Any] = {
                "Region": row.region,
                "KmsKeyId": row.kms_key_id or DEFAULT_KEY_ID,
                "Status": row.status,
            }
            if row.status_message:
                entry["StatusMessage"] = row.status_message
            if row.replica_secret_id is not None:
                replica = store.by_arn(call.tx, replica_arn(secret.arn, row.region))
                if replica is not None and replica.last_accessed is not None:
                    accessed: datetime | None = to_datetime(replica.last_accessed)
                    entry["LastAccessedDate"] = accessed
            out.append(entry)
        return out


def _failure_message(inner_calls: Sequence[InnerCall], err: AwsError) -> str:
    """Why a replica could not follow: KMS's own error when KMS refused (the last inner
    call of this replica's attempt that failed), else the error raised."""
    for inner in reversed(inner_calls):
        if inner.error_code is not None and inner.event_source == "kms.amazonaws.com":
            return f"Replication failed: {inner.error_code}: {inner.error_message}"[:1024]
    return f"Replication failed: {err.message}"[:1024]

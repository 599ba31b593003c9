"""The wire shapes of ReplicateSecretToRegions, RemoveRegionsFromReplication and
StopReplicationToReplica (the provider routes them here; the use cases are in
`replication`)."""

from __future__ import annotations

from garrison.api import Call, Request, Response
from garrison.services.secretsmanager.replication import (
    check_add_regions,
    check_remove_regions,
)
from garrison.services.secretsmanager.service import SecretsManager

HANDLED = {
    "ReplicateSecretToRegions": frozenset(
        {"SecretId", "AddReplicaRegions", "ForceOverwriteReplicaSecret"}
    ),
    "RemoveRegionsFromReplication": frozenset({"SecretId", "RemoveReplicaRegions"}),
    "StopReplicationToReplica": frozenset({"SecretId"}),
}


def replicate_secret_to_regions(secrets: SecretsManager, call: Call, r: Request) -> Response:
    regions = check_add_regions(call, r.get("AddReplicaRegions") or ())
    force = bool(r.get("ForceOverwriteReplicaSecret"))
    extra = {
        "secretsmanager:AddReplicaRegions": [region for region, _ in regions],
        "secretsmanager:ForceOverwriteReplicaSecret": [str(force).lower()],
    }
    secret = secrets.existing(call, "ReplicateSecretToRegions", r["SecretId"], extra=extra)
    secrets.replication.add_regions(call, secret, regions, force, {})
    return {"ARN": secret.arn, "ReplicationStatus": secrets.replication.status(call, secret)}


def remove_regions_from_replication(secrets: SecretsManager, call: Call, r: Request) -> Response:
    regions = check_remove_regions(r.get("RemoveReplicaRegions") or ())
    secret = secrets.existing(call, "RemoveRegionsFromReplication", r["SecretId"])
    secrets.replication.remove_regions(call, secret, regions)
    return {"ARN": secret.arn, "ReplicationStatus": secrets.replication.status(call, secret)}


def stop_replication_to_replica(secrets: SecretsManager, call: Call, r: Request) -> Response:
    secret = secrets.existing(call, "StopReplicationToReplica", r["SecretId"])
    promoted = secrets.replication.promote(call, secret)
    return {"ARN": promoted.arn}

"""Persistence of replication: the ``sm_replicas`` rows of a primary secret (one per
replica Region, with the status DescribeSecret shows) and the whole-table copies a
replica needs (tags, resource policy, staging labels).

A replica is an ``sm_secrets`` row of its own in the replica Region, whose
``primary_arn`` names the primary; ``sm_replicas.replica_secret_id`` points at it
(None while the replica could not be created: a name taken in that Region).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from garrison.storage import schema
from garrison.storage.sql import delete, insert, select, update
from garrison.storage.writer import Tx

_R = schema.sm_replicas
_S = schema.sm_secrets


@dataclass(frozen=True)
class ReplicaRow:
    region: str
    kms_key_id: str | None
    status: str
    status_message: str | None
    replica_secret_id: str | None


def _row(row: Any) -> ReplicaRow:
    return ReplicaRow(
        region=row.region,
        kms_key_id=row.kms_key_id,
        status=row.status,
        status_message=row.status_message,
        replica_secret_id=row.replica_secret_id,
    )


def replicas(tx: Tx, secret_id: str) -> list[ReplicaRow]:
    rows = tx.execute(select(_R).where(_R.c.secret_id == secret_id).order_by(_R.c.region)).all()
    return [_row(r) for r in rows]


def put_replica(tx: Tx, secret_id: str, row: ReplicaRow) -> None:
    tx.execute(delete(_R).where(_R.c.secret_id == secret_id, _R.c.region == row.region))
    tx.execute(
        insert(_R),
        {
            "secret_id": secret_id,
            "region": row.region,
            "kms_key_id": row.kms_key_id,
            "status": row.status,
            "status_message": row.status_message,
            "last_accessed": None,
            "replica_secret_id": row.replica_secret_id,
        },
    )


def set_status(
    tx: Tx, secret_id: str, region: str, status: str, message: str | None, replica_id: str | None
) -> None:
    tx.execute(
        update(_R)
        .where(_R.c.secret_id == secret_id, _R.c.region == region)
        .values(status=status, status_message=message, replica_secret_id=replica_id)
    )


def delete_replica(tx: Tx, secret_id: str, region: str) -> None:
    tx.execute(delete(_R).where(_R.c.secret_id == secret_id, _R.c.region == region))


def unlink_replica(tx: Tx, replica_secret_id: str) -> None:
    """The primary forgets the replica (StopReplicationToReplica)."""
    tx.execute(delete(_R).where(_R.c.replica_secret_id == replica_secret_id))


def primary_id_of(tx: Tx, primary_arn: str) -> str | None:
    row = tx.execute(select(_S.c.secret_id).where(_S.c.arn == primary_arn)).first()
    return None if row is None else str(row.secret_id)


def has_replicas(tx: Tx, secret_id: str) -> bool:
    return tx.execute(select(_R.c.region).where(_R.c.secret_id == secret_id)).first() is not None

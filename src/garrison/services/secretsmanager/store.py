"""Secrets Manager persistence: secrets, versions (value sealed by the barrier), stages, tags,
resource policies.

`sm_secret_versions.value` is sealed with ``("sm_secret_versions", "<secret_id>/<version_id>",
"value")`` as its identity; the sealed bytes are the envelope of the value under a KMS data key.
`value_digest` is sealed the same way: a random per-version HMAC key and the HMAC of the value,
so a retried ClientRequestToken's value can be compared without keeping the value.

Every function here that writes a secret's rows (the secret, its versions, stages, tags,
resource policy) calls `_changed` first: the read cache (cache.py) drops the secret in
this unit and after its commit, and the unit is marked changed so that the other nodes
clear theirs. A new write to these tables must do the same. The read path's statements
are built once, with `bindparam`s (SQLAlchemy then reuses their compiled form).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Protocol

from garrison.storage import schema
from garrison.storage.sql import bindparam, delete, insert, select, update
from garrison.storage.writer import Tx

_S = schema.sm_secrets
_V = schema.sm_secret_versions
_ST = schema.sm_version_stages
_T = schema.sm_tags
_P = schema.sm_resource_policies


# -- who is told of changes ---------------------------------------------------------------
class Watcher(Protocol):
    """A read cache of secrets (cache.SecretCache)."""

    def invalidate(self, tx: Tx, secret_id: str, *, lookups: bool = False) -> None: ...

    def accessed(self, tx: Tx, secret_id: str, version_id: str, day: float) -> None: ...


_WATCHERS: weakref.WeakSet[Any] = weakref.WeakSet()


def watch(watcher: Watcher) -> None:
    """Tell `watcher` of every change to a secret, in the changing unit."""
    _WATCHERS.add(watcher)


def _changed(tx: Tx, secret_id: str, *, lookups: bool = False) -> None:
    """Every write below but `record_access` goes through here: the caches of this
    process drop the secret (now and after commit; `lookups`: a new secret, so the
    SecretId lookups too), and other nodes clear theirs (state version)."""
    tx.mark_changed()
    for watcher in list(_WATCHERS):
        watcher.invalidate(tx, secret_id, lookups=lookups)


# -- statements of the read path, built once ------------------------------------------------
_BY_NAME = select(_S).where(
    _S.c.account_id == bindparam("account_id"),
    _S.c.region == bindparam("region"),
    _S.c.name == bindparam("name"),
)
_BY_ARN = select(_S).where(_S.c.arn == bindparam("arn"))
_VERSION = select(_V).where(
    _V.c.secret_id == bindparam("secret_id"), _V.c.version_id == bindparam("version_id")
)
_VERSIONS_IN = select(_V).where(
    _V.c.secret_id == bindparam("secret_id"),
    _V.c.version_id.in_(bindparam("version_ids", expanding=True)),
)
_STAGES = select(_ST.c.stage, _ST.c.version_id).where(_ST.c.secret_id == bindparam("secret_id"))
_TAGS = (
    select(_T.c.tag_key, _T.c.tag_value)
    .where(_T.c.secret_id == bindparam("secret_id"))
    .order_by(_T.c.tag_key)
)
_POLICY = select(_P.c.policy).where(_P.c.secret_id == bindparam("secret_id"))


@dataclass(frozen=True)
class Secret:
    secret_id: str
    account_id: str
    region: str
    name: str
    arn: str
    description: str | None
    kms_key_id: str | None
    created_at: float
    last_changed: float
    last_accessed: float | None
    deleted_at: float | None
    deletion_date: float | None
    rotation_enabled: bool
    owning_service: str | None
    primary_arn: str | None
    rotation_lambda_arn: str | None = None
    rotation_rules: str | None = None  # JSON as RotationRules
    last_rotated: float | None = None
    next_rotation: float | None = None


@dataclass(frozen=True)
class Version:
    version_id: str
    value_type: str | None
    value: bytes | None  # opened from the barrier
    digest: bytes | None  # opened from the barrier
    kms_key_arn: str | None
    created_at: float
    last_accessed: float | None


def _secret(row: Any) -> Secret:
    return Secret(
        secret_id=row.secret_id,
        account_id=row.account_id,
        region=row.region,
        name=row.name,
        arn=row.arn,
        description=row.description,
        kms_key_id=row.kms_key_id,
        created_at=float(row.created_at),
        last_changed=float(row.last_changed),
        last_accessed=None if row.last_accessed is None else float(row.last_accessed),
        deleted_at=None if row.deleted_at is None else float(row.deleted_at),
        deletion_date=None if row.deletion_date is None else float(row.deletion_date),
        rotation_enabled=bool(row.rotation_enabled),
        owning_service=row.owning_service,
        primary_arn=row.primary_arn,
        rotation_lambda_arn=row.rotation_lambda_arn,
        rotation_rules=row.rotation_rules,
        last_rotated=_opt(row.last_rotated),
        next_rotation=_opt(row.next_rotation),
    )


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


def by_name(tx: Tx, account_id: str, region: str, name: str) -> Secret | None:
    row = tx.execute(_BY_NAME, {"account_id": account_id, "region": region, "name": name}).first()
    return None if row is None else _secret(row)


def by_arn(tx: Tx, arn: str) -> Secret | None:
    row = tx.execute(_BY_ARN, {"arn": arn}).first()
    return None if row is None else _secret(row)


def all_secrets(tx: Tx, account_id: str, region: str) -> list[Secret]:
    rows = tx.execute(select(_S).where(_S.c.account_id == account_id, _S.c.region == region)).all()
    return [_secret(r) for r in rows]


def insert_secret(tx: Tx, s: Secret) -> None:
    _changed(tx, s.secret_id, lookups=True)
    tx.execute(
        insert(_S),
        {
            "secret_id": s.secret_id,
            "account_id": s.account_id,
            "region": s.region,
            "name": s.name,
            "arn": s.arn,
            "description": s.description,
            "kms_key_id": s.kms_key_id,
            "created_at": s.created_at,
            "last_changed": s.last_changed,
            "last_accessed": None,
            "deleted_at": None,
            "deletion_date": None,
            "rotation_enabled": False,
            "rotation_lambda_arn": None,
            "rotation_rules": None,
            "last_rotated": None,
            "next_rotation": None,
            "owning_service": None,
            "primary_arn": None,
        },
    )


def update_secret(tx: Tx, secret_id: str, **values: Any) -> None:
    _changed(tx, secret_id)
    tx.execute(update(_S).where(_S.c.secret_id == secret_id).values(**values))


def delete_secret(tx: Tx, secret_id: str) -> None:
    _changed(tx, secret_id)
    for table in (_ST, _V, _T, _P, schema.sm_replicas, schema.sm_rotations):
        tx.execute(delete(table).where(table.c.secret_id == secret_id))
    tx.execute(delete(_S).where(_S.c.secret_id == secret_id))


def due_deletions(tx: Tx, now: float) -> list[str]:
    rows = tx.execute(
        select(_S.c.secret_id).where(_S.c.deletion_date.is_not(None), _S.c.deletion_date <= now)
    ).all()
    return [r.secret_id for r in rows]


def is_due(tx: Tx, secret_id: str, now: float) -> bool:
    row = tx.execute(select(_S.c.deletion_date).where(_S.c.secret_id == secret_id)).first()
    return row is not None and row.deletion_date is not None and row.deletion_date <= now


# -- versions ------------------------------------------------------------------------------
def _pk(secret_id: str, version_id: str) -> str:
    return f"{secret_id}/{version_id}"


def insert_version(
    tx: Tx,
    secret_id: str,
    version_id: str,
    value_type: str | None,
    envelope: bytes | None,
    digest: bytes | None,
    kms_key_arn: str | None,
    now: float,
) -> None:
    _changed(tx, secret_id)
    pk = _pk(secret_id, version_id)
    tx.execute(
        insert(_V),
        {
            "secret_id": secret_id,
            "version_id": version_id,
            "value_type": value_type,
            "value": None
            if envelope is None
            else tx.barrier.seal("sm_secret_versions", pk, "value", envelope),
            "value_digest": None
            if digest is None
            else tx.barrier.seal("sm_secret_versions", pk, "value_digest", digest),
            "kms_key_arn": kms_key_arn,
            "created_at": now,
            "last_accessed": None,
        },
    )


def _version(tx: Tx, row: Any) -> Version:
    pk = _pk(row.secret_id, row.version_id)
    return Version(
        version_id=row.version_id,
        value_type=row.value_type,
        value=None
        if row.value is None
        else tx.barrier.open("sm_secret_versions", pk, "value", row.value),
        digest=None
        if row.value_digest is None
        else tx.barrier.open("sm_secret_versions", pk, "value_digest", row.value_digest),
        kms_key_arn=row.kms_key_arn,
        created_at=float(row.created_at),
        last_accessed=None if row.last_accessed is None else float(row.last_accessed),
    )


def get_version(tx: Tx, secret_id: str, version_id: str) -> Version | None:
    row = tx.execute(_VERSION, {"secret_id": secret_id, "version_id": version_id}).first()
    return None if row is None else _version(tx, row)


def versions(tx: Tx, secret_id: str) -> list[Version]:
    rows = tx.execute(
        select(_V).where(_V.c.secret_id == secret_id).order_by(_V.c.created_at.desc())
    ).all()
    return [_version(tx, r) for r in rows]


@dataclass(frozen=True)
class SealedVersion:
    """A version as the read cache holds it: its value still sealed by the barrier."""

    version_id: str
    value_type: str | None
    sealed: bytes | None
    kms_key_arn: str | None
    created_at: float
    last_accessed: float | None

    def opened(self, tx: Tx, secret_id: str) -> Version:
        """The version with its value opened (no digest: reads do not need it)."""
        return Version(
            version_id=self.version_id,
            value_type=self.value_type,
            value=None
            if self.sealed is None
            else tx.barrier.open(
                "sm_secret_versions", _pk(secret_id, self.version_id), "value", self.sealed
            ),
            digest=None,
            kms_key_arn=self.kms_key_arn,
            created_at=self.created_at,
            last_accessed=self.last_accessed,
        )


def sealed_versions(tx: Tx, secret_id: str, version_ids: list[str]) -> dict[str, SealedVersion]:
    """The versions `version_ids` of a secret, values sealed, in one statement."""
    if not version_ids:
        return {}
    rows = tx.execute(_VERSIONS_IN, {"secret_id": secret_id, "version_ids": version_ids}).all()
    return {
        r.version_id: SealedVersion(
            version_id=r.version_id,
            value_type=r.value_type,
            sealed=None if r.value is None else bytes(r.value),
            kms_key_arn=r.kms_key_arn,
            created_at=float(r.created_at),
            last_accessed=_opt(r.last_accessed),
        )
        for r in rows
    }


def delete_version(tx: Tx, secret_id: str, version_id: str) -> None:
    _changed(tx, secret_id)
    tx.execute(delete(_V).where(_V.c.secret_id == secret_id, _V.c.version_id == version_id))


def record_access(
    tx: Tx, secret_id: str, version_id: str, day: float, *, secret: bool, version: bool
) -> None:
    """The LastAccessedDate (a day) of the secret (`secret`) and of its version
    (`version`), written when the batch commits, once per secret and version however
    many reads of the batch record it (`Tx.coalesce`, as KMS's last usage).

    Not a change that drops caches: the watchers update their view of the secret once
    the batch commits, and other nodes keep theirs (a node that has not served the
    secret today may show the day before until it does, and then writes the same
    day). A unit that records an access runs no SQL for it, so a server's first read
    of the day of each secret costs what a cached read does.
    """

    def write(batch: Tx) -> None:
        if secret:
            batch.execute(update(_S).where(_S.c.secret_id == secret_id).values(last_accessed=day))
        if version:
            batch.execute(
                update(_V)
                .where(_V.c.secret_id == secret_id, _V.c.version_id == version_id)
                .values(last_accessed=day)
            )

    tx.coalesce(("secretsmanager-accessed", secret_id, version_id), write)
    for watcher in list(_WATCHERS):
        watcher.accessed(tx, secret_id, version_id, day)


# -- stages ------------------------------------------------------------------------------
def stages(tx: Tx, secret_id: str) -> dict[str, str]:
    """stage -> version id."""
    rows = tx.execute(_STAGES, {"secret_id": secret_id}).all()
    return {r.stage: r.version_id for r in rows}


def set_stage(tx: Tx, secret_id: str, stage: str, version_id: str) -> None:
    _changed(tx, secret_id)
    tx.execute(delete(_ST).where(_ST.c.secret_id == secret_id, _ST.c.stage == stage))
    tx.execute(insert(_ST), {"secret_id": secret_id, "stage": stage, "version_id": version_id})


def remove_stage(tx: Tx, secret_id: str, stage: str) -> None:
    _changed(tx, secret_id)
    tx.execute(delete(_ST).where(_ST.c.secret_id == secret_id, _ST.c.stage == stage))


# -- tags ------------------------------------------------------------------------------
def tags(tx: Tx, secret_id: str) -> dict[str, str]:
    rows = tx.execute(_TAGS, {"secret_id": secret_id}).all()
    return {r.tag_key: r.tag_value for r in rows}


def put_tag(tx: Tx, secret_id: str, key: str, value: str) -> None:
    _changed(tx, secret_id)
    tx.execute(delete(_T).where(_T.c.secret_id == secret_id, _T.c.tag_key == key))
    tx.execute(insert(_T), {"secret_id": secret_id, "tag_key": key, "tag_value": value})


def remove_tag(tx: Tx, secret_id: str, key: str) -> None:
    _changed(tx, secret_id)
    tx.execute(delete(_T).where(_T.c.secret_id == secret_id, _T.c.tag_key == key))


# -- resource policies -------------------------------------------------------------------
def policy(tx: Tx, secret_id: str) -> str | None:
    row = tx.execute(_POLICY, {"secret_id": secret_id}).first()
    return None if row is None else str(row.policy)


def put_policy(tx: Tx, secret_id: str, document: str) -> None:
    _changed(tx, secret_id)
    tx.execute(delete(_P).where(_P.c.secret_id == secret_id))
    tx.execute(insert(_P), {"secret_id": secret_id, "policy": document})


def delete_policy(tx: Tx, secret_id: str) -> None:
    _changed(tx, secret_id)
    tx.execute(delete(_P).where(_P.c.secret_id == secret_id))

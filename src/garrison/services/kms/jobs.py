"""Background work for KMS, run by the scheduler: deleting keys whose waiting
period is over, and rotating key material that is due.

Each job is split so the scheduler can give every key its own unit (its own
transaction and audit event):

    ids = keys_due_for_deletion(tx, now)            # one read unit
    for key_id in ids:
        done = delete_key_if_due(tx, key_id, now)   # one unit per key -> DoneOnKey | None

`delete_key_if_due` and `rotate_key_if_due` re-read the key inside their unit
and act only if it is still due, so running a job twice (two nodes, a retry
after a crash) has the effect of running it once: a key is deleted once, and
rotated once per due date. `delete_due_keys` / `rotate_due_keys` do a whole
batch in one unit, for callers that do not need per-key units.

Each returns what it did (`DoneOnKey`): the account, Region and key ARN, and
the CloudTrail event name AWS records for it (``DeleteKey``, ``RotateKey``,
with ``kms.amazonaws.com`` as the caller), for the scheduler to audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from garrison.services.kms import store
from garrison.services.kms.cache import KmsCache
from garrison.services.kms.multiregion import key_deleted
from garrison.services.kms.rotation import rotate_key
from garrison.storage.writer import Tx

BATCH = 100


@dataclass(frozen=True, slots=True)
class DoneOnKey:
    """One key a job changed, as the audit event needs it."""

    event_name: str  # "DeleteKey" or "RotateKey"
    account_id: str
    region: str
    key_id: str
    key_arn: str


def _when(now: datetime | float) -> datetime:
    return now if isinstance(now, datetime) else datetime.fromtimestamp(now, UTC)


# -- deletion -------------------------------------------------------------------


def keys_due_for_deletion(tx: Tx, now: datetime | float, limit: int = BATCH) -> list[str]:
    return store.keys_due_for_deletion(tx, _when(now), limit)


def delete_key_if_due(
    tx: Tx, key_id: str, now: datetime | float, cache: KmsCache | None = None
) -> DoneOnKey | None:
    """Delete the key, its material, tags and aliases if its deletion date has come."""
    key = store.get_key(tx, key_id)
    if key is None or not key.due_for_deletion(_when(now)):
        return None
    aliases = store.alias_names_of(tx, key_id)
    store.delete_key(tx, key_id)
    if cache is not None:
        cache.invalidate_key(tx, key_id, material=True)
        for name in aliases:
            cache.invalidate_alias(tx, key.account_id, key.region, name)
    # multi-Region keys: a primary waiting for its replicas' deletion (multiregion.py)
    key_deleted(tx, cache or KmsCache(), key, _when(now))
    tx.mark_changed()
    return DoneOnKey("DeleteKey", key.account_id, key.region, key.key_id, key.arn)


def delete_due_keys(
    tx: Tx, now: datetime | float, cache: KmsCache | None = None, limit: int = BATCH
) -> list[DoneOnKey]:
    due = keys_due_for_deletion(tx, now, limit)
    done = (delete_key_if_due(tx, key_id, now, cache) for key_id in due)
    return [d for d in done if d is not None]


# -- automatic rotation ---------------------------------------------------------------


def keys_due_for_rotation(tx: Tx, now: datetime | float, limit: int = BATCH) -> list[str]:
    return store.keys_due_for_rotation(tx, _when(now), limit)


def rotate_key_if_due(
    tx: Tx, key_id: str, now: datetime | float, cache: KmsCache | None = None
) -> DoneOnKey | None:
    """Rotate an Enabled key whose next rotation date has come; its schedule moves a period on."""
    key = store.get_key(tx, key_id)
    when = _when(now)
    if key is None or not key.due_for_rotation(when):
        return None
    rotate_key(tx, cache or KmsCache(), key, when, automatic=True)
    return DoneOnKey("RotateKey", key.account_id, key.region, key.key_id, key.arn)


def rotate_due_keys(
    tx: Tx, now: datetime | float, cache: KmsCache | None = None, limit: int = BATCH
) -> list[DoneOnKey]:
    due = keys_due_for_rotation(tx, now, limit)
    done = (rotate_key_if_due(tx, key_id, now, cache) for key_id in due)
    return [d for d in done if d is not None]

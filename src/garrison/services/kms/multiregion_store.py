"""Persistence of multi-Region key sets: which Region holds the primary key, and
which store rows are the related keys (``kms_multi_region_keys``, ``kms_keys``).

A multi-Region key's row in ``kms_keys`` has the store id ``mrk-<32 hex>@<region>``
(`garrison.services.kms.domain.row_key_id`), so the related keys of a set are
the rows whose id starts with ``mrk-<32 hex>@``. Every function runs inside the
caller's `Tx`.
"""

from __future__ import annotations

from garrison.services.kms.domain import (
    MAX_MULTI_REGION_REGION_LENGTH,
    MRK_PREFIX,
    ROW_REGION_SEPARATOR,
    Key,
)
from garrison.services.kms.errors import UnsupportedOperationException
from garrison.storage import schema
from garrison.storage.sql import delete, insert, select, update
from garrison.storage.writer import Tx

_sets = schema.kms_multi_region_keys
_keys = schema.kms_keys
PRIMARY = "PRIMARY"
REPLICA = "REPLICA"


def is_multi_region(key_id: str) -> bool:
    """Only multi-Region keys have ``mrk-`` ids (store ids too: ``mrk-...@region``)."""
    return key_id.startswith(MRK_PREFIX)


def insert_set(tx: Tx, key_id: str, account_id: str, primary_region: str) -> None:
    tx.execute(
        insert(_sets),
        {"key_id": key_id, "account_id": account_id, "primary_region": primary_region},
    )


def primary_region(tx: Tx, key_id: str) -> str | None:
    """The Region of the set's primary key; None if `key_id` names no set."""
    row = tx.execute(select(_sets.c.primary_region).where(_sets.c.key_id == key_id)).first()
    return None if row is None else str(row.primary_region)


def set_primary_region(tx: Tx, key_id: str, region: str) -> None:
    tx.execute(update(_sets).where(_sets.c.key_id == key_id).values(primary_region=region))


def related_row_ids(tx: Tx, key_id: str) -> list[str]:
    """Store ids of every key of the set (primary and replicas), by Region."""
    # key ids are "mrk-" and hex digits: nothing in the pattern is a LIKE wildcard
    prefix = f"{key_id}{ROW_REGION_SEPARATOR}"
    rows = tx.execute(
        select(_keys.c.key_id).where(_keys.c.key_id.like(f"{prefix}%")).order_by(_keys.c.region)
    )
    return [str(row.key_id) for row in rows]


def check_region_name(region: str) -> None:
    """A multi-Region key's store id holds its Region's name, which must fit (domain.py)."""
    if len(region) > MAX_MULTI_REGION_REGION_LENGTH:
        raise UnsupportedOperationException(
            f"Garrison keeps multi-Region keys in Regions whose names have at most "
            f"{MAX_MULTI_REGION_REGION_LENGTH} characters; {region!r} has {len(region)}."
        )


def multi_region_key_type(tx: Tx, key: Key) -> str | None:
    """kms:MultiRegionKeyType of `key` (PRIMARY or REPLICA), None for a single-Region key."""
    if not is_multi_region(key.key_id):
        return None
    primary = primary_region(tx, key.public_id) or key.region
    return PRIMARY if key.region == primary else REPLICA


def has_replicas(tx: Tx, key: Key) -> bool:
    """Is `key` a multi-Region primary with at least one replica?"""
    if multi_region_key_type(tx, key) != PRIMARY:
        return False
    return len(related_row_ids(tx, key.public_id)) > 1


def delete_set(tx: Tx, key_id: str) -> None:
    tx.execute(delete(_sets).where(_sets.c.key_id == key_id))

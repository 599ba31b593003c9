"""Store ids of multi-Region keys: one key id, one row per Region (domain.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from garrison.services.kms.domain import (
    MAX_MULTI_REGION_REGION_LENGTH,
    Key,
    KeyManager,
    KeyState,
    key_arn,
    new_multi_region_key_id,
    public_key_id,
    row_key_id,
)

MRK = "mrk-" + "ab" * 16
UUID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def test_multi_region_ids_are_mrk_and_32_hex() -> None:
    ids = {new_multi_region_key_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"mrk-[0-9a-f]{32}", i) for i in ids)


def test_row_ids_qualify_multi_region_ids_only() -> None:
    assert row_key_id(MRK, "eu-west-1") == f"{MRK}@eu-west-1"
    assert row_key_id(f"{MRK}@eu-west-1", "us-east-1") == f"{MRK}@eu-west-1"  # already a row
    assert row_key_id(UUID, "eu-west-1") == UUID
    assert public_key_id(f"{MRK}@eu-west-1") == MRK
    assert public_key_id(UUID) == UUID
    assert len(row_key_id(MRK, "x" * MAX_MULTI_REGION_REGION_LENGTH)) == 64


def test_a_key_shows_its_public_id_and_arn() -> None:
    key = Key(
        key_id=row_key_id(MRK, "eu-west-1"),
        account_id="111122223333",
        region="eu-west-1",
        description="",
        key_usage="ENCRYPT_DECRYPT",
        key_spec="SYMMETRIC_DEFAULT",
        origin="AWS_KMS",
        key_manager=KeyManager.CUSTOMER,
        state=KeyState.ENABLED,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        policy="{}",
        current_version=1,
        current_material_id="0" * 64,
    )
    assert key.public_id == MRK
    assert key.arn == f"arn:aws:kms:eu-west-1:111122223333:key/{MRK}"
    assert key_arn("111122223333", "eu-west-1", key.key_id) == key.arn
    pending = key.schedule_deletion(key.created_at, 7).pending_replica_deletion()
    assert pending.state is KeyState.PENDING_REPLICA_DELETION and pending.deletion_date is None
    later = datetime(2026, 2, 1, tzinfo=UTC)
    due = pending.replicas_deleted(later)
    assert due.state is KeyState.PENDING_DELETION
    assert due.deletion_date is not None and (due.deletion_date - later).days == 7

"""The key-state machine and rotation schedule of `garrison.services.kms.domain`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from garrison.services.kms.domain import (
    OPERATION_STATES,
    Key,
    KeyManager,
    KeyState,
    KeyVersion,
    RotationType,
    StateRule,
    is_key_id,
)
from garrison.services.kms.errors import DisabledException, KMSInvalidStateException

NOW = datetime(2024, 1, 1, tzinfo=UTC)


def make_key(state: KeyState = KeyState.ENABLED, **kw: object) -> Key:
    base: dict[str, object] = dict(
        key_id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        account_id="111122223333",
        region="us-east-1",
        description="",
        key_usage="ENCRYPT_DECRYPT",
        key_spec="SYMMETRIC_DEFAULT",
        origin="AWS_KMS",
        key_manager=KeyManager.CUSTOMER,
        state=state,
        created_at=NOW,
        policy="{}",
        current_version=1,
        current_material_id="a" * 64,
    )
    base.update(kw)
    return Key(**base)  # type: ignore[arg-type]


def test_disable_then_enable() -> None:
    key = make_key().disable()
    assert key.state is KeyState.DISABLED and not key.enabled
    assert key.enable().state is KeyState.ENABLED


def test_enable_and_disable_are_idempotent() -> None:
    assert make_key().enable().state is KeyState.ENABLED
    assert make_key(KeyState.DISABLED).disable().state is KeyState.DISABLED


@pytest.mark.parametrize("state", [KeyState.ENABLED, KeyState.DISABLED])
def test_schedule_deletion_from_enabled_or_disabled(state: KeyState) -> None:
    key = make_key(state).schedule_deletion(NOW, 7)
    assert key.state is KeyState.PENDING_DELETION
    assert key.deletion_date == NOW + timedelta(days=7)
    assert key.pending_window_days == 7


def test_cancel_deletion_leaves_the_key_disabled() -> None:
    key = make_key().schedule_deletion(NOW, 30).cancel_deletion()
    assert key.state is KeyState.DISABLED
    assert key.deletion_date is None and key.pending_window_days is None


def test_cancel_deletion_of_a_key_not_pending_deletion() -> None:
    with pytest.raises(KMSInvalidStateException, match="is not pending deletion"):
        make_key().cancel_deletion()


@pytest.mark.parametrize("transition", ["enable", "disable", "schedule", "describe"])
def test_pending_deletion_refuses_management(transition: str) -> None:
    key = make_key().schedule_deletion(NOW, 7)
    if transition == "describe":
        key.require("DescribeKey")  # reading works in every state
        return
    with pytest.raises(KMSInvalidStateException, match=r"is pending deletion\.$"):
        if transition == "enable":
            key.enable()
        elif transition == "disable":
            key.disable()
        else:
            key.schedule_deletion(NOW, 7)


@pytest.mark.parametrize(
    ("state", "error"),
    [(KeyState.DISABLED, DisabledException), (KeyState.PENDING_DELETION, KMSInvalidStateException)],
)
@pytest.mark.parametrize("operation", ["Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey"])
def test_cryptographic_operations_need_an_enabled_key(
    state: KeyState, error: type[Exception], operation: str
) -> None:
    key = make_key(state)
    with pytest.raises(error) as exc:
        key.require(operation)
    assert key.arn in str(exc.value)


def test_error_messages_name_the_key_arn() -> None:
    key = make_key(KeyState.DISABLED)
    with pytest.raises(DisabledException) as exc:
        key.require("Encrypt")
    assert exc.value.message == f"{key.arn} is disabled."


def test_reading_operations_work_in_every_state() -> None:
    readers = [op for op, rule in OPERATION_STATES.items() if rule is StateRule.ANY]
    assert {"DescribeKey", "GetKeyPolicy", "ListResourceTags", "DeleteAlias"} <= set(readers)
    for state in KeyState:
        for op in readers:
            make_key(state).require(op)


def test_rotation_is_scheduled_a_period_after_enabling() -> None:
    key = make_key().enable_rotation(NOW, 90)
    assert key.rotation_enabled and key.rotation_period_days == 90
    assert key.next_rotation_at == NOW + timedelta(days=90)
    assert not key.due_for_rotation(NOW + timedelta(days=89))
    assert key.due_for_rotation(NOW + timedelta(days=90))


def test_changing_the_period_counts_from_the_start_of_the_current_period() -> None:
    key = make_key().enable_rotation(NOW, 365)
    changed = key.enable_rotation(NOW + timedelta(days=10), 180)
    assert changed.next_rotation_at == NOW + timedelta(days=180)
    # a period already over: rotate at the next run, not in the past
    late = key.enable_rotation(NOW + timedelta(days=200), 90)
    assert late.next_rotation_at == NOW + timedelta(days=200)


def test_disabled_or_deleted_keys_are_not_due_for_rotation() -> None:
    key = make_key().enable_rotation(NOW, 90)
    later = NOW + timedelta(days=91)
    assert not key.disable().due_for_rotation(later)
    assert not key.schedule_deletion(NOW, 7).due_for_rotation(later)


def test_rotation_keeps_or_moves_the_schedule() -> None:
    key = make_key().enable_rotation(NOW, 90)
    at = NOW + timedelta(days=5)
    v2 = KeyVersion(key.key_id, 2, "b" * 64, at, RotationType.ON_DEMAND)
    on_demand = key.rotated(v2, automatic=False)
    assert on_demand.current_version == 2 and on_demand.current_material_id == "b" * 64
    assert on_demand.next_rotation_at == key.next_rotation_at
    due = NOW + timedelta(days=90)
    v3 = KeyVersion(key.key_id, 3, "c" * 64, due, RotationType.AUTOMATIC)
    automatic = on_demand.rotated(v3, automatic=True)
    assert automatic.next_rotation_at == due + timedelta(days=90)


def test_disabled_key_cannot_change_rotation() -> None:
    with pytest.raises(DisabledException):
        make_key(KeyState.DISABLED).enable_rotation(NOW, 90)


def test_due_for_deletion() -> None:
    key = make_key().schedule_deletion(NOW, 7)
    assert not key.due_for_deletion(NOW + timedelta(days=6))
    assert key.due_for_deletion(NOW + timedelta(days=7))
    assert not key.cancel_deletion().due_for_deletion(NOW + timedelta(days=8))


def test_key_id_shapes() -> None:
    assert is_key_id("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
    assert is_key_id("mrk-" + "0" * 32)
    assert not is_key_id("alias/x")
    assert not is_key_id("0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0x")

"""Grants: the pure rules (constraints, tokens, operations by key type, delegation) and
the use cases over a real SQLite store (quota, retire, revoke, deletion with the key)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from garrison.clock import FixedClock
from garrison.context import Principal, RoleSession
from garrison.errors import AwsError
from garrison.services.kms import grant_store, jobs
from garrison.services.kms.grant_domain import (
    ConstraintType,
    Grant,
    GrantConstraint,
    check_constraint,
    check_operations,
    grant_id_of_token,
    grantee_names,
    is_grant_id,
    new_grant_id,
    new_grant_token,
    request_encryption_context,
)
from garrison.services.kms.grants import check_grant_tokens
from garrison.services.kms.provider import KmsProvider
from garrison.storage.writer import Tx
from tests.inprocess import fresh_database
from tests.services.kms.conftest import ACCOUNT, KmsHarness

SUBSET = GrantConstraint.of(ConstraintType.SUBSET, {"tenant": "a"})
EQUALS = GrantConstraint.of(ConstraintType.EQUALS, {"tenant": "a"})


def grant(ops: tuple[str, ...], constraint: GrantConstraint | None = None) -> Grant:
    return Grant(
        grant_id=new_grant_id(),
        key_id="k",
        key_arn="arn:aws:kms:us-east-1:111122223333:key/k",
        issuing_account=ACCOUNT,
        grantee_principal="arn:aws:iam::111122223333:user/u",
        retiring_principal=None,
        operations=tuple(sorted(ops)),
        constraint=constraint,
        name=None,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def code(exc: pytest.ExceptionInfo[AwsError]) -> str:
    return exc.value.code


# -- pure rules ------------------------------------------------------------------------------
def test_subset_constraint_needs_every_pair() -> None:
    assert SUBSET.allows({"tenant": "a"})
    assert SUBSET.allows({"tenant": "a", "more": "x"})
    assert not SUBSET.allows({"tenant": "b"})
    assert not SUBSET.allows({})
    assert not SUBSET.allows({"Tenant": "a"})  # case-sensitive


def test_equals_constraint_needs_exactly_the_pairs() -> None:
    assert EQUALS.allows({"tenant": "a"})
    assert not EQUALS.allows({"tenant": "a", "more": "x"})
    assert not EQUALS.allows({})


def test_constraint_binds_only_operations_with_an_encryption_context() -> None:
    g = grant(("Encrypt", "DescribeKey", "RetireGrant"), SUBSET)
    assert g.allows("DescribeKey", {})
    assert g.allows("RetireGrant", {})
    assert not g.allows("Encrypt", {})
    assert g.allows("Encrypt", {"tenant": "a"})
    assert not g.allows("Decrypt", {"tenant": "a"})  # not an operation of the grant


def test_child_grant_is_no_wider_than_its_parent() -> None:
    parent = grant(("Encrypt", "Decrypt", "CreateGrant"), SUBSET)
    stricter = GrantConstraint.of(ConstraintType.SUBSET, {"tenant": "a", "env": "p"})
    exact = GrantConstraint.of(ConstraintType.EQUALS, {"tenant": "a", "env": "p"})
    assert parent.permits_child(("Encrypt",), SUBSET)
    assert parent.permits_child(("Encrypt",), stricter)
    assert parent.permits_child(("Encrypt", "Decrypt"), exact)
    assert not parent.permits_child(("Encrypt",), None)
    assert not parent.permits_child(("GenerateDataKey",), SUBSET)
    other = GrantConstraint.of(ConstraintType.SUBSET, {"tenant": "b"})
    assert not parent.permits_child(("Encrypt",), other)
    equals_parent = grant(("Encrypt", "CreateGrant"), EQUALS)
    assert equals_parent.permits_child(("Encrypt",), EQUALS)
    assert not equals_parent.permits_child(("Encrypt",), SUBSET)
    assert not grant(("Encrypt",)).permits_child(("Encrypt",), None)  # no CreateGrant


def test_tokens_name_their_grant_and_are_fresh_each_time() -> None:
    grant_id = new_grant_id()
    assert is_grant_id(grant_id)
    first, second = new_grant_token(grant_id), new_grant_token(grant_id)
    assert first != second
    assert grant_id_of_token(first) == grant_id_of_token(second) == grant_id
    for bad in ("", "x", "not-a-token", first[:-2], first + "AA", "é" * 20):
        assert grant_id_of_token(bad) is None
    check_grant_tokens([first, second])
    with pytest.raises(AwsError) as exc:
        check_grant_tokens([first, "bad"])
    assert code(exc) == "InvalidGrantTokenException"


def test_operations_must_fit_the_key_type() -> None:
    check_operations("ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", ["Encrypt", "GenerateDataKeyPair"])
    check_operations("SIGN_VERIFY", "ECC_NIST_P256", ["Sign", "Verify", "DescribeKey"])
    check_operations("GENERATE_VERIFY_MAC", "HMAC_256", ["GenerateMac", "CreateGrant"])
    check_operations("KEY_AGREEMENT", "ECC_NIST_P256", ["DeriveSharedSecret"])
    check_operations("ENCRYPT_DECRYPT", "RSA_2048", ["Encrypt", "GetPublicKey"])
    for usage, spec, ops in [
        ("ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", ["Sign"]),
        ("ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", ["GetPublicKey"]),
        ("ENCRYPT_DECRYPT", "RSA_2048", ["GenerateDataKey"]),
        ("SIGN_VERIFY", "RSA_2048", ["Encrypt"]),
        ("GENERATE_VERIFY_MAC", "HMAC_256", ["Sign"]),
    ]:
        with pytest.raises(AwsError) as exc:
            check_operations(usage, spec, ops)
        assert code(exc) == "ValidationException", (usage, spec, ops)


def test_constraints_only_where_an_encryption_context_exists() -> None:
    check_constraint("SYMMETRIC_DEFAULT", ["Encrypt", "DescribeKey", "RetireGrant"], SUBSET)
    check_constraint("RSA_2048", ["Sign"], None)
    many = GrantConstraint.of(ConstraintType.SUBSET, {f"k{i}": "v" for i in range(9)})
    long = GrantConstraint.of(ConstraintType.SUBSET, {"k": "v" * 400})
    for spec, ops, constraint in [
        ("RSA_2048", ["Decrypt"], SUBSET),
        ("SYMMETRIC_DEFAULT", ["Encrypt"], many),
        ("SYMMETRIC_DEFAULT", ["Encrypt"], long),
    ]:
        with pytest.raises(AwsError) as exc:
            check_constraint(spec, ops, constraint)
        assert code(exc) == "ValidationException"


def test_a_role_session_matches_grants_for_its_role() -> None:
    role_arn = "arn:aws:iam::111122223333:role/path/Ops"
    session = RoleSession(role_arn, "AROA1", "Ops", "s", 0.0, 1.0)
    p = Principal(
        "arn:aws:sts::111122223333:assumed-role/Ops/s", ACCOUNT, "AssumedRole", "AROA1:s",
        session=session,
    )  # fmt: skip
    assert grantee_names(p) == (p.arn, role_arn)
    bare = Principal(p.arn, ACCOUNT, "AssumedRole", "AROA1:s")
    assert grantee_names(bare) == (p.arn, "arn:aws:iam::111122223333:role/Ops")
    user = Principal("arn:aws:iam::111122223333:user/u", ACCOUNT, "IAMUser", "AIDA1")
    assert grantee_names(user) == (user.arn,)


def test_request_context_is_read_back_from_condition_keys() -> None:
    keys = {
        "kms:EncryptionContext:a": ("1",),
        "kms:EncryptionContext:B:c": ("2",),
        "kms:EncryptionContextKeys": ("a", "B:c"),
        "kms:CallerAccount": (ACCOUNT,),
    }
    assert request_encryption_context(keys) == {"a": "1", "B:c": "2"}


# -- use cases over a store ------------------------------------------------------------------
@pytest.fixture
def small(tmp_path: Path) -> Any:
    with fresh_database(tmp_path) as db:
        clock = FixedClock()
        provider = KmsProvider(clock)
        provider.kms.grants.max_grants_per_key = 2
        yield KmsHarness(db, provider, clock)


def test_grants_per_key_quota(small: KmsHarness) -> None:
    key_id = small.call("CreateKey")["KeyMetadata"]["KeyId"]
    request = {"KeyId": key_id, "GranteePrincipal": "arn:aws:iam::111122223333:user/u",
               "Operations": ["Encrypt"], "Name": "n"}  # fmt: skip
    first = small.call("CreateGrant", request)["GrantId"]
    # the same name and parameters: the same grant, not counted again
    assert small.call("CreateGrant", request)["GrantId"] == first
    small.call("CreateGrant", {**request, "Name": "m"})
    with pytest.raises(AwsError) as exc:
        small.call("CreateGrant", {**request, "Name": "o"})
    assert code(exc) == "LimitExceededException"
    small.call("RevokeGrant", {"KeyId": key_id, "GrantId": first})
    small.call("CreateGrant", {**request, "Name": "o"})


def test_deleting_the_key_deletes_its_grants(harness: KmsHarness) -> None:
    key_id = harness.call("CreateKey")["KeyMetadata"]["KeyId"]
    made = harness.call(
        "CreateGrant",
        {"KeyId": key_id, "GranteePrincipal": "arn:aws:iam::111122223333:user/u",
         "Operations": ["Decrypt"]},
    )  # fmt: skip
    harness.call("ScheduleKeyDeletion", {"KeyId": key_id, "PendingWindowInDays": 7})

    def count(tx: Tx) -> int:
        return grant_store.count_grants(tx, key_id)

    assert harness.run(count) == 1
    later = harness.now().timestamp() + 8 * 86400

    def delete(tx: Tx) -> Any:
        return jobs.delete_due_keys(tx, later, harness.provider.kms.cache)

    harness.run(delete)
    assert harness.run(count) == 0
    assert harness.run(lambda tx: grant_store.get_grant(tx, made["GrantId"])) is None


def test_retire_grant_needs_a_token_or_key_and_grant_id(harness: KmsHarness) -> None:
    key_id = harness.call("CreateKey")["KeyMetadata"]["KeyId"]
    for request, expected in [
        ({}, "ValidationException"),
        ({"GrantId": "a" * 64}, "ValidationException"),
        ({"KeyId": key_id, "GrantId": "nope"}, "InvalidGrantIdException"),
        ({"KeyId": key_id, "GrantId": "a" * 64}, "NotFoundException"),
        ({"GrantToken": new_grant_token("b" * 64)}, "NotFoundException"),
        (
            {"GrantToken": new_grant_token("b" * 64), "KeyId": key_id, "GrantId": "a" * 64},
            "InvalidGrantIdException",
        ),
    ]:
        with pytest.raises(AwsError) as exc:
            harness.call("RetireGrant", request)
        assert code(exc) == expected, request


def test_dry_run_changes_nothing(harness: KmsHarness) -> None:
    key_id = harness.call("CreateKey")["KeyMetadata"]["KeyId"]
    made = harness.call(
        "CreateGrant",
        {"KeyId": key_id, "GranteePrincipal": "arn:aws:iam::111122223333:user/u",
         "Operations": ["Decrypt"]},
    )  # fmt: skip
    for op, request in [
        ("RevokeGrant", {"KeyId": key_id, "GrantId": made["GrantId"], "DryRun": True}),
        ("RetireGrant", {"GrantToken": made["GrantToken"], "DryRun": True}),
    ]:
        with pytest.raises(AwsError) as exc:
            harness.call(op, request)
        assert code(exc) == "DryRunOperationException"
    assert len(harness.call("ListGrants", {"KeyId": key_id})["Grants"]) == 1

"""The provider's handlers against a real SQLite store: the behaviours end to end, minus HTTP."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import botocore.session
import pytest

from garrison.context import Principal
from garrison.errors import AwsError
from garrison.services.kms import jobs
from garrison.services.kms.provider import HANDLED, KmsProvider
from tests.services.kms.conftest import ACCOUNT, REGION, ROOT, KmsHarness

ROOT_ARN = ROOT.arn


def code(exc: pytest.ExceptionInfo[AwsError]) -> str:
    return exc.value.code


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ALLOW_ALL = {"Effect": "Allow", "Principal": {"AWS": ROOT_ARN}, "Action": "kms:*", "Resource": "*"}


def new_key(h: KmsHarness, **request: Any) -> dict[str, Any]:
    meta: dict[str, Any] = h.call("CreateKey", request)["KeyMetadata"]
    return meta


def test_every_model_member_is_handled(harness: KmsHarness) -> None:
    model = botocore.session.get_session().get_service_model("kms")
    for op, handled in HANDLED.items():
        members = set(model.operation_model(op).input_shape.members)
        assert members == set(handled), op
    assert set(HANDLED) == set(harness.provider.handlers())


def test_unknown_member_is_refused_not_ignored(harness: KmsHarness) -> None:
    with pytest.raises(AwsError) as exc:
        harness.call("ListKeys", {"Future": 1})
    assert code(exc) == "UnsupportedOperationException"
    assert "Future" in exc.value.message


def test_read_only_follows_cloudtrail(harness: KmsHarness) -> None:
    p = harness.provider
    for op in (
        "Encrypt",
        "Decrypt",
        "GenerateDataKey",
        "DescribeKey",
        "ListAliases",
        "GetKeyPolicy",
    ):
        assert p.is_read_only(op)
    for op in (
        "CreateKey",
        "ScheduleKeyDeletion",
        "PutKeyPolicy",
        "CreateAlias",
        "RotateKeyOnDemand",
    ):
        assert not p.is_read_only(op)


def test_lifecycle_and_metadata(harness: KmsHarness) -> None:
    h = harness
    meta = new_key(h, Description="d", Tags=[{"TagKey": "team", "TagValue": "sec"}])
    assert meta["Arn"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{meta['KeyId']}"
    assert meta["KeyManager"] == "CUSTOMER" and meta["Enabled"] is True
    assert len(meta["CurrentKeyMaterialId"]) == 64
    assert h.last_call is not None
    assert h.last_call.resources == [("AWS::KMS::Key", meta["Arn"])]
    key_id = meta["KeyId"]
    h.call("DisableKey", {"KeyId": key_id})
    with pytest.raises(AwsError) as exc:
        h.call("Encrypt", {"KeyId": key_id, "Plaintext": b"x"})
    assert code(exc) == "DisabledException"
    assert exc.value.message == f"{meta['Arn']} is disabled."
    h.call("EnableKey", {"KeyId": key_id})
    h.call("Encrypt", {"KeyId": key_id, "Plaintext": b"x"})
    out = h.call("ScheduleKeyDeletion", {"KeyId": key_id, "PendingWindowInDays": 7})
    assert out == {
        "KeyId": meta["Arn"],
        "DeletionDate": h.now() + timedelta(days=7),
        "KeyState": "PendingDeletion",
        "PendingWindowInDays": 7,
    }
    described = h.call("DescribeKey", {"KeyId": key_id})["KeyMetadata"]
    assert "PendingDeletionWindowInDays" not in described and described["Enabled"] is False
    assert described["DeletionDate"] == h.now() + timedelta(days=7)
    with pytest.raises(AwsError) as exc:
        h.call("Encrypt", {"KeyId": key_id, "Plaintext": b"x"})
    assert code(exc) == "KMSInvalidStateException"
    assert h.call("ListResourceTags", {"KeyId": key_id})["Tags"] == [
        {"TagKey": "team", "TagValue": "sec"}
    ]
    assert h.call("CancelKeyDeletion", {"KeyId": key_id}) == {"KeyId": meta["Arn"]}
    assert h.call("DescribeKey", {"KeyId": key_id})["KeyMetadata"]["KeyState"] == "Disabled"


def test_key_management_operations_refuse_aliases(harness: KmsHarness) -> None:
    key_id = new_key(harness)["KeyId"]
    harness.call("CreateAlias", {"AliasName": "alias/app", "TargetKeyId": key_id})
    assert harness.call("DescribeKey", {"KeyId": "alias/app"})["KeyMetadata"]["KeyId"] == key_id
    with pytest.raises(AwsError) as exc:
        harness.call("EnableKey", {"KeyId": "alias/app"})
    assert (code(exc), exc.value.message) == ("NotFoundException", "Invalid keyId alias/app")


def test_not_found_messages(harness: KmsHarness) -> None:
    missing = "11111111-2222-3333-4444-555555555555"
    with pytest.raises(AwsError) as exc:
        harness.call("DescribeKey", {"KeyId": missing})
    assert exc.value.message == f"Key 'arn:aws:kms:{REGION}:{ACCOUNT}:key/{missing}' does not exist"
    with pytest.raises(AwsError) as exc:
        harness.call("Encrypt", {"KeyId": "alias/nope", "Plaintext": b"x"})
    assert exc.value.message == f"Alias arn:aws:kms:{REGION}:{ACCOUNT}:alias/nope is not found."
    key = new_key(harness)
    other_region = key["Arn"].replace(REGION, "eu-west-1")
    with pytest.raises(AwsError) as exc:
        harness.call("DescribeKey", {"KeyId": other_region})
    assert code(exc) == "NotFoundException"
    with pytest.raises(AwsError) as exc:
        harness.call("DescribeKey", {"KeyId": key["KeyId"]}, region="eu-west-1")
    assert code(exc) == "NotFoundException"


def test_deny_encrypt_for_root_keeps_other_operations(harness: KmsHarness) -> None:
    h = harness
    deny = {
        "Effect": "Deny",
        "Principal": {"AWS": ROOT_ARN},
        "Action": "kms:Encrypt",
        "Resource": "*",
    }
    key_id = new_key(h, Policy=policy(ALLOW_ALL, deny))["KeyId"]
    with pytest.raises(AwsError) as exc:
        h.call("Encrypt", {"KeyId": key_id, "Plaintext": b"x"})
    assert code(exc) == "AccessDeniedException"
    assert "with an explicit deny in a resource-based policy" in exc.value.message
    data_key = h.call("GenerateDataKey", {"KeyId": key_id, "KeySpec": "AES_256"})
    plain = h.call("Decrypt", {"CiphertextBlob": data_key["CiphertextBlob"]})["Plaintext"]
    assert plain == data_key["Plaintext"]
    h.call("DescribeKey", {"KeyId": key_id})


def test_put_key_policy_takes_effect_at_once(harness: KmsHarness) -> None:
    h = harness
    key_id = new_key(h)["KeyId"]
    h.call("Encrypt", {"KeyId": key_id, "Plaintext": b"x"})  # cached now
    deny = {
        "Effect": "Deny",
        "Principal": {"AWS": ROOT_ARN},
        "Action": "kms:Encrypt",
        "Resource": "*",
    }
    h.call("PutKeyPolicy", {"KeyId": key_id, "Policy": policy(ALLOW_ALL, deny)})
    with pytest.raises(AwsError) as exc:
        h.call("Encrypt", {"KeyId": key_id, "Plaintext": b"x"})
    assert code(exc) == "AccessDeniedException"
    assert json.loads(h.call("GetKeyPolicy", {"KeyId": key_id})["Policy"])["Statement"][1] == deny


def test_lockout_and_bypass(harness: KmsHarness) -> None:
    only_encrypt = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ROOT_ARN},
            "Action": "kms:Encrypt",
            "Resource": "*",
        }
    )
    with pytest.raises(AwsError) as exc:
        harness.call("CreateKey", {"Policy": only_encrypt})
    assert code(exc) == "MalformedPolicyDocumentException"
    key_id = new_key(harness, Policy=only_encrypt, BypassPolicyLockoutSafetyCheck=True)["KeyId"]
    harness.call("Encrypt", {"KeyId": key_id, "Plaintext": b"x"})
    with pytest.raises(AwsError) as exc:
        harness.call("PutKeyPolicy", {"KeyId": key_id, "Policy": only_encrypt})
    assert code(exc) == "AccessDeniedException"


def test_non_root_users_need_iam_until_it_exists(harness: KmsHarness) -> None:
    alice = Principal(f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT, "IAMUser", "AIDA")
    key_id = new_key(harness)["KeyId"]
    with pytest.raises(AwsError) as exc:
        harness.call("Encrypt", {"KeyId": key_id, "Plaintext": b"x"}, principal=alice)
    assert "no identity-based policy allows" in exc.value.message
    with pytest.raises(AwsError) as exc:
        harness.call("CreateKey", {}, principal=alice)
    assert code(exc) == "AccessDeniedException"
    allow_alice = {
        "Effect": "Allow",
        "Principal": {"AWS": alice.arn},
        "Action": "kms:Encrypt",
        "Resource": "*",
    }
    harness.call("PutKeyPolicy", {"KeyId": key_id, "Policy": policy(ALLOW_ALL, allow_alice)})
    harness.call("Encrypt", {"KeyId": key_id, "Plaintext": b"x"}, principal=alice)


def test_crypto_round_trips_and_failures(harness: KmsHarness) -> None:
    h = harness
    key = new_key(h)
    other = new_key(h)
    blob = h.call(
        "Encrypt", {"KeyId": key["KeyId"], "Plaintext": b"p", "EncryptionContext": {"a": "1"}}
    )["CiphertextBlob"]
    out = h.call(
        "Decrypt", {"CiphertextBlob": blob, "EncryptionContext": {"a": "1"}, "KeyId": key["Arn"]}
    )
    assert out["Plaintext"] == b"p" and out["KeyMaterialId"] == key["CurrentKeyMaterialId"]
    with pytest.raises(AwsError) as exc:
        h.call("Decrypt", {"CiphertextBlob": blob})
    assert code(exc) == "InvalidCiphertextException"
    with pytest.raises(AwsError) as exc:
        h.call(
            "Decrypt",
            {"CiphertextBlob": blob, "EncryptionContext": {"a": "1"}, "KeyId": other["KeyId"]},
        )
    assert code(exc) == "IncorrectKeyException"
    for garbage in (b"\x01" * 80, b"\x01", b"\x07" + blob[1:]):
        with pytest.raises(AwsError) as exc:
            h.call("Decrypt", {"CiphertextBlob": garbage})
        assert code(exc) == "InvalidCiphertextException"
    moved = h.call(
        "ReEncrypt",
        {
            "CiphertextBlob": blob,
            "SourceEncryptionContext": {"a": "1"},
            "DestinationKeyId": other["KeyId"],
            "DestinationEncryptionContext": {"b": "2"},
        },
    )
    assert moved["SourceKeyId"] == key["Arn"] and moved["KeyId"] == other["Arn"]
    again = h.call(
        "Decrypt", {"CiphertextBlob": moved["CiphertextBlob"], "EncryptionContext": {"b": "2"}}
    )
    assert again["Plaintext"] == b"p"
    with pytest.raises(AwsError) as exc:
        h.call(
            "Encrypt",
            {"KeyId": key["KeyId"], "Plaintext": b"p", "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"},
        )
    assert code(exc) == "InvalidKeyUsageException"


def test_data_keys_and_random(harness: KmsHarness) -> None:
    h = harness
    key_id = new_key(h)["KeyId"]
    for request, size in (({"KeySpec": "AES_128"}, 16), ({"NumberOfBytes": 64}, 64)):
        out = h.call("GenerateDataKey", {"KeyId": key_id, **request})
        assert len(out["Plaintext"]) == size
    out = h.call("GenerateDataKeyWithoutPlaintext", {"KeyId": key_id, "KeySpec": "AES_256"})
    assert "Plaintext" not in out
    assert len(h.call("Decrypt", {"CiphertextBlob": out["CiphertextBlob"]})["Plaintext"]) == 32
    for bad in ({}, {"KeySpec": "AES_256", "NumberOfBytes": 32}):
        with pytest.raises(AwsError) as exc:
            h.call("GenerateDataKey", {"KeyId": key_id, **bad})
        assert exc.value.message == "Please specify either number of bytes or key spec."
    assert len(h.call("GenerateRandom", {"NumberOfBytes": 12})["Plaintext"]) == 12
    with pytest.raises(AwsError) as exc:
        h.call("GenerateRandom", {})
    assert code(exc) == "ValidationException"
    with pytest.raises(AwsError) as exc:
        h.call("GenerateRandom", {"NumberOfBytes": 8, "CustomKeyStoreId": "cks-1"})
    assert code(exc) == "CustomKeyStoreNotFoundException"
    with pytest.raises(AwsError) as exc:
        h.call("GenerateRandom", {"NumberOfBytes": 8, "Recipient": {"AttestationDocument": b"x"}})
    assert code(exc) == "UnsupportedOperationException"


def test_dry_run_does_every_check_first(harness: KmsHarness) -> None:
    h = harness
    key_id = new_key(h)["KeyId"]
    blob = h.call("Encrypt", {"KeyId": key_id, "Plaintext": b"p"})["CiphertextBlob"]
    before = h.call("GetKeyLastUsage", {"KeyId": key_id})["KeyLastUsage"]["KmsRequestId"]
    for op, request in (
        ("Encrypt", {"KeyId": key_id, "Plaintext": b"x"}),
        ("Decrypt", {"CiphertextBlob": blob}),
        ("GenerateDataKey", {"KeyId": key_id, "KeySpec": "AES_256"}),
        ("ReEncrypt", {"CiphertextBlob": blob, "DestinationKeyId": key_id}),
        (
            "Decrypt",
            {"CiphertextBlob": b"junk", "KeyId": key_id, "DryRunModifiers": ["IGNORE_CIPHERTEXT"]},
        ),
    ):
        with pytest.raises(AwsError) as exc:
            h.call(op, {**request, "DryRun": True})
        assert (code(exc), exc.value.status) == ("DryRunOperationException", 412)
    with pytest.raises(AwsError) as exc:
        h.call("Decrypt", {"CiphertextBlob": blob, "EncryptionContext": {"x": "y"}, "DryRun": True})
    assert code(exc) == "InvalidCiphertextException"
    after = h.call("GetKeyLastUsage", {"KeyId": key_id})["KeyLastUsage"]["KmsRequestId"]
    assert before == after


def test_aliases(harness: KmsHarness) -> None:
    h = harness
    a, b = new_key(h), new_key(h)
    h.call("CreateAlias", {"AliasName": "alias/app", "TargetKeyId": a["Arn"]})
    with pytest.raises(AwsError) as exc:
        h.call("CreateAlias", {"AliasName": "alias/app", "TargetKeyId": a["KeyId"]})
    assert (
        exc.value.message
        == f"An alias with the name arn:aws:kms:{REGION}:{ACCOUNT}:alias/app already exists"
    )
    blob = h.call(
        "Encrypt", {"KeyId": f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/app", "Plaintext": b"1"}
    )
    assert blob["KeyId"] == a["Arn"]
    h.call("UpdateAlias", {"AliasName": "alias/app", "TargetKeyId": b["KeyId"]})
    assert h.call("Encrypt", {"KeyId": "alias/app", "Plaintext": b"1"})["KeyId"] == b["Arn"]
    listed = h.call("ListAliases", {"KeyId": b["KeyId"]})
    assert [x["AliasName"] for x in listed["Aliases"]] == ["alias/app"] and listed[
        "Truncated"
    ] is False
    assert h.call("ListAliases", {"KeyId": a["KeyId"]})["Aliases"] == []
    h.call("DeleteAlias", {"AliasName": "alias/app"})
    with pytest.raises(AwsError) as exc:
        h.call("DeleteAlias", {"AliasName": "alias/app"})
    assert exc.value.message == f"Alias arn:aws:kms:{REGION}:{ACCOUNT}:alias/app is not found."
    for name, expected in (
        ("alias/aws/x", "NotAuthorizedException"),
        ("noprefix", "ValidationException"),
    ):
        with pytest.raises(AwsError) as exc:
            h.call("CreateAlias", {"AliasName": name, "TargetKeyId": a["KeyId"]})
        assert code(exc) == expected
    h.call("ScheduleKeyDeletion", {"KeyId": a["KeyId"]})
    with pytest.raises(AwsError) as exc:
        h.call("CreateAlias", {"AliasName": "alias/late", "TargetKeyId": a["KeyId"]})
    assert code(exc) == "KMSInvalidStateException"


def test_alias_in_the_key_policy(harness: KmsHarness) -> None:
    """kms:RequestAlias and kms:ResourceAliases reach the key policy (ABAC with aliases)."""
    h = harness
    only_via_alias = {
        "Effect": "Deny",
        "Principal": {"AWS": ROOT_ARN},
        "Action": "kms:Encrypt",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"kms:RequestAlias": "alias/front"}},
    }
    key_id = new_key(h, Policy=policy(ALLOW_ALL, only_via_alias))["KeyId"]
    h.call("CreateAlias", {"AliasName": "alias/front", "TargetKeyId": key_id})
    h.call("Encrypt", {"KeyId": "alias/front", "Plaintext": b"x"})
    with pytest.raises(AwsError):
        h.call("Encrypt", {"KeyId": key_id, "Plaintext": b"x"})


def test_pagination(harness: KmsHarness) -> None:
    h = harness
    ids = {new_key(h)["KeyId"] for _ in range(5)}
    seen: list[str] = []
    marker = None
    while True:
        page = h.call("ListKeys", {"Limit": 2, **({"Marker": marker} if marker else {})})
        seen += [k["KeyId"] for k in page["Keys"]]
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        marker = page["NextMarker"]
    assert sorted(seen) == sorted(ids)
    with pytest.raises(AwsError) as exc:
        h.call("ListKeys", {"Marker": "!!garbage!!"})
    assert code(exc) == "InvalidMarkerException"
    alias_marker = h.call("ListAliases", {}).get("NextMarker")
    assert alias_marker is None


def test_tags(harness: KmsHarness) -> None:
    h = harness
    key_id = new_key(h)["KeyId"]
    h.call(
        "TagResource",
        {
            "KeyId": key_id,
            "Tags": [{"TagKey": "a", "TagValue": "1"}, {"TagKey": "b", "TagValue": "2"}],
        },
    )
    h.call("TagResource", {"KeyId": key_id, "Tags": [{"TagKey": "a", "TagValue": "3"}]})
    h.call("UntagResource", {"KeyId": key_id, "TagKeys": ["b", "never-there"]})
    assert h.call("ListResourceTags", {"KeyId": key_id})["Tags"] == [
        {"TagKey": "a", "TagValue": "3"}
    ]
    with pytest.raises(AwsError) as exc:
        h.call("TagResource", {"KeyId": key_id, "Tags": [{"TagKey": "AWS:x", "TagValue": "y"}]})
    assert code(exc) == "TagException"
    many = [{"TagKey": f"k{i}", "TagValue": ""} for i in range(50)]
    with pytest.raises(AwsError) as exc:
        h.call("TagResource", {"KeyId": key_id, "Tags": many})
    assert code(exc) == "LimitExceededException"


def test_unsupported_key_kinds_are_refused_clearly(harness: KmsHarness) -> None:
    cases = [
        ({"KeySpec": "SM2", "KeyUsage": "SIGN_VERIFY"}, "UnsupportedOperationException", "SM2"),
        (
            {"KeySpec": "ECC_NIST_P256", "KeyUsage": "ENCRYPT_DECRYPT"},
            "ValidationException",
            "ECC_NIST_P256",
        ),
        ({"Origin": "AWS_CLOUDHSM"}, "UnsupportedOperationException", "AWS_CLOUDHSM"),
        # imported key material: not for key specs AWS does not document importing
        (
            {"Origin": "EXTERNAL", "KeySpec": "ECC_NIST_EDWARDS25519", "KeyUsage": "SIGN_VERIFY"},
            "UnsupportedOperationException",
            "ECC_NIST_EDWARDS25519",
        ),
        ({"CustomKeyStoreId": "cks-1234567890abcdef0"}, "CustomKeyStoreNotFoundException", "cks-"),
        ({"XksKeyId": "x"}, "UnsupportedOperationException", "XksKeyId"),
        (
            {"KeySpec": "SYMMETRIC_DEFAULT", "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT"},
            "ValidationException",
            "CustomerMasterKeySpec",
        ),
    ]
    for request, expected, mention in cases:
        with pytest.raises(AwsError) as exc:
            harness.call("CreateKey", request)
        assert code(exc) == expected and mention in exc.value.message


def test_key_quota(tmp_path: Any, harness: KmsHarness) -> None:
    limited = KmsHarness(harness.db, KmsProvider(harness.clock, max_keys=2), harness.clock)
    new_key(limited)
    new_key(limited)
    with pytest.raises(AwsError) as exc:
        new_key(limited)
    assert code(exc) == "LimitExceededException"


def test_rotation_on_demand_keeps_old_ciphertexts(harness: KmsHarness) -> None:
    h = harness
    key = new_key(h)
    old = h.call("Encrypt", {"KeyId": key["KeyId"], "Plaintext": b"old"})["CiphertextBlob"]
    assert h.call("RotateKeyOnDemand", {"KeyId": key["KeyId"]}) == {"KeyId": key["KeyId"]}
    meta = h.call("DescribeKey", {"KeyId": key["KeyId"]})["KeyMetadata"]
    assert meta["CurrentKeyMaterialId"] != key["CurrentKeyMaterialId"]
    new = h.call("Encrypt", {"KeyId": key["KeyId"], "Plaintext": b"new"})["CiphertextBlob"]
    assert h.call("Decrypt", {"CiphertextBlob": old})["Plaintext"] == b"old"
    out = h.call("Decrypt", {"CiphertextBlob": new})
    assert out["Plaintext"] == b"new" and out["KeyMaterialId"] == meta["CurrentKeyMaterialId"]
    rotations = h.call("ListKeyRotations", {"KeyId": key["KeyId"]})
    assert [r["RotationType"] for r in rotations["Rotations"]] == ["ON_DEMAND"]
    assert rotations["Rotations"][0]["KeyMaterialState"] == "CURRENT"
    every = h.call(
        "ListKeyRotations", {"KeyId": key["KeyId"], "IncludeKeyMaterial": "ALL_KEY_MATERIAL"}
    )
    first = every["Rotations"][0]
    assert first["KeyMaterialState"] == "NON_CURRENT" and "RotationType" not in first


def test_on_demand_rotation_limit(harness: KmsHarness) -> None:
    limited = KmsHarness(
        harness.db, KmsProvider(harness.clock, max_on_demand_rotations=2), harness.clock
    )
    key_id = new_key(limited)["KeyId"]
    limited.call("RotateKeyOnDemand", {"KeyId": key_id})
    limited.call("RotateKeyOnDemand", {"KeyId": key_id})
    with pytest.raises(AwsError) as exc:
        limited.call("RotateKeyOnDemand", {"KeyId": key_id})
    assert code(exc) == "LimitExceededException"


def test_rotation_status(harness: KmsHarness) -> None:
    h = harness
    key = new_key(h)
    assert h.call("GetKeyRotationStatus", {"KeyId": key["KeyId"]}) == {
        "KeyRotationEnabled": False,
        "KeyId": key["Arn"],
    }
    h.call("EnableKeyRotation", {"KeyId": key["KeyId"]})
    status = h.call("GetKeyRotationStatus", {"KeyId": key["KeyId"]})
    assert status["RotationPeriodInDays"] == 365
    assert status["NextRotationDate"] == h.now() + timedelta(days=365)
    h.call("DisableKey", {"KeyId": key["KeyId"]})
    with pytest.raises(AwsError) as exc:
        h.call("DisableKeyRotation", {"KeyId": key["KeyId"]})
    assert code(exc) == "DisabledException"


def test_scheduled_jobs_are_exactly_once(harness: KmsHarness) -> None:
    h = harness
    rotating = new_key(h)["KeyId"]
    h.call("EnableKeyRotation", {"KeyId": rotating, "RotationPeriodInDays": 90})
    old = h.call("Encrypt", {"KeyId": rotating, "Plaintext": b"v1"})["CiphertextBlob"]
    doomed = new_key(h)
    h.call("CreateAlias", {"AliasName": "alias/doomed", "TargetKeyId": doomed["KeyId"]})
    h.call("Encrypt", {"KeyId": "alias/doomed", "Plaintext": b"x"})  # cached
    h.call("ScheduleKeyDeletion", {"KeyId": doomed["KeyId"], "PendingWindowInDays": 7})
    p = h.provider

    h.clock.advance(6 * 86400)
    assert h.run(lambda tx: p.delete_due_keys(tx, h.clock.time())) == []
    h.clock.advance(2 * 86400)
    ids = h.run(lambda tx: p.keys_due_for_deletion(tx, h.clock.time()))
    assert ids == [doomed["KeyId"]]
    done = [h.run(lambda tx, i=i: p.delete_key_if_due(tx, i, h.clock.time())) for i in ids]
    assert [(d.event_name, d.key_arn, d.account_id, d.region) for d in done if d] == [
        ("DeleteKey", doomed["Arn"], ACCOUNT, REGION)
    ]
    assert h.run(lambda tx: p.delete_key_if_due(tx, doomed["KeyId"], h.clock.time())) is None
    for ref in (doomed["KeyId"], "alias/doomed"):
        with pytest.raises(AwsError) as exc:
            h.call("DescribeKey", {"KeyId": ref})
        assert code(exc) == "NotFoundException"

    assert h.run(lambda tx: p.rotate_due_keys(tx, h.clock.time())) == []
    h.clock.advance(90 * 86400)
    rotated = h.run(lambda tx: p.rotate_due_keys(tx, h.clock.time()))
    assert [d.event_name for d in rotated] == ["RotateKey"]
    assert h.run(lambda tx: p.rotate_due_keys(tx, h.clock.time())) == []
    assert h.run(lambda tx: jobs.rotate_key_if_due(tx, rotating, h.clock.time())) is None
    rotations = h.call("ListKeyRotations", {"KeyId": rotating})["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["AUTOMATIC"]
    assert h.call("Decrypt", {"CiphertextBlob": old})["Plaintext"] == b"v1"
    status = h.call("GetKeyRotationStatus", {"KeyId": rotating})
    assert status["NextRotationDate"] == h.now() + timedelta(days=90)


def test_aws_managed_keys(harness: KmsHarness) -> None:
    h = harness
    p = h.provider
    key = h.run(lambda tx: p.get_or_create_aws_managed_key(tx, ACCOUNT, REGION, "secretsmanager"))
    again = h.run(lambda tx: p.get_or_create_aws_managed_key(tx, ACCOUNT, REGION, "secretsmanager"))
    assert again.key_id == key.key_id
    meta = h.call("DescribeKey", {"KeyId": "alias/aws/secretsmanager"})["KeyMetadata"]
    assert meta["KeyManager"] == "AWS"
    assert h.call("GetKeyRotationStatus", {"KeyId": key.key_id})["RotationPeriodInDays"] == 365
    with pytest.raises(AwsError) as exc:
        h.call("Encrypt", {"KeyId": "alias/aws/secretsmanager", "Plaintext": b"x"})
    assert code(exc) == "AccessDeniedException"
    via = "secretsmanager.us-east-1.amazonaws.com"
    blob = h.call(
        "Encrypt", {"KeyId": "alias/aws/secretsmanager", "Plaintext": b"x"}, via_service=via
    )
    assert (
        h.call("Decrypt", {"CiphertextBlob": blob["CiphertextBlob"]}, via_service=via)["Plaintext"]
        == b"x"
    )
    for op, request in (
        ("ScheduleKeyDeletion", {"KeyId": key.key_id}),
        ("PutKeyPolicy", {"KeyId": key.key_id, "Policy": policy(ALLOW_ALL)}),
        ("DisableKey", {"KeyId": key.key_id}),
        ("CreateAlias", {"AliasName": "alias/mine", "TargetKeyId": key.key_id}),
    ):
        with pytest.raises(AwsError) as exc:
            h.call(op, request)
        assert code(exc) == "AccessDeniedException", op
    with pytest.raises(AwsError) as exc:
        h.call("DeleteAlias", {"AliasName": "alias/aws/secretsmanager"})
    assert code(exc) == "NotAuthorizedException"


def test_last_usage(harness: KmsHarness) -> None:
    h = harness
    key_id = new_key(h)["KeyId"]
    out = h.call("GetKeyLastUsage", {"KeyId": key_id})
    assert out["KeyLastUsage"] == {} and out["TrackingStartDate"] == out["KeyCreationDate"]
    h.call("Encrypt", {"KeyId": key_id, "Plaintext": b"x"}, event_id="evt-1")
    request_id = f"req-{h.requests}"
    usage = h.call("GetKeyLastUsage", {"KeyId": key_id})["KeyLastUsage"]
    assert usage == {
        "Operation": "Encrypt",
        "Timestamp": h.now(),
        "KmsRequestId": request_id,
        "CloudTrailEventId": "evt-1",
    }


def test_read_only_calls_hide_their_response_from_the_trail(harness: KmsHarness) -> None:
    key_id = new_key(harness)["KeyId"]
    assert harness.last_call is not None and not harness.last_call.hide_response
    harness.call("Encrypt", {"KeyId": key_id, "Plaintext": b"x"})
    assert harness.last_call is not None and harness.last_call.hide_response


def test_failed_unit_leaves_no_trace_in_the_cache(harness: KmsHarness) -> None:
    """A change rolled back with its unit must not be served from the cache afterwards."""
    h = harness
    key_id = new_key(h)["KeyId"]
    h.call("Encrypt", {"KeyId": key_id, "Plaintext": b"x"})
    p = h.provider

    def disable_then_fail(tx: Any) -> None:
        from garrison.api import Call

        call = Call(h.ctx("DisableKey"), tx)
        p.handlers()["DisableKey"](call, {"KeyId": key_id})
        raise RuntimeError("the unit fails after the change")

    with pytest.raises(RuntimeError):
        h.run(disable_then_fail)
    assert h.call("DescribeKey", {"KeyId": key_id})["KeyMetadata"]["KeyState"] == "Enabled"
    h.call("Encrypt", {"KeyId": key_id, "Plaintext": b"x"})


def test_clear_caches_sees_changes_made_elsewhere(harness: KmsHarness) -> None:
    h = harness
    key_id = new_key(h)["KeyId"]
    h.call("Encrypt", {"KeyId": key_id, "Plaintext": b"x"})
    other_node = KmsHarness(h.db, KmsProvider(h.clock), h.clock)
    other_node.call("DisableKey", {"KeyId": key_id})
    h.call("Encrypt", {"KeyId": key_id, "Plaintext": b"x"})  # still cached: within one poll
    h.provider.clear_caches()
    with pytest.raises(AwsError) as exc:
        h.call("Encrypt", {"KeyId": key_id, "Plaintext": b"x"})
    assert code(exc) == "DisabledException"

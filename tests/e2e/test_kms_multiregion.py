"""Multi-Region KMS keys over HTTP with boto3 and the AWS Encryption SDK: CreateKey
MultiRegion, ReplicateKey, UpdatePrimaryRegion, DescribeKey's MultiRegionConfiguration,
the kms:MultiRegion* condition keys, rotation shared with replicas, deletion rules, and
ciphertext made in one Region decrypting with the related key in another."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_encryption_sdk
import botocore.session
import pytest
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.exceptions import DecryptKeyError
from aws_encryption_sdk.key_providers.kms import (
    DiscoveryFilter,
    MRKAwareDiscoveryAwsKmsMasterKeyProvider,
    MRKAwareStrictAwsKmsMasterKeyProvider,
)
from botocore.exceptions import ClientError

from tests.conftest import (
    ACCESS_KEY_ID,
    ACCOUNT_ID,
    REGION,
    SECRET_ACCESS_KEY,
    ServerProcess,
    make_client,
)

OTHER_REGION = "eu-west-1"


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_create_multi_region_key(kms: Any) -> None:
    meta = kms.create_key(Description="mrk", MultiRegion=True)["KeyMetadata"]
    key_id = meta["KeyId"]
    assert re.fullmatch(r"mrk-[0-9a-f]{32}", key_id)
    assert meta["Arn"] == f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key_id}"
    assert meta["MultiRegion"] is True
    config = meta["MultiRegionConfiguration"]
    assert config["MultiRegionKeyType"] == "PRIMARY"
    assert config["PrimaryKey"] == {"Arn": meta["Arn"], "Region": REGION}
    assert config["ReplicaKeys"] == []
    described = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert described["MultiRegionConfiguration"] == config

    single = kms.create_key(MultiRegion=False)["KeyMetadata"]
    assert single["MultiRegion"] is False
    assert "MultiRegionConfiguration" not in single
    assert not single["KeyId"].startswith("mrk-")


def test_multi_region_keys_encrypt_like_any_key(kms: Any) -> None:
    key_id = kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
    out = kms.decrypt(CiphertextBlob=blob)
    assert out["Plaintext"] == b"secret"
    assert out["KeyId"].endswith(f":key/{key_id}")
    hmac_key = kms.create_key(MultiRegion=True, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    hmac_id = hmac_key["KeyMetadata"]["KeyId"]
    assert hmac_id.startswith("mrk-")
    mac = kms.generate_mac(KeyId=hmac_id, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    verified = kms.verify_mac(KeyId=hmac_id, Message=b"m", MacAlgorithm="HMAC_SHA_256", Mac=mac)
    assert verified["MacValid"] is True


def test_key_policy_sees_multi_region_condition_keys(kms: Any) -> None:
    """A key policy can deny Encrypt on multi-Region keys (kms:MultiRegion,
    kms:MultiRegionKeyType) while single-Region keys with the same policy still work."""
    root = f"arn:aws:iam::{ACCOUNT_ID}:root"
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"},
                {
                    "Effect": "Deny",
                    "Principal": {"AWS": root},
                    "Action": "kms:Encrypt",
                    "Resource": "*",
                    "Condition": {
                        "Bool": {"kms:MultiRegion": "true"},
                        "StringEquals": {"kms:MultiRegionKeyType": "PRIMARY"},
                    },
                },
            ],
        }
    )
    mrk = kms.create_key(MultiRegion=True, Policy=document)["KeyMetadata"]["KeyId"]
    single = kms.create_key(Policy=document)["KeyMetadata"]["KeyId"]
    kms.encrypt(KeyId=single, Plaintext=b"x")
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=mrk, Plaintext=b"x")
    assert error_code(exc) == "AccessDeniedException"


@pytest.fixture
def kms_eu(server: ServerProcess) -> Any:
    return make_client(server.endpoint, region=OTHER_REGION)


def test_replicate_then_decrypt_in_the_other_region(kms: Any, kms_eu: Any) -> None:
    """The acceptance test: encrypt in us-east-1 under the primary, decrypt in
    eu-west-1 through the replica (and back)."""
    primary = kms.create_key(Description="primary", MultiRegion=True)["KeyMetadata"]
    key_id = primary["KeyId"]
    replicated = kms.replicate_key(
        KeyId=key_id,
        ReplicaRegion=OTHER_REGION,
        Description="replica",
        Tags=[{"TagKey": "site", "TagValue": "dublin"}],
    )
    replica = replicated["ReplicaKeyMetadata"]
    replica_arn = f"arn:aws:kms:{OTHER_REGION}:{ACCOUNT_ID}:key/{key_id}"
    assert replica["KeyId"] == key_id
    assert replica["Arn"] == replica_arn
    assert replica["Description"] == "replica"
    assert replica["KeyState"] == "Enabled"
    assert replica["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert replica["MultiRegionConfiguration"]["PrimaryKey"] == {
        "Arn": primary["Arn"],
        "Region": REGION,
    }
    assert replicated["ReplicaTags"] == [{"TagKey": "site", "TagValue": "dublin"}]
    assert json.loads(replicated["ReplicaPolicy"])["Statement"]

    described = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert described["Description"] == "primary"
    assert described["MultiRegionConfiguration"]["ReplicaKeys"] == [
        {"Arn": replica_arn, "Region": OTHER_REGION}
    ]
    assert kms_eu.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"] == replica_arn
    assert kms_eu.list_resource_tags(KeyId=key_id)["Tags"] == [
        {"TagKey": "site", "TagValue": "dublin"}
    ]
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == []
    assert replica_arn in [k["KeyArn"] for k in kms_eu.list_keys(Limit=1000)["Keys"]]

    context = {"purpose": "mrk"}
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"cross-region", EncryptionContext=context)[
        "CiphertextBlob"
    ]
    opened = kms_eu.decrypt(CiphertextBlob=blob, EncryptionContext=context)
    assert opened["Plaintext"] == b"cross-region"
    assert opened["KeyId"] == replica_arn
    named = kms_eu.decrypt(CiphertextBlob=blob, KeyId=replica_arn, EncryptionContext=context)
    assert named["Plaintext"] == b"cross-region"
    back = kms_eu.encrypt(KeyId=key_id, Plaintext=b"return")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=back)["Plaintext"] == b"return"

    # each key has its own state: a disabled replica does not disable the primary
    kms_eu.disable_key(KeyId=key_id)
    with pytest.raises(ClientError) as exc:
        kms_eu.decrypt(CiphertextBlob=blob, EncryptionContext=context)
    assert error_code(exc) == "DisabledException"
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"]


def test_replicate_key_refusals(kms: Any, kms_eu: Any) -> None:
    key_id = kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    kms.replicate_key(KeyId=key_id, ReplicaRegion=OTHER_REGION)
    with pytest.raises(ClientError) as exc:
        kms.replicate_key(KeyId=key_id, ReplicaRegion=OTHER_REGION)
    assert error_code(exc) == "AlreadyExistsException"
    with pytest.raises(ClientError) as exc:
        kms.replicate_key(KeyId=key_id, ReplicaRegion=REGION)
    assert error_code(exc) == "AlreadyExistsException"
    # a replica is not a primary
    with pytest.raises(ClientError) as exc:
        kms_eu.replicate_key(KeyId=key_id, ReplicaRegion="ap-south-1")
    assert error_code(exc) == "UnsupportedOperationException"
    single = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as exc:
        kms.replicate_key(KeyId=single, ReplicaRegion=OTHER_REGION)
    assert error_code(exc) == "UnsupportedOperationException"
    # a key policy that would lock the caller out of the replica
    locked = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:role/nobody"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    )
    with pytest.raises(ClientError) as exc:
        kms.replicate_key(KeyId=key_id, ReplicaRegion="ap-south-1", Policy=locked)
    assert error_code(exc) == "MalformedPolicyDocumentException"
    done = kms.replicate_key(
        KeyId=key_id,
        ReplicaRegion="ap-south-1",
        Policy=locked,
        BypassPolicyLockoutSafetyCheck=True,
    )
    assert json.loads(done["ReplicaPolicy"]) == json.loads(locked)
    # the primary's key policy is checked: kms:ReplicaRegion limits where it may replicate
    root = f"arn:aws:iam::{ACCOUNT_ID}:root"
    only_eu = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"},
                {
                    "Effect": "Deny",
                    "Principal": {"AWS": root},
                    "Action": "kms:ReplicateKey",
                    "Resource": "*",
                    "Condition": {"StringNotEquals": {"kms:ReplicaRegion": OTHER_REGION}},
                },
            ],
        }
    )
    guarded = kms.create_key(MultiRegion=True, Policy=only_eu)["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as exc:
        kms.replicate_key(KeyId=guarded, ReplicaRegion="ap-south-1")
    assert error_code(exc) == "AccessDeniedException"
    kms.replicate_key(KeyId=guarded, ReplicaRegion=OTHER_REGION)


def test_rotation_of_the_primary_reaches_its_replicas(
    server: ServerProcess, kms: Any, kms_eu: Any
) -> None:
    key_id = kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    kms.replicate_key(KeyId=key_id, ReplicaRegion=OTHER_REGION)
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    status = kms_eu.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 90
    for call in (
        lambda: kms_eu.enable_key_rotation(KeyId=key_id),
        lambda: kms_eu.disable_key_rotation(KeyId=key_id),
        lambda: kms_eu.rotate_key_on_demand(KeyId=key_id),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_code(exc) == "UnsupportedOperationException"

    old = kms.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
    kms.rotate_key_on_demand(KeyId=key_id)
    server.advance(91 * 86400)
    server.run_scheduler()
    primary_rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    replica_rotations = kms_eu.list_key_rotations(KeyId=key_id)["Rotations"]
    assert [r["RotationType"] for r in primary_rotations] == ["ON_DEMAND", "AUTOMATIC"]
    assert [r["KeyMaterialId"] for r in replica_rotations] == [
        r["KeyMaterialId"] for r in primary_rotations
    ]
    new = kms.encrypt(KeyId=key_id, Plaintext=b"after")["CiphertextBlob"]
    assert kms_eu.decrypt(CiphertextBlob=new)["Plaintext"] == b"after"
    assert kms_eu.decrypt(CiphertextBlob=old)["Plaintext"] == b"before"
    assert (
        kms_eu.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
        == kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    )


def test_update_primary_region(kms: Any, kms_eu: Any) -> None:
    key_id = kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    kms.replicate_key(KeyId=key_id, ReplicaRegion=OTHER_REGION)
    kms.enable_key_rotation(KeyId=key_id)
    with pytest.raises(ClientError) as exc:
        kms_eu.update_primary_region(KeyId=key_id, PrimaryRegion=REGION)
    assert error_code(exc) == "UnsupportedOperationException"  # only the primary may
    with pytest.raises(ClientError) as exc:
        kms.update_primary_region(KeyId=key_id, PrimaryRegion="ap-south-1")
    assert error_code(exc) == "NotFoundException"
    kms.update_primary_region(KeyId=key_id, PrimaryRegion=OTHER_REGION)
    eu = kms_eu.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
    us = kms.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
    assert eu["MultiRegionKeyType"] == "PRIMARY"
    assert us["MultiRegionKeyType"] == "REPLICA"
    assert us["PrimaryKey"]["Region"] == OTHER_REGION
    assert eu["ReplicaKeys"] == [
        {"Arn": f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key_id}", "Region": REGION}
    ]
    # the rotation schedule moved with the primary
    assert kms_eu.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    with pytest.raises(ClientError) as exc:
        kms.rotate_key_on_demand(KeyId=key_id)
    assert error_code(exc) == "UnsupportedOperationException"
    kms_eu.rotate_key_on_demand(KeyId=key_id)
    assert len(kms.list_key_rotations(KeyId=key_id)["Rotations"]) == 1


def test_a_primary_waits_for_its_replicas_to_be_deleted(
    server: ServerProcess, kms: Any, kms_eu: Any
) -> None:
    key_id = kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    kms.replicate_key(KeyId=key_id, ReplicaRegion=OTHER_REGION)
    scheduled = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert scheduled["KeyState"] == "PendingReplicaDeletion"
    assert scheduled["PendingWindowInDays"] == 7
    assert "DeletionDate" not in scheduled
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingReplicaDeletion"
    assert meta["PendingDeletionWindowInDays"] == 7
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert error_code(exc) == "KMSInvalidStateException"
    # the replica is deleted on its own schedule; the primary waits meanwhile
    kms_eu.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    server.advance(8 * 86400)
    server.run_scheduler()
    with pytest.raises(ClientError) as exc:
        kms_eu.describe_key(KeyId=key_id)
    assert error_code(exc) == "NotFoundException"
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion"
    assert meta["MultiRegionConfiguration"]["ReplicaKeys"] == []
    assert "DeletionDate" in meta
    kms.cancel_key_deletion(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"


def test_cancel_pending_replica_deletion(kms: Any) -> None:
    key_id = kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    kms.replicate_key(KeyId=key_id, ReplicaRegion=OTHER_REGION)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    kms.cancel_key_deletion(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"


def test_encryption_sdk_multi_region_aware_keyring(
    server: ServerProcess, kms: Any, kms_eu: Any, tmp_path: Path
) -> None:
    """The AWS Encryption SDK's multi-Region-aware providers: encrypt under the primary
    in us-east-1, decrypt in eu-west-1 with the replica (strict and discovery)."""
    config = tmp_path / "aws-config"
    config.write_text(
        f"[default]\nregion = {REGION}\nservices = garrison\n\n"
        f"[services garrison]\nkms =\n  endpoint_url = {server.endpoint}\n"
    )
    session = botocore.session.Session()
    session.set_config_variable("config_file", str(config))
    session.set_config_variable("profile", "default")
    session.set_credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    esdk = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    primary_arn = kms.create_key(MultiRegion=True)["KeyMetadata"]["Arn"]
    key_id = primary_arn.rsplit("/", 1)[1]
    replica_arn = kms.replicate_key(KeyId=key_id, ReplicaRegion=OTHER_REGION)["ReplicaKeyMetadata"][
        "Arn"
    ]

    us = MRKAwareStrictAwsKmsMasterKeyProvider(key_ids=[primary_arn], botocore_session=session)
    ciphertext, _ = esdk.encrypt(source=b"multi-Region", key_provider=us, encryption_context={})
    eu = MRKAwareStrictAwsKmsMasterKeyProvider(key_ids=[replica_arn], botocore_session=session)
    assert esdk.decrypt(source=ciphertext, key_provider=eu)[0] == b"multi-Region"
    discovery = MRKAwareDiscoveryAwsKmsMasterKeyProvider(
        discovery_region=OTHER_REGION,
        discovery_filter=DiscoveryFilter(account_ids=[ACCOUNT_ID], partition="aws"),
        botocore_session=session,
    )
    assert esdk.decrypt(source=ciphertext, key_provider=discovery)[0] == b"multi-Region"
    # the replica really is what decrypts: disabled, it refuses
    kms_eu.disable_key(KeyId=key_id)
    with pytest.raises(DecryptKeyError):
        esdk.decrypt(source=ciphertext, key_provider=eu)


def test_aliases_and_grants_are_each_keys_own(kms: Any, kms_eu: Any) -> None:
    key_id = kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    kms.replicate_key(KeyId=key_id, ReplicaRegion=OTHER_REGION)
    kms_eu.create_alias(AliasName="alias/mrk-eu", TargetKeyId=key_id)
    [alias] = [
        a for a in kms_eu.list_aliases(KeyId=key_id)["Aliases"] if a["AliasName"] == "alias/mrk-eu"
    ]
    assert alias["TargetKeyId"] == key_id
    assert kms.list_aliases(KeyId=key_id)["Aliases"] == []
    blob = kms_eu.encrypt(KeyId="alias/mrk-eu", Plaintext=b"via alias")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"via alias"
    assert kms_eu.decrypt(CiphertextBlob=blob, KeyId="alias/mrk-eu")["Plaintext"] == b"via alias"

    grantee = f"arn:aws:iam::{ACCOUNT_ID}:user/mrk-grantee"
    kms_eu.create_grant(KeyId=key_id, GranteePrincipal=grantee, Operations=["Decrypt"])
    [grant] = kms_eu.list_grants(KeyId=key_id)["Grants"]
    assert grant["KeyId"] == f"arn:aws:kms:{OTHER_REGION}:{ACCOUNT_ID}:key/{key_id}"
    assert kms.list_grants(KeyId=key_id)["Grants"] == []
    usage = kms_eu.get_key_last_usage(KeyId=key_id)
    assert usage["KeyId"] == key_id


def test_asymmetric_and_hmac_replicas_share_their_keys(kms: Any, kms_eu: Any) -> None:
    signing = kms.create_key(MultiRegion=True, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    sign_id = signing["KeyMetadata"]["KeyId"]
    kms.replicate_key(KeyId=sign_id, ReplicaRegion=OTHER_REGION)
    assert (
        kms_eu.get_public_key(KeyId=sign_id)["PublicKey"]
        == (kms.get_public_key(KeyId=sign_id)["PublicKey"])
    )
    signature = kms.sign(
        KeyId=sign_id, Message=b"m", MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256"
    )["Signature"]
    verified = kms_eu.verify(
        KeyId=sign_id,
        Message=b"m",
        MessageType="RAW",
        Signature=signature,
        SigningAlgorithm="ECDSA_SHA_256",
    )
    assert verified["SignatureValid"] is True

    mac_key = kms.create_key(MultiRegion=True, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    mac_id = mac_key["KeyMetadata"]["KeyId"]
    kms.replicate_key(KeyId=mac_id, ReplicaRegion=OTHER_REGION)
    mac = kms.generate_mac(KeyId=mac_id, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    in_eu = kms_eu.generate_mac(KeyId=mac_id, Message=b"m", MacAlgorithm="HMAC_SHA_256")
    assert in_eu["Mac"] == mac

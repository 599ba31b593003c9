"""Several imported key materials per key, driven with boto3 as AWS documents them:
ImportType NEW_KEY_MATERIAL into a key that has material (PENDING_ROTATION),
RotateKeyOnDemand to it, ListKeyRotations with IncludeKeyMaterial, deletion and
re-import by KeyMaterialId, expiry of a non-current material, and the multi-Region
flow (import into the primary, the same material into each replica, rotate the set)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import ServerProcess, make_client
from tests.e2e import test_kms_import_asymmetric as asymmetric
from tests.e2e.test_kms_import import code, external_key, import_material

OTHER_REGION = "eu-west-1"


def materials(
    kms: Any, key_id: str, include: str = "ALL_KEY_MATERIAL"
) -> dict[str, dict[str, Any]]:
    """ListKeyRotations' entries by KeyMaterialId."""
    entries = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial=include)["Rotations"]
    return {e["KeyMaterialId"]: e for e in entries}


def current_material(kms: Any, key_id: str) -> str:
    return str(kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"])


def test_rotate_imported_material_on_demand(kms: Any) -> None:
    key_id = external_key(kms)
    first_material, second_material = os.urandom(32), os.urandom(32)
    first = import_material(kms, key_id, first_material)["KeyMaterialId"]
    assert current_material(kms, key_id) == first
    old_blob = kms.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
    with pytest.raises(ClientError) as exc:  # nothing imported to rotate to
        kms.rotate_key_on_demand(KeyId=key_id)
    assert code(exc) == "KMSInvalidStateException"

    second = import_material(
        kms,
        key_id,
        second_material,
        ImportType="NEW_KEY_MATERIAL",
        KeyMaterialDescription="second",
    )["KeyMaterialId"]
    assert second != first
    listed = materials(kms, key_id)
    assert listed[first]["KeyMaterialState"] == "CURRENT"
    assert listed[second]["KeyMaterialState"] == "PENDING_ROTATION"
    assert listed[second]["ImportState"] == "IMPORTED"
    assert listed[second]["KeyMaterialDescription"] == "second"
    assert "RotationDate" not in listed[second]
    assert materials(kms, key_id, "ROTATIONS_ONLY") == {}
    assert current_material(kms, key_id) == first  # pending material encrypts nothing
    with pytest.raises(ClientError) as exc:  # one pending material at a time
        import_material(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL")
    assert code(exc) == "ValidationException"

    assert kms.rotate_key_on_demand(KeyId=key_id)["KeyId"] == key_id
    assert current_material(kms, key_id) == second
    rotations = materials(kms, key_id, "ROTATIONS_ONLY")
    assert list(rotations) == [second]
    assert rotations[second]["RotationType"] == "ON_DEMAND"
    assert rotations[second]["KeyMaterialState"] == "CURRENT"
    assert isinstance(rotations[second]["RotationDate"], datetime)
    assert materials(kms, key_id)[first]["KeyMaterialState"] == "NON_CURRENT"
    new_blob = kms.encrypt(KeyId=key_id, Plaintext=b"after")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=old_blob)["Plaintext"] == b"before"
    assert kms.decrypt(CiphertextBlob=new_blob)["Plaintext"] == b"after"

    # deleting a non-current material makes the key unusable until it returns
    deleted = kms.delete_imported_key_material(KeyId=key_id, KeyMaterialId=first)
    assert deleted["KeyMaterialId"] == first
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    assert materials(kms, key_id)[first]["ImportState"] == "PENDING_IMPORT"
    assert materials(kms, key_id)[second]["ImportState"] == "IMPORTED"
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=new_blob)
    assert code(exc) == "KMSInvalidStateException"
    with pytest.raises(ClientError) as exc:  # the material is not the one named
        import_material(
            kms, key_id, first_material, ImportType="EXISTING_KEY_MATERIAL", KeyMaterialId=second
        )
    assert code(exc) == "IncorrectKeyMaterialException"
    with pytest.raises(ClientError) as exc:  # never imported into this key
        import_material(kms, key_id, os.urandom(32), ImportType="EXISTING_KEY_MATERIAL")
    assert code(exc) == "IncorrectKeyMaterialException"
    again = import_material(
        kms, key_id, first_material, ImportType="EXISTING_KEY_MATERIAL", KeyMaterialId=first
    )
    assert again["KeyMaterialId"] == first
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.decrypt(CiphertextBlob=old_blob)["Plaintext"] == b"before"
    assert current_material(kms, key_id) == second

    with pytest.raises(ClientError) as exc:
        kms.delete_imported_key_material(KeyId=key_id, KeyMaterialId="0" * 64)
    assert code(exc) == "NotFoundException"
    with pytest.raises(ClientError) as exc:  # imported material never rotates automatically
        kms.enable_key_rotation(KeyId=key_id)
    assert code(exc) == "UnsupportedOperationException"


def test_pending_material_can_be_deleted_and_replaced(kms: Any) -> None:
    key_id = external_key(kms)
    first = import_material(kms, key_id, os.urandom(32))["KeyMaterialId"]
    unwanted = import_material(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL")
    deleted = kms.delete_imported_key_material(
        KeyId=key_id, KeyMaterialId=unwanted["KeyMaterialId"]
    )
    assert deleted["KeyMaterialId"] == unwanted["KeyMaterialId"]
    # a pending material is not associated with the key: it is gone, the key untouched
    assert list(materials(kms, key_id)) == [first]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    wanted = import_material(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL")
    kms.rotate_key_on_demand(KeyId=key_id)
    assert current_material(kms, key_id) == wanted["KeyMaterialId"]
    assert set(materials(kms, key_id)) == {first, wanted["KeyMaterialId"]}


def test_first_import_refuses_a_key_material_id_and_rotation(kms: Any) -> None:
    key_id = external_key(kms)
    with pytest.raises(ClientError) as exc:
        import_material(kms, key_id, os.urandom(32), KeyMaterialId="a" * 64)
    assert code(exc) == "ValidationException"  # KeyMaterialId with a first (new) import
    with pytest.raises(ClientError) as exc:
        kms.rotate_key_on_demand(KeyId=key_id)
    assert code(exc) == "KMSInvalidStateException"  # PendingImport


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_expiry_of_a_non_current_material(fresh_server_factory: Any, backend: str) -> None:
    server: ServerProcess = fresh_server_factory(backend).start()
    kms = server.client()
    key_id = external_key(kms)
    valid_to = datetime.now(UTC) + timedelta(days=2)
    first = import_material(kms, key_id, os.urandom(32), ValidTo=valid_to)["KeyMaterialId"]
    old_blob = kms.encrypt(KeyId=key_id, Plaintext=b"old")["CiphertextBlob"]
    import_material(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL")
    kms.rotate_key_on_demand(KeyId=key_id)
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    # ValidTo: the earliest expiry of the materials associated with the key (AWS)
    assert abs((metadata["ValidTo"] - valid_to).total_seconds()) < 1
    assert metadata["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"  # the current one's

    server.advance(3 * 86400)
    server.run_scheduler()
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert metadata["KeyState"] == "PendingImport"
    assert "ValidTo" not in metadata
    assert materials(kms, key_id)[first]["ImportState"] == "PENDING_IMPORT"
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=old_blob)
    assert code(exc) == "KMSInvalidStateException"
    events = server.client("cloudtrail").lookup_events(
        LookupAttributes=[
            {"AttributeKey": "EventName", "AttributeValue": "DeleteExpiredKeyMaterial"}
        ]
    )["Events"]
    assert [e["Resources"][0]["ResourceName"] for e in events] == [metadata["Arn"]]


def test_multi_region_keys_share_imported_material(server: ServerProcess, kms: Any) -> None:
    primary_meta = kms.create_key(Origin="EXTERNAL", MultiRegion=True)["KeyMetadata"]
    key_id = primary_meta["KeyId"]
    assert key_id.startswith("mrk-") and primary_meta["KeyState"] == "PendingImport"
    first_material = os.urandom(32)
    first = import_material(kms, key_id, first_material)["KeyMaterialId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"from the primary")["CiphertextBlob"]

    replica_meta = kms.replicate_key(KeyId=key_id, ReplicaRegion=OTHER_REGION)["ReplicaKeyMetadata"]
    assert replica_meta["KeyState"] == "PendingImport"
    assert replica_meta["Origin"] == "EXTERNAL"
    replica = make_client(server.endpoint, region=OTHER_REGION)
    with pytest.raises(ClientError) as exc:  # new material goes into the primary
        import_material(replica, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL")
    assert code(exc) == "UnsupportedOperationException"
    with pytest.raises(ClientError) as exc:  # not the primary's material
        import_material(replica, key_id, os.urandom(32))
    assert code(exc) == "IncorrectKeyMaterialException"
    assert import_material(replica, key_id, first_material)["KeyMaterialId"] == first
    assert replica.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert replica.decrypt(CiphertextBlob=blob)["Plaintext"] == b"from the primary"

    second_material = os.urandom(32)
    second = import_material(kms, key_id, second_material, ImportType="NEW_KEY_MATERIAL")[
        "KeyMaterialId"
    ]
    state = materials(kms, key_id)[second]["KeyMaterialState"]
    assert state == "PENDING_MULTI_REGION_IMPORT_AND_ROTATION"
    assert materials(replica, key_id)[second]["ImportState"] == "PENDING_IMPORT"
    assert replica.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    with pytest.raises(ClientError) as exc:  # the replica lacks it
        kms.rotate_key_on_demand(KeyId=key_id)
    assert code(exc) == "KMSInvalidStateException"
    import_material(replica, key_id, second_material, ImportType="EXISTING_KEY_MATERIAL")
    assert materials(kms, key_id)[second]["KeyMaterialState"] == "PENDING_ROTATION"
    with pytest.raises(ClientError) as exc:  # rotation is the primary's
        replica.rotate_key_on_demand(KeyId=key_id)
    assert code(exc) == "UnsupportedOperationException"

    kms.rotate_key_on_demand(KeyId=key_id)
    assert current_material(kms, key_id) == second
    assert current_material(replica, key_id) == second
    assert materials(replica, key_id, "ROTATIONS_ONLY")[second]["RotationType"] == "ON_DEMAND"
    replica_blob = replica.encrypt(KeyId=key_id, Plaintext=b"from the replica")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=replica_blob)["Plaintext"] == b"from the replica"
    assert replica.decrypt(CiphertextBlob=blob)["Plaintext"] == b"from the primary"

    # a pending material deleted from the primary leaves the replicas too
    third = import_material(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL")
    assert third["KeyMaterialId"] in materials(replica, key_id)
    kms.delete_imported_key_material(KeyId=key_id, KeyMaterialId=third["KeyMaterialId"])
    assert third["KeyMaterialId"] not in materials(replica, key_id)
    # deleting a replica's material leaves the primary as it is
    replica.delete_imported_key_material(KeyId=key_id, KeyMaterialId=first)
    assert replica.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"from the primary"


def test_multi_region_signing_key_with_imported_material(server: ServerProcess, kms: Any) -> None:
    """Any importable key spec may be multi-Region (AWS): here an ECC signing key,
    whose replica signs once the same private key is imported into it."""
    private = ec.generate_private_key(ec.SECP256R1())
    material = asymmetric.pkcs8(private)
    key_id = kms.create_key(
        Origin="EXTERNAL", MultiRegion=True, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY"
    )["KeyMetadata"]["KeyId"]
    asymmetric.import_material(kms, key_id, material)
    kms.replicate_key(KeyId=key_id, ReplicaRegion=OTHER_REGION)
    replica = make_client(server.endpoint, region=OTHER_REGION)
    with pytest.raises(ClientError) as exc:  # no material of its own yet
        replica.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    assert code(exc) == "KMSInvalidStateException"
    with pytest.raises(ClientError) as exc:  # another private key is not the primary's
        asymmetric.import_material(
            replica, key_id, asymmetric.pkcs8(ec.generate_private_key(ec.SECP256R1()))
        )
    assert code(exc) == "IncorrectKeyMaterialException"
    asymmetric.import_material(replica, key_id, material)
    signature = replica.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")[
        "Signature"
    ]
    private.public_key().verify(signature, b"m", ec.ECDSA(hashes.SHA256()))
    assert replica.get_public_key(KeyId=key_id)["PublicKey"] == asymmetric.spki(private)

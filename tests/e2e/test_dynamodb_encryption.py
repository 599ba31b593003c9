"""The DynamoDB Encryption Client for Python (3.x) item encryptor, on Garrison.

The item encryptor works on plain Python dicts, so no DynamoDB table is
involved: its ``AwsKmsCryptographicMaterialsProvider`` asks KMS (Garrison) for
a data key per item, derives the attribute encryption and signing keys from it,
and stores the wrapped data key in the item's material description. The
provider is handed boto3 KMS clients pointed at Garrison through its
``regional_clients`` argument; nothing of the library is patched.

The last test is the by-hand envelope pattern (GenerateDataKey + AES-GCM with
``cryptography``) that docs/client-side-encryption.md opens with.
"""

from __future__ import annotations

import base64
import os
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import Binary
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from dynamodb_encryption_sdk.encrypted import CryptoConfig
from dynamodb_encryption_sdk.encrypted.item import decrypt_python_item, encrypt_python_item
from dynamodb_encryption_sdk.exceptions import SignatureVerificationError, UnwrappingError
from dynamodb_encryption_sdk.identifiers import CryptoAction
from dynamodb_encryption_sdk.internal.formatting.material_description import (
    deserialize as deserialize_description,
)
from dynamodb_encryption_sdk.material_providers.aws_kms import (
    AwsKmsCryptographicMaterialsProvider,
)
from dynamodb_encryption_sdk.structures import AttributeActions, EncryptionContext
from dynamodb_encryption_sdk.transform import dict_to_ddb

from tests.conftest import REGION, ServerProcess, make_client

OTHER_REGION = "eu-west-1"
TABLE = "orders"
ITEM: dict[str, Any] = {
    "customer": "acme",  # partition key: signed, left readable
    "order": Decimal(42),  # sort key: signed, left readable
    "card": "4111-1111-1111-1111",
    "items": ["widget", "gadget"],
    "total": Decimal("99.95"),
    "note": "left in the clear",  # DO_NOTHING: neither encrypted nor signed
}
MATERIAL_DESCRIPTION = "*amzn-ddb-map-desc*"
SIGNATURE = "*amzn-ddb-map-sig*"
WRAPPED_KEY = "amzn-ddb-env-key"


def config(provider: AwsKmsCryptographicMaterialsProvider) -> CryptoConfig:
    """Encrypt and sign everything but the note; keys are signed but stay readable.

    The item's primary key goes into the encryption context (in DynamoDB's wire
    form): the provider binds it into the KMS encryption context, as the
    library's own item-encryptor example does.
    """
    return CryptoConfig(
        materials_provider=provider,
        encryption_context=EncryptionContext(
            table_name=TABLE,
            partition_key_name="customer",
            sort_key_name="order",
            attributes=dict_to_ddb({"customer": ITEM["customer"], "order": ITEM["order"]}),
        ),
        attribute_actions=AttributeActions(
            default_action=CryptoAction.ENCRYPT_AND_SIGN,
            attribute_actions={
                "customer": CryptoAction.SIGN_ONLY,
                "order": CryptoAction.SIGN_ONLY,
                "note": CryptoAction.DO_NOTHING,
            },
        ),
    )


def provider(key_id: str, kms_client: Any, region: str) -> AwsKmsCryptographicMaterialsProvider:
    return AwsKmsCryptographicMaterialsProvider(
        key_id=key_id, regional_clients={region: kms_client}
    )


def test_item_encrypted_signed_and_decrypted(server: ServerProcess, kms: Any) -> None:
    arn = kms.create_key(Description="ddb item encryptor")["KeyMetadata"]["Arn"]
    cmp = provider(arn, kms, REGION)

    encrypted = encrypt_python_item(dict(ITEM), config(cmp))
    # the keys and the DO_NOTHING attribute stay readable; the rest is ciphertext
    assert encrypted["customer"] == "acme" and encrypted["order"] == Decimal(42)
    assert encrypted["note"] == "left in the clear"
    for name in ("card", "items", "total"):
        assert isinstance(encrypted[name], Binary)
    assert b"4111" not in encrypted["card"].value
    assert len(encrypted[SIGNATURE].value) == 32  # HMAC-SHA256 over the signed attributes

    # the material description carries the data key Garrison wrapped, bound to a
    # KMS encryption context naming the table and the item's primary key
    description = deserialize_description({"B": encrypted[MATERIAL_DESCRIPTION].value})
    wrapped = base64.b64decode(description[WRAPPED_KEY])
    context = kms.decrypt(
        CiphertextBlob=wrapped,
        EncryptionContext={
            "*aws-kms-table*": TABLE,
            "customer": "acme",
            "order": "42",
            "*amzn-ddb-env-alg*": description["amzn-ddb-env-alg"],
            "*amzn-ddb-sig-alg*": description["amzn-ddb-sig-alg"],
        },
    )
    assert context["KeyId"] == arn and len(context["Plaintext"]) == 32

    assert decrypt_python_item(encrypted, config(cmp)) == ITEM

    # a disabled key cannot unwrap the data key, so the item cannot be read
    kms.disable_key(KeyId=arn)
    with pytest.raises(UnwrappingError):
        decrypt_python_item(encrypted, config(cmp))
    kms.enable_key(KeyId=arn)
    assert decrypt_python_item(encrypted, config(cmp)) == ITEM


def test_tampered_attributes_are_refused(kms: Any) -> None:
    arn = kms.create_key(Description="ddb tamper")["KeyMetadata"]["Arn"]
    cmp = provider(arn, kms, REGION)
    encrypted = encrypt_python_item(dict(ITEM), config(cmp))

    # a flipped bit in an encrypted attribute breaks the signature
    flipped = bytearray(encrypted["card"].value)
    flipped[-1] ^= 1
    with pytest.raises(SignatureVerificationError):
        decrypt_python_item({**encrypted, "card": Binary(bytes(flipped))}, config(cmp))
    # so does changing a signed-only key: the item cannot be moved to another key
    with pytest.raises(SignatureVerificationError):
        decrypt_python_item({**encrypted, "order": Decimal(43)}, config(cmp))
    # and dropping an encrypted attribute
    without_total = {k: v for k, v in encrypted.items() if k != "total"}
    with pytest.raises(SignatureVerificationError):
        decrypt_python_item(without_total, config(cmp))
    # the unsigned note may change without the signature noticing: that is what DO_NOTHING means
    changed_note = decrypt_python_item({**encrypted, "note": "edited"}, config(cmp))
    assert changed_note == {**ITEM, "note": "edited"}


def test_decrypt_in_another_region_through_a_replica(server: ServerProcess, kms: Any) -> None:
    """The acceptance test: encrypt with a multi-Region primary in us-east-1, then
    decrypt in eu-west-1 with a provider that knows only the replica's ARN."""
    kms_eu = make_client(server.endpoint, region=OTHER_REGION)
    primary_arn = kms.create_key(Description="ddb mrk", MultiRegion=True)["KeyMetadata"]["Arn"]
    key_id = primary_arn.rsplit("/", 1)[1]
    replica_arn = kms.replicate_key(KeyId=key_id, ReplicaRegion=OTHER_REGION)["ReplicaKeyMetadata"][
        "Arn"
    ]
    assert replica_arn == primary_arn.replace(REGION, OTHER_REGION)

    encrypted = encrypt_python_item(dict(ITEM), config(provider(primary_arn, kms, REGION)))
    eu = provider(replica_arn, kms_eu, OTHER_REGION)
    assert decrypt_python_item(encrypted, config(eu)) == ITEM
    # items written in eu-west-1 under the replica read back in us-east-1 too
    written_in_eu = encrypt_python_item(dict(ITEM), config(eu))
    assert decrypt_python_item(written_in_eu, config(provider(primary_arn, kms, REGION))) == ITEM

    # the replica really is what decrypts: disabled in eu-west-1, it refuses there,
    # while the primary in us-east-1 still opens the same item
    kms_eu.disable_key(KeyId=key_id)
    with pytest.raises(UnwrappingError):
        decrypt_python_item(encrypted, config(eu))
    assert decrypt_python_item(encrypted, config(provider(primary_arn, kms, REGION))) == ITEM


def test_raw_envelope_with_generate_data_key_and_aes_gcm(kms: Any) -> None:
    """The pattern every client above builds on, by hand: KMS makes a data key,
    the client encrypts locally with it and keeps only the wrapped copy."""
    key_id = kms.create_key(Description="raw envelope")["KeyMetadata"]["KeyId"]
    context = {"tenant": "acme"}
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=context)
    nonce = os.urandom(12)
    sealed = AESGCM(data_key["Plaintext"]).encrypt(nonce, b"card 4111", b"tenant=acme")
    wrapped = data_key["CiphertextBlob"]
    del data_key  # the plaintext data key is dropped; only `wrapped` is stored

    plain_key = kms.decrypt(CiphertextBlob=wrapped, EncryptionContext=context)["Plaintext"]
    assert AESGCM(plain_key).decrypt(nonce, sealed, b"tenant=acme") == b"card 4111"
    # the wrapped key opens only under the same encryption context
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=wrapped, EncryptionContext={"tenant": "other"})
    assert exc.value.response["Error"]["Code"] == "InvalidCiphertextException"

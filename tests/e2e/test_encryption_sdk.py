"""The AWS Encryption SDK for Python (4.x) with its KMS master key providers, on Garrison.

The SDK builds its own KMS clients from a botocore session, one per Region it
reads from a key ARN. The session is pointed at Garrison the way a user would
do it: a shared config file whose ``[services ...]`` section sets the KMS
``endpoint_url``. Nothing of the SDK is patched.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import aws_encryption_sdk
import botocore.session
import pytest
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.exceptions import DecryptKeyError
from aws_encryption_sdk.key_providers.kms import (
    DiscoveryAwsKmsMasterKeyProvider,
    DiscoveryFilter,
    StrictAwsKmsMasterKeyProvider,
)

from tests.conftest import ACCESS_KEY_ID, ACCOUNT_ID, REGION, SECRET_ACCESS_KEY, ServerProcess

MESSAGE_BYTES = 1 << 20  # 1 MiB
CONTEXT = {"purpose": "garrison-e2e", "tenant": "acme"}
SDK_USER_AGENT = "AwsEncryptionSdkPython/"


@pytest.fixture
def session(server: ServerProcess, tmp_path: Path) -> botocore.session.Session:
    """A botocore session whose KMS endpoint is the Garrison server."""
    config = tmp_path / "aws-config"
    config.write_text(
        f"[default]\nregion = {REGION}\nservices = garrison\n\n"
        f"[services garrison]\nkms =\n  endpoint_url = {server.endpoint}\n"
    )
    sess = botocore.session.Session()
    sess.set_config_variable("config_file", str(config))
    sess.set_config_variable("profile", "default")
    sess.set_credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    return sess


@pytest.fixture
def esdk() -> aws_encryption_sdk.EncryptionSDKClient:
    return aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )


def trail(cloudtrail: Any, arn: str) -> list[dict[str, Any]]:
    """Every audit event naming the key, oldest first, with its CloudTrail body parsed."""
    events: list[dict[str, Any]] = []
    pages = cloudtrail.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": arn}]
    )
    for page in pages:
        events += [json.loads(e["CloudTrailEvent"]) for e in page["Events"]]
    return events[::-1]


def by_the_sdk(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [
        (e["eventName"], e.get("errorCode"))
        for e in events
        if SDK_USER_AGENT in e.get("userAgent", "")
    ]


def test_one_mebibyte_round_trip_then_disabled_key_refuses(
    session: botocore.session.Session,
    esdk: aws_encryption_sdk.EncryptionSDKClient,
    kms: Any,
    cloudtrail: Any,
) -> None:
    arn = kms.create_key(Description="encryption sdk")["KeyMetadata"]["Arn"]
    provider = StrictAwsKmsMasterKeyProvider(key_ids=[arn], botocore_session=session)
    message = os.urandom(MESSAGE_BYTES)

    ciphertext, header = esdk.encrypt(
        source=message, key_provider=provider, encryption_context=CONTEXT
    )
    assert len(ciphertext) > MESSAGE_BYTES
    assert message[:4096] not in ciphertext
    [data_key] = header.encrypted_data_keys
    assert data_key.key_provider.provider_id == "aws-kms"
    assert data_key.key_provider.key_info.decode() == arn
    sdk_context = dict(header.encryption_context)
    assert CONTEXT.items() <= sdk_context.items()  # the SDK adds its signing public key
    # the encrypted data key is a Garrison ciphertext blob, bound to that context
    opened = kms.decrypt(CiphertextBlob=data_key.encrypted_data_key, EncryptionContext=sdk_context)
    assert opened["KeyId"] == arn and len(opened["Plaintext"]) == 32

    plaintext, decrypted_header = esdk.decrypt(source=ciphertext, key_provider=provider)
    assert plaintext == message
    assert CONTEXT.items() <= dict(decrypted_header.encryption_context).items()

    kms.disable_key(KeyId=arn)
    with pytest.raises(DecryptKeyError):
        esdk.decrypt(source=ciphertext, key_provider=provider)
    kms.enable_key(KeyId=arn)
    assert esdk.decrypt(source=ciphertext, key_provider=provider)[0] == message

    events = trail(cloudtrail, arn)
    assert by_the_sdk(events) == [
        ("GenerateDataKey", None),
        ("Decrypt", None),
        ("Decrypt", "DisabledException"),
        ("Decrypt", None),
    ]
    generate = next(e for e in events if e["eventName"] == "GenerateDataKey")
    assert generate["requestParameters"]["keyId"] == arn
    assert generate["requestParameters"]["encryptionContext"] == sdk_context
    assert generate["requestParameters"]["numberOfBytes"] == 32
    assert generate["readOnly"] is True
    decrypt = next(
        e
        for e in events
        if e["eventName"] == "Decrypt" and SDK_USER_AGENT in e["userAgent"] and "errorCode" not in e
    )
    assert decrypt["requestParameters"]["encryptionContext"] == sdk_context
    assert decrypt["requestParameters"]["keyId"] == arn
    for event in events:
        assert event["resources"] == [
            {"type": "AWS::KMS::Key", "ARN": arn, "accountId": ACCOUNT_ID}
        ]


def test_message_under_two_keys_decrypts_with_either(
    session: botocore.session.Session,
    esdk: aws_encryption_sdk.EncryptionSDKClient,
    kms: Any,
    cloudtrail: Any,
) -> None:
    first = kms.create_key(Description="sdk first")["KeyMetadata"]["Arn"]
    second = kms.create_key(Description="sdk second")["KeyMetadata"]["Arn"]
    both = StrictAwsKmsMasterKeyProvider(key_ids=[first, second], botocore_session=session)
    message = os.urandom(64 * 1024)

    ciphertext, header = esdk.encrypt(source=message, key_provider=both, encryption_context=CONTEXT)
    wrapped_by = sorted(k.key_provider.key_info.decode() for k in header.encrypted_data_keys)
    assert wrapped_by == sorted([first, second])

    only_first = StrictAwsKmsMasterKeyProvider(key_ids=[first], botocore_session=session)
    only_second = StrictAwsKmsMasterKeyProvider(key_ids=[second], botocore_session=session)
    assert esdk.decrypt(source=ciphertext, key_provider=only_first)[0] == message
    assert esdk.decrypt(source=ciphertext, key_provider=only_second)[0] == message

    # Discovery: the SDK asks Garrison to open whichever data key it can, filtered to
    # this account; with the first key disabled it falls through to the second.
    kms.disable_key(KeyId=first)
    discovery = DiscoveryAwsKmsMasterKeyProvider(
        botocore_session=session,
        discovery_filter=DiscoveryFilter(account_ids=[ACCOUNT_ID], partition="aws"),
    )
    assert esdk.decrypt(source=ciphertext, key_provider=discovery)[0] == message
    with pytest.raises(DecryptKeyError):
        esdk.decrypt(source=ciphertext, key_provider=only_first)

    # The primary key made the data key; the other wrapped a copy of it with Encrypt.
    on_first = by_the_sdk(trail(cloudtrail, first))
    assert on_first[:2] == [("GenerateDataKey", None), ("Decrypt", None)]
    # Discovery tries the data keys in the order of a Python set: the disabled key's
    # refusal is there once (the strict provider's) or twice (discovery tried it too).
    refused = ("Decrypt", "DisabledException")
    assert on_first[2:] in ([refused], [refused, refused])
    assert by_the_sdk(trail(cloudtrail, second)) == [
        ("Encrypt", None),
        ("Decrypt", None),
        ("Decrypt", None),
    ]

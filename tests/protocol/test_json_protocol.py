"""json_protocol.py: the awsJson body parser and serialisers, checked against botocore."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from botocore.model import OperationModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from garrison.errors import AwsError, SerializationException, ValidationException, error_class
from garrison.protocol.json_protocol import (
    content_type,
    parse_request,
    serialize_error,
    serialize_response,
)
from garrison.protocol.specs import load_service

KEY = "1234abcd-12ab-34cd-56ef-1234567890ab"
ARN = f"arn:aws:kms:us-east-1:111122223333:key/{KEY}"


def kms(name: str) -> OperationModel:
    op = load_service("kms").operation(name)
    assert op is not None
    return op


def cloudtrail(name: str) -> OperationModel:
    op = load_service("cloudtrail").operation(name)
    assert op is not None
    return op


def body(value: Any) -> bytes:
    return orjson.dumps(value)


def serialization_error(op: OperationModel, raw: bytes) -> str:
    with pytest.raises(SerializationException) as caught:
        parse_request(op, raw)
    assert caught.value.status == 400
    return caught.value.message


# -- parse_request -------------------------------------------------------------------


def test_encrypt_parses_to_member_names_with_decoded_blob() -> None:
    raw = body({"KeyId": KEY, "Plaintext": base64.b64encode(b"hello").decode()})
    assert parse_request(kms("Encrypt"), raw) == {"KeyId": KEY, "Plaintext": b"hello"}


def test_unknown_members_are_dropped_and_null_is_absent() -> None:
    raw = body(
        {"KeyId": KEY, "Plaintext": "aGk=", "Unknown": {"x": 1}, "EncryptionAlgorithm": None}
    )
    assert parse_request(kms("Encrypt"), raw) == {"KeyId": KEY, "Plaintext": b"hi"}


def test_nested_maps_and_lists() -> None:
    raw = body(
        {
            "KeyId": KEY,
            "Plaintext": "aGk=",
            "EncryptionContext": {"purpose": "test"},
            "GrantTokens": ["g1", "g2"],
            "DryRun": False,
        }
    )
    assert parse_request(kms("Encrypt"), raw) == {
        "KeyId": KEY,
        "Plaintext": b"hi",
        "EncryptionContext": {"purpose": "test"},
        "GrantTokens": ["g1", "g2"],
        "DryRun": False,
    }


def test_empty_body_is_an_empty_request_then_validated() -> None:
    assert parse_request(kms("ListKeys"), b"") == {}
    with pytest.raises(ValidationException) as caught:
        parse_request(kms("Encrypt"), b"")
    assert caught.value.message == (
        "2 validation errors detected: "
        "Value null at 'keyId' failed to satisfy constraint: Member must not be null; "
        "Value null at 'plaintext' failed to satisfy constraint: Member must not be null"
    )


def test_missing_key_id() -> None:
    with pytest.raises(ValidationException) as caught:
        parse_request(kms("Encrypt"), body({"Plaintext": "aGk="}))
    assert caught.value.message == (
        "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_over_length_plaintext_is_refused_without_echoing_it() -> None:
    plaintext = b"S" * 4097
    raw = body({"KeyId": KEY, "Plaintext": base64.b64encode(plaintext).decode()})
    with pytest.raises(ValidationException) as caught:
        parse_request(kms("Encrypt"), raw)
    assert caught.value.message == (
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096"
    )
    assert "SSSS" not in caught.value.message


@pytest.mark.parametrize("bad", ["not base64!", "aGk", "aGk=\n", "aGk=aGk=", "é"])
def test_bad_base64_is_a_serialization_error_that_hides_the_value(bad: str) -> None:
    message = serialization_error(kms("Encrypt"), body({"KeyId": KEY, "Plaintext": bad}))
    assert message == "A Blob value is not valid base64."


@pytest.mark.parametrize(
    ("operation", "request_body", "message"),
    [
        ("Encrypt", {"KeyId": 1}, "NUMBER_VALUE can not be converted to a String"),
        ("Encrypt", {"KeyId": True}, "BOOLEAN_VALUE can not be converted to a String"),
        ("Encrypt", {"KeyId": ["k"]}, "Start of list found where not expected."),
        ("Encrypt", {"Plaintext": {}}, "Start of structure or map found where not expected."),
        ("Encrypt", {"Plaintext": 5}, "NUMBER_VALUE can not be converted to a Blob"),
        ("Encrypt", {"GrantTokens": "g"}, "STRING_VALUE can not be converted to a List"),
        ("Encrypt", {"GrantTokens": [1]}, "NUMBER_VALUE can not be converted to a String"),
        ("Encrypt", {"EncryptionContext": []}, "Start of list found where not expected."),
        ("Encrypt", {"EncryptionContext": "x"}, "STRING_VALUE can not be converted to a Map"),
        ("Encrypt", {"DryRun": "true"}, "STRING_VALUE can not be converted to a Boolean"),
        ("ListKeys", {"Limit": "5"}, "STRING_VALUE can not be converted to an Integer"),
        ("ListKeys", {"Limit": True}, "BOOLEAN_VALUE can not be converted to an Integer"),
        ("ListKeys", {"Limit": 5.5}, "NUMBER_VALUE can not be converted to an Integer"),
        ("ListKeys", {"Limit": 2**31}, "NUMBER_VALUE can not be converted to an Integer"),
        (
            "TagResource",
            {"Tags": ["k"]},
            "STRING_VALUE can not be converted to a Structure",
        ),
    ],
)
def test_wrong_types(operation: str, request_body: dict[str, Any], message: str) -> None:
    assert serialization_error(kms(operation), body(request_body)) == message


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "The request body is not valid JSON."),
        (b"\xff\xfe", "The request body is not valid JSON."),
        (b"[]", "The request body must be a JSON object."),
        (b'"KeyId"', "The request body must be a JSON object."),
        (b"null", "The request body must be a JSON object."),
    ],
)
def test_bodies_that_are_not_json_objects(raw: bytes, message: str) -> None:
    assert serialization_error(kms("ListKeys"), raw) == message


def test_enum_violation_after_parsing() -> None:
    raw = body({"KeyId": KEY, "Plaintext": "aGk=", "EncryptionAlgorithm": "ROT13"})
    with pytest.raises(ValidationException) as caught:
        parse_request(kms("Encrypt"), raw)
    assert caught.value.message == (
        "1 validation error detected: Value 'ROT13' at 'encryptionAlgorithm' failed to "
        "satisfy constraint: Member must satisfy enum value set: "
        "[SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]"
    )


def test_schedule_key_deletion_window_out_of_model_range() -> None:
    with pytest.raises(ValidationException) as caught:
        parse_request(kms("ScheduleKeyDeletion"), body({"KeyId": KEY, "PendingWindowInDays": 0}))
    assert caught.value.message == (
        "1 validation error detected: Value '0' at 'pendingWindowInDays' failed to satisfy "
        "constraint: Member must have value greater than or equal to 1"
    )


def test_list_keys_limit_and_alias_pattern_together() -> None:
    with pytest.raises(ValidationException) as caught:
        parse_request(kms("ListKeys"), body({"Limit": 0}))
    assert caught.value.message == (
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )
    with pytest.raises(ValidationException) as caught:
        parse_request(kms("CreateAlias"), body({"AliasName": "alias/é", "TargetKeyId": KEY}))
    assert caught.value.message == (
        "1 validation error detected: Value 'alias/é' at 'aliasName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
    )


def test_what_botocore_sends_parses_back() -> None:
    op = kms("Encrypt")
    params = {
        "KeyId": KEY,
        "Plaintext": b"\x00\x01binary\xff",
        "EncryptionContext": {"a": "b"},
        "GrantTokens": ["t"],
        "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "DryRun": True,
    }
    request = create_serializer("json").serialize_to_request(params, op)
    assert parse_request(op, request["body"]) == params


# -- CloudTrail LookupEvents: timestamps -------------------------------------------------


def test_lookup_events_timestamps_epoch_and_iso() -> None:
    raw = body(
        {
            "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "Encrypt"}],
            "StartTime": 1700000000,
            "EndTime": "2023-11-14T23:13:20.5+01:00",
            "MaxResults": 50,
        }
    )
    parsed = parse_request(cloudtrail("LookupEvents"), raw)
    assert parsed == {
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "Encrypt"}],
        "StartTime": datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
        "EndTime": datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC),
        "MaxResults": 50,
    }
    assert parsed["StartTime"].tzinfo is UTC


def test_lookup_events_fractional_epoch_and_naive_iso_are_utc() -> None:
    raw = body({"StartTime": 1700000000.25, "EndTime": "2023-11-14T22:13:21"})
    parsed = parse_request(cloudtrail("LookupEvents"), raw)
    assert parsed["StartTime"] == datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC)
    assert parsed["EndTime"] == datetime(2023, 11, 14, 22, 13, 21, tzinfo=UTC)


def test_botocore_lookup_events_request_round_trips() -> None:
    op = cloudtrail("LookupEvents")
    start = datetime(2024, 2, 29, 12, 0, tzinfo=UTC)
    params = {"StartTime": start, "EndTime": start + timedelta(hours=1), "MaxResults": 5}
    request = create_serializer("json").serialize_to_request(params, op)
    assert parse_request(op, request["body"]) == params


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("yesterday", "STRING_VALUE can not be converted to a Timestamp"),
        (True, "BOOLEAN_VALUE can not be converted to a Timestamp"),
        (1e300, "NUMBER_VALUE can not be converted to a Timestamp"),
        ([1], "Start of list found where not expected."),
    ],
)
def test_bad_timestamps(bad: Any, message: str) -> None:
    assert serialization_error(cloudtrail("LookupEvents"), body({"StartTime": bad})) == message


def test_lookup_events_nested_validation_paths() -> None:
    raw = body(
        {"LookupAttributes": [{"AttributeKey": "Nope", "AttributeValue": ""}], "MaxResults": 51}
    )
    with pytest.raises(ValidationException) as caught:
        parse_request(cloudtrail("LookupEvents"), raw)
    assert caught.value.message == (
        "3 validation errors detected: "
        "Value 'Nope' at 'lookupAttributes.1.member.attributeKey' failed to satisfy "
        "constraint: Member must satisfy enum value set: [EventId, EventName, ReadOnly, "
        "Username, ResourceType, ResourceName, EventSource, AccessKeyId]; "
        "Value '' at 'lookupAttributes.1.member.attributeValue' failed to satisfy "
        "constraint: Member must have length greater than or equal to 1; "
        "Value '51' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 50"
    )


# -- serialize_response --------------------------------------------------------------


def parse_with_botocore(op: OperationModel, payload: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = create_parser("json").parse(
        {"status_code": 200, "headers": {}, "body": payload}, op.output_shape
    )
    parsed.pop("ResponseMetadata", None)
    return parsed


def test_create_key_metadata_round_trips_through_botocore() -> None:
    created = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    metadata = {
        "AWSAccountId": "111122223333",
        "KeyId": KEY,
        "Arn": ARN,
        "CreationDate": created,
        "DeletionDate": None,
        "Enabled": True,
        "Description": "",
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": "Enabled",
        "Origin": "AWS_KMS",
        "KeyManager": "CUSTOMER",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": True,
        "MultiRegionConfiguration": {
            "MultiRegionKeyType": "PRIMARY",
            "PrimaryKey": {"Arn": ARN, "Region": "us-east-1"},
            "ReplicaKeys": [{"Arn": ARN.replace("us-east-1", "eu-west-1"), "Region": "eu-west-1"}],
        },
        "InternalState": "never on the wire",
    }
    payload = serialize_response(kms("CreateKey"), {"KeyMetadata": metadata, "Extra": 1})
    wire = orjson.loads(payload)
    assert wire["KeyMetadata"]["CreationDate"] == 1704164645.678
    assert "InternalState" not in wire["KeyMetadata"]
    assert "DeletionDate" not in wire["KeyMetadata"]
    assert "Extra" not in wire
    expected = {k: v for k, v in metadata.items() if k != "InternalState" and v is not None}
    assert parse_with_botocore(kms("CreateKey"), payload) == {"KeyMetadata": expected}


def test_naive_and_offset_datetimes_are_sent_as_utc_epoch() -> None:
    naive = datetime(2024, 1, 1)
    offset = datetime(2024, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))
    payload = serialize_response(
        kms("DescribeKey"), {"KeyMetadata": {"KeyId": KEY, "CreationDate": naive}}
    )
    assert orjson.loads(payload)["KeyMetadata"]["CreationDate"] == 1704067200.0
    payload = serialize_response(
        kms("DescribeKey"), {"KeyMetadata": {"KeyId": KEY, "CreationDate": offset}}
    )
    assert orjson.loads(payload)["KeyMetadata"]["CreationDate"] == 1704067200.0


def test_blob_output_is_base64() -> None:
    payload = serialize_response(
        kms("Encrypt"),
        {
            "CiphertextBlob": b"\x00\xffcipher",
            "KeyId": ARN,
            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        },
    )
    assert orjson.loads(payload) == {
        "CiphertextBlob": base64.b64encode(b"\x00\xffcipher").decode(),
        "KeyId": ARN,
        "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }
    assert parse_with_botocore(kms("Encrypt"), payload)["CiphertextBlob"] == b"\x00\xffcipher"


def test_no_output_or_no_data_is_an_empty_object() -> None:
    assert serialize_response(kms("CreateAlias"), {"Anything": 1}) == b"{}"
    assert serialize_response(kms("ListKeys"), None) == b"{}"


def test_lookup_events_response_round_trips() -> None:
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    data = {
        "Events": [
            {
                "EventId": "e1",
                "EventName": "Encrypt",
                "ReadOnly": "true",
                "EventTime": when,
                "EventSource": "kms.amazonaws.com",
                "Resources": [{"ResourceType": "AWS::KMS::Key", "ResourceName": ARN}],
                "CloudTrailEvent": "{}",
            }
        ],
        "NextToken": "n",
    }
    op = cloudtrail("LookupEvents")
    assert parse_with_botocore(op, serialize_response(op, data)) == data


# -- serialize_error / content type -------------------------------------------------------


def test_error_is_read_by_botocore_as_code_and_message() -> None:
    not_found = error_class("NotFoundException")
    status, headers, payload = serialize_error(not_found(f"Key '{ARN}' does not exist"))
    assert status == 400
    assert headers == [
        (b"content-type", b"application/x-amz-json-1.1"),
        (b"x-amzn-errortype", b"NotFoundException"),
    ]
    assert orjson.loads(payload) == {
        "__type": "NotFoundException",
        "message": f"Key '{ARN}' does not exist",
    }
    parsed = create_parser("json").parse(
        {"status_code": status, "headers": dict(headers), "body": payload}, None
    )
    assert parsed["Error"] == {
        "Code": "NotFoundException",
        "Message": f"Key '{ARN}' does not exist",
    }


def test_error_status_and_json_1_0_content_type() -> None:
    class Internal(AwsError):
        code = "KMSInternalException"
        status = 500

    status, headers, _ = serialize_error(Internal("boom"), json_version="1.0")
    assert status == 500
    assert headers[0] == (b"content-type", b"application/x-amz-json-1.0")


def test_content_type_follows_the_model() -> None:
    assert content_type(load_service("kms").json_version) == "application/x-amz-json-1.1"
    assert content_type(None) == "application/x-amz-json-1.0"

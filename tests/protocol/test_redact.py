"""Audit views: compiled per shape, secrets and blobs left out, recursive shapes handled."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import botocore.session
from botocore.model import ServiceModel

from garrison.protocol.redact import audit_view

_session = botocore.session.get_session()


def _model(name: str) -> ServiceModel:
    return _session.get_service_model(name)


def test_encrypt_request_keeps_the_key_and_drops_the_plaintext() -> None:
    op = _model("kms").operation_model("Encrypt")
    view = audit_view(
        op.input_shape,
        {
            "KeyId": "alias/app",
            "Plaintext": b"secret",
            "EncryptionContext": {"purpose": "test"},
            "GrantTokens": ["t1"],
            "NotInTheModel": "x",
        },
    )
    assert view == {
        "keyId": "alias/app",
        "encryptionContext": {"purpose": "test"},
        "grantTokens": ["t1"],
    }


def test_encrypt_response_drops_the_ciphertext() -> None:
    op = _model("kms").operation_model("Encrypt")
    view = audit_view(op.output_shape, {"CiphertextBlob": b"c", "KeyId": "arn:k"})
    assert view == {"keyId": "arn:k"}


def test_sensitive_members_and_session_tokens_are_left_out() -> None:
    create = _model("secretsmanager").operation_model("CreateSecret")
    view = audit_view(create.input_shape, {"Name": "db", "SecretString": "hunter2"})
    assert view == {"name": "db"}
    assume = _model("sts").operation_model("AssumeRole")
    expiry = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    credentials = {
        "AccessKeyId": "ASIA",
        "SecretAccessKey": "s",
        "SessionToken": "t",
        "Expiration": expiry,
    }
    view = audit_view(assume.output_shape, {"Credentials": credentials})
    assert view == {"credentials": {"accessKeyId": "ASIA", "expiration": "2030-01-02T03:04:05Z"}}


def test_wrong_types_and_nulls_give_nothing() -> None:
    op = _model("kms").operation_model("Encrypt")
    assert audit_view(op.input_shape, "not a dict") is None
    assert audit_view(op.input_shape, None) is None
    assert audit_view(None, {"KeyId": "k"}) is None
    assert audit_view(op.input_shape, {"KeyId": None}) == {}


def test_recursive_shapes_compile_and_follow_the_value() -> None:
    # WAFv2's Statement nests Statements (AndStatement -> Statements -> Statement ...)
    op = _model("wafv2").operation_model("CheckCapacity")
    leaf: dict[str, Any] = {
        "ByteMatchStatement": {"SearchString": b"x", "PositionalConstraint": "EXACTLY"}
    }
    nested = {"AndStatement": {"Statements": [{"NotStatement": {"Statement": leaf}}, leaf]}}
    rule = {"Name": "r", "Priority": 1, "Statement": nested}
    view = audit_view(op.input_shape, {"Scope": "REGIONAL", "Rules": [rule]})
    shown_leaf = {"byteMatchStatement": {"positionalConstraint": "EXACTLY"}}
    assert view == {
        "scope": "REGIONAL",
        "rules": [
            {
                "name": "r",
                "priority": 1,
                "statement": {
                    "andStatement": {
                        "statements": [{"notStatement": {"statement": shown_leaf}}, shown_leaf]
                    }
                },
            }
        ],
    }

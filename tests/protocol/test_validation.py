"""validation.py: AWS-worded constraint errors from botocore's models."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.model import ServiceModel

from garrison.errors import ValidationException
from garrison.protocol.specs import load_service
from garrison.protocol.validation import format_errors, validate_input, validation_errors

KEY = "1234abcd-12ab-34cd-56ef-1234567890ab"


def kms_errors(operation: str, params: dict[str, Any]) -> str:
    op = load_service("kms").operation(operation)
    assert op is not None
    with pytest.raises(ValidationException) as caught:
        validate_input(op, params)
    assert caught.value.status == 400
    assert caught.value.code == "ValidationException"
    return caught.value.message


def test_valid_request_passes() -> None:
    op = load_service("kms").operation("Encrypt")
    assert op is not None
    validate_input(op, {"KeyId": KEY, "Plaintext": b"x", "GrantTokens": ["t"]})


def test_missing_required_member_is_value_null() -> None:
    assert kms_errors("Encrypt", {"Plaintext": b"x"}) == (
        "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_all_errors_are_reported_in_model_order() -> None:
    assert kms_errors("Encrypt", {}) == (
        "2 validation errors detected: "
        "Value null at 'keyId' failed to satisfy constraint: Member must not be null; "
        "Value null at 'plaintext' failed to satisfy constraint: Member must not be null"
    )


def test_blob_too_long_counts_bytes_and_never_shows_the_value() -> None:
    message = kms_errors("Encrypt", {"KeyId": KEY, "Plaintext": b"s" * 4097})
    assert message == (
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096"
    )


def test_blob_at_max_length_passes() -> None:
    op = load_service("kms").operation("Encrypt")
    assert op is not None
    validate_input(op, {"KeyId": KEY, "Plaintext": b"s" * 4096})


def test_string_length_bounds() -> None:
    assert kms_errors("Encrypt", {"KeyId": "", "Plaintext": b"x"}) == (
        "1 validation error detected: Value '' at 'keyId' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )
    assert kms_errors("Encrypt", {"KeyId": "k" * 2049, "Plaintext": b"x"}).endswith(
        "at 'keyId' failed to satisfy constraint: "
        "Member must have length less than or equal to 2048"
    )


def test_enum_violation_lists_the_value_set() -> None:
    message = kms_errors(
        "Encrypt", {"KeyId": KEY, "Plaintext": b"x", "EncryptionAlgorithm": "AES_GCM"}
    )
    assert message == (
        "1 validation error detected: Value 'AES_GCM' at 'encryptionAlgorithm' failed to "
        "satisfy constraint: Member must satisfy enum value set: "
        "[SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]"
    )


@pytest.mark.parametrize(
    ("days", "constraint"),
    [
        (0, "Member must have value greater than or equal to 1"),
        (366, "Member must have value less than or equal to 365"),
    ],
)
def test_integer_range(days: int, constraint: str) -> None:
    # The pinned model allows 1..365; KMS's own 7..30 rule belongs to the provider.
    message = kms_errors("ScheduleKeyDeletion", {"KeyId": KEY, "PendingWindowInDays": days})
    assert message == (
        f"1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to "
        f"satisfy constraint: {constraint}"
    )


def test_list_keys_limit_zero() -> None:
    assert kms_errors("ListKeys", {"Limit": 0}) == (
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )


def test_alias_pattern_violation() -> None:
    assert kms_errors("CreateAlias", {"AliasName": "alias/my key", "TargetKeyId": KEY}) == (
        "1 validation error detected: Value 'alias/my key' at 'aliasName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
    )


def test_empty_alias_breaks_length_and_pattern() -> None:
    assert kms_errors("CreateAlias", {"AliasName": "", "TargetKeyId": KEY}) == (
        "2 validation errors detected: "
        "Value '' at 'aliasName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1; "
        "Value '' at 'aliasName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
    )


def test_pattern_is_a_full_match() -> None:
    # A trailing newline satisfies `$` in Python's search, not Java's matches().
    message = kms_errors("CreateAlias", {"AliasName": "alias/x\n", "TargetKeyId": KEY})
    assert "Member must satisfy regular expression pattern" in message


def test_errors_across_members() -> None:
    assert kms_errors("CreateAlias", {"AliasName": "alias/a b"}) == (
        "2 validation errors detected: Value 'alias/a b' at 'aliasName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$; "
        "Value null at 'targetKeyId' failed to satisfy constraint: Member must not be null"
    )


def test_list_of_structures_paths_are_n_member() -> None:
    message = kms_errors(
        "TagResource",
        {"KeyId": KEY, "Tags": [{"TagKey": "", "TagValue": "v"}, {"TagValue": "w"}]},
    )
    assert message == (
        "2 validation errors detected: "
        "Value '' at 'tags.1.member.tagKey' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1; "
        "Value null at 'tags.2.member.tagKey' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_list_length_and_scalar_element_constraints() -> None:
    message = kms_errors(
        "Encrypt", {"KeyId": KEY, "Plaintext": b"x", "GrantTokens": ["t"] * 10 + [""]}
    )
    tokens = "[" + ", ".join(["t"] * 10 + [""]) + "]"
    assert message == (
        "2 validation errors detected: "
        f"Value '{tokens}' at 'grantTokens' failed to satisfy constraint: "
        "Member must have length less than or equal to 10; "
        f"Value '{tokens}' at 'grantTokens' failed to satisfy constraint: "
        "Member must satisfy constraint: [Member must have length greater than or equal to 1]"
    )


def test_sensitive_string_is_never_shown() -> None:
    op = load_service("secretsmanager").operation("CreateSecret")
    assert op is not None
    with pytest.raises(ValidationException) as caught:
        validate_input(op, {"Name": "db", "SecretString": "hunter2" * 10000})
    assert caught.value.message == (
        "1 validation error detected: Value at 'secretString' failed to satisfy constraint: "
        "Member must have length less than or equal to 65536"
    )
    assert "hunter2" not in caught.value.message


def test_format_errors_counts() -> None:
    assert format_errors(["a"]) == "1 validation error detected: a"
    assert format_errors(["a", "b"]) == "2 validation errors detected: a; b"


# -- a small hand-written model: maps, recursion, sensitive structures ---------------

_MODEL = ServiceModel(
    {
        "metadata": {"protocol": "json", "jsonVersion": "1.1", "endpointPrefix": "demo"},
        "operations": {},
        "shapes": {
            "Root": {
                "type": "structure",
                "members": {
                    "Labels": {"shape": "Labels"},
                    "Nodes": {"shape": "NodeMap"},
                    "Tree": {"shape": "Node"},
                    "Secret": {"shape": "Credentials"},
                    "Names": {"shape": "Names"},
                    "Ratio": {"shape": "Ratio"},
                },
            },
            "Labels": {
                "type": "map",
                "key": {"shape": "LabelKey"},
                "value": {"shape": "LabelValue"},
                "max": 2,
            },
            "LabelKey": {"type": "string", "min": 1, "pattern": "^[a-z]+$"},
            "LabelValue": {"type": "string", "max": 3},
            "NodeMap": {"type": "map", "key": {"shape": "LabelKey"}, "value": {"shape": "Node"}},
            "Node": {
                "type": "structure",
                "required": ["Name"],
                "members": {"Name": {"shape": "LabelKey"}, "Children": {"shape": "NodeList"}},
            },
            "NodeList": {"type": "list", "member": {"shape": "Node"}},
            "Credentials": {
                "type": "structure",
                "sensitive": True,
                "members": {"Token": {"shape": "LabelValue"}},
            },
            "Names": {"type": "list", "member": {"shape": "LabelKey"}, "min": 1},
            "Ratio": {"type": "double", "min": 0, "max": 1.5},
        },
    },
    service_name="demo",
)
_ROOT = _MODEL.shape_for("Root")


def errors(value: dict[str, Any]) -> list[str]:
    return validation_errors(_MODEL, _ROOT, value)


def test_map_key_and_value_constraints_are_reported_on_the_map() -> None:
    assert errors({"Labels": {"ok": "v", "Bad": "long"}}) == [
        "Value '{ok=v, Bad=long}' at 'labels' failed to satisfy constraint: "
        "Map keys must satisfy constraint: "
        "[Member must satisfy regular expression pattern: ^[a-z]+$]",
        "Value '{ok=v, Bad=long}' at 'labels' failed to satisfy constraint: "
        "Map value must satisfy constraint: [Member must have length less than or equal to 3]",
    ]


def test_map_size() -> None:
    assert errors({"Labels": {"a": "1", "b": "2", "c": "3"}}) == [
        "Value '{a=1, b=2, c=3}' at 'labels' failed to satisfy constraint: "
        "Member must have length less than or equal to 2"
    ]


def test_recursive_shapes_validate_at_every_depth() -> None:
    tree = {"Name": "a", "Children": [{"Name": "b", "Children": [{"Children": []}]}]}
    assert errors({"Tree": tree}) == [
        "Value null at 'tree.children.1.member.children.1.member.name' failed to satisfy "
        "constraint: Member must not be null"
    ]


def test_map_of_structures_paths_use_the_key() -> None:
    assert errors({"Nodes": {"x": {"Name": "UPPER"}}}) == [
        "Value 'UPPER' at 'nodes.x.name' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^[a-z]+$"
    ]


def test_members_of_a_sensitive_structure_are_hidden() -> None:
    assert errors({"Secret": {"Token": "topsecret"}}) == [
        "Value at 'secret.token' failed to satisfy constraint: "
        "Member must have length less than or equal to 3"
    ]


def test_null_list_element_and_empty_list() -> None:
    assert errors({"Names": []}) == [
        "Value '[]' at 'names' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    ]
    assert errors({"Names": ["a", None]}) == [
        "Value '[a, null]' at 'names' failed to satisfy constraint: "
        "Member must satisfy constraint: [Member must not be null]"
    ]


def test_float_range_prints_the_model_bound() -> None:
    assert errors({"Ratio": 2.5}) == [
        "Value '2.5' at 'ratio' failed to satisfy constraint: "
        "Member must have value less than or equal to 1.5"
    ]
    assert errors({"Ratio": 1.5}) == []


def test_nul_character_is_refused_in_any_string() -> None:
    import pytest as _pytest

    from garrison.errors import ValidationException
    from garrison.protocol.specs import load_service
    from garrison.protocol.validation import validate_input

    op = load_service("kms").operation("CreateKey")
    assert op is not None
    with _pytest.raises(ValidationException) as exc:
        validate_input(op, {"Description": "a\x00b"})
    assert "at 'description'" in exc.value.message
    assert "U+0000" in exc.value.message
    validate_input(op, {"Description": "plain"})

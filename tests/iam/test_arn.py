"""ARN parsing and formatting."""

from __future__ import annotations

import pytest

from garrison.iam.arn import Arn, is_account_id, parse_arn, root_arn

ROUND_TRIPS = [
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "arn:aws:kms:us-east-1:111122223333:alias/my-key",
    "arn:aws:iam::111122223333:root",
    "arn:aws:iam::111122223333:user/division/alice",
    "arn:aws:sts::111122223333:assumed-role/Admin/session",
    "arn:aws:s3:::bucket/key/with/slashes",
    "arn:aws:logs:us-east-1:111122223333:log-group:my-group:*",
    "arn:aws-cn:iam::111122223333:root",
    "arn:aws:iam::aws:policy/AdministratorAccess",
]


@pytest.mark.parametrize("text", ROUND_TRIPS)
def test_parse_and_format_round_trip(text: str) -> None:
    assert str(parse_arn(text)) == text


def test_components() -> None:
    arn = parse_arn("arn:aws:logs:us-east-1:111122223333:log-group:my-group:*")
    assert arn == Arn("aws", "logs", "us-east-1", "111122223333", "log-group:my-group:*")
    assert (arn.resource_type, arn.resource_id) == ("log-group", "my-group:*")


@pytest.mark.parametrize(
    ("text", "resource_type", "resource_id"),
    [
        ("arn:aws:kms:us-east-1:111122223333:key/abc", "key", "abc"),
        ("arn:aws:iam::111122223333:user/path/alice", "user", "path/alice"),
        ("arn:aws:iam::111122223333:root", "", "root"),
    ],
)
def test_resource_type_and_id(text: str, resource_type: str, resource_id: str) -> None:
    arn = parse_arn(text)
    assert (arn.resource_type, arn.resource_id) == (resource_type, resource_id)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not-an-arn",
        "arn:aws:kms:us-east-1:111122223333",  # five components
        "urn:aws:kms:us-east-1:111122223333:key/x",
        "arn::kms:us-east-1:111122223333:key/x",  # no partition
        "arn:aws::us-east-1:111122223333:key/x",  # no service
        "arn:aws:kms:us-east-1:111122223333:",  # no resource
        "arn:aws:kms:us east:111122223333:key/x",
        "arn:AWS:kms:us-east-1:111122223333:key/x",
    ],
)
def test_malformed_arns_raise_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_arn(text)


def test_root_arn() -> None:
    assert root_arn("123456789012") == "arn:aws:iam::123456789012:root"
    assert root_arn("123456789012", partition="aws-cn") == "arn:aws-cn:iam::123456789012:root"
    with pytest.raises(ValueError):
        root_arn("1234")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("123456789012", True),
        ("12345678901", False),
        ("1234567890123", False),
        ("12345678901a", False),
    ],
)
def test_is_account_id(text: str, expected: bool) -> None:
    assert is_account_id(text) is expected

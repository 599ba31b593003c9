"""Key identifiers (ids, ARNs, aliases) and pagination markers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from garrison.context import Principal, RequestContext
from garrison.services.kms.errors import (
    InvalidArnException,
    InvalidMarkerException,
    NotFoundException,
    ValidationException,
)
from garrison.services.kms.identifiers import (
    check_alias_name,
    decode_marker,
    encode_marker,
    page_size,
    parse_key_ref,
)

ACCOUNT = "111122223333"
KEY = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
CTX = RequestContext(
    request_id="r",
    service="kms",
    operation="DescribeKey",
    region="us-east-1",
    principal=Principal(f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, "Root", ACCOUNT),
    now=datetime(2024, 1, 1, tzinfo=UTC),
)


@pytest.mark.parametrize(
    ("text", "key_id", "alias"),
    [
        (KEY, KEY, None),
        (f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY}", KEY, None),
        ("alias/app", None, "alias/app"),
        (f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/app/sub", None, "alias/app/sub"),
    ],
)
def test_the_four_ways_to_name_a_key(text: str, key_id: str | None, alias: str | None) -> None:
    ref = parse_key_ref(CTX, text, aliases=True)
    assert (ref.key_id, ref.alias) == (key_id, alias)


@pytest.mark.parametrize("text", ["alias/app", f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/app"])
def test_aliases_refused_where_aws_refuses_them(text: str) -> None:
    with pytest.raises(NotFoundException) as exc:
        parse_key_ref(CTX, text, aliases=False)
    assert exc.value.message == f"Invalid keyId {text}"


def test_malformed_ids_and_arns() -> None:
    with pytest.raises(NotFoundException, match="Invalid keyId not-a-key"):
        parse_key_ref(CTX, "not-a-key", aliases=True)
    for arn in ("arn:aws:s3:::bucket", "arn:aws:kms:us-east-1:1:grant/x", "arn:bad"):
        with pytest.raises(InvalidArnException):
            parse_key_ref(CTX, arn, aliases=True)


def test_other_account_or_region_names_nothing() -> None:
    for arn in (
        f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{KEY}",
        f"arn:aws:kms:us-east-1:999999999999:key/{KEY}",
    ):
        with pytest.raises(NotFoundException) as exc:
            parse_key_ref(CTX, arn, aliases=True)
        assert exc.value.message == f"Key '{arn}' does not exist"
    alias_arn = f"arn:aws:kms:eu-west-1:{ACCOUNT}:alias/app"
    with pytest.raises(NotFoundException, match="is not found"):
        parse_key_ref(CTX, alias_arn, aliases=True)


def test_alias_prefix() -> None:
    check_alias_name("alias/x")
    with pytest.raises(ValidationException, match='must start with the prefix "alias/"'):
        check_alias_name("x")


def test_markers_are_opaque_and_bound_to_their_listing() -> None:
    marker = encode_marker("keys", KEY)
    assert KEY not in marker
    assert decode_marker("keys", marker) == KEY
    assert decode_marker("keys", None) is None
    for bad in ("!!garbage!!", encode_marker("aliases", "alias/x"), "", "YQ=="):
        with pytest.raises(InvalidMarkerException):
            decode_marker("keys", bad)


def test_page_size() -> None:
    assert page_size(None, default=50, maximum=100) == 50
    assert page_size(500, default=50, maximum=100) == 100
    assert page_size(3, default=50, maximum=100) == 3


def test_a_parsed_arn_is_judged_anew_for_each_caller() -> None:
    # parses are kept per text: who may use an ARN still depends on the caller
    other = "444455556666"
    arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY}"
    alias = f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/app"
    stranger = replace(CTX, principal=Principal(f"arn:aws:iam::{other}:root", other, "Root", other))
    elsewhere = replace(CTX, region="eu-west-1")
    for _ in range(2):  # the second round reads the kept parses
        own = parse_key_ref(CTX, arn, aliases=True)
        assert (own.key_id, own.account) == (KEY, None)
        crossing = parse_key_ref(stranger, arn, aliases=True, cross_account=True)
        assert (crossing.key_id, crossing.account) == (KEY, ACCOUNT)
        with pytest.raises(NotFoundException, match="does not exist"):
            parse_key_ref(stranger, arn, aliases=True)
        with pytest.raises(NotFoundException, match="does not exist"):
            parse_key_ref(elsewhere, arn, aliases=True)
        assert parse_key_ref(stranger, alias, aliases=True, cross_account=True).account == ACCOUNT
        with pytest.raises(NotFoundException, match="is not found"):
            parse_key_ref(stranger, alias, aliases=True)
        with pytest.raises(NotFoundException, match="Invalid keyId"):
            parse_key_ref(CTX, alias, aliases=False)
        with pytest.raises(NotFoundException, match="Invalid keyId"):
            parse_key_ref(CTX, "alias/app", aliases=False)
        assert parse_key_ref(CTX, "alias/app", aliases=True).alias == "alias/app"


def test_malformed_identifiers_are_refused_every_time() -> None:
    for _ in range(2):
        with pytest.raises(NotFoundException, match="Invalid keyId not-a-key"):
            parse_key_ref(CTX, "not-a-key", aliases=True)
        with pytest.raises(InvalidArnException):
            parse_key_ref(CTX, "arn:aws:s3:::bucket", aliases=True)

"""How callers name keys and aliases, and the opaque pagination markers.

A ``KeyId`` member may be, where the operation admits it:

    1234abcd-12ab-34cd-56ef-1234567890ab                     key id
    arn:aws:kms:us-east-1:111122223333:key/1234abcd-...      key ARN
    alias/ExampleAlias                                       alias name   (some operations)
    arn:aws:kms:us-east-1:111122223333:alias/ExampleAlias    alias ARN    (some operations)

Cryptographic operations and DescribeKey take all four; key-management
operations (EnableKey, ScheduleKeyDeletion, PutKeyPolicy, ...) take only the
first two and answer an alias with NotFoundException "Invalid keyId ...", as
AWS does. An ARN of another Region names nothing (NotFoundException). An ARN of
another account names that account's key (or alias) only for the operations AWS
allows cross-account (`parse_key_ref(..., cross_account=True)`, see
`services/kms/actions.CROSS_ACCOUNT`); alias names always mean the caller's own.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from garrison.context import RequestContext
from garrison.iam.arn import parse_arn
from garrison.services.kms.domain import ALIAS_PREFIX, alias_arn, is_key_id, key_arn
from garrison.services.kms.errors import (
    InvalidArnException,
    InvalidMarkerException,
    NotFoundException,
    ValidationException,
)

ALIAS_PREFIX_MESSAGE = (
    'Alias must start with the prefix "alias/". Please see '
    "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
)


@dataclass(frozen=True, slots=True)
class KeyRef:
    """A parsed key identifier: exactly one of `key_id` and `alias` is set."""

    text: str
    key_id: str | None = None
    alias: str | None = None
    account: str | None = None  # another account's key or alias, named by ARN


def invalid_key_id(text: str) -> NotFoundException:
    return NotFoundException(f"Invalid keyId {text}")


def key_not_found(ctx: RequestContext, key_id: str) -> NotFoundException:
    return NotFoundException(f"Key '{key_arn(ctx.account_id, ctx.region, key_id)}' does not exist")


def alias_not_found(ctx: RequestContext, name: str) -> NotFoundException:
    return NotFoundException(f"Alias {alias_arn(ctx.account_id, ctx.region, name)} is not found.")


def parse_key_ref(
    ctx: RequestContext, text: str, *, aliases: bool, cross_account: bool = False
) -> KeyRef:
    """Parse a KeyId member; aliases only where the operation admits them, ARNs of
    other accounts only where it may be used cross-account."""
    shape = _SHAPES.get(text)
    if shape is None:
        shape = _shape(text)  # raises for a malformed identifier (never kept)
        if len(text) <= MAX_SHAPE_TEXT:
            if len(_SHAPES) >= MAX_SHAPES:
                _SHAPES.clear()
            _SHAPES[text] = shape
    ref, account, region = shape
    if ref.alias is not None and not aliases:
        raise invalid_key_id(text)
    if account is None:  # a key id or an alias name: the caller's own
        return ref
    other = _other_account(ctx, account, region, cross_account)
    if other is None:
        if ref.alias is not None:
            raise NotFoundException(f"Alias {text} is not found.")
        raise NotFoundException(f"Key '{text}' does not exist")
    if other:
        return KeyRef(text, key_id=ref.key_id, alias=ref.alias, account=other)
    return ref


# A KeyId string -> its parse: (the KeyRef it names in the caller's own account, the
# ARN's account and Region or None). What is left per call (ARN scope, aliases) needs
# no regex; every Encrypt's KeyId was parsed anew (str checks, two regexes, a KeyRef).
# Bounded: at most MAX_SHAPES texts of up to MAX_SHAPE_TEXT characters (about 10 MB).
_Shape = tuple[KeyRef, str | None, str]
_SHAPES: dict[str, _Shape] = {}
MAX_SHAPES = 16_384
MAX_SHAPE_TEXT = 512


def _shape(text: str) -> _Shape:
    if text.startswith("arn:"):
        try:
            arn = parse_arn(text)
        except ValueError:
            raise InvalidArnException(f"Invalid arn {text}") from None
        kind = arn.resource_type
        if arn.service != "kms" or kind not in ("key", "alias"):
            raise InvalidArnException(f"Invalid arn {text}")
        if kind == "alias":
            return KeyRef(text, alias=arn.resource), arn.account, arn.region
        key_id = arn.resource_id
        if not is_key_id(key_id):
            raise invalid_key_id(text)
        return KeyRef(text, key_id=key_id), arn.account, arn.region
    if text.startswith(ALIAS_PREFIX):
        return KeyRef(text, alias=text), None, ""
    if not is_key_id(text):
        raise invalid_key_id(text)
    return KeyRef(text, key_id=text), None, ""


def _other_account(ctx: RequestContext, account: str, region: str, allowed: bool) -> str | None:
    """The caller's own account -> ""; another usable one -> its id; None when the ARN
    cannot name anything for this caller (another Region, or not cross-account)."""
    if region != ctx.region:
        return None
    if account == ctx.account_id:
        return ""
    return account if allowed else None


def check_alias_name(name: str) -> None:
    """An alias name must start with ``alias/`` (ValidationException, AWS's text)."""
    if not name.startswith(ALIAS_PREFIX):
        raise ValidationException(ALIAS_PREFIX_MESSAGE)


# --------------------------------------------------------------------------
# Pagination markers
# --------------------------------------------------------------------------


def encode_marker(kind: str, position: str) -> str:
    """An opaque marker: which listing it belongs to and where the next page starts."""
    return base64.urlsafe_b64encode(f"{kind}\x00{position}".encode()).decode()


def decode_marker(kind: str, marker: str | None) -> str | None:
    """The position a marker holds; InvalidMarkerException if it is not one of `kind`'s."""
    if marker is None:
        return None
    try:
        text = base64.urlsafe_b64decode(marker.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidMarkerException() from None
    found, sep, position = text.partition("\x00")
    if not sep or found != kind or not position:
        raise InvalidMarkerException()
    return position


def page_size(limit: int | None, *, default: int, maximum: int) -> int:
    """Limit as KMS applies it: absent -> default; above the documented maximum -> maximum."""
    if limit is None:
        return default
    return max(1, min(limit, maximum))

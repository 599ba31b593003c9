"""Secrets Manager's domain: staging labels, limits, a secret value, and the checks of
names, tokens, labels and tags that every use case shares.

A secret (`store.Secret`) has versions (`store.Version`); each version holds one value
(`NewValue`: a SecretString or a SecretBinary) and carries staging labels, each label
on one version of the secret at a time:

    new value ──> AWSCURRENT ──(next new value)──> AWSPREVIOUS ──(next)──> no label
                  (deprecated: listed with IncludeDeprecated, removed beyond 100
                   versions once older than a day)
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from garrison.services.secretsmanager.errors import InvalidParameterException
from garrison.services.secretsmanager.store import Secret, Version

CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"
PENDING = "AWSPENDING"
MAX_VERSIONS = 100  # unlabeled versions beyond this are removed ...
KEEP_YOUNGER_THAN = 24 * 3600.0  # ... unless created less than 24 hours ago
MAX_STAGES = 20  # staging labels attached across the versions of a secret
MAX_TAGS = 50
MAX_VALUE_BYTES = 65536
DAY = 86400.0
RESOURCE_TYPE = "AWS::SecretsManager::Secret"

NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
_TAG_TEXT = re.compile(r"[\w\s+\-=._:/@]*")
NOT_FOUND = "Secrets Manager can't find the specified secret."
MARKED_DELETED = (
    "You can't perform this operation on the secret because it was marked for deletion."
)
BOTH_VALUES = (
    "You can't specify both a binary secret value and a string secret value in the same secret."
)


@dataclass(frozen=True)
class NewValue:
    """A SecretString (`kind` "string") or SecretBinary ("binary") as bytes."""

    kind: str
    data: bytes


@dataclass(frozen=True)
class Opened:
    secret: Secret
    version: Version
    stages: list[str]
    value: NewValue


def value_of(secret_string: str | None, secret_binary: bytes | None) -> NewValue | None:
    if secret_string is not None and secret_binary is not None:
        raise InvalidParameterException(BOTH_VALUES)
    if secret_string is not None:
        out = NewValue("string", secret_string.encode())
    elif secret_binary is not None:
        out = NewValue("binary", bytes(secret_binary))
    else:
        return None
    if len(out.data) > MAX_VALUE_BYTES:
        raise InvalidParameterException(
            f"The secret value exceeds the maximum size of {MAX_VALUE_BYTES} bytes."
        )
    return out


def check_token(token: str | None) -> None:
    if token is not None and not 32 <= len(token) <= 64:
        raise InvalidParameterException(
            "ClientRequestToken must be between 32 and 64 characters long."
        )


def check_stage(stage: str) -> None:
    if not 1 <= len(stage) <= 256:
        raise InvalidParameterException("A staging label must be 1 to 256 characters long.")


def check_tags(tags: Sequence[tuple[str, str]]) -> None:
    seen: set[str] = set()
    for key, value in tags:
        if not 1 <= len(key) <= 128 or len(value) > 256:
            raise InvalidParameterException(
                "A tag key must be 1 to 128 characters and a tag value at most 256 characters."
            )
        if not _TAG_TEXT.fullmatch(key) or not _TAG_TEXT.fullmatch(value):
            raise InvalidParameterException(
                "Tag keys and values can contain only letters, numbers, spaces and + - = . _ : / @."
            )
        if key.lower().startswith("aws:"):
            raise InvalidParameterException(
                "Tag keys beginning with aws: are reserved for AWS and can't be used."
            )
        if key in seen:
            raise InvalidParameterException(f"Duplicate tag key: {key}.")
        seen.add(key)


def day_of(ts: float) -> float:
    return ts - (ts % DAY)


def digest_input(value: NewValue) -> bytes:
    return value.kind.encode() + b"\x00" + value.data


def new_token() -> str:
    return str(uuid.uuid4())


def to_datetime(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)

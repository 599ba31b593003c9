"""ListSecrets' filters, order and pages (also BatchGetSecretValue's Filters).

Filters as AWS documents them: name, tag-key, tag-value, primary-region and
owning-service are case-sensitive prefix matches, description a prefix match
ignoring case, `all` every word of the value against every attribute. The values
of one filter are alternatives, the filters all apply, and a value starting with
`!` excludes what it matches. NextTokens are opaque offsets.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from typing import Any

import orjson

from garrison.services.secretsmanager.errors import (
    InvalidNextTokenException,
    InvalidParameterException,
)
from garrison.services.secretsmanager.store import Secret

_FILTER_VALUE = re.compile(r"!?[a-zA-Z0-9 :_@/+=.\-!]*")
FILTER_KEYS = frozenset(
    {"description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all"}
)
SORT_BY = frozenset({"created-date", "last-accessed-date", "last-changed-date", "name"})


def sort_key(secret: Secret, sort_by: str | None) -> tuple[Any, str]:
    if sort_by == "name":
        return secret.name, secret.arn
    if sort_by == "last-accessed-date":
        return secret.last_accessed or 0.0, secret.arn
    if sort_by == "last-changed-date":
        return secret.last_changed, secret.arn
    return secret.created_at, secret.arn


def page_size(max_results: int | None, limit: int) -> int:
    if max_results is None:
        return limit
    if not 1 <= max_results <= limit:
        raise InvalidParameterException(f"MaxResults must be between 1 and {limit}.")
    return max_results


def token_after(offset: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"offset": offset})).decode()


def read_token(token: str | None) -> int:
    if token is None:
        return 0
    try:
        offset = orjson.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise InvalidNextTokenException("The NextToken value is invalid.") from None
    if not isinstance(offset, int) or offset < 0:
        raise InvalidNextTokenException("The NextToken value is invalid.")
    return offset


def check_filters(filters: Sequence[Any]) -> list[tuple[str, list[str]]]:
    out = []
    for f in filters:
        key = f.get("Key")
        values = f.get("Values")
        if key not in FILTER_KEYS:
            raise InvalidParameterException(
                f"Invalid filter key: {key}. Valid keys are description, name, tag-key, "
                "tag-value, primary-region, owning-service, all."
            )
        if not values or len(values) > 10:
            raise InvalidParameterException("A filter must have 1 to 10 values.")
        for value in values:
            if len(value) > 512 or not _FILTER_VALUE.fullmatch(value):
                raise InvalidParameterException(f"Invalid filter value: {value}")
        out.append((key, list(values)))
    return out


def _prefix(texts: Sequence[str], value: str, fold: bool) -> bool:
    if fold:
        return any(t.lower().startswith(value.lower()) for t in texts)
    return any(t.startswith(value) for t in texts)


def matches(secret: Secret, tags: dict[str, str], key: str, values: Sequence[str]) -> bool:
    """One filter: its values are alternatives; a value starting with ! negates."""
    positives = [v for v in values if not v.startswith("!")]
    negatives = [v[1:] for v in values if v.startswith("!")]

    def hit(value: str) -> bool:
        if key == "name":
            return _prefix([secret.name], value, False)
        if key == "description":
            return _prefix([secret.description or ""], value, True)
        if key == "tag-key":
            return _prefix(list(tags), value, False)
        if key == "tag-value":
            return _prefix(list(tags.values()), value, False)
        if key == "primary-region":  # a replica's is its primary's Region
            primary = secret.primary_arn.split(":")[3] if secret.primary_arn else secret.region
            return _prefix([primary], value, False)
        if key == "owning-service":
            return _prefix([secret.owning_service or ""], value, False) and bool(
                secret.owning_service
            )
        words = [w for w in re.split(r"[\s/_+=.@:-]+", value) if w]
        texts = [secret.name, secret.description or "", *tags, *tags.values()]
        pieces = [p for t in texts for p in re.split(r"[\s/_+=.@:-]+", t) if p] + texts
        return all(_prefix(pieces, w, True) for w in words)

    if negatives and any(hit(v) for v in negatives):
        return False
    return not positives or any(hit(v) for v in positives)

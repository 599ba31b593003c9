"""IAM's pagination: Marker / MaxItems / IsTruncated, with opaque markers.

A marker is the sort key of the last item returned, base64url-encoded, so a
page starts after it even when items were added or removed in between (no
offsets that shift). MaxItems is 1..1000 (the model checks it), default 100.
A marker this server did not issue is refused with ValidationError.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from garrison.services.iam.errors import ValidationError

T = TypeVar("T")
DEFAULT_MAX_ITEMS = 100
_PREFIX = "g1."


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    marker: str | None  # None: this is the last page

    def wire(self, name: str, items: Sequence[object]) -> dict[str, Any]:
        """`{name: items, "IsTruncated": ..., "Marker": ...}` for a response."""
        out: dict[str, Any] = {name: list(items), "IsTruncated": self.marker is not None}
        if self.marker is not None:
            out["Marker"] = self.marker
        return out


def encode_marker(key: str) -> str:
    return _PREFIX + base64.urlsafe_b64encode(key.encode()).decode()


def decode_marker(marker: str | None) -> str | None:
    if marker is None:
        return None
    if not marker.startswith(_PREFIX):
        raise ValidationError("Invalid Marker.")
    try:
        return base64.urlsafe_b64decode(marker[len(_PREFIX) :].encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationError("Invalid Marker.") from None


def page_of(
    items: Sequence[T], key: Callable[[T], str], marker: str | None, max_items: int | None
) -> Page[T]:
    """One page of `items` (sorted here by `key`) after `marker`."""
    after = decode_marker(marker)
    ordered = sorted(items, key=key)
    if after is not None:
        ordered = [item for item in ordered if key(item) > after]
    limit = max_items or DEFAULT_MAX_ITEMS
    if len(ordered) > limit:
        return Page(ordered[:limit], encode_marker(key(ordered[limit - 1])))
    return Page(list(ordered), None)


def keyset_page(rows: list[T], max_items: int, key: Callable[[T], str]) -> Page[T]:
    """A page from rows a store read after the marker's key, one more than a page."""
    if len(rows) > max_items:
        rows = rows[:max_items]
        return Page(rows, encode_marker(key(rows[-1])))
    return Page(rows, None)

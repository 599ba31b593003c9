"""GetParametersByPath's ParameterFilters, as AWS documents them for that operation.

Only ``Type``, ``KeyId`` and ``Label`` apply to GetParametersByPath (``Name``,
``Path``, ``Tier``, ``DataType`` and ``tag:`` keys are DescribeParameters'):

    Type    Equals | BeginsWith   String, StringList, SecureString
    KeyId   Equals | BeginsWith   the KeyId a SecureString was stored with
    Label   Equals                the version carrying one of the labels

Each key at most once; every filter needs Values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from garrison.services.ssm.domain import PARAMETER_TYPES, ParameterVersion
from garrison.services.ssm.errors import InvalidFilterKey, InvalidFilterOption, InvalidFilterValue

_KEYS = ("Type", "KeyId", "Label")
_OPTIONS = {
    "Type": ("Equals", "BeginsWith"),
    "KeyId": ("Equals", "BeginsWith"),
    "Label": ("Equals",),
}


@dataclass(frozen=True, slots=True)
class Match:
    option: str
    values: tuple[str, ...]

    def admits(self, value: str | None) -> bool:
        if value is None:
            return False
        if self.option == "Equals":
            return value in self.values
        return any(value.startswith(v) for v in self.values)


@dataclass(frozen=True, slots=True)
class PathFilters:
    type: Match | None = None
    key_id: Match | None = None
    labels: tuple[str, ...] | None = None

    def admits(self, version: ParameterVersion) -> bool:
        if self.type is not None and not self.type.admits(version.type):
            return False
        return self.key_id is None or self.key_id.admits(version.key_id)


def path_filters(filters: Sequence[Mapping[str, Any]]) -> PathFilters:
    """The request's ParameterFilters, checked; raises InvalidFilter* as AWS does."""
    seen: dict[str, Match] = {}
    for item in filters:
        key = item["Key"]
        if key not in _KEYS:
            raise InvalidFilterKey(
                f"The following filter key is not valid: {key}. Valid filter keys include: "
                "[Type, KeyId, Label]."
            )
        if key in seen:
            raise InvalidFilterKey(
                f"The following filter is duplicated in the request: {key}. A request can "
                "contain only one occurrence of a specific filter."
            )
        option = item.get("Option", "Equals")
        if option not in _OPTIONS[key]:
            raise InvalidFilterOption(
                f"The following filter option is not valid: {option}. Valid options include: "
                f"[{', '.join(_OPTIONS[key])}]."
            )
        values = tuple(item.get("Values") or ())
        if not values:
            raise InvalidFilterValue(
                f"The following filter values are missing : null for filter key {key}."
            )
        if key == "Type":
            for value in values:
                if value not in PARAMETER_TYPES:
                    raise InvalidFilterValue(
                        f"The following filter value is not valid: {value}. Valid values "
                        "include: [String, StringList, SecureString]."
                    )
        seen[key] = Match(option, values)
    label = seen.get("Label")
    return PathFilters(seen.get("Type"), seen.get("KeyId"), label.values if label else None)

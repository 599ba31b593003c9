"""DescribeParameters: the parameters' metadata (never values), filtered and paged.

Two filter forms, never together (ValidationException):

    Filters           the older form: Name (begins with), Type, KeyId (equal)
    ParameterFilters  Key          Option (default)                 Values
                      Name         Equals | BeginsWith | Contains   names
                      Type         Equals | BeginsWith              String, StringList,
                                                                    SecureString
                      KeyId        Equals | BeginsWith              a SecureString's KeyId
                      Path         OneLevel | Recursive (OneLevel)  paths
                      Tier         Equals | BeginsWith              Standard, Advanced,
                                                                    Intelligent-Tiering
                      DataType     Equals | BeginsWith              text, aws:ec2:image,
                                                                    aws:ssm:integration
                      tag:<key>    Equals | BeginsWith              tag values (none: the
                                                                    key is there)

``Label`` is GetParametersByPath's only (AWS: "For DescribeParameters, all of
the listed patterns are valid except Label") -> InvalidFilterKey; a key twice ->
InvalidFilterKey; an option the key does not take -> InvalidFilterOption; a
value the key does not take, or no Values -> InvalidFilterValue. Every
filter must hold (and, within one filter, any of its values).

Authorisation is ``ssm:DescribeParameters`` on ``*``, as AWS: the listing is not
narrowed by the caller's permissions on each parameter. ``Shared`` lists the
parameters of other accounts (same Region) whose resource policy lets the
caller describe them; Garrison has no AWS RAM, so a policy put with
PutResourcePolicy is enough (AWS also wants the share promoted in RAM).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from garrison.api import Call
from garrison.services.ssm import store
from garrison.services.ssm.actions import ACTIONS
from garrison.services.ssm.domain import (
    ADVANCED,
    INTELLIGENT_TIERING,
    PARAMETER_TYPES,
    STANDARD,
    TEXT,
    UNSERVED_DATA_TYPES,
    Parameter,
    ParameterVersion,
)
from garrison.services.ssm.errors import (
    InvalidFilterKey,
    InvalidFilterOption,
    InvalidFilterValue,
    ValidationException,
)
from garrison.services.ssm.names import check_path
from garrison.services.ssm.paging import next_token_after, read_token
from garrison.services.ssm.sharing import policy_of

_KEYS = ("Name", "Type", "KeyId", "Path", "Tier", "DataType")
_EQ = ("BeginsWith", "Equals")
_OPTIONS: dict[str, tuple[str, ...]] = {
    "Name": (*_EQ, "Contains"),
    "Type": _EQ,
    "KeyId": _EQ,
    "Path": ("Recursive", "OneLevel"),
    "Tier": _EQ,
    "DataType": _EQ,
}
_VALUES: dict[str, tuple[str, ...]] = {
    "Type": PARAMETER_TYPES,
    "Tier": (STANDARD, ADVANCED, INTELLIGENT_TIERING),
    "DataType": (TEXT, *UNSERVED_DATA_TYPES),
}
BOTH_FORMS = "You can use either Filters or ParameterFilters in a single request."
RESERVED_PATH = (
    'Filters for common parameters can\'t be prefixed with "aws" or "ssm" (case-insensitive). '
    "When using global parameters, please specify within a global namespace."
)


@dataclass(frozen=True, slots=True)
class Test:
    """One filter: `option` over `values` (empty: only that the field is present)."""

    key: str
    option: str
    values: tuple[str, ...]

    def admits(self, value: str | None) -> bool:
        if value is None:
            return False
        if not self.values:
            return True
        if self.option == "Equals":
            return value in self.values
        if self.option == "Contains":
            return any(v in value for v in self.values)
        return any(value.startswith(v) for v in self.values)


@dataclass(frozen=True, slots=True)
class PathTest:
    prefixes: tuple[str, ...]  # each with one trailing slash
    recursive: bool

    def admits(self, name: str) -> bool:
        for prefix in self.prefixes:
            if prefix == "/" and not name.startswith("/"):
                # the root path: top-level names, with or without their slash
                rest = name
            elif name.startswith(prefix):
                rest = name[len(prefix) :]
            else:
                continue
            if self.recursive or "/" not in rest:
                return True
        return False


@dataclass(frozen=True, slots=True)
class DescribeFilters:
    tests: tuple[Test, ...] = ()
    tags: tuple[Test, ...] = ()
    path: PathTest | None = None

    def admits(self, version: ParameterVersion, tags: Mapping[str, str]) -> bool:
        name = version.parameter.name
        if self.path is not None and not self.path.admits(name):
            return False
        fields = {
            "Name": name,
            "Type": version.type,
            "KeyId": version.key_id,
            "Tier": version.tier,
            "DataType": version.data_type,
        }
        if not all(t.admits(fields[t.key]) for t in self.tests):
            return False
        return all(t.admits(tags.get(t.key)) for t in self.tags)


def describe_filters(
    filters: Sequence[Mapping[str, Any]], parameter_filters: Sequence[Mapping[str, Any]]
) -> DescribeFilters:
    """The request's filters, checked as AWS checks them (see the module doc)."""
    if filters and parameter_filters:
        raise ValidationException(BOTH_FORMS)
    if filters:
        return _old_filters(filters)
    tests: list[Test] = []
    tags: list[Test] = []
    path: PathTest | None = None
    seen: set[str] = set()
    for item in parameter_filters:
        key = item["Key"]
        is_tag = key.startswith("tag:")
        if not is_tag and key not in _KEYS:
            raise InvalidFilterKey(
                f"The following filter key is not valid: {key}. Valid filter keys include: "
                "[Path, Name, Type, KeyId, Tier, DataType, tag:<key>]."
            )
        if key in seen:
            raise InvalidFilterKey(
                f"The following filter is duplicated in the request: {key}. A request can "
                "contain only one occurrence of a specific filter."
            )
        seen.add(key)
        option = item.get("Option") or ("OneLevel" if key == "Path" else "Equals")
        allowed = _EQ if is_tag else _OPTIONS[key]
        if option not in allowed:
            raise InvalidFilterOption(
                f"The following filter option is not valid: {option}. Valid options include: "
                f"[{', '.join(allowed)}]."
            )
        values = tuple(item.get("Values") or ())
        if not values and not is_tag:
            raise InvalidFilterValue(
                f"The following filter values are missing : null for filter key {key}."
            )
        for value in values:
            # a prefix (BeginsWith) need not be a whole value
            if key in _VALUES and option == "Equals" and value not in _VALUES[key]:
                raise InvalidFilterValue(
                    f"The following filter value is not valid: {value}. Valid values include: "
                    f"[{', '.join(_VALUES[key])}]."
                )
        if key == "Path":
            path = PathTest(tuple(_path(v) for v in values), option == "Recursive")
        elif is_tag:
            tags.append(Test(key.removeprefix("tag:"), option, values))
        else:
            tests.append(Test(key, option, values))
    return DescribeFilters(tuple(tests), tuple(tags), path)


def _path(value: str) -> str:
    if value.lstrip("/").lower().startswith(("aws", "ssm")):
        raise ValidationException(RESERVED_PATH)
    return check_path(value)


def _old_filters(filters: Sequence[Mapping[str, Any]]) -> DescribeFilters:
    tests: list[Test] = []
    seen: set[str] = set()
    for item in filters:
        key = item["Key"]  # the model's enum: Name, Type, KeyId
        if key in seen:
            raise InvalidFilterKey(
                f"The following filter is duplicated in the request: {key}. A request can "
                "contain only one occurrence of a specific filter."
            )
        seen.add(key)
        values = tuple(item["Values"])
        if key == "Type":
            for value in values:
                if value not in PARAMETER_TYPES:
                    raise InvalidFilterValue(
                        f"The following filter value is not valid: {value}. Valid values "
                        "include: [String, StringList, SecureString]."
                    )
        tests.append(Test(key, "BeginsWith" if key == "Name" else "Equals", values))
    return DescribeFilters(tuple(tests))


class Describer:
    def __init__(self, parameters: Any) -> None:
        # the ParameterStore: its authoriser (Any: no import cycle)
        self.parameters = parameters

    def describe(
        self,
        call: Call,
        filters: DescribeFilters,
        *,
        shared: bool,
        max_results: int,
        next_token: str | None,
    ) -> tuple[list[ParameterVersion], str | None]:
        action = ACTIONS["DescribeParameters"].action
        self.parameters.authorizer.authorize(call, action, "*", {})
        after = read_token(next_token)
        out: list[ParameterVersion] = []
        last_key = ""
        candidates = self._shared(call, after) if shared else self._own(call, after)
        for key, parameter in candidates:
            version = store.get_version(call.tx, parameter)
            if version is None:
                continue
            tags = store.tags_of(call.tx, parameter.parameter_id) if filters.tags else {}
            if not filters.admits(version, tags):
                continue
            if len(out) == max_results:
                return out, next_token_after(last_key)
            out.append(version)
            last_key = key
        return out, None

    def _own(self, call: Call, after: str | None) -> Iterator[tuple[str, Parameter]]:
        ctx = call.ctx
        for parameter in store.list_in_account(call.tx, ctx.account_id, ctx.region, after):
            yield parameter.name, parameter

    def _shared(self, call: Call, after: str | None) -> Iterator[tuple[str, Parameter]]:
        """Other accounts' parameters whose resource policy lets the caller describe them
        (and whose own policies allow it too: a cross-account request), by ARN."""
        action = ACTIONS["DescribeParameters"].action
        authorizer = self.parameters.authorizer
        for parameter in store.shared_candidates(call.tx, call.ctx.account_id, call.ctx.region):
            if after is not None and parameter.arn <= after:
                continue
            policy = policy_of(call.tx, parameter)
            if policy is None:
                continue
            verdict = authorizer.evaluate(
                call,
                action,
                parameter.arn,
                {},
                resource_policy=policy,
                resource_account=parameter.account_id,
            )
            if verdict.allowed:
                yield parameter.arn, parameter

"""Condition operators and wildcard patterns of the IAM policy language.

`garrison.iam.policy` parses a document; this module compiles the parts of it
that compare values: the ``Condition`` block, and the wildcard patterns shared by
``Action``, ``Resource`` and the String/ARN operators. Everything is compiled once
(regexes, parsed numbers, dates, networks) into closures over a *lookup*: the
request context with lower-cased keys (condition keys are case-insensitive,
values are not).

Operators: String{Equals,NotEquals,EqualsIgnoreCase,NotEqualsIgnoreCase,Like,
NotLike}, Numeric{Equals,NotEquals,LessThan,LessThanEquals,GreaterThan,
GreaterThanEquals}, Date{...same six...}, Bool, BinaryEquals, IpAddress,
NotIpAddress, Arn{Equals,Like,NotEquals,NotLike}, Null; each but Null with an
``IfExists`` suffix and a ``ForAnyValue:`` / ``ForAllValues:`` prefix.

How a condition evaluates (one operator, one key; blocks and keys are ANDed,
the policy's values for one key are ORed, NORed under a negated operator):

    operator form              key absent or empty   key present (values v1..vn)
    -------------------------  --------------------  ------------------------------
    Op (positive)              false                 some vi matches some value
    Op (negated: ...Not...)    true                  no vi matches any value
    OpIfExists                 true                  as Op
    ForAnyValue:Op             false                 some vi passes the element test
    ForAnyValue:OpIfExists     true                  as ForAnyValue:Op
    ForAllValues:Op[IfExists]  true                  every vi passes the element test
    Null: "true"               true                  false
    Null: "false"              false                 true

The element test is "matches some policy value" for a positive operator and
"matches none" for a negated one. A context value that is not of the operator's
type (``abc`` for a Numeric operator, a malformed IP) passes neither test: it
never satisfies a positive or a negated comparison. The negated operators are
StringNotEquals, StringNotEqualsIgnoreCase, StringNotLike, NumericNotEquals,
DateNotEquals, NotIpAddress, ArnNotEquals, ArnNotLike.

Policy variables (``${aws:username}``, ``${aws:PrincipalTag/team, 'none'}``, and
the escapes ``${*}`` ``${?}`` ``${$}``) are substituted in String and ARN
operator values and in ``Resource`` when the policy's Version is 2012-10-17; a
substituted value is always literal (a ``*`` in a user name is no wildcard). A
variable whose key is absent or multi-valued, with no default, cannot be
resolved: that policy value matches nothing, and under a negated operator it
makes the element test fail (AWS: "any attempt to match it fails and causes the
statement to be invalid"), so an unresolved variable never widens a statement's
reach and never silently lifts a Deny built on a negation either way.

Other choices, where AWS's documentation is silent:
- ``*`` alone matches any value under the ARN operators too (as in Resource).
- ARN patterns are matched component by component: in the first five
  colon-separated components ``*``/``?`` do not cross ``:``; in the resource part
  they match anything, ``:`` and ``/`` included.
- BinaryEquals compares base64-decoded bytes; context values are base64 text.
- Date values are ISO 8601 (a missing zone means UTC) or epoch seconds.
- Null and the set qualifiers do not combine (``ForAnyValue:Null`` is rejected).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

Lookup = Mapping[str, tuple[str, ...]]
"""The request context as conditions see it: lower-cased keys, tuples of values."""

MATCH, NO_MATCH, UNKNOWN = 1, 0, -1
"""Outcome of testing one value: matched some pattern, matched none, or could not
tell (a variable did not resolve, or the value is not of the operator's type)."""

ValueTest = Callable[[str, Lookup], int]


class PolicyError(ValueError):
    """A policy document AWS would refuse as malformed; `.reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------
# Policy variables and wildcard patterns
# --------------------------------------------------------------------------


class _Var(NamedTuple):
    key: str  # lower-cased condition key
    default: str | None


class _Literal(NamedTuple):
    text: str  # from ${*}, ${?}, ${$}: never a wildcard


_Part = str | _Literal | _Var  # a bare str is policy text, where * and ? are wildcards
_VAR = re.compile(r"\$\{([^}]*)\}")
_VAR_BODY = re.compile(r"\s*([^\s,'{}$]+)\s*(?:,\s*'([^']*)'\s*)?")
_ESCAPES = {"*", "?", "$"}


def _parse_parts(text: str, variables: bool) -> tuple[_Part, ...]:
    if not variables or "${" not in text:
        return (text,)
    parts: list[_Part] = []
    pos = 0
    for m in _VAR.finditer(text):
        if m.start() > pos:
            parts.append(text[pos : m.start()])
        body = m.group(1)
        var = _VAR_BODY.fullmatch(body)
        if body in _ESCAPES:
            parts.append(_Literal(body))
        elif var:
            parts.append(_Var(var.group(1).lower(), var.group(2)))
        else:  # not a variable: keep the text as written
            parts.append(m.group(0))
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:])
    return tuple(parts)


def _resolve(var: _Var, lookup: Lookup) -> str | None:
    values = lookup.get(var.key)
    if values is not None and len(values) == 1:
        return values[0]
    return var.default


def _render(parts: Sequence[_Part | str], lookup: Lookup) -> str | None:
    """Concatenate parts, substituting variables; None if one cannot resolve."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, _Var):
            value = _resolve(part, lookup)
            if value is None:
                return None
            out.append(value)
        elif isinstance(part, _Literal):
            out.append(part.text)
        else:
            out.append(part)
    return "".join(out)


def _regex_fragments(parts: Iterable[_Part], arn: bool) -> list[str | _Var]:
    """Turn parts into regex source, leaving variables to be escaped at match time.

    ARN style: a wildcard in one of the first five components stays inside it.
    Only colons written in the policy count; a substituted value is literal.
    """
    out: list[str | _Var] = []
    colons = 0
    for part in parts:
        if isinstance(part, _Var):
            out.append(part)
            continue
        if isinstance(part, _Literal):
            out.append(re.escape(part.text))
            continue
        for ch in part:
            if ch == "*":
                out.append("[^:]*" if arn and colons < 5 else ".*")
            elif ch == "?":
                out.append("[^:]" if arn and colons < 5 else ".")
            else:
                colons += ch == ":"
                out.append(re.escape(ch))
    return out


def _has_wildcard(parts: Iterable[_Part]) -> bool:
    return any(isinstance(p, str) and ("*" in p or "?" in p) for p in parts)


class PatternSet:
    """Wildcard patterns (``*``, ``?``) of which any may match a value.

    Literal patterns go to a set, static wildcard patterns to one alternation
    regex, and patterns with variables are rendered per request.
    """

    __slots__ = ("texts", "match_all", "_exact", "_regex", "_dynamic", "_fold", "_flags")

    def __init__(
        self, texts: Iterable[str], *, variables: bool, arn: bool, fold: bool = False
    ) -> None:
        self.texts = tuple(texts)
        self.match_all = "*" in self.texts
        self._fold = fold
        self._flags = re.DOTALL | (re.IGNORECASE if fold else 0)
        exact: set[str] = set()
        static: list[str] = []
        dynamic: list[tuple[str | _Var, ...]] = []
        for text in self.texts:
            parts = _parse_parts(text.lower() if fold else text, variables)
            if any(isinstance(p, _Var) for p in parts):
                dynamic.append(tuple(_regex_fragments(parts, arn)))
            elif _has_wildcard(parts):
                static.append("".join(str(f) for f in _regex_fragments(parts, arn)))
            else:
                rendered = _render(parts, {})
                assert rendered is not None  # no variables, so nothing to resolve
                exact.add(rendered)
        self._exact = frozenset(exact)
        source = "|".join(f"(?:{s})" for s in static)
        self._regex = re.compile(source, re.DOTALL) if static else None
        self._dynamic = tuple(dynamic)

    def test(self, value: str, lookup: Lookup) -> int:
        if self.match_all:
            return MATCH
        if self._fold:
            value = value.lower()
        if value in self._exact or (self._regex is not None and self._regex.fullmatch(value)):
            return MATCH
        unknown = False
        for fragments in self._dynamic:
            source: list[str] = []
            for f in fragments:
                if isinstance(f, _Var):
                    resolved = _resolve(f, lookup)
                    if resolved is None:
                        break
                    source.append(re.escape(resolved))
                else:
                    source.append(f)
            else:
                if re.fullmatch("".join(source), value, self._flags):
                    return MATCH
                continue
            unknown = True
        return UNKNOWN if unknown else NO_MATCH

    @property
    def needs_context(self) -> bool:
        return bool(self._dynamic)


class _EqualsSet:
    """Exact string comparison, optionally case-insensitive, with variables."""

    __slots__ = ("_static", "_dynamic", "_fold")

    def __init__(self, texts: Iterable[str], *, variables: bool, fold: bool) -> None:
        self._fold = fold
        static: set[str] = set()
        dynamic: list[tuple[_Part, ...]] = []
        for text in texts:
            parts = _parse_parts(text, variables)
            if any(isinstance(p, _Var) for p in parts):
                dynamic.append(parts)
            else:
                rendered = _render(parts, {})
                assert rendered is not None
                static.add(rendered.casefold() if fold else rendered)
        self._static = frozenset(static)
        self._dynamic = tuple(dynamic)

    def test(self, value: str, lookup: Lookup) -> int:
        if self._fold:
            value = value.casefold()
        if value in self._static:
            return MATCH
        unknown = False
        for parts in self._dynamic:
            rendered = _render(parts, lookup)
            if rendered is None:
                unknown = True
            elif (rendered.casefold() if self._fold else rendered) == value:
                return MATCH
        return UNKNOWN if unknown else NO_MATCH


# --------------------------------------------------------------------------
# Typed values: numbers, dates, booleans, binary, IP addresses
# --------------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_EPOCH = re.compile(r"[+-]?\d+(?:\.\d+)?")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_number(text: str) -> float | None:
    return float(text) if _NUMBER.fullmatch(text) else None


def parse_date(text: str) -> float | None:
    """Seconds since the epoch from ISO 8601 (UTC when unzoned) or epoch text."""
    if _EPOCH.fullmatch(text):
        return float(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_bool(text: str) -> str | None:
    lowered = text.lower()
    return lowered if lowered in ("true", "false") else None


def parse_binary(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def parse_network(text: str) -> Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


# --------------------------------------------------------------------------
# Operator families: each compiles the policy's values into a ValueTest
# --------------------------------------------------------------------------

Compiler = Callable[[list[str], bool, str], ValueTest]


def _strings(fold: bool) -> Compiler:
    def compile_(values: list[str], variables: bool, where: str) -> ValueTest:
        return _EqualsSet(values, variables=variables, fold=fold).test

    return compile_


def _patterns(arn: bool) -> Compiler:
    def compile_(values: list[str], variables: bool, where: str) -> ValueTest:
        return PatternSet(values, variables=variables, arn=arn).test

    return compile_


def _typed(parse: Callable[[str], Any], kind: str, compare: Callable[[Any, Any], bool]) -> Compiler:
    def compile_(values: list[str], variables: bool, where: str) -> ValueTest:
        parsed = []
        for text in values:
            value = parse(text)
            if value is None:
                raise PolicyError(f"Condition {where} has an invalid {kind} value '{text}'")
            parsed.append(value)

        def test(text: str, lookup: Lookup) -> int:
            value = parse(text)
            if value is None:
                return UNKNOWN
            for p in parsed:
                if compare(value, p):
                    return MATCH
            return NO_MATCH

        return test

    return compile_


def _in_network(address: Any, network: Any) -> bool:
    return bool(address in network)  # an address of the other IP version is just not in it


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "LessThanEquals": operator.le,
    "GreaterThan": operator.gt,
    "GreaterThanEquals": operator.ge,
}


@dataclass(frozen=True, slots=True)
class _Family:
    compile: Compiler
    negated: bool


def _ip_compiler(values: list[str], variables: bool, where: str) -> ValueTest:
    networks = []
    for text in values:
        network = parse_network(text)
        if network is None:
            raise PolicyError(f"Condition {where} has an invalid IP address or CIDR '{text}'")
        networks.append(network)

    def test(text: str, lookup: Lookup) -> int:
        address = _parse_ip(text)
        if address is None:
            return UNKNOWN
        for network in networks:
            if _in_network(address, network):
                return MATCH
        return NO_MATCH

    return test


def _families() -> dict[str, _Family]:
    table = {
        "StringEquals": _Family(_strings(False), False),
        "StringNotEquals": _Family(_strings(False), True),
        "StringEqualsIgnoreCase": _Family(_strings(True), False),
        "StringNotEqualsIgnoreCase": _Family(_strings(True), True),
        "StringLike": _Family(_patterns(False), False),
        "StringNotLike": _Family(_patterns(False), True),
        "ArnEquals": _Family(_patterns(True), False),
        "ArnLike": _Family(_patterns(True), False),
        "ArnNotEquals": _Family(_patterns(True), True),
        "ArnNotLike": _Family(_patterns(True), True),
        "Bool": _Family(_typed(parse_bool, "boolean", operator.eq), False),
        "BinaryEquals": _Family(_typed(parse_binary, "base64", operator.eq), False),
        "IpAddress": _Family(_ip_compiler, False),
        "NotIpAddress": _Family(_ip_compiler, True),
    }
    for kind, parse in (("Numeric", parse_number), ("Date", parse_date)):
        for suffix, order in _ORDER.items():
            table[kind + suffix] = _Family(_typed(parse, kind.lower(), order), False)
        table[kind + "NotEquals"] = _Family(_typed(parse, kind.lower(), operator.eq), True)
    return table


_FAMILIES = _families()
_VARIABLE_FAMILIES = frozenset(n for n in _FAMILIES if n.startswith(("String", "Arn")))
_CONDITION_KEY = re.compile(r"[A-Za-z0-9.-]+:.+", re.DOTALL)
_ANY, _ALL = "ForAnyValue:", "ForAllValues:"


# --------------------------------------------------------------------------
# Conditions
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Condition:
    """One operator applied to one condition key; `holds(lookup)` evaluates it."""

    operator: str
    key: str
    values: tuple[str, ...]
    holds: Callable[[Lookup], bool]


def _holds(
    key: str, test: ValueTest, negated: bool, qualifier: str, if_exists: bool
) -> Callable[[Lookup], bool]:
    """Close over one compiled test with the absent-key and multi-value rules above."""
    want = NO_MATCH if negated else MATCH

    if qualifier == _ALL:  # every value passes; vacuously true when there are none

        def holds_all(lookup: Lookup) -> bool:
            values = lookup.get(key)
            return not values or all(test(v, lookup) == want for v in values)

        return holds_all

    if qualifier == _ANY or not negated:  # some value passes

        def holds_any(lookup: Lookup) -> bool:
            values = lookup.get(key)
            if not values:
                return if_exists
            return any(test(v, lookup) == want for v in values)

        return holds_any

    def holds_none(lookup: Lookup) -> bool:  # plain negated operator: no value may match
        values = lookup.get(key)
        return not values or all(test(v, lookup) == NO_MATCH for v in values)

    return holds_none


def _null_holds(key: str, wanted: frozenset[str]) -> Callable[[Lookup], bool]:
    def holds(lookup: Lookup) -> bool:
        return ("false" if lookup.get(key) else "true") in wanted

    return holds


def _scalar(value: object, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    raise PolicyError(
        f"Condition {where} has a value of the wrong type: "
        "expected a string, number, boolean or a list of them"
    )


def _values(raw: object, where: str) -> list[str]:
    if isinstance(raw, list):
        return [_scalar(v, where) for v in raw]
    return [_scalar(raw, where)]


def _split_operator(name: str) -> tuple[str, str, bool]:
    """``ForAnyValue:StringLikeIfExists`` -> (``ForAnyValue:``, ``StringLike``, True)."""
    qualifier = ""
    base = name
    for prefix in (_ANY, _ALL):
        if name.startswith(prefix):
            qualifier, base = prefix, name[len(prefix) :]
    if_exists = base.endswith("IfExists")
    if if_exists:
        base = base[: -len("IfExists")]
    if base == "Null":
        if if_exists:
            raise PolicyError(f"Unknown condition operator '{name}'")
        if qualifier:
            raise PolicyError(f"Condition operator '{name}': Null takes no set qualifier")
    elif base not in _FAMILIES:
        raise PolicyError(f"Unknown condition operator '{name}'")
    return qualifier, base, if_exists


def compile_conditions(block: object, *, variables: bool) -> tuple[Condition, ...]:
    """Compile a statement's ``Condition`` element; PolicyError if malformed."""
    if not isinstance(block, dict):
        raise PolicyError("Condition must be an object mapping operators to keys and values")
    out: list[Condition] = []
    for name, pairs in block.items():
        qualifier, base, if_exists = _split_operator(name)
        if not isinstance(pairs, dict):
            raise PolicyError(f"Condition operator '{name}' must map condition keys to values")
        for key, raw in pairs.items():
            if not _CONDITION_KEY.fullmatch(key):
                raise PolicyError(f"Condition key '{key}' is not valid (expected prefix:name)")
            where = f"{name} on '{key}'"
            values = _values(raw, where)
            lowered = key.lower()
            if base == "Null":
                wanted = {parse_bool(v) for v in values}
                if None in wanted:
                    raise PolicyError(f"Condition {where} must be true or false")
                holds = _null_holds(lowered, frozenset(w for w in wanted if w))
            else:
                family = _FAMILIES[base]
                use_vars = variables and base in _VARIABLE_FAMILIES
                test = family.compile(values, use_vars, where)
                holds = _holds(lowered, test, family.negated, qualifier, if_exists)
            out.append(Condition(name, key, tuple(values), holds))
    return tuple(out)

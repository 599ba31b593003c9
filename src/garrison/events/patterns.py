"""AWS event patterns: validated and compiled once, matched against event envelopes.

    pattern = compile_pattern('{"source": ["aws.ssm"], "detail": {"name": [{"prefix": "/prod/"}]}}')
    pattern.matches(event)          # event: the whole envelope, as a dict

A pattern is a JSON object with the event's shape. Keys of one object are ANDed;
each leaf is an array of alternatives (ORed): exact values (string, number, true,
false, null) or one-key match expressions -- ``prefix``, ``suffix`` (both also as
``{"equals-ignore-case": ...}``), ``equals-ignore-case``, ``wildcard``,
``anything-but`` (a value, a list, or ``prefix``/``suffix``/``wildcard``/
``equals-ignore-case``), ``numeric``, ``cidr``, ``exists`` and ``exactly``.
``"$or": [{...}, {...}]`` in any object ORs whole sub-patterns.

Compiled shape (plain tuples of closures; no regex on the match path):

    _Node            one object of the pattern
     ├── fields      _Field per leaf key: its value matchers + exists flags
     ├── children    (key, _Node) per nested object
     └── any_of      per "$or": the alternative _Nodes

Matching follows EventBridge (its engine is aws/event-ruler):
- an array in the event matches when any of its elements does; objects in
  different elements of one array never combine (array-consistent matching);
- a missing field, or an object where the pattern wants a leaf, has no value:
  every matcher fails on it except ``{"exists": false}``. Inside an array of
  objects, absence is judged in the element the rest of the sub-pattern
  matched; a sub-pattern of absences only must hold in every element (no
  element has the field);
- prefix, suffix, wildcard, equals-ignore-case and cidr apply to strings only;
  numeric to JSON numbers within +/-5.0e9 with at most six decimals;
  ``anything-but`` needs a value and matches any value that is not excluded.

Invalid patterns raise `InvalidEventPatternException` with EventBridge's text,
"Event pattern is not valid. Reason: ...", the reasons worded as AWS words them.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from garrison.errors import AwsError

MAX_PATTERN_CHARS: Final = 2048
"""EventBridge's default "Event pattern size" quota, in characters (adjustable)."""
MAX_PATTERN_DEPTH: Final = 100
"""Nesting of objects and "$or"s in a pattern; AWS documents none, this bounds recursion."""
NUMERIC_LIMIT: Final = Decimal("5E9")
NUMERIC_DECIMALS: Final = 6

OR_KEY: Final = "$or"
# Names that may not be field names inside "$or" (event-ruler's reserved words).
RESERVED_IN_OR: Final = frozenset(
    {
        "exactly", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists",
        "wildcard", "numeric", "cidr", "html", "=", "<", "<=", ">", ">=", "regex",
        "not-wildcard", "not-equals-ignore-case", "date-after", "date-on-or-after",
        "date-before", "date-on-or-before", "in-date-range", "ip-address-in-range",
        "ip-address-not-in-range",
    }
)  # fmt: skip

Matcher = Callable[[Any], bool]
"""One alternative of a leaf: does this single (non-array) event value match?"""


class InvalidEventPatternException(AwsError):
    """A pattern EventBridge refuses (PutRule, TestEventPattern)."""

    code = "InvalidEventPatternException"

    def __init__(self, reason: str) -> None:
        super().__init__(f"Event pattern is not valid. Reason: {reason}")
        self.reason = reason


class _Missing:
    __slots__ = ()


_MISSING: Final = _Missing()
_EMPTY: Final[dict[str, Any]] = {}


@dataclass(frozen=True, slots=True)
class _Field:
    key: str
    matchers: tuple[Matcher, ...]
    exists_true: bool
    exists_false: bool


@dataclass(frozen=True, slots=True)
class _Node:
    fields: tuple[_Field, ...]
    children: tuple[tuple[str, _Node], ...]
    any_of: tuple[tuple[_Node, ...], ...]
    absence_only: bool  # only {"exists": false} leaves: matching it picks no array element


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled event pattern; `matches` takes the whole event envelope."""

    text: str
    _root: _Node = field(compare=False, repr=False)

    def matches(self, event: dict[str, Any]) -> bool:
        return _match_node(self._root, event)


def compile_pattern(text: str, *, max_chars: int = MAX_PATTERN_CHARS) -> Pattern:
    """Validate `text` as EventBridge does and compile it, or raise
    `InvalidEventPatternException`."""
    if len(text) > max_chars:
        raise InvalidEventPatternException(
            f"Event pattern is {len(text)} characters long; the maximum is {max_chars}"
        )
    try:
        document = json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InvalidEventPatternException(
            f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:
        raise InvalidEventPatternException("Event pattern is nested too deeply") from None
    if not isinstance(document, dict):
        raise InvalidEventPatternException("Filter is not an object")
    return Pattern(text, _compile_object(document, 0, in_or=False))


def _no_constant(name: str) -> Any:
    raise InvalidEventPatternException(f"Unrecognized token '{name}'")


# -- compiling -------------------------------------------------------------------------


def _compile_object(obj: dict[str, Any], depth: int, *, in_or: bool) -> _Node:
    if not obj:
        raise InvalidEventPatternException("Empty objects are not allowed")
    if depth > MAX_PATTERN_DEPTH:
        raise InvalidEventPatternException("Event pattern is nested too deeply")
    fields: list[_Field] = []
    children: list[tuple[str, _Node]] = []
    any_of: list[tuple[_Node, ...]] = []
    for key, value in obj.items():
        if key == OR_KEY:
            any_of.append(_compile_or(value, depth + 1))
            continue
        if in_or and key in RESERVED_IN_OR:
            raise InvalidEventPatternException(
                f"{key} is Ruler reserved fieldName which cannot be used inside {OR_KEY}."
            )
        if isinstance(value, dict):
            children.append((key, _compile_object(value, depth + 1, in_or=in_or)))
        elif isinstance(value, list):
            fields.append(_compile_field(key, value))
        else:
            raise InvalidEventPatternException(f'"{key}" must be an object or an array')
    absence_only = (
        all(f.exists_false and not f.exists_true and not f.matchers for f in fields)
        and all(child.absence_only for _, child in children)
        and all(alt.absence_only for alternatives in any_of for alt in alternatives)
    )
    return _Node(tuple(fields), tuple(children), tuple(any_of), absence_only)


def _compile_or(value: Any, depth: int) -> tuple[_Node, ...]:
    if not isinstance(value, list):
        raise InvalidEventPatternException(f"It must be an Array followed with {OR_KEY}.")
    alternatives: list[_Node] = []
    for item in value:
        if not isinstance(item, dict):
            raise InvalidEventPatternException(
                f"Only JSON object is allowed in array of {OR_KEY} relationship."
            )
        alternatives.append(_compile_object(item, depth, in_or=True))
    if len(alternatives) < 2:
        raise InvalidEventPatternException(
            f"There must have at least 2 Objects in {OR_KEY} relationship."
        )
    return tuple(alternatives)


def _compile_field(key: str, values: list[Any]) -> _Field:
    if not values:
        raise InvalidEventPatternException("Empty arrays are not allowed")
    exact = _ExactSet()
    matchers: list[Matcher] = []
    exists_true = exists_false = False
    for value in values:
        if isinstance(value, dict):
            compiled = _compile_expression(value)
            if compiled is True:
                exists_true = True
            elif compiled is False:
                exists_false = True
            else:
                matchers.append(compiled)
        elif isinstance(value, list):
            raise InvalidEventPatternException(
                "Match value must be String, number, true, false, or null"
            )
        else:
            exact.add(value)
    if exact:
        matchers.insert(0, exact.matcher())
    return _Field(key, tuple(matchers), exists_true, exists_false)


def _compile_expression(expression: dict[str, Any]) -> Matcher | bool:
    """One ``{"<operator>": operand}``; True/False stand for ``exists``."""
    if not expression:
        raise InvalidEventPatternException("Match expression name not found")
    operator, operand = next(iter(expression.items()))
    compiler = _OPERATORS.get(operator)
    if compiler is None:
        raise InvalidEventPatternException(f"Unrecognized match type {operator}")
    compiled = compiler(operand)
    if len(expression) > 1:
        # event-ruler's wording differs by operator; AWS shows it as is.
        if operator in ("numeric", "anything-but"):
            raise InvalidEventPatternException("Too many elements in numeric expression")
        raise InvalidEventPatternException("Only one key allowed in match expression")
    return compiled


def _string_operand(operand: Any, what: str) -> str:
    if not isinstance(operand, str):
        raise InvalidEventPatternException(f"{what} match pattern must be a string")
    return operand


def _one_key(operand: dict[str, Any], missing: str) -> tuple[str, Any]:
    if not operand:
        raise InvalidEventPatternException(missing)
    if len(operand) > 1:
        raise InvalidEventPatternException("Only one key allowed in match expression")
    return next(iter(operand.items()))


def _exactly(operand: Any) -> Matcher:
    value = _string_operand(operand, "exact")
    return lambda x: type(x) is str and x == value


def _prefix(operand: Any) -> Matcher:
    if isinstance(operand, dict):
        op, inner = _one_key(operand, "Prefix expression name not found")
        if op != "equals-ignore-case":
            raise InvalidEventPatternException(f"Unsupported prefix pattern: {op}")
        folded = _string_operand(inner, "equals-ignore-case").lower()
        return lambda x: type(x) is str and x.lower().startswith(folded)
    prefix = _string_operand(operand, "prefix")
    return lambda x: type(x) is str and x.startswith(prefix)


def _suffix(operand: Any) -> Matcher:
    if isinstance(operand, dict):
        op, inner = _one_key(operand, "Suffix expression name not found")
        if op != "equals-ignore-case":
            raise InvalidEventPatternException(f"Unsupported suffix pattern: {op}")
        folded = _string_operand(inner, "equals-ignore-case").lower()
        return lambda x: type(x) is str and x.lower().endswith(folded)
    suffix = _string_operand(operand, "suffix")
    return lambda x: type(x) is str and x.endswith(suffix)


def _equals_ignore_case(operand: Any) -> Matcher:
    folded = _string_operand(operand, "equals-ignore-case").lower()
    return lambda x: type(x) is str and x.lower() == folded


def _wildcard(operand: Any) -> Matcher:
    test = _wildcard_test(_string_operand(operand, "wildcard"))
    return lambda x: type(x) is str and test(x)


def _exists(operand: Any) -> bool:
    if operand is True or operand is False:
        return operand
    raise InvalidEventPatternException("exists match pattern must be either true or false.")


def _cidr(operand: Any) -> Matcher:
    """event-ruler's CIDR range: from the address as written (not masked) to the
    top of its block; IPv4 masks below 32 and IPv6 masks below 128."""
    text = _string_operand(operand, "prefix")  # sic: event-ruler's wording for cidr
    pieces = text.split("/")
    if len(pieces) != 2 or not pieces[1]:
        raise InvalidEventPatternException("Malformed CIDR, one '/' required")
    if not _MASK_BITS.fullmatch(pieces[1]):
        raise InvalidEventPatternException("Malformed CIDR, mask bits must be an integer")
    bits = int(pieces[1])
    if bits < 0:
        raise InvalidEventPatternException("Malformed CIDR, mask bits must not be negative")
    if not (_IPV4.fullmatch(pieces[0]) or _IPV6.fullmatch(pieces[0])):
        raise InvalidEventPatternException(f"Nonstandard IP address: {pieces[0]}")
    base = _ip(pieces[0])
    if base is None:
        raise InvalidEventPatternException(f"Invalid IP address: {pieces[0]}")
    width = base.max_prefixlen
    if bits >= width:
        raise InvalidEventPatternException(f"IPv{base.version} mask bits must be < {width}")
    version, low = base.version, int(base)
    high = low | ((1 << (width - bits)) - 1)

    def match(x: Any) -> bool:
        address = _ip(x) if type(x) is str else None
        return address is not None and address.version == version and low <= int(address) <= high

    return match


_MASK_BITS: Final = re.compile(r"[+-]?[0-9]+")
_IPV4: Final = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6: Final = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")


def _numeric(operand: Any) -> Matcher:
    """``[op, n]`` or ``[">"|">=", low, "<"|"<=", high]``. A one-sided range runs
    to -5.0e9 or +5.0e9 (closed), and a range must not be empty."""
    if not isinstance(operand, list):
        raise InvalidEventPatternException("Value of numeric must be an array.")
    terms = list(operand)
    if not terms or not isinstance(terms[0], str):
        shown = _show(terms[0]) if terms else "]"
        raise InvalidEventPatternException(f"Invalid member in numeric match: {shown}")
    operator = terms[0]
    if operator not in ("=", ">", ">=", "<", "<="):
        raise InvalidEventPatternException(f"Unrecognized numeric range operator: {operator}")
    first = _number_operand(terms, 1, "equals" if operator == "=" else operator)
    if operator == "=":
        if len(terms) > 2:
            raise InvalidEventPatternException("Too many elements in numeric expression")
        value = _comparable(first)
        return _range(value, True, value, True)
    if operator in ("<", "<="):
        if len(terms) > 2:
            raise InvalidEventPatternException("Too many elements in numeric expression")
        _check_bounds(-NUMERIC_LIMIT, first)
        return _range(None, False, _comparable(first), operator == "<=")
    if len(terms) == 2:
        _check_bounds(first, NUMERIC_LIMIT)
        return _range(_comparable(first), operator == ">=", None, False)
    upper = terms[2]
    if not isinstance(upper, str):
        raise InvalidEventPatternException(f"Bad value in numeric range: {_show(upper)}")
    if upper not in ("<", "<="):
        raise InvalidEventPatternException(f"Bad numeric range operator: {upper}")
    second = _number_operand(terms, 3, upper)
    if len(terms) > 4:
        raise InvalidEventPatternException("Too many terms in numeric range expression")
    _check_bounds(first, second)
    return _range(_comparable(first), operator == ">=", _comparable(second), upper == "<=")


def _check_bounds(bottom: int | Decimal, top: int | Decimal) -> None:
    if bottom >= top:
        raise InvalidEventPatternException("Bottom must be less than top")


def _show(value: Any) -> str:
    """A pattern value as its JSON text (numbers as written)."""
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value)


def _number_operand(terms: list[Any], index: int, name: str) -> int | Decimal:
    value = terms[index] if index < len(terms) else None
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise InvalidEventPatternException(f"Value of {name} must be numeric")
    return value


def _comparable(value: int | Decimal) -> float:
    """A pattern number as event-ruler's ComparableNumber accepts it."""
    number = Decimal(value)
    if -number.normalize().as_tuple().exponent > NUMERIC_DECIMALS:  # type: ignore[operator]
        raise InvalidEventPatternException("Only values upto 6 decimals are supported")
    if not -NUMERIC_LIMIT <= number <= NUMERIC_LIMIT:
        raise InvalidEventPatternException("Value must be between -5.0E9 and 5.0E9, inclusive")
    return float(number)


def _range(low: float | None, low_in: bool, high: float | None, high_in: bool) -> Matcher:
    def match(x: Any) -> bool:
        if not _numeric_value(x):
            return False
        if low is not None and not (x > low or (low_in and x == low)):
            return False
        return high is None or x < high or (high_in and x == high)

    return match


def _numeric_value(x: Any) -> bool:
    """An event value numeric matching applies to (event-ruler's ComparableNumber)."""
    kind = type(x)
    if kind is int:
        return bool(-5_000_000_000 <= x <= 5_000_000_000)
    # round() is correctly rounded: it gives x back iff x has at most six decimals.
    return kind is float and bool(-5e9 <= x <= 5e9 and round(x, NUMERIC_DECIMALS) == x)


def _anything_but(operand: Any) -> Matcher:
    if isinstance(operand, dict):
        return _anything_but_of(operand)
    if isinstance(operand, str):
        strings = frozenset((operand,))
        return lambda x: not (type(x) is str and x in strings)
    if isinstance(operand, list):
        kinds = {isinstance(v, str) for v in operand}
        for value in operand:
            if not isinstance(value, str) and (
                isinstance(value, bool) or not isinstance(value, int | Decimal)
            ):
                raise InvalidEventPatternException(
                    "Inside anything but list, start|null|boolean is not supported."
                )
        if len(kinds) != 1:
            raise InvalidEventPatternException(
                "Inside anything but list, either all values are number or string, "
                "mixed type is not supported"
            )
        if kinds == {True}:
            strings = frozenset(operand)
            return lambda x: not (type(x) is str and x in strings)
        return _not_numbers(frozenset(_comparable(v) for v in operand))
    if isinstance(operand, int | Decimal) and not isinstance(operand, bool):
        return _not_numbers(frozenset((_comparable(operand),)))
    raise InvalidEventPatternException(
        "Value of anything-but must be an array or single string/number value."
    )


def _not_numbers(numbers: frozenset[float]) -> Matcher:
    return lambda x: not (type(x) in (int, float) and x in numbers)


def _anything_but_of(operand: dict[str, Any]) -> Matcher:
    if not operand:
        raise InvalidEventPatternException("Anything-But expression name not found")
    op, inner = next(iter(operand.items()))
    if op not in ("equals-ignore-case", "prefix", "suffix", "wildcard"):
        raise InvalidEventPatternException(f"Unsupported anything-but pattern: {op}")
    if not isinstance(inner, str | list):
        if isinstance(inner, bool) or not isinstance(inner, int | Decimal):
            raise InvalidEventPatternException(
                "Value of anything-but must be an array or single string/number value."
            )
        _anything_but_type_error(op)
    texts = [inner] if isinstance(inner, str) else inner
    for text in texts:
        if not isinstance(text, str):
            _anything_but_type_error(op)
        if op in ("prefix", "suffix") and not text:
            raise InvalidEventPatternException("Null prefix/suffix not allowed")
    if len(operand) > 1:
        raise InvalidEventPatternException("Too many elements in numeric expression")
    if op == "equals-ignore-case":
        folded = frozenset(t.lower() for t in texts)
        return lambda x: not (type(x) is str and x.lower() in folded)
    if op == "prefix":
        prefixes = tuple(texts)
        return lambda x: not (type(x) is str and x.startswith(prefixes))
    if op == "suffix":
        suffixes = tuple(texts)
        return lambda x: not (type(x) is str and x.endswith(suffixes))
    excluded = tuple(_wildcard_test(t) for t in texts)
    return lambda x: not (type(x) is str and any(test(x) for test in excluded))


def _anything_but_type_error(op: str) -> None:
    if op == "equals-ignore-case":
        raise InvalidEventPatternException(
            "Inside anything-but/equals-ignore-case list, "
            "number|start|null|boolean is not supported."
        )
    if op == "wildcard":
        raise InvalidEventPatternException("wildcard match pattern must be a string")
    raise InvalidEventPatternException("prefix/suffix match pattern must be a string")


_OPERATORS: Final[dict[str, Callable[[Any], Matcher | bool]]] = {
    "exactly": _exactly,
    "prefix": _prefix,
    "suffix": _suffix,
    "equals-ignore-case": _equals_ignore_case,
    "wildcard": _wildcard,
    "anything-but": _anything_but,
    "numeric": _numeric,
    "cidr": _cidr,
    "exists": _exists,
}


def _wildcard_test(text: str) -> Callable[[str], bool]:
    """A linear-time test for one wildcard value (no regex: nothing to backtrack).

    ``*`` matches any run of characters; ``\\*`` is a literal ``*`` and ``\\\\`` a
    literal backslash; ``**`` and any other escape are refused, at the byte
    position event-ruler reports (the value counted from its opening quote).
    """
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "*":
            if text[i + 1 : i + 2] == "*":
                raise InvalidEventPatternException(
                    f"Consecutive wildcard characters at pos {_byte_pos(text, i)}"
                )
            parts.append("".join(current))
            current = []
        elif char == "\\":
            following = text[i + 1 : i + 2]
            if following not in ("*", "\\"):
                raise InvalidEventPatternException(
                    f"Invalid escape character at pos {_byte_pos(text, i)}"
                )
            current.append(following)
            i += 1
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    if len(parts) == 1:
        literal = parts[0]
        return lambda s: s == literal
    head, middle, tail = parts[0], tuple(parts[1:-1]), parts[-1]
    least = len(head) + len(tail) + sum(len(p) for p in middle)

    def test(s: str) -> bool:
        if len(s) < least or not s.startswith(head) or not s.endswith(tail):
            return False
        at, end = len(head), len(s) - len(tail)
        for part in middle:  # leftmost placement of each segment is optimal for '*'
            found = s.find(part, at, end)
            if found < 0:
                return False
            at = found + len(part)
        return True

    return test


def _byte_pos(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8")) + 1


class _ExactSet:
    """The exact values of one leaf, matched by one set lookup per event value."""

    def __init__(self) -> None:
        self.strings: set[str] = set()
        self.numbers: set[int | float] = set()
        self.literals: set[bool | None] = set()
        self.addresses: set[tuple[int, int]] = set()

    def __bool__(self) -> bool:
        return bool(self.strings or self.numbers or self.literals)

    def add(self, value: Any) -> None:
        if isinstance(value, str):
            self.strings.add(value)
            address = _ip(value)
            if address is not None:  # event-ruler matches an IP by address, not spelling
                self.addresses.add((address.version, int(address)))
        elif value is None or isinstance(value, bool):
            self.literals.add(value)
        elif isinstance(value, int):
            self.numbers.add(value)
        else:
            self.numbers.add(float(value))

    def matcher(self) -> Matcher:
        strings, numbers = frozenset(self.strings), frozenset(self.numbers)
        addresses = frozenset(self.addresses)
        want_none = None in self.literals
        want_true, want_false = True in self.literals, False in self.literals

        def match(x: Any) -> bool:
            kind = type(x)
            if kind is str:
                if x in strings:
                    return True
                if addresses:
                    address = _ip(x)
                    return address is not None and (address.version, int(address)) in addresses
                return False
            if kind is int or kind is float:
                return x in numbers
            if x is None:
                return want_none
            if x is True:
                return want_true
            return x is False and want_false

        return match


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text or not (text[0].isdigit() or ":" in text):
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


# -- matching --------------------------------------------------------------------------


def _match_node(node: _Node, obj: dict[str, Any]) -> bool:
    for spec in node.fields:
        if not _match_field(spec, obj.get(spec.key, _MISSING)):
            return False
    for key, child in node.children:
        value = obj.get(key, _MISSING)
        if type(value) is dict:
            if not _match_node(child, value):
                return False
        elif type(value) is list and any(True for _ in _objects(value)):
            elements = _objects(value)
            if child.absence_only:  # nothing picks an element: absent from all of them
                if not all(_match_node(child, element) for element in elements):
                    return False
            elif not any(_match_node(child, element) for element in elements):
                return False
        elif not _match_node(child, _EMPTY):  # no object here: every leaf absent
            return False
    return all(any(_match_node(alt, obj) for alt in alts) for alts in node.any_of)


def _match_field(spec: _Field, value: Any) -> bool:
    kind = type(value)
    if kind is list:
        leaves: list[Any] | tuple[Any, ...] = _leaves(value)
    elif kind is dict or value is _MISSING:
        leaves = ()
    else:
        leaves = (value,)
    if not leaves:
        return spec.exists_false
    if spec.exists_true:
        return True
    for matcher in spec.matchers:
        for leaf in leaves:
            if matcher(leaf):
                return True
    return False


def _leaves(array: list[Any]) -> list[Any]:
    """The non-object values of an array, nested arrays flattened (iteratively)."""
    out: list[Any] = []
    stack = [iter(array)]
    while stack:
        for item in stack[-1]:
            kind = type(item)
            if kind is list:
                stack.append(iter(item))
                break
            if kind is not dict:
                out.append(item)
        else:
            stack.pop()
    return out


def _objects(array: list[Any]) -> Iterator[dict[str, Any]]:
    """The objects of an array, nested arrays flattened."""
    stack = [iter(array)]
    while stack:
        for item in stack[-1]:
            kind = type(item)
            if kind is list:
                stack.append(iter(item))
                break
            if kind is dict:
                yield item
        else:
            stack.pop()

"""Request validation against a botocore input shape, with AWS's own messages.

A request that parsed (wire format -> plain dict keyed by model member names,
values already of the right Python type) is checked here against the
constraints of the model: required members, string/blob/list/map lengths,
numeric ranges, patterns and enums. Every violation is collected and reported
in one `ValidationException`, worded the way AWS's front ends word it::

    2 validation errors detected: Value 'a b' at 'aliasName' failed to satisfy
    constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$;
    Value '0' at 'limit' failed to satisfy constraint: Member must have value
    greater than or equal to 1

This module knows nothing of JSON, XML or query strings, so every protocol
shares it.

Conventions (AWS's JSON front ends where known; the rest chosen to fit them):

- a member path is each member name with its first letter lowercased, joined
  by ``.``; a list element of a structure/list/map type adds ``.N.member``
  (N counts from 1), a map value of such a type adds ``.<key>``;
- constraints on list elements or map keys/values of a scalar type are
  reported once, on the collection: ``Member must satisfy constraint: [...]``,
  ``Map keys must satisfy constraint: [...]``, ``Map value must satisfy
  constraint: [...]`` (only the failing constraints are listed);
- string lengths count code points; blob lengths count decoded bytes;
- a string may not contain U+0000 (Garrison's rule: PostgreSQL cannot store it);
- a value is quoted Java-style (``'[a, b]'``, ``'{k=v}'``); it is never shown
  for blobs or anything sensitive, or anything holding a blob or a sensitive
  member: those read ``Value at 'plaintext' failed to ...``.

Patterns are Java regexes matched against the whole value; `java_regex`
translates them to Python's `re` (its docstring lists the approximations).
Each shape is compiled once into a tree of closures, so the per-request cost is
a walk over the members that actually carry constraints.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from garrison.errors import ValidationException
from garrison.protocol.java_regex import compile_pattern

__all__ = [
    "Check",
    "format_errors",
    "shape_check",
    "validate_input",
    "validation_errors",
]

Check = Callable[[Any, str, list[str]], None]
"""Validates a value found at a path, appending AWS-worded errors."""

_Rules = Callable[[Any], Sequence[str]]
_OK: tuple[str, ...] = ()
_SCALARS = frozenset(
    {"string", "blob", "integer", "long", "float", "double", "boolean", "timestamp"}
)
_NOT_NULL = "Member must not be null"
_LENGTH = "Member must have length"


# -- public API ------------------------------------------------------------------


def validate_input(operation: OperationModel, params: Mapping[str, Any]) -> None:
    """Raise ValidationException if `params` breaks the operation's input shape."""
    check = _operation_check(operation)
    if check is None:
        return
    errors: list[str] = []
    check(params, "", errors)
    if errors:
        raise ValidationException(format_errors(errors))


def validation_errors(service_model: ServiceModel, shape: Shape, value: Any) -> list[str]:
    """Every violation of `shape` by `value`, each as one AWS-worded clause."""
    errors: list[str] = []
    check = shape_check(service_model, shape)
    if check is not None:
        check(value, "", errors)
    return errors


def format_errors(errors: Sequence[str]) -> str:
    count = len(errors)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(errors)


def shape_check(service_model: ServiceModel, shape: Shape) -> Check | None:
    """The compiled check for `shape`, or None when it has no constraint at all."""
    compiler = _COMPILERS.get(service_model)
    if compiler is None:
        compiler = _COMPILERS[service_model] = _Compiler()
    return compiler.check(shape, hidden=False)


_COMPILERS: weakref.WeakKeyDictionary[ServiceModel, _Compiler] = weakref.WeakKeyDictionary()
_OPERATION_CHECKS: weakref.WeakKeyDictionary[OperationModel, Check | None] = (
    weakref.WeakKeyDictionary()
)


def _operation_check(operation: OperationModel) -> Check | None:
    try:
        return _OPERATION_CHECKS[operation]
    except KeyError:
        pass
    shape = operation.input_shape
    check = None if shape is None else shape_check(operation.service_model, shape)
    _OPERATION_CHECKS[operation] = check
    return check


# -- messages --------------------------------------------------------------------


def _java_text(value: Any) -> str:
    """`value` as Java's toString would print it (strings unquoted)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}={_java_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_java_text(v) for v in value) + "]"
    return type(value).__name__  # never the content of an unexpected object


def _fail(errors: list[str], value: Any, path: str, shown: bool, constraint: str) -> None:
    if shown:
        errors.append(
            f"Value '{_java_text(value)}' at '{path}' failed to satisfy constraint: {constraint}"
        )
    else:
        errors.append(f"Value at '{path}' failed to satisfy constraint: {constraint}")


def _null(errors: list[str], path: str) -> None:
    errors.append(f"Value null at '{path}' failed to satisfy constraint: {_NOT_NULL}")


def _number(limit: Any) -> str:
    if isinstance(limit, float) and limit.is_integer():
        return str(int(limit))
    return str(limit)


def _bracket(label: str, failures: list[str]) -> str:
    return f"{label} must satisfy constraint: [{', '.join(dict.fromkeys(failures))}]"


# -- compiled checks -------------------------------------------------------------


class _Compiler:
    """Compiles the shapes of one service model into checks, once per shape."""

    def __init__(self) -> None:
        self._checks: dict[tuple[str, bool], Check | None] = {}
        self._secret: dict[str, bool] = {}

    def check(self, shape: Shape, hidden: bool) -> Check | None:
        key = (shape.name, hidden)
        if key in self._checks:
            return self._checks[key]
        # A recursive shape meets itself while compiling: hand out a forwarder.
        cell: list[Check | None] = [None]

        def forward(value: Any, path: str, errors: list[str]) -> None:
            target = cell[0]
            if target is not None:
                target(value, path, errors)

        self._checks[key] = forward
        compiled = self._compile(shape, hidden)
        cell[0] = compiled
        self._checks[key] = compiled
        return compiled

    def _compile(self, shape: Shape, hidden: bool) -> Check | None:
        hidden = hidden or bool(shape.metadata.get("sensitive"))
        kind = shape.type_name
        if kind == "structure":
            if shape.metadata.get("document"):
                return None
            return self._structure(shape, hidden)
        if kind == "list":
            return self._list(shape, hidden)
        if kind == "map":
            return self._map(shape, hidden)
        rules = _scalar_rules(shape)
        if rules is None:
            return None
        return _scalar_check(rules, shown=not hidden and kind != "blob")

    def _structure(self, shape: Shape, hidden: bool) -> Check | None:
        required = set(shape.required_members)
        members: list[tuple[str, str, bool, Check | None]] = []
        for name, member in shape.members.items():
            child = self.check(member, hidden)
            if name in required or child is not None:
                members.append((name, name[:1].lower() + name[1:], name in required, child))
        if not members:
            return None

        def check(value: Any, path: str, errors: list[str]) -> None:
            prefix = f"{path}." if path else ""
            for name, segment, is_required, child in members:
                item = value.get(name)
                if item is None:
                    if is_required:
                        _null(errors, prefix + segment)
                elif child is not None:
                    child(item, prefix + segment, errors)

        return check

    def _list(self, shape: Shape, hidden: bool) -> Check:
        lo, hi = _bounds(shape)
        shown = not hidden and not self._holds_secret(shape)
        element = shape.member
        if element.type_name in _SCALARS:
            rules = _scalar_rules(element)

            def check_scalars(value: Any, path: str, errors: list[str]) -> None:
                if not lo <= len(value) <= hi:
                    _length(errors, value, path, shown, lo, hi)
                failures: list[str] = []
                for item in value:
                    if item is None:
                        failures.append(_NOT_NULL)
                    elif rules is not None:
                        failures.extend(rules(item))
                if failures:
                    _fail(errors, value, path, shown, _bracket("Member", failures))

            return check_scalars
        child = self.check(element, hidden)

        def check_nested(value: Any, path: str, errors: list[str]) -> None:
            if not lo <= len(value) <= hi:
                _length(errors, value, path, shown, lo, hi)
            for index, item in enumerate(value, 1):
                if item is None:
                    _null(errors, f"{path}.{index}.member")
                elif child is not None:
                    child(item, f"{path}.{index}.member", errors)

        return check_nested

    def _map(self, shape: Shape, hidden: bool) -> Check:
        lo, hi = _bounds(shape)
        shown = not hidden and not self._holds_secret(shape)
        key_rules = _scalar_rules(shape.key)
        value_shape = shape.value
        scalar_values = value_shape.type_name in _SCALARS
        value_rules = _scalar_rules(value_shape) if scalar_values else None
        child = None if scalar_values else self.check(value_shape, hidden)

        def check(value: Any, path: str, errors: list[str]) -> None:
            if not lo <= len(value) <= hi:
                _length(errors, value, path, shown, lo, hi)
            key_failures: list[str] = []
            value_failures: list[str] = []
            for key, item in value.items():
                if key_rules is not None:
                    key_failures.extend(key_rules(key))
                if item is None:
                    value_failures.append(_NOT_NULL)
                elif value_rules is not None:
                    value_failures.extend(value_rules(item))
                elif child is not None:
                    # The keys of a sensitive map stay out of messages too.
                    child(item, f"{path}.member" if hidden else f"{path}.{key}", errors)
            if key_failures:
                _fail(errors, value, path, shown, _bracket("Map keys", key_failures))
            if value_failures:
                _fail(errors, value, path, shown, _bracket("Map value", value_failures))

        return check

    def _holds_secret(self, shape: Shape) -> bool:
        """Whether a value of `shape` may contain a blob or a sensitive member."""
        known = self._secret.get(shape.name)
        if known is not None:
            return known
        seen: set[str] = set()
        stack = [shape]
        found = False
        while stack and not found:
            current = stack.pop()
            if current.name in seen:
                continue
            seen.add(current.name)
            if current.metadata.get("sensitive") or current.type_name == "blob":
                found = True
            elif current.type_name == "structure":
                stack.extend(current.members.values())
            elif current.type_name == "list":
                stack.append(current.member)
            elif current.type_name == "map":
                stack.extend((current.key, current.value))
        self._secret[shape.name] = found
        return found


def _bounds(shape: Shape) -> tuple[float, float]:
    meta = shape.metadata
    return meta.get("min", float("-inf")), meta.get("max", float("inf"))


def _length(errors: list[str], value: Any, path: str, shown: bool, lo: float, hi: float) -> None:
    size = len(value)
    if size < lo:
        _fail(errors, value, path, shown, f"{_LENGTH} greater than or equal to {_number(lo)}")
    if size > hi:
        _fail(errors, value, path, shown, f"{_LENGTH} less than or equal to {_number(hi)}")


def _scalar_check(rules: _Rules, shown: bool) -> Check:
    def check(value: Any, path: str, errors: list[str]) -> None:
        for failure in rules(value):
            _fail(errors, value, path, shown, failure)

    return check


# Garrison's refusal, not AWS's: no backend stores U+0000 in text (PostgreSQL
# cannot), so it is refused alike everywhere rather than failing on one backend.
_NO_NUL = "Member must not contain the character U+0000"


def _scalar_rules(shape: Shape) -> _Rules | None:
    """A function naming the constraints a scalar value fails, or None if it has none."""
    meta = shape.metadata
    kind = shape.type_name
    lo, hi = _bounds(shape)
    if kind in ("integer", "long", "float", "double"):
        if "min" not in meta and "max" not in meta:
            return None
        too_small = f"Member must have value greater than or equal to {_number(lo)}"
        too_large = f"Member must have value less than or equal to {_number(hi)}"

        def number_rules(value: Any) -> Sequence[str]:
            if lo <= value <= hi:
                return _OK
            return [too_small] if value < lo else [too_large]

        return number_rules
    if kind not in ("string", "blob"):
        return None
    pattern: str | None = meta.get("pattern") if kind == "string" else None
    regex = compile_pattern(pattern) if pattern is not None else None
    enum = meta.get("enum") if kind == "string" else None
    enum_set = frozenset(enum) if enum else None
    is_text = kind == "string"
    if (
        not is_text
        and "min" not in meta
        and "max" not in meta
        and regex is None
        and enum_set is None
    ):
        return None
    short = f"{_LENGTH} greater than or equal to {_number(lo)}"
    long = f"{_LENGTH} less than or equal to {_number(hi)}"
    mismatch = f"Member must satisfy regular expression pattern: {pattern}"
    not_enum = f"Member must satisfy enum value set: [{', '.join(enum or ())}]"

    def text_rules(value: Any) -> Sequence[str]:
        size = len(value)
        nul = is_text and "\x00" in value
        if (
            lo <= size <= hi
            and not nul
            and (regex is None or regex.fullmatch(value) is not None)
            and (enum_set is None or value in enum_set)
        ):
            return _OK
        failures = []
        if nul:
            failures.append(_NO_NUL)
        if size < lo:
            failures.append(short)
        if size > hi:
            failures.append(long)
        if regex is not None and regex.fullmatch(value) is None:
            failures.append(mismatch)
        if enum_set is not None and value not in enum_set:
            failures.append(not_enum)
        return failures

    return text_rules

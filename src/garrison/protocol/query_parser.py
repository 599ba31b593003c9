"""Requests of the AWS ``query`` protocol: form parameters -> typed dict.

IAM, STS and ELBv2 take ``Action=..&Version=..&Member=..`` pairs, form-encoded
in a POST body or in the query string of a GET. Member names are flattened
into dotted keys, exactly as botocore's ``QuerySerializer`` writes them::

    RoleArn=arn:...                           string member (or its locationName)
    Policy.Statement=...                      nested structure  A.B
    Tags.member.1.Key=k&Tags.member.1.Value=v list of structures  Name.member.N
    Tags=                                     an empty list
    Items.1=a                                 flattened list    Name.N (member
                                              locationName replacing Name if set)
    Attributes.entry.1.key=k&...entry.1.value=v  map (key/value locationName kept)
    Attributes.1.key=k                        flattened map

The pairs are first folded into a tree on the dots (one pass over the keys),
then each shape's compiled reader walks its node, so a request costs one pass
over what it carries. Scalars convert by the model: booleans ``true``/``false``,
integers and longs range-checked, floats (``NaN``, ``Infinity`` too), ISO 8601
timestamps (epoch seconds accepted as well; timezone-aware UTC inside), blobs
base64-decoded strictly.

Unknown parameters are ignored, as AWS's query front ends ignore them (and as
the json protocol ignores unknown members): they never reach a provider. A
*known* member written in a shape its model does not allow (an index that is not
a positive integer, a list given as a plain value, a map entry without its key)
is refused with `SerializationException`, naming the parameter but never
echoing its value (values may be passwords or policy documents).
"""

from __future__ import annotations

import binascii
import math
import re
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, NoReturn

from botocore.model import OperationModel, ServiceModel, Shape

from garrison.errors import SerializationException

__all__ = ["Node", "build_tree", "read_request"]

# A tree node: a parameter's value, or the parameters under a dotted prefix.
# A key that is both (``Tags=`` and ``Tags.member.1=x``) keeps its value under "".
Node = str | dict[str, Any]
_Reader = Callable[[Node, str], Any]

_ABSENT: Any = object()
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_INTEGER = re.compile(r"[+-]?[0-9]+")
_INDEX = re.compile(r"[1-9][0-9]{0,5}")  # 1..999999: more members than any body can hold
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def build_tree(params: Mapping[str, str]) -> dict[str, Any]:
    """Fold dotted parameter names into nested dicts: ``A.B=1`` -> {"A": {"B": "1"}}."""
    root: dict[str, Any] = {}
    for key, value in params.items():
        if "." not in key:
            _put(root, key, value)
            continue
        *parents, last = key.split(".")
        node = root
        for part in parents:
            child = node.get(part)
            if type(child) is not dict:
                child = node[part] = {} if child is None else {"": child}
            node = child
        _put(node, last, value)
    return root


def _put(node: dict[str, Any], key: str, value: str) -> None:
    existing = node.get(key)
    if type(existing) is dict:
        existing[""] = value
    else:
        node[key] = value


def read_request(op: OperationModel, tree: dict[str, Any]) -> dict[str, Any]:
    """The members of `op`'s input found in `tree`, converted by the model (not validated)."""
    reader = _request_reader(op)
    if reader is None:
        return {}
    try:
        params: dict[str, Any] = reader(tree, "")
    except RecursionError:
        raise SerializationException("The request is nested too deeply.") from None
    return params


def _request_reader(op: OperationModel) -> _Reader | None:
    try:
        return _READERS[op]
    except KeyError:
        pass
    shape = op.input_shape
    reader = None if shape is None else _compilers(op.service_model).reader(shape)
    _READERS[op] = reader
    return reader


# -- scalars -----------------------------------------------------------------------


def _refuse(path: str, what: str) -> NoReturn:
    raise SerializationException(f"The value of parameter {path} is not {what}.")


def _scalar(convert: Callable[[str, str], Any]) -> _Reader:
    def read(node: Node, path: str) -> Any:
        if isinstance(node, str):
            return convert(node, path)
        leaf = node.get("")  # ``A=1`` sent with ``A.B=2``: the value is under ""
        if isinstance(leaf, str):
            return convert(leaf, path)
        return _ABSENT  # only deeper keys were sent: nothing for a scalar

    return read


def _read_string(node: Node, path: str) -> Any:
    # the most common reader, without the conversion call of `_scalar`
    if isinstance(node, str):
        return node
    leaf = node.get("")
    return leaf if isinstance(leaf, str) else _ABSENT


def _boolean(text: str, path: str) -> Any:
    lowered = text.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    _refuse(path, "a valid boolean (true or false)")


def _integer(bounds: tuple[int, int], noun: str) -> Callable[[str, str], Any]:
    lo, hi = bounds

    def convert(text: str, path: str) -> Any:
        # 21 characters hold any long; longer digit strings are refused before int(),
        # which raises on more than 4,300 digits
        if len(text) <= 21 and _INTEGER.fullmatch(text):
            number = int(text)
            if lo <= number <= hi:
                return number
        _refuse(path, f"a valid {noun}")

    return convert


def _float(text: str, path: str) -> Any:
    special = _SPECIAL_FLOATS.get(text)
    if special is not None:
        return special
    try:
        number = float(text)
    except ValueError:
        _refuse(path, "a valid number")
    if not math.isfinite(number):  # "inf", "nan" spelled other ways, 1e999
        _refuse(path, "a valid number")
    return number


def _blob(text: str, path: str) -> Any:
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        _refuse(path, "valid base64")


def _timestamp(text: str, path: str) -> Any:
    try:
        if _INTEGER.fullmatch(text) or text.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(text), UTC)
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        _refuse(path, "a valid ISO 8601 timestamp")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


_SCALARS: dict[str, _Reader] = {
    "string": _read_string,
    "character": _read_string,
    "boolean": _scalar(_boolean),
    "integer": _scalar(_integer(_INT32, "integer")),
    "long": _scalar(_integer(_INT64, "long integer")),
    "float": _scalar(_float),
    "double": _scalar(_float),
    "blob": _scalar(_blob),
    "timestamp": _scalar(_timestamp),
}


# -- containers ----------------------------------------------------------------------


def _indexed(node: Node, path: str) -> list[tuple[int, Node]]:
    """The children of `node` named 1, 2, 3 ... in index order (gaps allowed)."""
    if type(node) is str:
        if node == "":
            return []
        _refuse(path, "a list (send Name.member.N parameters)")
    items = []
    for key, child in node.items():  # type: ignore[union-attr]
        if key == "":
            continue  # the empty-list marker sent alongside members
        if not _INDEX.fullmatch(key):
            raise SerializationException(f"The parameter {path}.{key[:32]} is not a valid index.")
        items.append((int(key), child))
    items.sort(key=lambda item: item[0])
    return items


class _Compilers:
    """Reader closures for the input shapes of one service model."""

    def __init__(self) -> None:
        self._readers: dict[str, _Reader] = {}

    def reader(self, shape: Shape) -> _Reader:
        cached = self._readers.get(shape.name)
        if cached is not None:
            return cached
        if shape.type_name not in ("structure", "list", "map"):
            reader = _SCALARS.get(shape.type_name, _SCALARS["string"])
            self._readers[shape.name] = reader
            return reader
        cell: list[_Reader] = []
        # a recursive shape meets itself through this forwarder while compiling
        self._readers[shape.name] = lambda node, path: cell[0](node, path)
        compiled = self._compile(shape)
        cell.append(compiled)
        self._readers[shape.name] = compiled
        return compiled

    def _compile(self, shape: Shape) -> _Reader:
        if shape.type_name == "list":
            return self._list(shape)
        if shape.type_name == "map":
            return self._map(shape)
        return self._structure(shape)

    def _structure(self, shape: Shape) -> _Reader:
        fields = [
            (name, wire_name(member, name), self.reader(member))
            for name, member in shape.members.items()
        ]

        def read_structure(node: Node, path: str) -> Any:
            if type(node) is str:
                return _ABSENT  # ``Config=`` names no member: nothing to read
            out = {}
            for name, wire, reader in fields:
                child = node.get(wire)  # type: ignore[union-attr]
                if child is not None:
                    value = reader(child, path + wire if not path else f"{path}.{wire}")
                    if value is not _ABSENT:
                        out[name] = value
            return out if out or not path else _ABSENT

        return read_structure

    def _list(self, shape: Shape) -> _Reader:
        element = self.reader(shape.member)
        flattened = bool(shape.serialization.get("flattened"))
        member_name = shape.member.serialization.get("name", "member")

        def read_list(node: Node, path: str) -> Any:
            if not flattened and isinstance(node, dict):
                inner = node.get(member_name)
                if inner is None:
                    if "" in node:
                        return _indexed(node[""], path)  # ``Tags=``: the empty list
                    return _ABSENT
                node, path = inner, f"{path}.{member_name}"
            out = []
            for index, child in _indexed(node, path):
                value = element(child, f"{path}.{index}")
                if value is _ABSENT:
                    raise SerializationException(f"The parameter {path}.{index} has no value.")
                out.append(value)
            return out

        return read_list

    def _map(self, shape: Shape) -> _Reader:
        key_reader = self.reader(shape.key)
        value_reader = self.reader(shape.value)
        flattened = bool(shape.serialization.get("flattened"))
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")

        def read_map(node: Node, path: str) -> Any:
            if not flattened:
                if isinstance(node, str):
                    _indexed(node, path)  # refuses all but ``Name=``, the empty map
                    return {}
                inner = node.get("entry")
                if inner is None:
                    return _ABSENT
                node, path = inner, f"{path}.entry"
            out = {}
            for index, entry in _indexed(node, path):
                where = f"{path}.{index}"
                if type(entry) is not dict or key_name not in entry or value_name not in entry:
                    raise SerializationException(
                        f"The parameter {where} needs both a {key_name} and a {value_name}."
                    )
                key = key_reader(entry[key_name], f"{where}.{key_name}")
                value = value_reader(entry[value_name], f"{where}.{value_name}")
                if key is _ABSENT or value is _ABSENT:
                    raise SerializationException(f"The parameter {where} has no value.")
                out[key] = value
            return out

        return read_map


def wire_name(member: Shape, name: str) -> str:
    """A structure member's parameter (and XML element) name, as botocore writes it.

    A flattened list whose member shape has a locationName is named by it.
    """
    if member.type_name == "list" and member.serialization.get("flattened"):
        item_name = member.member.serialization.get("name")
        if item_name:
            return str(item_name)
    return str(member.serialization.get("name", name))


_COMPILERS: weakref.WeakKeyDictionary[ServiceModel, _Compilers] = weakref.WeakKeyDictionary()
_READERS: weakref.WeakKeyDictionary[OperationModel, _Reader | None] = weakref.WeakKeyDictionary()


def _compilers(model: ServiceModel) -> _Compilers:
    compilers = _COMPILERS.get(model)
    if compilers is None:
        compilers = _COMPILERS[model] = _Compilers()
    return compilers

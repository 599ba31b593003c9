"""The AWS ``json`` protocol (awsJson1_0 / awsJson1_1): bodies in, bodies out.

Used by KMS, SSM, Secrets Manager, ACM, CloudTrail and the other services whose
requests are ``POST /`` with ``X-Amz-Target: <prefix>.<Operation>`` and a JSON
body. Routing picks the operation; this module only converts bodies:

    parse_request(op, body)      JSON -> typed dict keyed by model member names,
                                 then validation.validate_input (AWS's messages)
    serialize_response(op, data) typed dict -> JSON, walking the output shape
    serialize_error(err)         AwsError -> (status, headers, body)

Wire typing follows the model: blobs are base64 strings (decoded strictly to
bytes), timestamps are epoch seconds (ISO-8601 strings also accepted on input;
timezone-aware UTC datetimes inside), integers are range-checked to 32/64 bits.
Members the model does not know are ignored, as AWS does, and never reach a
provider; a JSON ``null`` is the same as an absent member.

Each shape is compiled once (per service model) into reader and writer
closures, so a request costs one pass over the members actually present.
"""

from __future__ import annotations

import binascii
import math
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any, NoReturn

import orjson
from botocore.model import OperationModel, ServiceModel, Shape

from garrison.errors import AwsError, SerializationException
from garrison.protocol.validation import validate_input

__all__ = [
    "content_type",
    "parse_request",
    "serialize_error",
    "serialize_response",
]

_Convert = Callable[[Any], Any]

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def content_type(json_version: str | None) -> str:
    """``application/x-amz-json-1.1`` for the model's ``jsonVersion`` (1.0 if unset)."""
    return f"application/x-amz-json-{json_version or '1.0'}"


# -- requests --------------------------------------------------------------------


def parse_request(op: OperationModel, body: bytes) -> dict[str, Any]:
    """The request `body` of `op` as a validated dict keyed by member names.

    Raises SerializationException for a body that is not JSON or holds a value
    of the wrong type, ValidationException for a constraint the values break.
    """
    if not body or body.isspace():
        raw: Any = {}
    else:
        try:
            raw = orjson.loads(body)
        except orjson.JSONDecodeError:
            # `from None`: the decoder's exception carries the body (secrets).
            raise SerializationException("The request body is not valid JSON.") from None
        if type(raw) is not dict:
            raise SerializationException("The request body must be a JSON object.")
    reader = _request_reader(op)
    if reader is None:
        return {}
    try:
        params: dict[str, Any] = reader(raw)
        validate_input(op, params)
    except RecursionError:
        raise SerializationException("The request body is nested too deeply.") from None
    return params


def _request_reader(op: OperationModel) -> _Convert | None:
    try:
        return _READERS[op]
    except KeyError:
        pass
    shape = op.input_shape
    reader = None if shape is None else _compilers(op.service_model).reader(shape)
    _READERS[op] = reader
    return reader


def _mismatch(value: Any, target: str) -> NoReturn:
    """Raise AWS's (Coral's) wording for a JSON value of the wrong type."""
    if isinstance(value, dict):
        raise SerializationException("Start of structure or map found where not expected.")
    if isinstance(value, list):
        raise SerializationException("Start of list found where not expected.")
    if isinstance(value, str):
        found = "STRING_VALUE"
    elif isinstance(value, bool):
        found = "BOOLEAN_VALUE"
    else:
        found = "NUMBER_VALUE"
    article = "an" if target[0] in "AEIOU" else "a"
    raise SerializationException(f"{found} can not be converted to {article} {target}")


def _read_string(value: Any) -> Any:
    if type(value) is str:
        return value
    _mismatch(value, "String")


def _read_boolean(value: Any) -> Any:
    if type(value) is bool:
        return value
    _mismatch(value, "Boolean")


def _integer_reader(target: str, bounds: tuple[int, int]) -> _Convert:
    lo, hi = bounds

    def read(value: Any) -> Any:
        if type(value) is int and lo <= value <= hi:
            return value
        _mismatch(value, target)

    return read


def _float_reader(target: str) -> _Convert:
    def read(value: Any) -> Any:
        kind = type(value)
        if kind is float:
            return value
        if kind is int:
            return float(value)
        if kind is str and value in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[value]
        _mismatch(value, target)

    return read


def _read_blob(value: Any) -> Any:
    if type(value) is not str:
        _mismatch(value, "Blob")
    try:
        return binascii.a2b_base64(value.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        # Never echo the value: blobs are plaintexts, ciphertexts, key material.
        raise SerializationException("A Blob value is not valid base64.") from None


def _read_timestamp(value: Any) -> Any:
    kind = type(value)
    try:
        if kind is int or kind is float:
            return datetime.fromtimestamp(value, UTC)
        if kind is str:
            return _parse_timestamp_text(value)
    except (ValueError, TypeError, OverflowError, OSError):
        pass
    _mismatch(value, "Timestamp")


def _parse_timestamp_text(text: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = parsedate_to_datetime(text)  # RFC 822, as headers carry them
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _read_document(value: Any) -> Any:
    return value


_SCALAR_READERS: dict[str, _Convert] = {
    "string": _read_string,
    "boolean": _read_boolean,
    "integer": _integer_reader("Integer", _INT32),
    "long": _integer_reader("Long", _INT64),
    "float": _float_reader("Float"),
    "double": _float_reader("Double"),
    "blob": _read_blob,
    "timestamp": _read_timestamp,
}


# -- responses -------------------------------------------------------------------


def serialize_response(op: OperationModel, data: Mapping[str, Any] | None) -> bytes:
    """The JSON body for `op`'s output `data` (a dict keyed by member names)."""
    if data is None:
        return b"{}"
    writer = _response_writer(op)
    if writer is None:
        return b"{}"
    return orjson.dumps(writer(data))


def serialize_error(
    err: AwsError, json_version: str | None = "1.1"
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) for `err`, as botocore's json parsers read it.

    botocore takes the code from ``__type`` (json) or the ``x-amzn-ErrorType``
    header (rest-json) and the text from ``message``; both are sent.
    """
    code = err.code
    payload: dict[str, Any] = {"__type": code, "message": err.message}
    # Modeled members of the error shape beyond the message (Organizations'
    # Reason), set by the service as `err.fields`.
    extra = getattr(err, "fields", None)
    if extra:
        payload.update(extra)
    body = orjson.dumps(payload)
    headers = [
        (b"content-type", content_type(json_version).encode("ascii")),
        (b"x-amzn-errortype", code.encode("ascii", "replace")),
    ]
    return err.status, headers, body


def _response_writer(op: OperationModel) -> _Convert | None:
    try:
        return _WRITERS[op]
    except KeyError:
        pass
    shape = op.output_shape
    writer = None if shape is None else _compilers(op.service_model).writer(shape)
    _WRITERS[op] = writer
    return writer


def _write_blob(value: Any) -> Any:
    return binascii.b2a_base64(value, newline=False).decode("ascii")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _write_epoch(value: Any) -> Any:
    if isinstance(value, datetime):
        return round(_utc(value).timestamp(), 3)  # AWS sends millisecond precision
    return value


def _write_iso8601(value: Any) -> Any:
    if isinstance(value, datetime):
        text = _utc(value).astimezone(UTC).isoformat(timespec="milliseconds")
        return text.replace("+00:00", "Z")
    return value


def _write_rfc822(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(_utc(value).astimezone(UTC), usegmt=True)
    return value


def _write_float(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


_TIMESTAMP_WRITERS: dict[str, _Convert] = {
    "unixtimestamp": _write_epoch,
    "iso8601": _write_iso8601,
    "rfc822": _write_rfc822,
}


# -- compiled shapes ---------------------------------------------------------------


class _Compilers:
    """Reader and writer closures for the shapes of one service model."""

    def __init__(self) -> None:
        self._readers: dict[str, _Convert] = {}
        # Keyed by format too: a member may override its timestamp's format.
        self._writers: dict[tuple[str, str | None], _Convert | None] = {}

    def reader(self, shape: Shape) -> _Convert:
        cached = self._readers.get(shape.name)
        if cached is not None:
            return cached
        if shape.type_name not in ("structure", "list", "map"):
            reader = _SCALAR_READERS.get(shape.type_name, _read_document)
            self._readers[shape.name] = reader
            return reader
        cell: list[_Convert] = []
        self._readers[shape.name] = lambda value: cell[0](value)  # for recursive shapes
        compiled = self._compile_reader(shape)
        cell.append(compiled)
        self._readers[shape.name] = compiled
        return compiled

    def _compile_reader(self, shape: Shape) -> _Convert:
        kind = shape.type_name
        if kind == "list":
            element = self.reader(shape.member)

            def read_list(value: Any) -> Any:
                if type(value) is not list:
                    _mismatch(value, "List")
                return [None if item is None else element(item) for item in value]

            return read_list
        if kind == "map":
            key_reader = self.reader(shape.key)
            item_reader = self.reader(shape.value)

            def read_map(value: Any) -> Any:
                if type(value) is not dict:
                    _mismatch(value, "Map")
                return {
                    key_reader(key): None if item is None else item_reader(item)
                    for key, item in value.items()
                }

            return read_map
        if shape.metadata.get("document"):
            return _read_document
        fields = {
            member.serialization.get("name", name): (name, self.reader(member))
            for name, member in shape.members.items()
        }

        def read_structure(value: Any) -> Any:
            if type(value) is not dict:
                _mismatch(value, "Structure")
            out = {}
            for key, item in value.items():
                field = fields.get(key)
                if field is not None and item is not None:
                    out[field[0]] = field[1](item)
            return out

        return read_structure

    def writer(self, shape: Shape) -> _Convert | None:
        """The converter for output values of `shape`; None when JSON takes them as is."""
        key = (shape.name, shape.serialization.get("timestampFormat"))
        if key in self._writers:
            return self._writers[key]
        cell: list[_Convert | None] = []

        def forward(value: Any) -> Any:
            target = cell[0]
            return value if target is None else target(value)

        self._writers[key] = forward  # for recursive shapes
        compiled = self._compile_writer(shape)
        cell.append(compiled)
        self._writers[key] = compiled
        return compiled

    def _compile_writer(self, shape: Shape) -> _Convert | None:
        kind = shape.type_name
        if kind == "blob":
            return _write_blob
        if kind == "timestamp":
            fmt = str(shape.serialization.get("timestampFormat", "unixtimestamp")).lower()
            writer: _Convert = _TIMESTAMP_WRITERS.get(fmt, _write_epoch)
            return writer
        if kind in ("float", "double"):
            return _write_float
        if kind == "list":
            element = self.writer(shape.member)
            if element is None:
                return None
            return lambda value: [None if item is None else element(item) for item in value]
        if kind == "map":
            item_writer = self.writer(shape.value)
            if item_writer is None:
                return None
            return lambda value: {
                key: None if item is None else item_writer(item) for key, item in value.items()
            }
        if kind != "structure" or shape.metadata.get("document"):
            return None
        return self._structure_writer(shape)

    def _structure_writer(self, shape: Shape) -> _Convert:
        fields = {
            name: (member.serialization.get("name", name), self.writer(member))
            for name, member in shape.members.items()
        }
        if all(key == name and writer is None for name, (key, writer) in fields.items()):
            names = frozenset(fields)
            # Only filtering to do: the common case for flat outputs.
            return lambda value: {
                name: item for name, item in value.items() if item is not None and name in names
            }

        def write_structure(value: Any) -> Any:
            out = {}
            for name, item in value.items():
                field = fields.get(name)
                if field is not None and item is not None:
                    key, writer = field
                    out[key] = item if writer is None else writer(item)
            return out

        return write_structure


_COMPILERS: weakref.WeakKeyDictionary[ServiceModel, _Compilers] = weakref.WeakKeyDictionary()
_READERS: weakref.WeakKeyDictionary[OperationModel, _Convert | None] = weakref.WeakKeyDictionary()
_WRITERS: weakref.WeakKeyDictionary[OperationModel, _Convert | None] = weakref.WeakKeyDictionary()


def _compilers(model: ServiceModel) -> _Compilers:
    compilers = _COMPILERS.get(model)
    if compilers is None:
        compilers = _COMPILERS[model] = _Compilers()
    return compilers

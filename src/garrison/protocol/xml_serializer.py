"""Responses of the AWS ``query`` protocol: typed dict -> XML, as botocore reads it.

    <{Op}Response xmlns="{xmlNamespace}">
      <{Op}Result> ...members of the output shape... </{Op}Result>   (its resultWrapper)
      <ResponseMetadata><RequestId>{id}</RequestId></ResponseMetadata>
    </{Op}Response>

An operation without an output shape answers the envelope with its metadata
only. Members are elements named by their locationName (or member name); lists
are ``<Name><member>..</member></Name>`` (the member's locationName if it has
one) or, flattened, the element repeated; maps are
``<Name><entry><key/><value/></entry></Name>`` (key/value locationNames kept)
or, flattened, ``<Name><key/><value/></Name>`` repeated. Timestamps are ISO 8601
UTC (``2026-11-29T01:02:03Z``, milliseconds only when there are some), booleans
``true``/``false``, blobs base64, text XML-escaped.

Built as strings, never a DOM: each shape compiles once into an emitter that
appends to one list, joined at the end. Characters XML 1.0 cannot carry at all
(C0 controls other than tab/newline/CR, lone surrogates, U+FFFE/U+FFFF) are
written as U+FFFD, since no client could parse the document otherwise; a
carriage return is written as ``&#xD;`` so that it survives XML's line-end
normalisation.
"""

from __future__ import annotations

import binascii
import math
import re
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from garrison.protocol.query_parser import wire_name

__all__ = ["document", "escape", "serialize_response"]

# emit(out, open_tag, close_tag, value): appends one element (or, flattened, several)
_Emit = Callable[[list[str], str, str, Any], None]

_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_UNREPRESENTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(text: str) -> str:
    """`text` as XML character data."""
    if _SPECIAL.search(text) is None:
        return text  # the common case: one regex scan, no copy
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("\r", "&#xD;")
    return _UNREPRESENTABLE.sub("\ufffd", text)


def document(op: OperationModel, namespace: str | None, body: str, request_id: str) -> bytes:
    """The ``{Op}Response`` envelope around `body` (already XML)."""
    name = op.name
    xmlns = f' xmlns="{escape(namespace)}"' if namespace else ""
    return (
        f"<{name}Response{xmlns}>{body}<ResponseMetadata><RequestId>"
        f"{escape(request_id)}</RequestId></ResponseMetadata></{name}Response>"
    ).encode()


def serialize_response(
    op: OperationModel, data: Mapping[str, Any] | None, *, request_id: str
) -> bytes:
    """The XML body answering `op` with output `data` (a dict keyed by member names)."""
    namespace = op.service_model.metadata.get("xmlNamespace")
    writer = _response_writer(op)
    if writer is None:
        return document(op, namespace, "", request_id)
    out: list[str] = []
    writer(out, data or {})
    return document(op, namespace, "".join(out), request_id)


def _response_writer(op: OperationModel) -> Callable[[list[str], Any], None] | None:
    try:
        return _WRITERS[op]
    except KeyError:
        pass
    shape = op.output_shape
    writer: Callable[[list[str], Any], None] | None = None
    if shape is not None:
        content = _compilers(op.service_model).content(shape)
        wrapper = shape.serialization.get("resultWrapper")
        if wrapper:
            opening, closing = f"<{wrapper}>", f"</{wrapper}>"

            def write_wrapped(out: list[str], value: Any) -> None:
                out.append(opening)
                content(out, value)
                out.append(closing)

            writer = write_wrapped
        else:
            writer = content
    _WRITERS[op] = writer
    return writer


# -- scalars -------------------------------------------------------------------------


def _text_string(value: Any) -> str:
    return escape(value if type(value) is str else str(value))


def _text_boolean(value: Any) -> str:
    return "true" if value else "false"


def _text_integer(value: Any) -> str:
    return str(int(value))


def _text_float(value: Any) -> str:
    number = float(value)
    if math.isfinite(number):
        return repr(number)
    return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")


def _text_blob(value: Any) -> str:
    if isinstance(value, str):
        value = value.encode()
    return binascii.b2a_base64(value, newline=False).decode("ascii")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _text_iso8601(value: Any) -> str:
    if not isinstance(value, datetime):
        return escape(str(value))
    moment = _utc(value)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _text_epoch(value: Any) -> str:
    if not isinstance(value, datetime):
        return escape(str(value))
    return repr(round(_utc(value).timestamp(), 3))


def _text_rfc822(value: Any) -> str:
    if not isinstance(value, datetime):
        return escape(str(value))
    return format_datetime(_utc(value), usegmt=True)


_TEXTS: dict[str, Callable[[Any], str]] = {
    "string": _text_string,
    "character": _text_string,
    "boolean": _text_boolean,
    "integer": _text_integer,
    "long": _text_integer,
    "float": _text_float,
    "double": _text_float,
    "blob": _text_blob,
}
_TIMESTAMP_TEXTS: dict[str, Callable[[Any], str]] = {
    "iso8601": _text_iso8601,
    "unixtimestamp": _text_epoch,
    "rfc822": _text_rfc822,
}


def _scalar_emitter(text: Callable[[Any], str]) -> _Emit:
    def emit(out: list[str], opening: str, closing: str, value: Any) -> None:
        out.append(opening + text(value) + closing)

    return emit


# -- containers -------------------------------------------------------------------------


class _Compilers:
    """Emitters for the output shapes of one service model."""

    def __init__(self) -> None:
        # keyed by timestamp format too: a member may override its shape's format
        self._emitters: dict[tuple[str, str | None], _Emit] = {}
        self._contents: dict[str, Callable[[list[str], Any], None]] = {}

    def content(self, shape: Shape) -> Callable[[list[str], Any], None]:
        """What goes between a structure's tags: its members' elements."""
        cached = self._contents.get(shape.name)
        if cached is None:
            cached = self._contents[shape.name] = self._structure_content(shape)
        return cached

    def emitter(self, shape: Shape) -> _Emit:
        key = (shape.name, shape.serialization.get("timestampFormat"))
        cached = self._emitters.get(key)
        if cached is not None:
            return cached
        cell: list[_Emit] = []

        def forward(out: list[str], opening: str, closing: str, value: Any) -> None:
            cell[0](out, opening, closing, value)

        self._emitters[key] = forward  # recursive shapes meet this while compiling
        compiled = self._compile(shape)
        cell.append(compiled)
        self._emitters[key] = compiled
        return compiled

    def _compile(self, shape: Shape) -> _Emit:
        kind = shape.type_name
        if kind == "structure":
            return self._structure(shape)
        if kind == "list":
            return self._list(shape)
        if kind == "map":
            return self._map(shape)
        if kind == "timestamp":
            fmt = str(shape.serialization.get("timestampFormat", "iso8601")).lower()
            return _scalar_emitter(_TIMESTAMP_TEXTS.get(fmt, _text_iso8601))
        return _scalar_emitter(_TEXTS.get(kind, _text_string))

    def _structure_content(self, shape: Shape) -> Callable[[list[str], Any], None]:
        fields = []
        for name, member in shape.members.items():
            tag = wire_name(member, name)
            fields.append((name, f"<{tag}>", f"</{tag}>", self.emitter(member)))

        def content(out: list[str], value: Any) -> None:
            get = value.get
            for name, opening, closing, emit in fields:
                item = get(name)
                if item is not None:
                    emit(out, opening, closing, item)

        return content

    def _structure(self, shape: Shape) -> _Emit:
        cell: list[Callable[[list[str], Any], None]] = []

        def emit(out: list[str], opening: str, closing: str, value: Any) -> None:
            if not cell:
                cell.append(self.content(shape))  # late: the shape may contain itself
            out.append(opening)
            cell[0](out, value)
            out.append(closing)

        return emit

    def _list(self, shape: Shape) -> _Emit:
        item = self.emitter(shape.member)
        if shape.serialization.get("flattened"):

            def emit_flattened(out: list[str], opening: str, closing: str, value: Any) -> None:
                for element in value:
                    if element is not None:
                        item(out, opening, closing, element)

            return emit_flattened
        tag = shape.member.serialization.get("name", "member")
        item_open, item_close = f"<{tag}>", f"</{tag}>"

        def emit_list(out: list[str], opening: str, closing: str, value: Any) -> None:
            out.append(opening)
            for element in value:
                if element is not None:
                    item(out, item_open, item_close, element)
            out.append(closing)

        return emit_list

    def _map(self, shape: Shape) -> _Emit:
        key_emit = self.emitter(shape.key)
        value_emit = self.emitter(shape.value)
        key_tag = shape.key.serialization.get("name", "key")
        value_tag = shape.value.serialization.get("name", "value")
        key_open, key_close = f"<{key_tag}>", f"</{key_tag}>"
        value_open, value_close = f"<{value_tag}>", f"</{value_tag}>"

        def entries(out: list[str], opening: str, closing: str, value: Any) -> None:
            for key, item in value.items():
                if item is None:
                    continue
                out.append(opening)
                key_emit(out, key_open, key_close, key)
                value_emit(out, value_open, value_close, item)
                out.append(closing)

        if shape.serialization.get("flattened"):
            return entries

        def emit_map(out: list[str], opening: str, closing: str, value: Any) -> None:
            out.append(opening)
            entries(out, "<entry>", "</entry>", value)
            out.append(closing)

        return emit_map


_COMPILERS: weakref.WeakKeyDictionary[ServiceModel, _Compilers] = weakref.WeakKeyDictionary()
_WRITERS: weakref.WeakKeyDictionary[OperationModel, Callable[[list[str], Any], None] | None] = (
    weakref.WeakKeyDictionary()
)


def _compilers(model: ServiceModel) -> _Compilers:
    compilers = _COMPILERS.get(model)
    if compilers is None:
        compilers = _COMPILERS[model] = _Compilers()
    return compilers

"""The AWS ``query`` protocol (IAM, STS, ELBv2): form parameters in, XML out.

A query request carries no ``X-Amz-Target``; the pipeline routes it by the
SigV4 credential scope's service and the ``Action`` parameter (or, unsigned, by
its ``Version``), and this module does the rest:

    read_params(query, body, type)  the form pairs of a POST body and/or a GET's query
    signing_service(auth, query)    the scope's service, read before any verification
    parse_request(op, params)       pairs -> typed dict keyed by model member names,
                                    then validation.validate_input (AWS's messages)
    serialize_response(...)         typed dict -> XML (xml_serializer.py)
    serialize_error(err, spec)      AwsError -> <ErrorResponse> with the query code

Parsing is query_parser.py; unknown parameters are ignored, as AWS ignores them
(see there). ``Version`` is checked by routing: a wrong one is InvalidAction,
an absent one means the model's.

Error codes: query services answer the platform's errors with codes of their
own. They are mapped here and nowhere else, from the code a Garrison error
carries to the code, HTTP status and fault AWS's query front ends answer with
(AWS's "Common Errors" pages of IAM, STS and the query services)::

    UnrecognizedClientException          InvalidClientTokenId        403
    InvalidSignatureException            SignatureDoesNotMatch       403
    IncompleteSignatureException         IncompleteSignature         400
    MissingAuthenticationTokenException  MissingAuthenticationToken  403
    ExpiredTokenException                ExpiredToken                403
    AccessDeniedException                AccessDenied                403
    ValidationException                  ValidationError             400
    UnknownOperationException            InvalidAction               400
    SerializationException               InvalidParameterValue       400
    ThrottlingException                  Throttling                  400
    ServiceUnavailableException          ServiceUnavailable          503
    InternalFailure                      InternalFailure             500

Any other code is looked up among the service model's error shapes, by shape
name or by wire code (``NoSuchEntityException`` and ``NoSuchEntity`` both
answer ``NoSuchEntity``, 404, from IAM's ``awsQueryError`` trait); an error the
model does not know keeps its own code and status. Platform codes come first:
STS's model also has an ``ExpiredTokenException`` (for the web identity
tokens of AssumeRoleWithWebIdentity, which Garrison does not implement), and an
expired session must read ``ExpiredToken``, 403, as AWS answers it.
"""

from __future__ import annotations

import weakref
from typing import Any
from urllib.parse import unquote_plus, unquote_to_bytes

from botocore.model import OperationModel, ServiceModel

from garrison.errors import (
    AwsError,
    MalformedQueryStringException,
    error_class,
)
from garrison.protocol.query_parser import build_tree, read_request
from garrison.protocol.specs import ServiceSpec
from garrison.protocol.validation import validate_input
from garrison.protocol.xml_serializer import escape, serialize_response

__all__ = [
    "CONTENT_TYPE",
    "parse_request",
    "read_params",
    "serialize_error",
    "serialize_response",
    "signing_service",
    "wire_error",
]

CONTENT_TYPE = b"text/xml"
_FORM = b"application/x-www-form-urlencoded"

# code Garrison raises -> (code, HTTP status) query services answer with
PLATFORM_CODES: dict[str, tuple[str, int]] = {
    "UnrecognizedClientException": ("InvalidClientTokenId", 403),
    "InvalidSignatureException": ("SignatureDoesNotMatch", 403),
    "IncompleteSignatureException": ("IncompleteSignature", 400),
    "MissingAuthenticationTokenException": ("MissingAuthenticationToken", 403),
    "ExpiredTokenException": ("ExpiredToken", 403),
    "AccessDeniedException": ("AccessDenied", 403),
    "ValidationException": ("ValidationError", 400),
    "UnknownOperationException": ("InvalidAction", 400),
    "SerializationException": ("InvalidParameterValue", 400),
    "ThrottlingException": ("Throttling", 400),
    "ServiceUnavailableException": ("ServiceUnavailable", 503),
    "InternalFailure": ("InternalFailure", 500),
}


# -- requests ---------------------------------------------------------------------------


def read_params(query_string: bytes, body: bytes, content_type: bytes | None) -> dict[str, str]:
    """The form pairs of a request: its query string, then its form body.

    A body is read as a form when it says it is one (or says nothing); a name
    sent twice keeps its last value. Raises MalformedQueryStringException for
    text that is not percent-encoded UTF-8.
    """
    params: dict[str, str] = {}
    if query_string:
        _read_form(query_string, params)
    if body and (content_type is None or content_type[:33].lower() == _FORM):
        _read_form(body, params)
    return params


def _read_form(raw: bytes, into: dict[str, str]) -> None:
    try:
        text = raw.decode("utf-8")
        for pair in text.split("&"):
            if not pair:
                continue
            name, _, value = pair.partition("=")
            # unquote only what needs it: most names and many values are plain
            if "%" in name or "+" in name:
                name = unquote_plus(name, errors="strict")
            if "%" in value or "+" in value:
                value = unquote_plus(value, errors="strict")
            into[name] = value
    except UnicodeDecodeError:
        raise MalformedQueryStringException(
            "The request's parameters are not percent-encoded UTF-8."
        ) from None


def signing_service(authorization: bytes | None, query_string: bytes) -> str | None:
    """The service of a request's SigV4 credential scope, or None if it names none.

    Only routes the request: the signature, scope and date are verified later,
    and a request routed by a forged scope fails that verification.
    """
    if authorization:
        start = authorization.find(b"Credential=")
        if start < 0:
            return None
        end = authorization.find(b",", start)
        scope = authorization[start + 11 : end if end >= 0 else None].strip()
    else:
        start = query_string.find(b"X-Amz-Credential=")
        if start < 0 or (start and query_string[start - 1 : start] != b"&"):
            return None
        end = query_string.find(b"&", start)
        # bytes throughout: the scope may hold any percent-encoded bytes at all
        scope = unquote_to_bytes(
            query_string[start + 17 : end if end >= 0 else None].replace(b"+", b" ")
        )
    parts = scope.split(b"/")
    if len(parts) != 5 or not parts[3]:
        return None
    return parts[3].decode("latin-1")


def parse_request(op: OperationModel, params: dict[str, str]) -> dict[str, Any]:
    """The request `params` of `op` as a validated dict keyed by member names.

    Raises SerializationException for a value of the wrong type or a member of
    the wrong shape, ValidationException for a constraint the values break.
    """
    request = read_request(op, build_tree(params))
    validate_input(op, request)
    return request


# -- errors -------------------------------------------------------------------------------


def wire_error(err: AwsError, model: ServiceModel | None) -> AwsError:
    """`err` as a query service answers it: its code and status on this protocol."""
    found = PLATFORM_CODES.get(err.code)
    if found is None and model is not None:
        found = _model_codes(model).get(err.code)
    if found is None:
        return err
    code, status = found
    if code == err.code and status == err.status:
        return err
    answered = _error_type(code, status)(err.message)
    answered.__cause__ = err
    fields = getattr(err, "fields", None)
    if fields:
        answered.fields = fields  # type: ignore[attr-defined]
    return answered


def serialize_error(
    err: AwsError, spec: ServiceSpec, request_id: str
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) for `err`, as botocore's query parser reads it."""
    answered = wire_error(err, spec.model)
    fault = "Sender" if answered.sender_fault else "Receiver"
    namespace = spec.xml_namespace
    xmlns = f' xmlns="{escape(namespace)}"' if namespace else ""
    # modeled members of the error shape beyond its message, set by the service
    # as `err.fields` (scalars), go inside <Error> where botocore reads them
    fields = getattr(answered, "fields", None) or {}
    extra = "".join(f"<{name}>{escape(str(value))}</{name}>" for name, value in fields.items())
    body = (
        f"<ErrorResponse{xmlns}><Error><Type>{fault}</Type>"
        f"<Code>{escape(answered.code)}</Code><Message>{escape(answered.message)}</Message>"
        f"{extra}</Error><RequestId>{escape(request_id)}</RequestId></ErrorResponse>"
    ).encode()
    return answered.status, [(b"content-type", CONTENT_TYPE)], body


_ERROR_TYPES: dict[tuple[str, int], type[AwsError]] = {}


def _error_type(code: str, status: int) -> type[AwsError]:
    found = _ERROR_TYPES.get((code, status))
    if found is None:
        found = _ERROR_TYPES[(code, status)] = error_class(code, status, sender_fault=status < 500)
    return found


_MODEL_CODES: weakref.WeakKeyDictionary[ServiceModel, dict[str, tuple[str, int]]] = (
    weakref.WeakKeyDictionary()
)


def _model_codes(model: ServiceModel) -> dict[str, tuple[str, int]]:
    """Shape name and wire code -> (wire code, status), for `model`'s error shapes."""
    codes = _MODEL_CODES.get(model)
    if codes is None:
        codes = {}
        for shape in model.error_shapes:
            trait = shape.metadata.get("error") or {}
            answer = (str(trait.get("code", shape.name)), int(trait.get("httpStatusCode", 400)))
            codes[shape.name] = answer
            codes.setdefault(answer[0], answer)
        _MODEL_CODES[model] = codes
    return codes

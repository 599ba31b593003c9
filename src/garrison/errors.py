"""The one error base for everything Garrison answers with.

Providers and services raise `AwsError` subclasses; the protocol layer renders
them for the wire in exactly one place. An error never renders itself.

    AwsError                       code, message, HTTP status, sender fault
     ├── ValidationException       400, AWS's "N validation error(s) detected: ..."
     ├── SerializationException    400, a body that is not what the model says
     ├── AccessDeniedException     400 (json services), 403 elsewhere
     ├── UnknownOperationException 400
     ├── MissingActionException    400, a query request without Action
     ├── MalformedQueryStringException  404, form text that is not percent-encoded UTF-8
     ├── ... service errors (services/<name>/errors.py)
     └── InternalFailure           500, anything unexpected (never swallowed)
"""

from __future__ import annotations

from typing import ClassVar


class AwsError(Exception):
    """An error with AWS's code, HTTP status and a message safe to show."""

    code: ClassVar[str] = "InternalFailure"
    status: ClassVar[int] = 400
    sender_fault: ClassVar[bool] = True

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


def error_class(code: str, status: int = 400, *, sender_fault: bool = True) -> type[AwsError]:
    """Make an `AwsError` subclass for an error code known only at run time."""
    return type(code, (AwsError,), {"code": code, "status": status, "sender_fault": sender_fault})


class ValidationException(AwsError):
    code = "ValidationException"


class SerializationException(AwsError):
    code = "SerializationException"


class AccessDeniedException(AwsError):
    code = "AccessDeniedException"


class UnknownOperationException(AwsError):
    code = "UnknownOperationException"


class UnsupportedOperationException(AwsError):
    """An operation (or request member) of the model this release does not do yet."""

    code = "UnsupportedOperationException"


class InvalidActionException(AwsError):
    """The target names no service Garrison serves."""

    code = "InvalidAction"


class MissingActionException(AwsError):
    """A query-protocol request (IAM, STS) that names no ``Action``."""

    code = "MissingAction"


class MalformedQueryStringException(AwsError):
    """Query-protocol parameters that cannot be decoded (AWS documents 404 for it)."""

    code = "MalformedQueryString"
    status = 404


class MissingAuthenticationTokenException(AwsError):
    code = "MissingAuthenticationTokenException"
    status = 400


class UnrecognizedClientException(AwsError):
    code = "UnrecognizedClientException"


class InvalidSignatureException(AwsError):
    code = "InvalidSignatureException"


class IncompleteSignatureException(AwsError):
    code = "IncompleteSignatureException"


class ExpiredTokenException(AwsError):
    code = "ExpiredTokenException"


class RequestEntityTooLargeException(AwsError):
    code = "RequestEntityTooLargeException"
    status = 413


class ThrottlingException(AwsError):
    code = "ThrottlingException"


class ServiceUnavailableException(AwsError):
    """The server is sealed or shutting down."""

    code = "ServiceUnavailableException"
    status = 503
    sender_fault = False


class InternalFailure(AwsError):
    code = "InternalFailure"
    status = 500
    sender_fault = False

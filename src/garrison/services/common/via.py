"""Calls one Garrison service makes to another on its caller's behalf.

SSM decrypting a SecureString calls KMS Decrypt as the caller, through the
service's principal: AWS authorises that call with the caller's permissions and
the ``kms:ViaService`` condition key (``ssm.<region>.amazonaws.com``), and
CloudTrail records it as an event of its own, with ``invokedBy`` and
``sourceIPAddress`` ``ssm.amazonaws.com``. `via_service` gives the calling
service a `Call` for the other service's use cases that does both: its context
carries ``extra["via_service"]`` and a fresh event id, and when it ends (with
success or with the error it raised) the call is listed on the outer `Call` for
the pipeline to audit in the same transaction.

Every cached GetParameter (SecureString) and GetSecretValue makes one, so it is
written for the hot path: a plain context manager (no generator), the inner
context built directly rather than by `dataclasses.replace`, the `InnerCall`
built once, and the service principals' names kept per (service, Region).
"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Any

from garrison.api import Call, InnerCall
from garrison.context import RequestContext
from garrison.errors import AwsError

# (calling service, Region) -> ("<service>.<region>.amazonaws.com", "<service>.amazonaws.com")
_PRINCIPALS: dict[tuple[str, str], tuple[str, str]] = {}
_SOURCES: dict[str, str] = {}  # called service -> its eventSource, "<service>.amazonaws.com"


def _principals(service: str, region: str) -> tuple[str, str]:
    found = _PRINCIPALS.get((service, region))
    if found is None:
        if len(_PRINCIPALS) >= 4096:  # Regions come from the caller's signature
            _PRINCIPALS.clear()
        found = (f"{service}.{region}.amazonaws.com", f"{service}.amazonaws.com")
        _PRINCIPALS[(service, region)] = found
    return found


def _source(service: str) -> str:
    found = _SOURCES.get(service)
    if found is None:
        found = _SOURCES[service] = f"{service}.amazonaws.com"
    return found


class InnerService:
    """The context manager `via_service` returns: enters as the inner `Call`."""

    __slots__ = (
        "_call",
        "_inner",
        "_invoked_by",
        "_operation",
        "_read_only",
        "_request",
        "_service",
    )

    def __init__(
        self,
        call: Call,
        service: str,
        operation: str,
        read_only: bool,
        request_parameters: dict[str, Any] | None,
    ) -> None:
        self._call = call
        self._service = service
        self._operation = operation
        self._read_only = read_only
        self._request = request_parameters
        self._inner: Call | None = None
        self._invoked_by = ""

    def __enter__(self) -> Call:
        call = self._call
        ctx = call.ctx
        event_ids = call.event_ids
        via, self._invoked_by = _principals(ctx.service, ctx.region)
        extra = ctx.extra
        # every field of the outer context but service, operation, event id and extra,
        # positionally (1 us less than by keyword; tests/services/common/test_via.py fails
        # if RequestContext's fields change and this is not changed with them)
        inner_ctx = RequestContext(
            ctx.request_id,
            self._service,
            self._operation,
            ctx.region,
            ctx.principal,
            ctx.now,
            ctx.source_ip,
            ctx.user_agent,
            ctx.secure_transport,
            event_ids() if event_ids is not None else str(uuid.uuid4()),
            {**extra, "via_service": via} if extra else {"via_service": via},
        )
        inner = self._inner = Call(inner_ctx, call.tx, event_ids=event_ids)
        return inner

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        inner = self._inner
        assert inner is not None
        if exc is None:
            code = message = None
        elif isinstance(exc, AwsError):
            code, message = exc.code, exc.message
        else:
            return  # not an AWS error: the outer call fails as a whole, nothing to audit
        self._call.inner.append(
            InnerCall(
                event_id=inner.ctx.event_id,
                event_source=_source(self._service),
                event_name=self._operation,
                invoked_by=self._invoked_by,
                read_only=self._read_only,
                request_parameters=self._request,
                resources=tuple(inner.resources),
                error_code=code,
                error_message=message,
            )
        )


def via_service(
    call: Call,
    *,
    service: str,
    operation: str,
    read_only: bool,
    request_parameters: dict[str, Any] | None,
) -> InnerService:
    """A `Call` of `service`'s `operation` made for `call`'s principal by the service
    `call` is for; audited (as `InnerCall`) whether it succeeds or raises an `AwsError`."""
    return InnerService(call, service, operation, read_only, request_parameters)

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
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from garrison.api import Call, InnerCall
from garrison.errors import AwsError


@contextmanager
def via_service(
    call: Call,
    *,
    service: str,
    operation: str,
    read_only: bool,
    request_parameters: dict[str, Any] | None,
) -> Iterator[Call]:
    """A `Call` of `service`'s `operation` made for `call`'s principal by the service
    `call` is for; audited (as `InnerCall`) whether it succeeds or raises."""
    ctx = call.ctx
    event_id = call.event_ids() if call.event_ids is not None else str(uuid.uuid4())
    inner_ctx = replace(
        ctx,
        service=service,
        operation=operation,
        event_id=event_id,
        extra={**ctx.extra, "via_service": f"{ctx.service}.{ctx.region}.amazonaws.com"},
    )
    inner = Call(inner_ctx, call.tx, event_ids=call.event_ids)
    record = InnerCall(
        event_id=event_id,
        event_source=f"{service}.amazonaws.com",
        event_name=operation,
        invoked_by=f"{ctx.service}.amazonaws.com",
        read_only=read_only,
        request_parameters=request_parameters,
    )
    try:
        yield inner
    except AwsError as err:
        call.inner.append(
            replace(
                record,
                resources=tuple(inner.resources),
                error_code=err.code,
                error_message=err.message,
            )
        )
        raise
    call.inner.append(replace(record, resources=tuple(inner.resources)))

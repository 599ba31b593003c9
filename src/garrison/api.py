"""The contract between the request pipeline and the services.

A provider is a table of handlers, one per operation of a botocore service
model. A handler receives a `Call` (the request context, the transaction it
runs in, and what it wants the audit event to name) and the request as a
validated dict keyed by the model's member names; it returns the response dict
or raises an `AwsError`. It never sees HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from garrison.context import RequestContext
from garrison.storage.writer import Tx

Request = dict[str, Any]
Response = dict[str, Any]


@dataclass(frozen=True, slots=True)
class InnerCall:
    """A call one Garrison service made to another on the caller's behalf (SSM's
    KMS Decrypt of a SecureString, say): audited as its own event, as AWS records
    it, with ``invokedBy`` and ``sourceIPAddress`` the calling service's principal
    (``ssm.amazonaws.com``)."""

    event_id: str
    event_source: str  # the called service, e.g. "kms.amazonaws.com"
    event_name: str
    invoked_by: str  # the calling service, e.g. "ssm.amazonaws.com"
    read_only: bool
    request_parameters: dict[str, Any] | None
    resources: tuple[tuple[str, str], ...] = ()
    error_code: str | None = None
    error_message: str | None = None


@dataclass(slots=True)
class Call:
    ctx: RequestContext
    tx: Tx
    resources: list[tuple[str, str]] = field(default_factory=list)
    # A handler sets this when CloudTrail records no responseElements for it.
    hide_response: bool = False
    # Calls made to other services on the caller's behalf, in order (services.common.via).
    inner: list[InnerCall] = field(default_factory=list)
    # The pipeline's source of (time-ordered) CloudTrail event ids, for inner calls.
    event_ids: Callable[[], str] | None = None

    def audit_resource(self, resource_type: str, arn: str) -> None:
        self.resources.append((resource_type, arn))


Handler = Callable[[Call, Request], Response | None]


class Provider(Protocol):
    service: str  # botocore's service name, e.g. "kms"
    event_source: str  # CloudTrail's eventSource, e.g. "kms.amazonaws.com"

    def handlers(self) -> Mapping[str, Handler]: ...

    def is_read_only(self, operation: str) -> bool: ...


def reads_only(provider: Provider, operation: str) -> bool:
    """Whether a call only reads the store, so that the writer runs its unit beside the
    batch's transaction (`Writer.run(read_only=True)`): CloudTrail's read-only calls,
    but for those its provider names in an optional `stores_on_read` (STS's AssumeRole
    stores the session it issues). A unit marked so that writes anyway (KMS DescribeKey
    creating an AWS managed key on first use) still works: the writer runs it again in
    the batch."""
    return provider.is_read_only(operation) and operation not in getattr(
        provider, "stores_on_read", ()
    )

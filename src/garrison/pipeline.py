"""The request path every API call takes (DESIGN §1).

    route -> authenticate -> parse -> [writer unit: provider (authorises, runs)
          -> audit event] -> serialise

Everything after routing runs so that exactly one audit event is written per
call, in the same transaction as the change the call made. A failure anywhere
becomes an `AwsError`; anything unexpected becomes a 500 `InternalFailure`
(logged with its traceback, never swallowed into a 400).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, NamedTuple

from botocore.model import OperationModel

from garrison.api import Call, Handler, InnerCall, Provider, reads_only
from garrison.audit.event import CallRecord, build_event
from garrison.audit.trail import AuditTrail
from garrison.clock import Clock
from garrison.context import Principal, RequestContext
from garrison.errors import (
    AwsError,
    InternalFailure,
    InvalidActionException,
    InvalidSignatureException,
    MissingActionException,
    UnknownOperationException,
    UnrecognizedClientException,
    UnsupportedOperationException,
)
from garrison.iam.credentials import CredentialStore, check_session_token
from garrison.protocol import json_protocol, query_protocol
from garrison.protocol.redact import audit_view
from garrison.protocol.sigv4 import SigV4Verifier
from garrison.protocol.specs import ServiceSpec, SpecRegistry
from garrison.storage.writer import Tx, Writer

log = logging.getLogger(__name__)

Headers = list[tuple[bytes, bytes]]
# (access key id, service, Region, when): memory only, called on every request
KeyUseRecorder = Callable[[str, str, str, datetime], None]
# called with each audited event of a call that is not read-only, in its transaction
AuditedHook = Callable[[Tx, dict[str, Any]], None]


class HttpRequest(NamedTuple):
    """One request as the HTTP front end hands it over (a NamedTuple: built per
    request, it cost 0.35-0.7 us where a frozen slots dataclass cost 2.3-2.8)."""

    method: str
    raw_path: bytes
    query_string: bytes
    headers: Sequence[tuple[bytes, bytes]]
    body: bytes
    client_ip: str
    secure: bool


class HttpResponse(NamedTuple):
    status: int
    headers: Headers
    body: bytes


class Ids:
    """UUID strings from os.urandom read 4 KiB at a time, kept as hex text.

    One per `Pipeline` (injected like its clock, built by the composition root),
    not a module global: tests and embedders get their own, and nothing is
    shared between two pipelines of one process.

    `uuid.uuid4()` makes a getrandom syscall and a UUID object per id (4% of the
    event loop thread's samples under load): 2.0 us an id. Sliced from a hex
    buffer and assembled as text: 0.8 us a request id and 1.1 us an event id
    (1.2 and 1.45 us with integer arithmetic and formatting).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hex = ""
        self._offset = 0
        # A child process must never hand out its parent's buffered randomness.
        # The hook holds the instance weakly: fork hooks cannot be unregistered.
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _drop_buffer(ref))

    def _drop(self) -> None:
        self._hex, self._offset = "", 0

    def _random32(self) -> str:
        """32 random hex digits (128 bits)."""
        with self._lock:
            offset = self._offset
            if offset + 32 > len(self._hex):
                self._hex, offset = os.urandom(4096).hex(), 0
            self._offset = offset + 32
            return self._hex[offset : offset + 32]

    def random(self) -> str:
        """A version 4 (random) UUID, as `uuid.uuid4()`: request ids (122 random bits)."""
        r = self._random32()
        return f"{r[:8]}-{r[8:12]}-4{r[13:16]}-{_VARIANT[r[16]]}{r[17:20]}-{r[20:]}"

    def time_ordered(self) -> str:
        """A version 7 UUID (RFC 9562: Unix milliseconds, then 74 random bits): event ids.

        Event ids are a unique index of the audit table; random ones put each
        insert on a random index page, time-ordered ones append: WAL page writes
        fell from 5.3 to 2.7 per Encrypt, and 7,150 -> 8,100 Encrypts/s in-process.
        """
        r = self._random32()
        ms = f"{(time.time_ns() // 1_000_000) & 0xFFFF_FFFF_FFFF:012x}"
        return f"{ms[:8]}-{ms[8:]}-7{r[:3]}-{_VARIANT[r[3]]}{r[4:7]}-{r[7:19]}"


def _drop_buffer(ref: weakref.ref[Ids]) -> None:
    found = ref()
    if found is not None:
        found._drop()


# a hex digit -> the RFC 9562 variant digit (10xx) carrying its two low bits
_VARIANT = {f"{n:x}": "89ab"[n & 3] for n in range(16)}


@dataclass(frozen=True, slots=True)
class _Routed:
    """Where an X-Amz-Target (or a query Action) leads, with what every call to it needs."""

    spec: ServiceSpec
    op: OperationModel
    provider: Provider
    handler: Handler | None
    read_only: bool  # CloudTrail's readOnly
    content_type: bytes
    # json: serialize(op, data); query: serialize(op, data, request_id=...)
    serialize: Callable[..., bytes] = json_protocol.serialize_response
    reads_only: bool = False  # its unit only reads the store (api.reads_only)

    @classmethod
    def of(
        cls,
        spec: ServiceSpec,
        op: OperationModel,
        provider: Provider,
        handler: Handler | None,
        content_type: bytes,
        serialize: Callable[..., bytes] = json_protocol.serialize_response,
    ) -> _Routed:
        """The route, with what the provider says of the operation."""
        read_only = provider.is_read_only(op.name)
        return cls(
            spec,
            op,
            provider,
            handler,
            read_only,
            content_type,
            serialize,
            reads_only(provider, op.name),
        )


class _QueryRouteError(Exception):
    """A query request whose service is known but whose call is not: answer in its protocol."""

    def __init__(self, error: AwsError, spec: ServiceSpec) -> None:
        super().__init__(error.code)
        self.error = error
        self.spec = spec


class Pipeline:
    def __init__(
        self,
        *,
        registry: SpecRegistry,
        providers: Mapping[str, Provider],
        verifier: SigV4Verifier,
        credentials: CredentialStore,
        writer: Writer,
        trail: AuditTrail,
        clock: Clock,
        key_used: KeyUseRecorder | None = None,
        ids: Ids | None = None,
        on_audited: AuditedHook | None = None,
    ) -> None:
        self.registry = registry
        # told of each call made with a long-term access key (GetAccessKeyLastUsed)
        self.key_used = key_used
        # the event bus: every audited call that changes state is also an
        # "AWS API Call via CloudTrail" event, published in the call's transaction
        self.on_audited = on_audited
        self.providers = dict(providers)
        self.verifier = verifier
        self.credentials = credentials
        self.writer = writer
        self.trail = trail
        self.clock = clock
        # request and event ids (a fresh source unless the composition root gives one)
        self.ids = ids if ids is not None else Ids()
        self._handlers = {name: p.handlers() for name, p in providers.items()}
        # X-Amz-Target -> route, for targets that resolved (so bounded by the models):
        # 1.0 us a call to resolve, 0.1 us to look up.
        self._routes: dict[bytes, _Routed] = {}
        # (service, Action) -> route, likewise for the query protocol
        self._query_routes: dict[tuple[str, str], _Routed] = {}

    async def handle(self, req: HttpRequest) -> HttpResponse:
        request_id = self.ids.random()
        headers = _header_map(req.headers)
        user_agent = headers.get(b"user-agent", b"").decode("latin-1")
        routed: _Routed | None = None
        answer_spec: ServiceSpec | None = None  # a query service that failed to route
        form: dict[str, str] | None = None  # a query request's parameters
        principal: Principal | None = None
        access_key_id = ""
        region = ""
        request: dict[str, Any] | None = None
        try:
            route_error: AwsError | None = None
            try:
                target = headers.get(b"x-amz-target")
                if target:
                    routed = self._routes.get(target) or self._route(target)
                else:
                    routed, form = self._route_query(req, headers)
            except _QueryRouteError as failure:
                route_error, answer_spec = failure.error, failure.spec
            except AwsError as err:
                route_error = err  # answered after authentication, as AWS does
            identity = self.verifier.verify(
                req.method, req.raw_path, req.query_string, req.headers, req.body
            )
            access_key_id = identity.access_key_id
            region = identity.region
            key = self.credentials.get(identity.access_key_id)
            if key is None or not key.active:
                raise UnrecognizedClientException(
                    "The security token included in the request is invalid."
                )
            # A temporary (ASIA) key needs its own unexpired session token; a
            # long-term key must come without one. Expiry is judged on the
            # injected clock, so dev mode can move sessions past it.
            check_session_token(key, identity.session_token, self.clock.time())
            principal = key.principal
            if route_error is not None or routed is None:
                raise route_error or UnknownOperationException("Unknown operation")
            if identity.service != routed.spec.signing_name:
                raise InvalidSignatureException(
                    "Credential should be scoped to correct service: "
                    f"'{routed.spec.signing_name}'. "
                )
            if form is None:
                request = json_protocol.parse_request(routed.op, req.body)
            else:
                request = query_protocol.parse_request(routed.op, form)
        except AwsError as err:
            return await self._finish_failed(
                err,
                routed,
                principal,
                access_key_id,
                region,
                request_id,
                req,
                user_agent,
                spec=answer_spec,
            )
        except Exception:
            log.exception("unexpected failure before the provider ran")
            return await self._finish_failed(
                InternalFailure("An internal error occurred."),
                routed,
                principal,
                access_key_id,
                region,
                request_id,
                req,
                user_agent,
                spec=answer_spec,
            )
        ctx = RequestContext(
            request_id=request_id,
            service=routed.spec.name,
            operation=routed.op.name,
            region=region,
            principal=principal,
            now=self.clock.now(),
            source_ip=req.client_ip,
            user_agent=user_agent,
            secure_transport=req.secure,
            event_id=self.ids.time_ordered(),
        )
        if self.key_used is not None and principal.session is None:
            self.key_used(access_key_id, routed.spec.signing_name, region, ctx.now)
        handler = routed.handler
        provider = routed.provider
        read_only = routed.read_only
        op = routed.op
        parsed = request
        trail = self.trail
        serialize: Callable[..., bytes] = routed.serialize
        if form is not None:
            serialize = partial(routed.serialize, request_id=request_id)  # XML carries the id

        payload = b""
        new_event_id = self.ids.time_ordered
        on_audited = self.on_audited

        def unit(tx: Tx) -> dict[str, Any] | AwsError:
            nonlocal payload
            call = Call(ctx, tx, event_ids=new_event_id)
            outcome: dict[str, Any] | AwsError
            savepoint = tx.savepoint()
            try:
                if handler is None:
                    raise _unsupported(op.name)
                outcome = handler(call, parsed) or {}
                # serialised before the commit: a response that cannot be
                # written is an InternalFailure in the trail, never a success
                payload = serialize(op, outcome)
                savepoint.commit()
            except AwsError as err:
                savepoint.rollback()
                outcome = err
            except Exception:
                savepoint.rollback()
                log.exception("provider %s.%s failed", ctx.service, ctx.operation)
                outcome = InternalFailure("An internal error occurred.")
            is_error = isinstance(outcome, AwsError)
            record = CallRecord(
                event_id=ctx.event_id,
                request_id=request_id,
                event_time=ctx.now,
                event_source=provider.event_source,
                event_name=op.name,
                region=ctx.region,
                source_ip=ctx.source_ip,
                user_agent=ctx.user_agent,
                principal=ctx.principal,
                access_key_id=access_key_id,
                read_only=read_only,
                request_parameters=audit_view(op.input_shape, parsed),
                response_elements=(
                    None if is_error or call.hide_response else audit_view(op.output_shape, outcome)
                ),
                resources=tuple(call.resources),
                error_code=outcome.code if isinstance(outcome, AwsError) else None,
                error_message=outcome.message if isinstance(outcome, AwsError) else None,
            )
            if call.inner:  # calls made to other services for this one, audited first
                _append_inner(trail, tx, record, call.inner, on_audited)
            event = build_event(record)
            trail.append(tx, event, epoch=ctx.now.timestamp())
            if on_audited is not None and not read_only:
                on_audited(tx, event)
            return outcome

        try:
            outcome = await self.writer.run(unit, read_only=routed.reads_only)
        except Exception:
            log.exception("the audit/commit of %s.%s failed", ctx.service, ctx.operation)
            return self._error_response(
                InternalFailure("An internal error occurred."), request_id, routed.spec
            )
        if isinstance(outcome, AwsError):
            return self._error_response(outcome, request_id, routed.spec)
        body = payload
        answer = [
            (b"content-type", routed.content_type),
            (b"x-amzn-requestid", request_id.encode()),
        ]
        return HttpResponse(200, answer, body)

    async def refuse(self, err: AwsError, req: HttpRequest) -> HttpResponse:
        """Answer (and audit) a request refused before it could be routed."""
        headers = _header_map(req.headers)
        user_agent = headers.get(b"user-agent", b"").decode("latin-1")
        request_id = self.ids.random()
        return await self._finish_failed(err, None, None, "", "", request_id, req, user_agent)

    # -- helpers -----------------------------------------------------------
    def _route(self, target: bytes) -> _Routed:
        routed = self._routes.get(target)
        if routed is None:
            routed = self._routes[target] = self._resolve(target)
        return routed

    def _resolve(self, target: bytes) -> _Routed:
        prefix, _, op_name = target.decode("latin-1").rpartition(".")
        spec = self.registry.by_target_prefix(prefix)
        provider = self.providers.get(spec.name) if spec else None
        if spec is None or provider is None:
            raise UnknownOperationException(f"Unknown service target: {target.decode('latin-1')!r}")
        op = spec.operation(op_name)
        if op is None:
            raise UnknownOperationException(f"Unknown operation {op_name!r}")
        content_type = b"application/x-amz-json-1.1"
        if spec.model.metadata.get("jsonVersion") == "1.0":
            content_type = b"application/x-amz-json-1.0"
        handler = self._handlers[spec.name].get(op.name)
        return _Routed.of(spec, op, provider, handler, content_type)

    def _route_query(
        self, req: HttpRequest, headers: Mapping[bytes, bytes]
    ) -> tuple[_Routed, dict[str, str]]:
        """Route a request without X-Amz-Target: a query call, by scope service and Action.

        The scope is read before the signature is verified, only to route: a
        forged one fails verification, which comes before anything else is
        answered. An unsigned request is routed by its Version, so that it is
        refused (MissingAuthenticationToken) in its service's own protocol.
        Raises `_QueryRouteError` once the service is known, a plain AwsError
        (answered as json) while it is not.
        """
        service = query_protocol.signing_service(headers.get(b"authorization"), req.query_string)
        spec = self.registry.by_signing_name(service) if service else None
        if spec is not None and not spec.is_query:
            raise UnknownOperationException("The request names no operation (X-Amz-Target).")
        if spec is not None and spec.name not in self.providers:
            spec = None  # a model without a provider is not served: as an unknown service
        try:
            params = query_protocol.read_params(
                req.query_string, req.body, headers.get(b"content-type")
            )
        except AwsError as err:
            if spec is None:
                raise
            raise _QueryRouteError(err, spec) from None
        if spec is None and service is None:
            spec = self.registry.by_query_version(params.get("Version", ""))
            if spec is not None and spec.name not in self.providers:
                spec = None
        if spec is None:
            if service is None:
                raise UnknownOperationException("The request names no operation (X-Amz-Target).")
            raise UnknownOperationException(f"Unknown service: {service[:64]!r}")
        action = params.get("Action")
        version = params.get("Version")
        try:
            if not action:
                raise MissingActionException("Missing Action")
            if version is not None and version != spec.api_version:
                raise _no_operation(action, version)
            routed = self._query_routes.get((spec.name, action))
            if routed is None:
                routed = self._query_routes[(spec.name, action)] = self._resolve_query(spec, action)
        except AwsError as err:
            raise _QueryRouteError(err, spec) from None
        return routed, params

    def _resolve_query(self, spec: ServiceSpec, action: str) -> _Routed:
        op = spec.operation(action)
        if op is None:
            raise _no_operation(action, spec.api_version)
        provider = self.providers[spec.name]
        handler = self._handlers[spec.name].get(op.name)
        if handler is not None:
            handler = _answering_query_codes(handler, spec)
        return _Routed.of(
            spec,
            op,
            provider,
            handler,
            query_protocol.CONTENT_TYPE,
            query_protocol.serialize_response,
        )

    async def _finish_failed(
        self,
        err: AwsError,
        routed: _Routed | None,
        principal: Principal | None,
        access_key_id: str,
        region: str,
        request_id: str,
        req: HttpRequest,
        user_agent: str,
        *,
        spec: ServiceSpec | None = None,
    ) -> HttpResponse:
        """Audit a call refused before its provider ran, then answer it.

        `spec` is the query service a call went to when it could not be routed
        further (unknown Action): its protocol answers, and its codes are audited.
        """
        if routed is not None:
            spec = routed.spec
        event_source = "garrison"
        if spec is not None:
            if spec.is_query:
                err = query_protocol.wire_error(err, spec.model)  # audit what the caller sees
            event_source = self.providers[spec.name].event_source
        now = self.clock.now()
        record = CallRecord(
            event_id=self.ids.time_ordered(),
            request_id=request_id,
            event_time=now,
            event_source=event_source,
            event_name=routed.op.name if routed else "Unknown",
            region=region,
            source_ip=req.client_ip,
            user_agent=user_agent,
            principal=principal,
            access_key_id=access_key_id,
            read_only=routed.read_only if routed else True,
            request_parameters=None,
            response_elements=None,
            error_code=err.code,
            error_message=err.message,
        )
        event = build_event(record)
        trail = self.trail
        try:
            await self.writer.run(lambda tx: trail.append(tx, event, epoch=now.timestamp()))
        except Exception:
            log.exception("could not audit a refused call")
            err = InternalFailure("An internal error occurred.")
        return self._error_response(err, request_id, spec)

    def _error_response(
        self, err: AwsError, request_id: str, spec: ServiceSpec | None = None
    ) -> HttpResponse:
        """`err` in the protocol of `spec` (json when the call could not be routed)."""
        if spec is not None and spec.is_query:
            status, headers, body = query_protocol.serialize_error(err, spec, request_id)
        else:
            status, headers, body = json_protocol.serialize_error(err)
        return HttpResponse(status, [*headers, (b"x-amzn-requestid", request_id.encode())], body)


def _header_map(headers: Sequence[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    return {k.lower(): v for k, v in headers}


def _no_operation(action: str, version: str) -> AwsError:
    # AWS's words; the caller's own text is echoed cut short
    return InvalidActionException(
        f"Could not find operation {action[:128]} for version {version[:32]}"
    )


def _answering_query_codes(handler: Handler, spec: ServiceSpec) -> Handler:
    """`handler`, its errors carrying the query protocol's codes (audited as answered)."""
    model = spec.model

    def run(call: Call, request: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return handler(call, request)
        except AwsError as err:
            answered = query_protocol.wire_error(err, model)
            if answered is err:
                raise
            raise answered from err

    return run


def _unsupported(op_name: str) -> AwsError:
    return UnsupportedOperationException(
        f"{op_name} is not supported by this Garrison release yet."
    )


def _append_inner(
    trail: AuditTrail,
    tx: Tx,
    outer: CallRecord,
    inner: list[InnerCall],
    on_audited: AuditedHook | None,
) -> None:
    """Audit the calls a service made to another for the caller (`services.common.via`),
    each its own event (`CallRecord.for_inner`)."""
    for made in inner:
        record = outer.for_inner(made)
        event = build_event(record)
        trail.append(tx, event, epoch=outer.event_time.timestamp())
        if on_audited is not None and not made.read_only:
            on_audited(tx, event)

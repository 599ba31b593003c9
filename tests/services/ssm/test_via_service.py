"""`via_service` (services/common/via.py): the inner call's context and its audit record.

The inner context is built field by field for speed; these tests hold it to
`dataclasses.replace` of the outer context, so a field added to RequestContext
cannot be dropped (or shifted) silently.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from garrison.api import Call, InnerCall
from garrison.context import Principal, RequestContext, RoleSession
from garrison.errors import AwsError
from garrison.services.common.via import via_service
from garrison.storage.writer import Tx

SESSION = RoleSession("arn:aws:iam::111122223333:role/r", "AROA1", "r", "s", 1.0, 2.0)
PRINCIPAL = Principal(
    "arn:aws:sts::111122223333:assumed-role/r/s",
    "111122223333",
    "AssumedRole",
    "AROA1:s",
    "ASIA1",
    "",
    SESSION,
)
# a value other than the default for every field of RequestContext
OUTER: dict[str, Any] = {
    "request_id": "req-1",
    "service": "ssm",
    "operation": "GetParameter",
    "region": "eu-west-3",
    "principal": PRINCIPAL,
    "now": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    "source_ip": "203.0.113.7",
    "user_agent": "agent/1",
    "secure_transport": True,
    "event_id": "outer-event",
    "extra": {"something": "kept"},
}


class Denied(AwsError):
    code = "AccessDeniedException"


def _outer(**changes: Any) -> Call:
    ids = iter(f"event-{n}" for n in range(1, 100))
    ctx = RequestContext(**{**OUTER, **changes})
    return Call(ctx, cast(Tx, object()), event_ids=lambda: next(ids))


def test_the_test_sets_every_field_of_the_request_context() -> None:
    names = {f.name for f in dataclasses.fields(RequestContext)}
    assert names == set(OUTER), "RequestContext changed: update via.py and this test"


def test_inner_context_is_the_outer_one_for_the_called_service() -> None:
    call = _outer()
    with via_service(
        call, service="kms", operation="Decrypt", read_only=True, request_parameters={}
    ) as inner:
        expected = dataclasses.replace(
            call.ctx,
            service="kms",
            operation="Decrypt",
            event_id="event-1",
            extra={"something": "kept", "via_service": "ssm.eu-west-3.amazonaws.com"},
        )
        assert inner.ctx == expected
        assert inner.tx is call.tx
        assert inner.event_ids is call.event_ids
    assert call.ctx.extra == {"something": "kept"}  # the outer context is untouched


def test_success_is_listed_once_with_the_inner_resources() -> None:
    call = _outer(extra={})
    request = {"encryptionContext": {"PARAMETER_ARN": "arn"}}
    with via_service(
        call, service="kms", operation="Decrypt", read_only=True, request_parameters=request
    ) as inner:
        assert inner.ctx.extra == {"via_service": "ssm.eu-west-3.amazonaws.com"}
        inner.audit_resource("AWS::KMS::Key", "arn:aws:kms:eu-west-3:111122223333:key/k")
    assert call.inner == [
        InnerCall(
            event_id="event-1",
            event_source="kms.amazonaws.com",
            event_name="Decrypt",
            invoked_by="ssm.amazonaws.com",
            read_only=True,
            request_parameters=request,
            resources=(("AWS::KMS::Key", "arn:aws:kms:eu-west-3:111122223333:key/k"),),
        )
    ]
    assert call.resources == []  # the inner call's resources are its own event's


def test_an_aws_error_is_listed_with_its_code_and_raised() -> None:
    call = _outer(service="secretsmanager")
    with (
        pytest.raises(Denied),
        via_service(
            call,
            service="kms",
            operation="GenerateDataKey",
            read_only=False,
            request_parameters=None,
        ),
    ):
        raise Denied("no access")
    (made,) = call.inner
    assert (made.event_name, made.invoked_by, made.read_only) == (
        "GenerateDataKey",
        "secretsmanager.amazonaws.com",
        False,
    )
    assert (made.error_code, made.error_message, made.resources) == (
        "AccessDeniedException",
        "no access",
        (),
    )


def test_another_failure_is_not_listed() -> None:
    call = _outer()
    with (
        pytest.raises(RuntimeError),
        via_service(
            call, service="kms", operation="Decrypt", read_only=True, request_parameters=None
        ),
    ):
        raise RuntimeError("bug")
    assert call.inner == []


def test_each_inner_call_has_its_own_event_id() -> None:
    call = _outer()
    for _ in range(2):
        with via_service(
            call, service="kms", operation="Decrypt", read_only=True, request_parameters=None
        ):
            pass
    assert [made.event_id for made in call.inner] == ["event-1", "event-2"]


def test_without_an_id_source_the_event_id_is_a_fresh_uuid() -> None:
    ctx = RequestContext(**OUTER)
    call = Call(ctx, cast(Tx, object()))
    with via_service(
        call, service="kms", operation="Decrypt", read_only=True, request_parameters=None
    ) as inner:
        first = inner.ctx.event_id
    with via_service(
        call, service="kms", operation="Decrypt", read_only=True, request_parameters=None
    ) as inner:
        second = inner.ctx.event_id
    assert len(first) == 36 and first != second != ctx.event_id
    assert [m.event_id for m in call.inner] == [first, second]

"""EventBridge's use cases that are not about one rule: PutEvents and TestEventPattern,
and what the rule and target use cases (rules.py, targets.py) share: the bus,
authorisation, role checks.

PutEvents validates each entry as EventBridge does and answers per entry (an
EventId, or an ErrorCode and ErrorMessage); the accepted ones are published
through the bus in the call's transaction, so their deliveries commit with the
call's audit event. Sizes follow AWS's "Calculating PutEvents event entry size".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from garrison.api import Call
from garrison.clock import Clock
from garrison.events.bus import EventBus
from garrison.events.envelope import Event
from garrison.events.patterns import compile_pattern
from garrison.iam.authorizer import Authorizer
from garrison.services.events import domain
from garrison.services.events.actions import ACTIONS, PASS_ROLE
from garrison.services.events.errors import ResourceNotFoundException, ValidationException
from garrison.services.iam import store as iam_store

# what TestEventPattern needs in the event, as EventBridge checks it
_EVENT_FIELDS = ("id", "account", "source", "time", "region", "detail-type")


@dataclass(frozen=True, slots=True)
class EntryResult:
    event_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None


class EventsService:
    def __init__(
        self, clock: Clock, authorizer: Authorizer, bus: EventBus, *, max_rules: int
    ) -> None:
        self.clock = clock
        self.authorizer = authorizer
        self.bus = bus
        self.max_rules = max_rules

    # -- shared ------------------------------------------------------------------------
    def authorize(
        self, call: Call, operation: str, arn: str, context: dict[str, list[str]] | None = None
    ) -> None:
        self.authorizer.authorize(call, ACTIONS[operation].action, arn, context or {})

    def check_role(self, call: Call, role_arn: str, member: str = "RoleArn") -> None:
        """A RoleArn must be an existing role of the caller's account that the caller
        may pass to EventBridge (iam:PassRole)."""
        parts = domain.role_parts(role_arn)
        if parts is None:
            raise ValidationException(
                f"Parameter {member} is not valid: {role_arn} is not a role ARN."
            )
        account, name = parts
        if account != call.ctx.account_id:
            raise ValidationException(
                f"Parameter {member} is not valid: the role {role_arn} is not of account "
                f"{call.ctx.account_id}."
            )
        role = iam_store.get_role(call.tx, account, name)
        if role is None or role.arn != role_arn:
            raise ValidationException(
                f"Parameter {member} is not valid: role {role_arn} does not exist."
            )
        self.authorizer.authorize(
            call, PASS_ROLE, role_arn, {"iam:PassedToService": ["events.amazonaws.com"]}
        )

    # -- PutEvents -----------------------------------------------------------------------
    def put_events(self, call: Call, entries: list[dict[str, Any]]) -> list[EntryResult]:
        ctx = call.ctx
        total = sum(_entry_size(e) for e in entries)
        if total > domain.MAX_PUT_EVENTS_BYTES:
            raise ValidationException("Total size of the entries in the request is over the limit.")
        checked: set[tuple[str, str]] = set()
        results: list[EntryResult] = []
        events: list[Event] = []
        for entry in entries:
            refused = _refusal(entry, ctx.region, ctx.account_id)
            if refused is not None:
                results.append(refused)
                continue
            source, detail_type = entry["Source"], entry["DetailType"]
            if (source, detail_type) not in checked:
                self.authorize(
                    call,
                    "PutEvents",
                    domain.bus_arn(ctx.region, ctx.account_id),
                    {"events:source": [source], "events:detail-type": [detail_type]},
                )
                checked.add((source, detail_type))
            event_id = self.bus.new_id()
            when = entry.get("Time")
            time = when.astimezone(UTC) if isinstance(when, datetime) else ctx.now
            events.append(
                Event(
                    event_id=event_id,
                    detail_type=detail_type,
                    source=source,
                    account=ctx.account_id,
                    region=ctx.region,
                    time=time,
                    detail=json.loads(entry["Detail"]),
                    resources=tuple(entry.get("Resources") or ()),
                )
            )
            results.append(EntryResult(event_id=event_id))
        if events:
            self.bus.publish(call.tx, events)
        return results

    # -- TestEventPattern ------------------------------------------------------------------
    def test_event_pattern(self, call: Call, pattern_text: str, event_text: str) -> bool:
        self.authorize(call, "TestEventPattern", "*")
        pattern = compile_pattern(pattern_text)
        try:
            event = json.loads(event_text)
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deep
            raise ValidationException("Parameter Event is not valid.") from None
        if not isinstance(event, dict):
            raise ValidationException("Parameter Event is not valid.")
        missing = [f for f in _EVENT_FIELDS if not isinstance(event.get(f), str)]
        if missing:
            raise ValidationException(
                f"Parameter Event is not valid: the event needs the field(s) {', '.join(missing)}."
            )
        if "detail" in event and not isinstance(event["detail"], dict):
            raise ValidationException("Parameter Event is not valid: detail must be a JSON object.")
        return pattern.matches(event)


def _entry_size(entry: dict[str, Any]) -> int:
    """AWS's PutEvents entry size: 14 bytes for a Time, then the UTF-8 bytes of Source,
    DetailType, Detail and each resource."""
    size = 14 if entry.get("Time") is not None else 0
    for member in ("Source", "DetailType", "Detail"):
        value = entry.get(member)
        if isinstance(value, str):
            size += len(value.encode())
    for resource in entry.get("Resources") or ():
        size += len(str(resource).encode())
    return size


def _refusal(entry: dict[str, Any], region: str, account_id: str) -> EntryResult | None:
    """Why EventBridge refuses one entry of PutEvents, as its per-entry error; None if
    it takes it."""
    for member in ("Source", "DetailType", "Detail"):
        value = entry.get(member)
        if value is None or value == "":
            return EntryResult(
                error_code="InvalidArgument",
                error_message=f"Parameter {member} is not valid. Reason: {member} is a "
                "required argument.",
            )
    try:
        domain.bus_name(entry.get("EventBusName"), region, account_id)
    except ResourceNotFoundException as err:
        return EntryResult(error_code="ResourceNotFoundException", error_message=err.message)
    if entry["Source"].startswith("aws."):
        return EntryResult(
            error_code="NotAuthorizedForSourceException",
            error_message="Not authorized for the source.",
        )
    try:
        detail = json.loads(entry["Detail"])
    except (ValueError, RecursionError):  # RecursionError: JSON nested too deep
        detail = None
    if not isinstance(detail, dict):
        return EntryResult(error_code="MalformedDetail", error_message="Detail is malformed.")
    for resource in entry.get("Resources") or ():
        if not resource:
            return EntryResult(
                error_code="InvalidArgument",
                error_message="Parameter Resources is not valid. Reason: a resource is empty.",
            )
    return None

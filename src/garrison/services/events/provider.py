"""The EventBridge provider (``events``, json protocol, ``AWSEvents.<Operation>``).

Served here: PutRule, DescribeRule, ListRules, DeleteRule, EnableRule, DisableRule,
PutTargets, RemoveTargets, ListTargetsByRule, ListRuleNamesByTarget, PutEvents,
TestEventPattern, TagResource, UntagResource, ListTagsForResource. Connections
and API destinations have their own wire module, merged into this provider's
table in `__init__` (see "merged tables"). Every other operation of the model
is not in `handlers()`, so the pipeline answers it as unsupported.

Every request member of a served operation is handled (`HANDLED`); a member a
newer model adds is refused with its name, never dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from garrison.api import Call, Handler, Request, Response
from garrison.clock import Clock
from garrison.events.bus import EventBus
from garrison.iam.authorizer import Authorizer
from garrison.services.common.handlers import guarded_handlers
from garrison.services.events import connections_wire, domain
from garrison.services.events.errors import ValidationException
from garrison.services.events.rules import Rules
from garrison.services.events.service import EventsService
from garrison.services.events.targets import Targets

HandlerFn = Callable[[Call, Request], Response | None]

HANDLED: dict[str, frozenset[str]] = {
    name: frozenset(members.split())
    for name, members in {
        "PutRule": "Name ScheduleExpression EventPattern State Description RoleArn Tags "
        "EventBusName",
        "DescribeRule": "Name EventBusName",
        "ListRules": "NamePrefix EventBusName NextToken Limit",
        "DeleteRule": "Name EventBusName Force",
        "EnableRule": "Name EventBusName",
        "DisableRule": "Name EventBusName",
        "PutTargets": "Rule EventBusName Targets",
        "RemoveTargets": "Rule EventBusName Ids Force",
        "ListTargetsByRule": "Rule EventBusName NextToken Limit",
        "ListRuleNamesByTarget": "TargetArn EventBusName NextToken Limit",
        "PutEvents": "Entries",
        "TestEventPattern": "EventPattern Event",
        "TagResource": "ResourceARN Tags",
        "UntagResource": "ResourceARN TagKeys",
        "ListTagsForResource": "ResourceARN",
    }.items()
}

READ_ONLY = frozenset(
    {
        "DescribeRule",
        "ListRules",
        "ListTargetsByRule",
        "ListRuleNamesByTarget",
        "TestEventPattern",
        "ListTagsForResource",
    }
)

# the members of a PutEvents entry this release honours (TraceHeader: X-Ray's, taken
# and not propagated, as there is no X-Ray)
ENTRY_MEMBERS = frozenset(
    {"Time", "Source", "Resources", "DetailType", "Detail", "EventBusName", "TraceHeader"}
)


class EventsProvider:
    service = "events"
    event_source = "events.amazonaws.com"

    def __init__(
        self,
        clock: Clock,
        authorizer: Authorizer,
        bus: EventBus,
        *,
        max_rules: int = domain.MAX_RULES,
        file_root: Path | None = None,
        allow_http_targets: bool = False,
    ) -> None:
        self.clock = clock
        self.bus = bus
        self.events = EventsService(clock, authorizer, bus, max_rules=max_rules)
        self.rules = Rules(self.events)
        self.targets = Targets(self.events, file_root)
        self._handlers: dict[str, HandlerFn] = {
            "PutRule": self.put_rule,
            "DescribeRule": self.describe_rule,
            "ListRules": self.list_rules,
            "DeleteRule": self.delete_rule,
            "EnableRule": self.enable_rule,
            "DisableRule": self.disable_rule,
            "PutTargets": self.put_targets,
            "RemoveTargets": self.remove_targets,
            "ListTargetsByRule": self.list_targets_by_rule,
            "ListRuleNamesByTarget": self.list_rule_names_by_target,
            "PutEvents": self.put_events,
            "TestEventPattern": self.test_event_pattern,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
        }
        self._handled: dict[str, frozenset[str]] = dict(HANDLED)
        self._read_only: set[str] = set(READ_ONLY)
        # -- merged tables: other modules' operations join the table here, each with
        # its handlers, the members it handles and its read-only operations, e.g.
        #     wire = ConnectionHandlers(...)
        #     self._merge(wire.handlers(), wire.HANDLED, wire.READ_ONLY)
        wire = connections_wire.ConnectionHandlers(clock, authorizer, allow_http=allow_http_targets)
        self._merge(wire.handlers(), connections_wire.HANDLED, connections_wire.READ_ONLY)

    def _merge(
        self,
        handlers: Mapping[str, HandlerFn],
        handled: Mapping[str, frozenset[str]],
        read_only: frozenset[str] | set[str],
    ) -> None:
        self._handlers.update(handlers)
        self._handled.update(handled)
        self._read_only.update(read_only)

    # -- the Provider protocol -----------------------------------------------------------
    def handlers(self) -> Mapping[str, Handler]:
        return guarded_handlers(self._handlers, self._handled, self.is_read_only)

    def is_read_only(self, operation: str) -> bool:
        return operation in self._read_only

    def clear_caches(self) -> None:
        self.bus.clear()

    # -- rules -----------------------------------------------------------------------------
    def put_rule(self, call: Call, r: Request) -> Response:
        return {"RuleArn": self.rules.put_rule(call, r)}

    def describe_rule(self, call: Call, r: Request) -> Response:
        return self.rules.describe_rule(call, r)

    def list_rules(self, call: Call, r: Request) -> Response:
        return self.rules.list_rules(call, r)

    def delete_rule(self, call: Call, r: Request) -> Response:
        self.rules.delete_rule(call, r)
        return {}

    def enable_rule(self, call: Call, r: Request) -> Response:
        self.rules.set_state(call, r, "EnableRule", domain.ENABLED)
        return {}

    def disable_rule(self, call: Call, r: Request) -> Response:
        self.rules.set_state(call, r, "DisableRule", domain.DISABLED)
        return {}

    # -- targets ---------------------------------------------------------------------------
    def put_targets(self, call: Call, r: Request) -> Response:
        failed = self.targets.put_targets(call, r.get("EventBusName"), r["Rule"], r["Targets"])
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    def remove_targets(self, call: Call, r: Request) -> Response:
        failed = self.targets.remove_targets(call, r.get("EventBusName"), r["Rule"], r["Ids"])
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    def list_targets_by_rule(self, call: Call, r: Request) -> Response:
        found, token = self.targets.list_targets_by_rule(
            call, r.get("EventBusName"), r["Rule"], r.get("NextToken"), r.get("Limit") or 100
        )
        out: dict[str, Any] = {"Targets": found}
        if token is not None:
            out["NextToken"] = token
        return out

    def list_rule_names_by_target(self, call: Call, r: Request) -> Response:
        names, token = self.targets.list_rule_names_by_target(
            call, r.get("EventBusName"), r["TargetArn"], r.get("NextToken"), r.get("Limit") or 100
        )
        out: dict[str, Any] = {"RuleNames": names}
        if token is not None:
            out["NextToken"] = token
        return out

    # -- events ----------------------------------------------------------------------------
    def put_events(self, call: Call, r: Request) -> Response:
        for entry in r["Entries"]:
            for member in entry:
                if member not in ENTRY_MEMBERS:
                    raise ValidationException(
                        f"The {member} parameter of a PutEvents entry is not supported by this "
                        "Garrison release."
                    )
        results = self.events.put_events(call, r["Entries"])
        entries: list[dict[str, str]] = []
        for result in results:
            if result.event_id is not None:
                entries.append({"EventId": result.event_id})
            else:
                entries.append(
                    {
                        "ErrorCode": result.error_code or "",
                        "ErrorMessage": result.error_message or "",
                    }
                )
        failed = sum(1 for result in results if result.event_id is None)
        return {"FailedEntryCount": failed, "Entries": entries}

    def test_event_pattern(self, call: Call, r: Request) -> Response:
        return {"Result": self.events.test_event_pattern(call, r["EventPattern"], r["Event"])}

    # -- tags --------------------------------------------------------------------------------
    def tag_resource(self, call: Call, r: Request) -> Response:
        tags = {t["Key"]: t["Value"] for t in r["Tags"]}
        self.rules.tag_resource(call, r["ResourceARN"], tags)
        return {}

    def untag_resource(self, call: Call, r: Request) -> Response:
        self.rules.untag_resource(call, r["ResourceARN"], list(r["TagKeys"]))
        return {}

    def list_tags_for_resource(self, call: Call, r: Request) -> Response:
        tags = self.rules.list_tags(call, r["ResourceARN"])
        return {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}

"""Rules: PutRule, DescribeRule, ListRules, DeleteRule, EnableRule, DisableRule, and the
rule's tags (TagResource, UntagResource, ListTagsForResource).

PutRule creates a rule or replaces what it sets of an existing one (AWS: arguments
left out are not kept); its EventPattern is validated and compiled as the bus
will match it. Scheduled rules are not served: a ScheduleExpression is refused.
A rule with targets cannot be deleted (remove them first), as in AWS. Every
change drops the bus's cached rules (`EventBus.changed`).
"""

from __future__ import annotations

import json
from typing import Any

from garrison.api import Call
from garrison.events import store
from garrison.events.bus import rule_arn
from garrison.events.patterns import compile_pattern
from garrison.services.events import domain
from garrison.services.events.errors import (
    LimitExceededException,
    ResourceNotFoundException,
    ValidationException,
    no_rule,
)
from garrison.services.events.service import EventsService


class Rules:
    def __init__(self, service: EventsService) -> None:
        self.service = service

    def _bus(self, call: Call, given: str | None) -> str:
        return domain.bus_name(given, call.ctx.region, call.ctx.account_id)

    def _arn(self, call: Call, bus: str, name: str) -> str:
        return rule_arn(call.ctx.region, call.ctx.account_id, bus, name)

    def _find(self, call: Call, bus: str, name: str) -> store.Rule:
        ctx = call.ctx
        found = store.get_rule(call.tx, ctx.account_id, ctx.region, bus, name)
        if found is None:
            raise no_rule(name, bus)
        return found

    def _tag_context(self, call: Call, bus: str, name: str) -> dict[str, list[str]]:
        ctx = call.ctx
        tags = store.tags_of(call.tx, ctx.account_id, ctx.region, bus, name)
        return {f"aws:ResourceTag/{k}": [v] for k, v in tags.items()}

    # -- PutRule --------------------------------------------------------------------------
    def put_rule(self, call: Call, r: dict[str, Any]) -> str:
        ctx = call.ctx
        bus = self._bus(call, r.get("EventBusName"))
        name: str = r["Name"]
        arn = self._arn(call, bus, name)
        tags = {t["Key"]: t["Value"] for t in r.get("Tags") or ()}
        context: dict[str, list[str]] = {f"aws:RequestTag/{k}": [v] for k, v in tags.items()}
        if tags:
            context["aws:TagKeys"] = list(tags)
        pattern: str | None = r.get("EventPattern")
        if r.get("ScheduleExpression") is not None:
            raise ValidationException(
                "ScheduleExpression is not supported by this Garrison release."
            )
        if pattern is None:
            raise ValidationException(
                "Parameter(s) EventPattern or ScheduleExpression must be specified."
            )
        compile_pattern(pattern)  # InvalidEventPatternException, with AWS's reason
        context.update(pattern_context(pattern))
        self.service.authorize(call, "PutRule", arn, context)
        domain.check_tags(tags)
        role = r.get("RoleArn")
        if role is not None:
            self.service.check_role(call, role)
        existing = store.get_rule(call.tx, ctx.account_id, ctx.region, bus, name)
        if existing is None and (
            store.count_rules(call.tx, ctx.account_id, ctx.region, bus) >= self.service.max_rules
        ):
            raise LimitExceededException(
                f"The requested resource exceeds the maximum number allowed "
                f"({self.service.max_rules} rules per event bus)."
            )
        if tags:
            before = (
                store.tags_of(call.tx, ctx.account_id, ctx.region, bus, name) if existing else {}
            )
            if len({**before, **tags}) > domain.MAX_TAGS:
                raise LimitExceededException(f"A rule can have at most {domain.MAX_TAGS} tags.")
        rule = store.Rule(
            account_id=ctx.account_id,
            region=ctx.region,
            event_bus=bus,
            name=name,
            event_pattern=pattern,
            schedule_expression=None,
            state=r.get("State") or domain.ENABLED,
            description=r.get("Description"),
            role_arn=role,
            managed_by=None,
            created_at=self.service.clock.time(),
        )
        store.put_rule(call.tx, rule)
        if tags:
            store.set_tags(call.tx, ctx.account_id, ctx.region, bus, name, tags)
        self.service.bus.changed(call.tx, ctx.account_id, ctx.region, bus)
        call.audit_resource("AWS::Events::Rule", arn)
        return arn

    # -- reading --------------------------------------------------------------------------
    def describe_rule(self, call: Call, r: dict[str, Any]) -> dict[str, Any]:
        bus = self._bus(call, r.get("EventBusName"))
        name: str = r["Name"]
        arn = self._arn(call, bus, name)
        self.service.authorize(call, "DescribeRule", arn, self._tag_context(call, bus, name))
        rule = self._find(call, bus, name)
        out = rule_entry(rule, arn)
        out["CreatedBy"] = rule.account_id
        return out

    def list_rules(self, call: Call, r: dict[str, Any]) -> dict[str, Any]:
        ctx = call.ctx
        bus = self._bus(call, r.get("EventBusName"))
        self.service.authorize(call, "ListRules", "*")
        limit: int = r.get("Limit") or 100
        rules = store.list_rules(
            call.tx,
            ctx.account_id,
            ctx.region,
            bus,
            prefix=r.get("NamePrefix"),
            after=domain.decode_token(r.get("NextToken")),
            limit=limit + 1,
        )
        out: dict[str, Any] = {
            "Rules": [rule_entry(rule, self._arn(call, bus, rule.name)) for rule in rules[:limit]]
        }
        if len(rules) > limit:
            out["NextToken"] = domain.encode_token(rules[limit - 1].name)
        return out

    # -- changing -------------------------------------------------------------------------
    def delete_rule(self, call: Call, r: dict[str, Any]) -> None:
        ctx = call.ctx
        bus = self._bus(call, r.get("EventBusName"))
        name: str = r["Name"]
        arn = self._arn(call, bus, name)
        self.service.authorize(call, "DeleteRule", arn, self._tag_context(call, bus, name))
        self._find(call, bus, name)
        if store.count_targets(call.tx, ctx.account_id, ctx.region, bus, name):
            raise ValidationException("Rule can't be deleted since it has targets.")
        store.delete_rule(call.tx, ctx.account_id, ctx.region, bus, name)
        self.service.bus.changed(call.tx, ctx.account_id, ctx.region, bus)
        call.audit_resource("AWS::Events::Rule", arn)

    def set_state(self, call: Call, r: dict[str, Any], operation: str, state: str) -> None:
        ctx = call.ctx
        bus = self._bus(call, r.get("EventBusName"))
        name: str = r["Name"]
        arn = self._arn(call, bus, name)
        self.service.authorize(call, operation, arn, self._tag_context(call, bus, name))
        rule = self._find(call, bus, name)
        if rule.state != state:
            store.set_state(call.tx, ctx.account_id, ctx.region, bus, name, state)
            self.service.bus.changed(call.tx, ctx.account_id, ctx.region, bus)
        call.audit_resource("AWS::Events::Rule", arn)

    # -- tags -----------------------------------------------------------------------------
    def _tagged(self, call: Call, arn: str) -> tuple[str, str]:
        ctx = call.ctx
        found = domain.rule_of_arn(arn, ctx.region, ctx.account_id)
        if found is None:
            raise ResourceNotFoundException(f"Resource {arn} does not exist.")
        bus, name = found
        if bus != domain.bus_name(bus, ctx.region, ctx.account_id):
            raise ResourceNotFoundException(f"Resource {arn} does not exist.")
        self._find(call, bus, name)
        return bus, name

    def tag_resource(self, call: Call, arn: str, tags: dict[str, str]) -> None:
        ctx = call.ctx
        bus, name = self._tagged(call, arn)
        context = self._tag_context(call, bus, name)
        context.update({f"aws:RequestTag/{k}": [v] for k, v in tags.items()})
        context["aws:TagKeys"] = list(tags)
        self.service.authorize(call, "TagResource", arn, context)
        domain.check_tags(tags)
        before = store.tags_of(call.tx, ctx.account_id, ctx.region, bus, name)
        if len({**before, **tags}) > domain.MAX_TAGS:
            raise LimitExceededException(f"A rule can have at most {domain.MAX_TAGS} tags.")
        store.set_tags(call.tx, ctx.account_id, ctx.region, bus, name, tags)
        call.audit_resource("AWS::Events::Rule", arn)

    def untag_resource(self, call: Call, arn: str, keys: list[str]) -> None:
        ctx = call.ctx
        bus, name = self._tagged(call, arn)
        context = self._tag_context(call, bus, name)
        context["aws:TagKeys"] = list(keys)
        self.service.authorize(call, "UntagResource", arn, context)
        store.remove_tags(call.tx, ctx.account_id, ctx.region, bus, name, keys)
        call.audit_resource("AWS::Events::Rule", arn)

    def list_tags(self, call: Call, arn: str) -> dict[str, str]:
        ctx = call.ctx
        bus, name = self._tagged(call, arn)
        self.service.authorize(call, "ListTagsForResource", arn, self._tag_context(call, bus, name))
        return store.tags_of(call.tx, ctx.account_id, ctx.region, bus, name)


def rule_entry(rule: store.Rule, arn: str) -> dict[str, Any]:
    """A rule as DescribeRule and ListRules show it."""
    out: dict[str, Any] = {
        "Name": rule.name,
        "Arn": arn,
        "State": rule.state,
        "EventBusName": rule.event_bus,
    }
    for key, value in (
        ("EventPattern", rule.event_pattern),
        ("ScheduleExpression", rule.schedule_expression),
        ("Description", rule.description),
        ("RoleArn", rule.role_arn),
        ("ManagedBy", rule.managed_by),
    ):
        if value is not None:
            out[key] = value
    return out


def pattern_context(pattern: str) -> dict[str, list[str]]:
    """AWS's events:source and events:detail-type for PutRule: the exact string values
    the (valid) pattern gives those fields at its top level."""
    document = json.loads(pattern)
    out: dict[str, list[str]] = {}
    for field, key in (("source", "events:source"), ("detail-type", "events:detail-type")):
        values = document.get(field) if isinstance(document, dict) else None
        if isinstance(values, list):
            exact = [v for v in values if isinstance(v, str)]
            if exact:
                out[key] = exact
    return out

"""Rules, their tags and their targets (tables ``events_rules``, ``events_rule_tags``,
``events_targets``).

A target row keeps its ARN in the clear (ListRuleNamesByTarget looks it up) and
the whole Target, as PutTargets gave it, sealed by the barrier: its Input or
HttpParameters may carry secrets. Lists are keyset-paginated by name or id.
Every function runs inside the caller's `Tx`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from garrison.storage import schema
from garrison.storage.sql import and_, delete, func, insert, select, update
from garrison.storage.writer import Tx

_rules = schema.events_rules
_tags = schema.events_rule_tags
_targets = schema.events_targets
_destinations = schema.events_api_destinations


@dataclass(frozen=True, slots=True)
class Rule:
    account_id: str
    region: str
    event_bus: str
    name: str
    event_pattern: str | None
    schedule_expression: str | None
    state: str
    description: str | None
    role_arn: str | None
    managed_by: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class Target:
    rule: str
    target_id: str
    arn: str
    target: dict[str, Any]  # the Target as PutTargets gave it


def _rule(row: Any) -> Rule:
    return Rule(
        account_id=row.account_id,
        region=row.region,
        event_bus=row.event_bus,
        name=row.name,
        event_pattern=row.event_pattern,
        schedule_expression=row.schedule_expression,
        state=row.state,
        description=row.description,
        role_arn=row.role_arn,
        managed_by=row.managed_by,
        created_at=row.created_at,
    )


def _where_bus(table: Any, account_id: str, region: str, bus: str) -> Any:
    return and_(
        table.c.account_id == account_id, table.c.region == region, table.c.event_bus == bus
    )


# -- rules ---------------------------------------------------------------------------
def get_rule(tx: Tx, account_id: str, region: str, bus: str, name: str) -> Rule | None:
    row = tx.execute(
        select(_rules).where(_where_bus(_rules, account_id, region, bus), _rules.c.name == name)
    ).first()
    return None if row is None else _rule(row)


def put_rule(tx: Tx, rule: Rule) -> bool:
    """Create the rule, or replace what PutRule sets of an existing one. True if created."""
    values = {
        "event_pattern": rule.event_pattern,
        "schedule_expression": rule.schedule_expression,
        "state": rule.state,
        "description": rule.description,
        "role_arn": rule.role_arn,
    }
    done = tx.execute(
        update(_rules)
        .where(
            _where_bus(_rules, rule.account_id, rule.region, rule.event_bus),
            _rules.c.name == rule.name,
        )
        .values(**values)
    )
    if done.rowcount:
        return False
    tx.execute(
        insert(_rules),
        {
            "account_id": rule.account_id,
            "region": rule.region,
            "event_bus": rule.event_bus,
            "name": rule.name,
            "managed_by": rule.managed_by,
            "created_at": rule.created_at,
            **values,
        },
    )
    return True


def set_state(tx: Tx, account_id: str, region: str, bus: str, name: str, state: str) -> None:
    tx.execute(
        update(_rules)
        .where(_where_bus(_rules, account_id, region, bus), _rules.c.name == name)
        .values(state=state)
    )


def delete_rule(tx: Tx, account_id: str, region: str, bus: str, name: str) -> None:
    tx.execute(
        delete(_tags).where(_where_bus(_tags, account_id, region, bus), _tags.c.rule == name)
    )
    tx.execute(
        delete(_rules).where(_where_bus(_rules, account_id, region, bus), _rules.c.name == name)
    )


def count_rules(tx: Tx, account_id: str, region: str, bus: str) -> int:
    stmt = (
        select(func.count()).select_from(_rules).where(_where_bus(_rules, account_id, region, bus))
    )
    return int(tx.execute(stmt).scalar_one())


def list_rules(
    tx: Tx,
    account_id: str,
    region: str,
    bus: str,
    *,
    prefix: str | None,
    after: str | None,
    limit: int,
    names: list[str] | None = None,
) -> list[Rule]:
    stmt = select(_rules).where(_where_bus(_rules, account_id, region, bus))
    if prefix:
        stmt = stmt.where(_rules.c.name.startswith(prefix, autoescape=True))
    if names is not None:
        stmt = stmt.where(_rules.c.name.in_(names))
    if after is not None:
        stmt = stmt.where(_rules.c.name > after)
    rows = tx.execute(stmt.order_by(_rules.c.name).limit(limit)).all()
    return [_rule(r) for r in rows]


def enabled_rules(tx: Tx, account_id: str, region: str, bus: str) -> list[Rule]:
    """The rules of a bus that match events (enabled, with a pattern)."""
    rows = tx.execute(
        select(_rules).where(
            _where_bus(_rules, account_id, region, bus),
            _rules.c.state != "DISABLED",
            _rules.c.event_pattern.is_not(None),
        )
    ).all()
    return [_rule(r) for r in rows]


# -- tags ----------------------------------------------------------------------------
def tags_of(tx: Tx, account_id: str, region: str, bus: str, rule: str) -> dict[str, str]:
    rows = tx.execute(
        select(_tags.c.tag_key, _tags.c.tag_value)
        .where(_where_bus(_tags, account_id, region, bus), _tags.c.rule == rule)
        .order_by(_tags.c.tag_key)
    ).all()
    return {r.tag_key: r.tag_value for r in rows}


def set_tags(
    tx: Tx, account_id: str, region: str, bus: str, rule: str, tags: dict[str, str]
) -> None:
    where = and_(_where_bus(_tags, account_id, region, bus), _tags.c.rule == rule)
    for key, value in tags.items():
        done = tx.execute(
            update(_tags).where(where, _tags.c.tag_key == key).values(tag_value=value)
        )
        if not done.rowcount:
            tx.execute(
                insert(_tags),
                {
                    "account_id": account_id,
                    "region": region,
                    "event_bus": bus,
                    "rule": rule,
                    "tag_key": key,
                    "tag_value": value,
                },
            )


def remove_tags(tx: Tx, account_id: str, region: str, bus: str, rule: str, keys: list[str]) -> None:
    tx.execute(
        delete(_tags).where(
            _where_bus(_tags, account_id, region, bus),
            _tags.c.rule == rule,
            _tags.c.tag_key.in_(keys),
        )
    )


# -- targets -------------------------------------------------------------------------
def _target(tx: Tx, row: Any) -> Target:
    sealed = tx.barrier.open("events_targets", _target_key(row), "target", row.target)
    return Target(row.rule, row.target_id, row.arn, json.loads(sealed))


def _target_key(row: Any) -> str:
    return "/".join((row.account_id, row.region, row.event_bus, row.rule, row.target_id))


def targets_of(
    tx: Tx,
    account_id: str,
    region: str,
    bus: str,
    rule: str,
    *,
    after: str | None = None,
    limit: int | None = None,
) -> list[Target]:
    stmt = select(_targets).where(_where_bus(_targets, account_id, region, bus))
    stmt = stmt.where(_targets.c.rule == rule)
    if after is not None:
        stmt = stmt.where(_targets.c.target_id > after)
    stmt = stmt.order_by(_targets.c.target_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_target(tx, r) for r in tx.execute(stmt).all()]


def targets_of_bus(tx: Tx, account_id: str, region: str, bus: str) -> list[Target]:
    """Every target of every rule of a bus (the bus's cache loads them at once)."""
    stmt = select(_targets).where(_where_bus(_targets, account_id, region, bus))
    return [_target(tx, r) for r in tx.execute(stmt).all()]


def get_target(
    tx: Tx, account_id: str, region: str, bus: str, rule: str, target_id: str
) -> Target | None:
    """One target (the deliverer reads the target of each outbox row)."""
    row = tx.execute(
        select(_targets).where(
            _where_bus(_targets, account_id, region, bus),
            _targets.c.rule == rule,
            _targets.c.target_id == target_id,
        )
    ).first()
    return None if row is None else _target(tx, row)


def put_target(
    tx: Tx,
    account_id: str,
    region: str,
    bus: str,
    rule: str,
    target: dict[str, Any],
    now: float,
) -> None:
    """Add or replace the target with `target["Id"]`."""
    target_id = str(target["Id"])
    key = "/".join((account_id, region, bus, rule, target_id))
    sealed = tx.barrier.seal("events_targets", key, "target", json.dumps(target).encode())
    where = and_(
        _where_bus(_targets, account_id, region, bus),
        _targets.c.rule == rule,
        _targets.c.target_id == target_id,
    )
    done = tx.execute(update(_targets).where(where).values(arn=target["Arn"], target=sealed))
    if done.rowcount:
        return
    tx.execute(
        insert(_targets),
        {
            "account_id": account_id,
            "region": region,
            "event_bus": bus,
            "rule": rule,
            "target_id": target_id,
            "arn": target["Arn"],
            "target": sealed,
            "created_at": now,
        },
    )


def remove_target(
    tx: Tx, account_id: str, region: str, bus: str, rule: str, target_id: str
) -> bool:
    done = tx.execute(
        delete(_targets).where(
            _where_bus(_targets, account_id, region, bus),
            _targets.c.rule == rule,
            _targets.c.target_id == target_id,
        )
    )
    return bool(done.rowcount)


def count_targets(tx: Tx, account_id: str, region: str, bus: str, rule: str) -> int:
    stmt = (
        select(func.count())
        .select_from(_targets)
        .where(_where_bus(_targets, account_id, region, bus), _targets.c.rule == rule)
    )
    return int(tx.execute(stmt).scalar_one())


def rule_names_by_target(
    tx: Tx, account_id: str, region: str, bus: str, arn: str, *, after: str | None, limit: int
) -> list[str]:
    stmt = (
        select(_targets.c.rule)
        .distinct()
        .where(_where_bus(_targets, account_id, region, bus), _targets.c.arn == arn)
    )
    if after is not None:
        stmt = stmt.where(_targets.c.rule > after)
    return [r.rule for r in tx.execute(stmt.order_by(_targets.c.rule).limit(limit)).all()]


def api_destination_exists(
    tx: Tx, account_id: str, region: str, name: str, destination_id: str
) -> bool:
    """Whether the API destination an ARN names exists (PutTargets checks targets)."""
    row = tx.execute(
        select(_destinations.c.destination_id).where(
            _destinations.c.account_id == account_id,
            _destinations.c.region == region,
            _destinations.c.name == name,
        )
    ).first()
    return row is not None and row.destination_id == destination_id

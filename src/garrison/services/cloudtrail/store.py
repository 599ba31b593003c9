"""Queries over the audit trail for LookupEvents (newest first, keyset pages)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from garrison.storage import schema
from garrison.storage.sql import and_, or_, select
from garrison.storage.writer import Tx

_e = schema.audit_events
_r = schema.audit_resources

_COLUMN_FILTERS = {
    "EventId": _e.c.event_id,
    "EventName": _e.c.event_name,
    "Username": _e.c.username,
    "EventSource": _e.c.event_source,
    "AccessKeyId": _e.c.access_key_id,
}


@dataclass(frozen=True)
class Cursor:
    event_time: float
    node_id: str
    seq: int


@dataclass(frozen=True)
class EventRow:
    node_id: str
    seq: int
    event_id: str
    event_time: float
    event_name: str
    event_source: str
    read_only: bool
    username: str
    access_key_id: str
    body: str
    resources: tuple[tuple[str, str], ...]


def lookup(
    tx: Tx,
    *,
    account_id: str,
    region: str,
    attribute: tuple[str, str] | None,
    start: float | None,
    end: float | None,
    after: Cursor | None,
    limit: int,
) -> list[EventRow]:
    conds: list[Any] = [_e.c.account_id == account_id, _e.c.region == region]
    if start is not None:
        conds.append(_e.c.event_time >= start)
    if end is not None:
        conds.append(_e.c.event_time <= end)
    if attribute is not None:
        key, value = attribute
        if key in _COLUMN_FILTERS:
            conds.append(_COLUMN_FILTERS[key] == value)
        elif key == "ReadOnly":
            conds.append(_e.c.read_only == (value.lower() == "true"))
        else:
            column = _r.c.resource_type if key == "ResourceType" else _r.c.resource_name
            conds.append(
                select(_r.c.seq)
                .where(_r.c.node_id == _e.c.node_id, _r.c.seq == _e.c.seq, column == value)
                .exists()
            )
    if after is not None:
        conds.append(
            or_(
                _e.c.event_time < after.event_time,
                and_(_e.c.event_time == after.event_time, _e.c.node_id < after.node_id),
                and_(
                    _e.c.event_time == after.event_time,
                    _e.c.node_id == after.node_id,
                    _e.c.seq < after.seq,
                ),
            )
        )
    rows = tx.execute(
        select(_e)
        .where(and_(*conds))
        .order_by(_e.c.event_time.desc(), _e.c.node_id.desc(), _e.c.seq.desc())
        .limit(limit)
    ).all()
    resources = _resources(tx, [(r.node_id, int(r.seq)) for r in rows])
    return [
        EventRow(
            r.node_id,
            int(r.seq),
            r.event_id,
            float(r.event_time),
            r.event_name,
            r.event_source,
            bool(r.read_only),
            r.username,
            r.access_key_id,
            r.body,
            resources.get((r.node_id, int(r.seq)), ()),
        )
        for r in rows
    ]


def _resources(
    tx: Tx, keys: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], tuple[tuple[str, str], ...]]:
    if not keys:
        return {}
    out: dict[tuple[str, int], list[tuple[str, str]]] = {}
    nodes = {n for n, _ in keys}
    seqs = [s for _, s in keys]
    rows = tx.execute(
        select(_r)
        .where(_r.c.node_id.in_(nodes), _r.c.seq.in_(seqs))
        .order_by(_r.c.node_id, _r.c.seq, _r.c.ordinal)
    ).all()
    wanted = set(keys)
    for r in rows:
        k = (r.node_id, int(r.seq))
        if k in wanted:
            out.setdefault(k, []).append((r.resource_type, r.resource_name))
    return {k: tuple(v) for k, v in out.items()}

"""Queries over the audit trail for LookupEvents (newest first, keyset pages)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from garrison.storage import schema
from garrison.storage.sql import and_, or_, select
from garrison.storage.writer import Tx

_e = schema.audit_events

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


# LookupAttributes matched in the event's body (its canonical JSON: sorted keys, so a
# resource is {"ARN": ..., "accountId": ..., "type": ...}): the resource's member, and
# its place in `EventRow.resources`.
_RESOURCE_MEMBERS = {"ResourceType": ("type", 0), "ResourceName": ("ARN", 1)}
# rows read at a time when a resource filter's matches are checked one by one
_SCAN = 200


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
    resource: tuple[int, str] | None = None  # (place in EventRow.resources, value)
    if attribute is not None:
        key, value = attribute
        if key in _COLUMN_FILTERS:
            conds.append(_COLUMN_FILTERS[key] == value)
        elif key == "ReadOnly":
            conds.append(_e.c.read_only == (value.lower() == "true"))
        else:
            # The body holds `"<member>":<value as JSON>` for a match: a narrowing in SQL
            # (LIKE may ignore case, and other objects of the event have a "type"), then
            # each candidate's resources are compared exactly.
            member, place = _RESOURCE_MEMBERS[key]
            needle = f'"{member}":{orjson.dumps(value).decode()}'
            conds.append(_e.c.body.contains(needle, autoescape=True))
            resource = (place, value)
    if resource is None:
        return [_row(r) for r in _page(tx, conds, after, limit)]
    place, value = resource
    found: list[EventRow] = []
    while len(found) < limit:
        rows = _page(tx, conds, after, _SCAN)
        for r in rows:
            row = _row(r)
            if any(res[place] == value for res in row.resources):
                found.append(row)
                if len(found) == limit:
                    break
        if len(rows) < _SCAN:
            break
        last = rows[-1]
        after = Cursor(float(last.event_time), last.node_id, int(last.seq))
    return found


def _page(tx: Tx, conds: list[Any], after: Cursor | None, limit: int) -> Sequence[Any]:
    """Up to `limit` rows matching `conds`, newest first, after the cursor."""
    if after is not None:
        conds = [
            *conds,
            or_(
                _e.c.event_time < after.event_time,
                and_(_e.c.event_time == after.event_time, _e.c.node_id < after.node_id),
                and_(
                    _e.c.event_time == after.event_time,
                    _e.c.node_id == after.node_id,
                    _e.c.seq < after.seq,
                ),
            ),
        ]
    return list(
        tx.execute(
            select(_e)
            .where(and_(*conds))
            .order_by(_e.c.event_time.desc(), _e.c.node_id.desc(), _e.c.seq.desc())
            .limit(limit)
        )
    )


def _row(r: Any) -> EventRow:
    resources = orjson.loads(r.body).get("resources") or ()
    return EventRow(
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
        tuple((str(res["type"]), str(res["ARN"])) for res in resources),
    )

"""CloudTrail's LookupEvents over the node's audit trail.

Only management events of the caller's own account and region are returned,
newest first, as AWS does, to a caller whose policies allow
``cloudtrail:LookupEvents``. Other CloudTrail operations (trails, lakes, insights)
answer UnsupportedOperationException: Garrison's trail is built in.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from garrison.api import Call, Handler, Request, Response
from garrison.clock import Clock
from garrison.errors import AwsError
from garrison.iam.authorizer import Authorizer
from garrison.services.cloudtrail import store
from garrison.services.cloudtrail.actions import ACTIONS


class InvalidLookupAttributesException(AwsError):
    code = "InvalidLookupAttributesException"


class InvalidTimeRangeException(AwsError):
    code = "InvalidTimeRangeException"


class InvalidNextTokenException(AwsError):
    code = "InvalidNextTokenException"


class InvalidEventCategoryException(AwsError):
    code = "InvalidEventCategoryException"


class CloudTrailProvider:
    service = "cloudtrail"
    event_source = "cloudtrail.amazonaws.com"

    def __init__(self, clock: Clock, authorizer: Authorizer) -> None:
        self.clock = clock
        self.authorizer = authorizer

    def handlers(self) -> Mapping[str, Handler]:
        return {"LookupEvents": self.lookup_events}

    def is_read_only(self, operation: str) -> bool:
        return operation.startswith(("Lookup", "Describe", "Get", "List"))

    def lookup_events(self, call: Call, req: Request) -> Response:
        self.authorizer.authorize(call, ACTIONS["LookupEvents"].action, "*")
        if req.get("EventCategory") is not None:
            raise InvalidEventCategoryException("Insights events are not recorded by Garrison.")
        attrs = req.get("LookupAttributes") or []
        if len(attrs) > 1:
            raise InvalidLookupAttributesException(
                "You cannot specify more than one lookup attribute."
            )
        attribute = None
        if attrs:
            attribute = (str(attrs[0]["AttributeKey"]), str(attrs[0]["AttributeValue"]))
        start: datetime | None = req.get("StartTime")
        end: datetime | None = req.get("EndTime")
        if start is not None and end is not None and start > end:
            raise InvalidTimeRangeException("Start time must be earlier than end time.")
        limit = int(req.get("MaxResults") or 50)
        after = _decode_token(req.get("NextToken"))
        rows = store.lookup(
            call.tx,
            account_id=call.ctx.account_id,
            region=call.ctx.region,
            attribute=attribute,
            start=start.timestamp() if start else None,
            end=end.timestamp() if end else None,
            after=after,
            limit=limit + 1,
        )
        call.hide_response = True
        out: dict[str, Any] = {"Events": [_event(r) for r in rows[:limit]]}
        if len(rows) > limit:
            last = rows[limit - 1]
            out["NextToken"] = _encode_token(store.Cursor(last.event_time, last.node_id, last.seq))
        return out


def _event(row: store.EventRow) -> dict[str, Any]:
    return {
        "EventId": row.event_id,
        "EventName": row.event_name,
        "ReadOnly": "true" if row.read_only else "false",
        "AccessKeyId": row.access_key_id,
        "EventTime": datetime.fromtimestamp(row.event_time, UTC),
        "EventSource": row.event_source,
        "Username": row.username,
        "Resources": [{"ResourceType": t, "ResourceName": n} for t, n in row.resources],
        "CloudTrailEvent": row.body,
    }


def _encode_token(cursor: store.Cursor) -> str:
    raw = orjson.dumps([cursor.event_time, cursor.node_id, cursor.seq])
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str | None) -> store.Cursor | None:
    if not token:
        return None
    try:
        t, node, seq = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        return store.Cursor(float(t), str(node), int(seq))
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise InvalidNextTokenException("Invalid NextToken.") from None

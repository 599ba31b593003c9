"""Events in EventBridge's envelope, as targets and patterns see them.

    {"version": "0", "id": ..., "detail-type": ..., "source": ..., "account": ...,
     "time": "2026-11-29T04:50:00Z", "region": ..., "resources": [...], "detail": {...}}

`api_call_event` makes the "AWS API Call via CloudTrail" event EventBridge
receives for an audited call that changes state: source ``aws.<service>``
(from the CloudTrail ``eventSource``), the CloudTrail event as detail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DEFAULT_BUS = "default"
API_CALL = "AWS API Call via CloudTrail"


@dataclass(frozen=True, slots=True)
class Event:
    event_id: str
    detail_type: str
    source: str
    account: str
    region: str
    time: datetime
    detail: Mapping[str, Any]
    resources: Sequence[str] = ()
    event_bus: str = DEFAULT_BUS
    # kept for the audit trail of PutEvents; not part of the envelope
    extra: Mapping[str, Any] = field(default_factory=dict)

    def envelope(self) -> dict[str, Any]:
        """The event as patterns match it and targets receive it (without a transformation)."""
        return {
            "version": "0",
            "id": self.event_id,
            "detail-type": self.detail_type,
            "source": self.source,
            "account": self.account,
            "time": self.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": list(self.resources),
            "detail": dict(self.detail),
        }


def api_call_event(event_id: str, cloudtrail_event: Mapping[str, Any], time: datetime) -> Event:
    """The EventBridge form of one audited CloudTrail event (`AWS API Call via CloudTrail`)."""
    source = str(cloudtrail_event.get("eventSource", ""))
    service = source.removesuffix(".amazonaws.com")
    return Event(
        event_id=event_id,
        detail_type=API_CALL,
        source=f"aws.{service}",
        account=str(cloudtrail_event.get("recipientAccountId", "")),
        region=str(cloudtrail_event.get("awsRegion", "")),
        time=time,
        detail=dict(cloudtrail_event),
    )

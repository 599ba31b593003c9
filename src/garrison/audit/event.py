"""CloudTrail-format events for finished calls.

The caller passes parameters already redacted (the protocol layer drops blobs and
members the model marks sensitive): nothing here ever sees plaintext.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from garrison.context import Principal

EVENT_VERSION = "1.09"


@dataclass(frozen=True, slots=True)
class CallRecord:
    """Everything an audit event says about one call."""

    event_id: str
    request_id: str
    event_time: datetime
    event_source: str
    event_name: str
    region: str
    source_ip: str
    user_agent: str
    principal: Principal | None
    access_key_id: str
    read_only: bool
    request_parameters: dict[str, Any] | None
    response_elements: dict[str, Any] | None
    resources: tuple[tuple[str, str], ...] = ()
    error_code: str | None = None
    error_message: str | None = None


def user_identity(principal: Principal | None, access_key_id: str) -> dict[str, Any]:
    if principal is None:
        identity: dict[str, Any] = {"type": "Unknown"}
        if access_key_id:
            identity["accessKeyId"] = access_key_id
        return identity
    identity = {
        "type": principal.type,
        "principalId": principal.user_id,
        "arn": principal.arn,
        "accountId": principal.account_id,
        "accessKeyId": principal.access_key_id or access_key_id,
    }
    if principal.user_name:
        identity["userName"] = principal.user_name
    return identity


def build_event(record: CallRecord) -> dict[str, Any]:
    account = record.principal.account_id if record.principal else ""
    event: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": user_identity(record.principal, record.access_key_id),
        "eventTime": record.event_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": record.event_source,
        "eventName": record.event_name,
        "awsRegion": record.region,
        "sourceIPAddress": record.source_ip,
        "userAgent": record.user_agent,
        "requestParameters": record.request_parameters,
        "responseElements": record.response_elements,
        "requestID": record.request_id,
        "eventID": record.event_id,
        "readOnly": record.read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    if record.resources:
        event["resources"] = [
            {"accountId": account, "type": rtype, "ARN": arn} for rtype, arn in record.resources
        ]
    if record.error_code:
        event["errorCode"] = record.error_code
        event["errorMessage"] = record.error_message or ""
    # tlsDetails is left out: the ASGI server does not tell us the negotiated
    # version or cipher, and a guessed value would be a false record.
    return event

"""Parameter Store's events, in EventBridge's envelope as AWS sends them.

    "Parameter Store Change"          source aws.ssm, resources [the parameter ARN]
        detail {"operation": Create | Update | Delete | LabelParameterVersion,
                "name", "type", "description" (when the parameter has one)}

    "Parameter Store Policy Action"   source aws.ssm, resources [the parameter ARN]
        detail {"parameter-name", "parameter-type", "policy-type", "policy-content",
                "action-status", "action-reason"}

The shapes are those of AWS's "Amazon EventBridge event examples for Systems
Manager" and "Setting up notifications ... based on Parameter Store events".
No value ever enters an event: a parameter's value (and a SecureString's
plaintext) stays in the store.

`Publish` is the bus's `EventBus.publish(tx, events)`: the events are matched
and written to the outbox in the transaction of the change they report.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from garrison.events.envelope import Event
from garrison.services.ssm.domain import parameter_arn
from garrison.storage.writer import Tx

Publish = Callable[[Tx, Iterable[Event]], int]

SOURCE = "aws.ssm"
CHANGE = "Parameter Store Change"
POLICY_ACTION = "Parameter Store Policy Action"

CREATE, UPDATE, DELETE, LABEL = "Create", "Update", "Delete", "LabelParameterVersion"

# what AWS's policy action events report for an action taken
ACTION_STATUS = "Success"


def change_event(
    *,
    account_id: str,
    region: str,
    time: datetime,
    operation: str,
    name: str,
    type: str,
    description: str | None,
) -> Event:
    """A "Parameter Store Change" event for `operation` on parameter `name`."""
    detail: dict[str, Any] = {"operation": operation, "name": name, "type": type}
    if description is not None:
        detail["description"] = description
    return _event(CHANGE, account_id, region, time, name, detail)


def policy_action_event(
    *,
    account_id: str,
    region: str,
    time: datetime,
    name: str,
    type: str,
    policy_type: str,
    policy_content: str,
    reason: str,
) -> Event:
    """A "Parameter Store Policy Action" event: `policy_type` acted on parameter `name`."""
    detail = {
        "parameter-name": name,
        "parameter-type": type,
        "policy-type": policy_type,
        "policy-content": policy_content,
        "action-status": ACTION_STATUS,
        "action-reason": reason,
    }
    return _event(POLICY_ACTION, account_id, region, time, name, detail)


def _event(
    detail_type: str,
    account_id: str,
    region: str,
    time: datetime,
    name: str,
    detail: dict[str, Any],
) -> Event:
    return Event(
        event_id=str(uuid.uuid4()),
        detail_type=detail_type,
        source=SOURCE,
        account=account_id,
        region=region,
        time=time,
        detail=detail,
        resources=(parameter_arn(region, account_id, name),),
    )

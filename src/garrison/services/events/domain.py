"""EventBridge's names, limits and small value rules, shared by the use cases.

Limits (AWS's defaults, "Amazon EventBridge quotas"): 300 rules per event bus
(adjustable: `max_rules`), 5 targets per rule, 50 tags per rule, 10 entries and
256 KB per PutEvents. Only the ``default`` event bus exists: an EventBusName
other than it (by name or ARN) is a ResourceNotFoundException.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

from garrison.events.envelope import DEFAULT_BUS
from garrison.services.events.errors import ValidationException, no_bus

MAX_RULES: Final = 300
MAX_TARGETS_PER_RULE: Final = 5
MAX_TAGS: Final = 50
MAX_ENTRIES: Final = 10
MAX_PUT_EVENTS_BYTES: Final = 256 * 1024

ENABLED: Final = "ENABLED"
DISABLED: Final = "DISABLED"
ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS: Final = (
    "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
)

_BUS_ARN = re.compile(r"arn:aws[\w-]*:events:([a-z0-9-]+):([0-9]{12}):event-bus/(.+)")
_RULE_ARN = re.compile(r"arn:aws[\w-]*:events:([a-z0-9-]+):([0-9]{12}):rule/(.+)")
_ROLE_ARN = re.compile(r"arn:aws:iam::([0-9]{12}):role/(?:[\x21-\x7e]*/)?([\w+=,.@-]{1,64})")


def bus_name(given: str | None, region: str, account_id: str) -> str:
    """The event bus an EventBusName (name or ARN) names; only ``default`` exists."""
    if given is None or given == DEFAULT_BUS:
        return DEFAULT_BUS
    m = _BUS_ARN.fullmatch(given)
    if m is not None and m.groups() == (region, account_id, DEFAULT_BUS):
        return DEFAULT_BUS
    raise no_bus(given)


def bus_arn(region: str, account_id: str, bus: str = DEFAULT_BUS) -> str:
    return f"arn:aws:events:{region}:{account_id}:event-bus/{bus}"


def rule_of_arn(arn: str, region: str, account_id: str) -> tuple[str, str] | None:
    """(bus, rule name) of a rule ARN of this account and Region; None if it is not one."""
    m = _RULE_ARN.fullmatch(arn)
    if m is None or m.group(1) != region or m.group(2) != account_id:
        return None
    path = m.group(3)
    bus, _, name = path.rpartition("/")
    return (bus or DEFAULT_BUS), name


def role_parts(arn: str) -> tuple[str, str] | None:
    """(account, role name) of an IAM role ARN; None if it is not one."""
    m = _ROLE_ARN.fullmatch(arn)
    return None if m is None else (m.group(1), m.group(2))


def encode_token(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode()


def decode_token(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationException("The NextToken provided is not valid.") from None


def check_tags(tags: dict[str, str]) -> None:
    for key in tags:
        if key.lower().startswith("aws:"):
            raise ValidationException(
                f"Invalid tag key {key}: tag keys starting with 'aws:' are reserved for AWS use."
            )

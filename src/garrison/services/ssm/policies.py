"""Parameter policies (Advanced parameters only), as AWS documents them.

    [{"Type": "Expiration", "Version": "1.0",
      "Attributes": {"Timestamp": "2030-12-02T21:34:33.000Z"}},
     {"Type": "ExpirationNotification", "Version": "1.0",
      "Attributes": {"Before": "30", "Unit": "Days"}},
     {"Type": "ExpirationNotification", "Version": "1.0",
      "Attributes": {"Before": "15", "Unit": "Days"}},
     {"Type": "NoChangeNotification", "Version": "1.0",
      "Attributes": {"After": "20", "Unit": "Hours"}}]

PutParameter validates them here (``[{}]``, like ``[]``, removes them). Up to
10 per parameter; AWS's user guide ("Assigning parameter policies") assigns one
Expiration with two ExpirationNotification policies, as above, so several
policies of a notification type are accepted and each acts on its own. Two
Expiration policies conflict (the case AWS's IncompatiblePolicyException names),
and an ExpirationNotification needs an Expiration.

Each policy of a version has its status (AWS's PolicyStatus), stored with the
version's policies (`stored_text`):

    Pending --(its action is taken, same transaction)--> Finished

AWS also names InProgress and Failed: here an action and its status change
are one transaction, so neither is ever seen. A new version's policies start
Pending (`new_version_statuses`), except an ExpirationNotification the
previous version already sent for the same Expiration. The store writes one
`ssm_policy_actions` row per Pending policy of the latest version, keyed by its
place in the list, due at (`actions`):

    Expiration              the Timestamp
    ExpirationNotification  the Timestamp minus Before
    NoChangeNotification    the version's time plus After

The scheduler's "ssm-parameter-policies" job (`jobs.py`) runs them when due,
with the event `action_reason` explains.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson

from garrison.services.ssm.errors import (
    IncompatiblePolicyException,
    InvalidPolicyAttributeException,
    InvalidPolicyTypeException,
    PoliciesLimitExceededException,
)

EXPIRATION = "Expiration"
EXPIRATION_NOTIFICATION = "ExpirationNotification"
NO_CHANGE_NOTIFICATION = "NoChangeNotification"
POLICY_TYPES = (EXPIRATION, EXPIRATION_NOTIFICATION, NO_CHANGE_NOTIFICATION)
# AWS's PolicyStatus values Garrison reaches (see the module doc for the other two)
PENDING, FINISHED = "Pending", "Finished"
MAX_POLICIES = 10
_UNITS = {"Days": 86_400, "Hours": 3_600}
_ATTRIBUTES = {
    EXPIRATION: {"Timestamp"},
    EXPIRATION_NOTIFICATION: {"Before", "Unit"},
    NO_CHANGE_NOTIFICATION: {"After", "Unit"},
}
_TYPE_MESSAGE = (
    "The policy type is not supported. Parameter Store supports the following policy types: "
    "Expiration, NoChangeNotification, and ExpirationNotification."
)
_ATTRIBUTE_MESSAGE = "A policy attribute or its value is invalid."


@dataclass(frozen=True, slots=True)
class ParameterPolicy:
    """One policy of a version, with its status."""

    type: str
    text: str  # the policy as given, re-serialised (GetParameterHistory's PolicyText)
    attributes: dict[str, str]
    status: str = PENDING


@dataclass(frozen=True, slots=True)
class PolicyAction:
    """One row of `ssm_policy_actions`: the policy at `index` in the latest version's
    list, due at `due_at`."""

    index: int
    policy_type: str
    due_at: float


def parse_policies(text: str, now: float) -> tuple[ParameterPolicy, ...]:
    """PutParameter's Policies, checked as AWS checks them; raises its errors."""
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise InvalidPolicyAttributeException(
            "The policies are not valid JSON: give a JSON array of parameter policies."
        ) from None
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        raise InvalidPolicyAttributeException(_ATTRIBUTE_MESSAGE)
    doc = [item for item in doc if item != {}]  # AWS's way to remove policies: [{}]
    if len(doc) > MAX_POLICIES:
        raise PoliciesLimitExceededException(
            "You specified more than the maximum number of allowed policies for the "
            f"parameter. The maximum is {MAX_POLICIES}."
        )
    policies = tuple(_policy(item, now) for item in doc)
    types = [p.type for p in policies]
    if types.count(EXPIRATION) > 1:
        raise IncompatiblePolicyException(
            "There is a conflict in the policies specified for this parameter. You can't, for "
            "example, specify two Expiration policies for a parameter. Review your policies, "
            "and try again."
        )
    if EXPIRATION_NOTIFICATION in types and EXPIRATION not in types:
        raise IncompatiblePolicyException(
            "An ExpirationNotification policy needs an Expiration policy on the same parameter."
        )
    return policies


def _policy(item: Any, now: float) -> ParameterPolicy:
    if not isinstance(item, dict) or item.get("Type") not in POLICY_TYPES:
        raise InvalidPolicyTypeException(_TYPE_MESSAGE)
    kind = item["Type"]
    if item.get("Version", "1.0") != "1.0" or set(item) - {"Type", "Version", "Attributes"}:
        raise InvalidPolicyAttributeException(_ATTRIBUTE_MESSAGE)
    attributes = item.get("Attributes")
    if not isinstance(attributes, dict) or set(attributes) != _ATTRIBUTES[kind]:
        raise InvalidPolicyAttributeException(_ATTRIBUTE_MESSAGE)
    if not all(isinstance(v, str) for v in attributes.values()):
        raise InvalidPolicyAttributeException(_ATTRIBUTE_MESSAGE)
    if kind == EXPIRATION:
        if _timestamp(attributes["Timestamp"]) <= now:
            raise InvalidPolicyAttributeException(
                "The Expiration policy's Timestamp must be in the future."
            )
    else:
        _period(attributes)
    text = orjson.dumps({"Type": kind, "Version": "1.0", "Attributes": attributes}).decode()
    return ParameterPolicy(kind, text, dict(attributes))


def _timestamp(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidPolicyAttributeException(_ATTRIBUTE_MESSAGE) from None
    if moment.tzinfo is None:
        raise InvalidPolicyAttributeException(_ATTRIBUTE_MESSAGE)
    return moment.timestamp()


def _period(attributes: dict[str, str]) -> float:
    amount = attributes.get("Before", attributes.get("After", ""))
    unit = attributes["Unit"]
    if not amount.isdigit() or int(amount) < 1 or unit not in _UNITS:
        raise InvalidPolicyAttributeException(_ATTRIBUTE_MESSAGE)
    return int(amount) * _UNITS[unit]


def actions(policies: tuple[ParameterPolicy, ...], version_time: float) -> list[PolicyAction]:
    """When each Pending policy of a new latest version falls due."""
    out: list[PolicyAction] = []
    expires = _expires(policies)
    for index, policy in enumerate(policies):
        if policy.status != PENDING:
            continue
        if policy.type == EXPIRATION and expires is not None:
            out.append(PolicyAction(index, EXPIRATION, expires))
        elif policy.type == EXPIRATION_NOTIFICATION and expires is not None:
            due = expires - _period(policy.attributes)
            out.append(PolicyAction(index, policy.type, due))
        elif policy.type == NO_CHANGE_NOTIFICATION:
            due = version_time + _period(policy.attributes)
            out.append(PolicyAction(index, policy.type, due))
    return out


def _expires(policies: tuple[ParameterPolicy, ...]) -> float | None:
    return next(
        (_timestamp(p.attributes["Timestamp"]) for p in policies if p.type == EXPIRATION), None
    )


def new_version_statuses(
    policies: tuple[ParameterPolicy, ...], previous: tuple[ParameterPolicy, ...]
) -> tuple[ParameterPolicy, ...]:
    """A new version's `policies` with their statuses: Pending, except an
    ExpirationNotification the `previous` version already sent for the same
    Expiration, which stays Finished (sent once per Expiration, not per version)."""
    sent: Counter[str] = Counter()
    expiration = _expiration_text(policies)
    if expiration is not None and expiration == _expiration_text(previous):
        sent.update(
            p.text for p in previous if p.type == EXPIRATION_NOTIFICATION and p.status == FINISHED
        )
    out = []
    for policy in policies:
        status = PENDING
        if policy.type == EXPIRATION_NOTIFICATION and sent[policy.text] > 0:
            sent[policy.text] -= 1
            status = FINISHED
        out.append(policy if policy.status == status else replace(policy, status=status))
    return tuple(out)


def _expiration_text(policies: tuple[ParameterPolicy, ...]) -> str | None:
    return next((p.text for p in policies if p.type == EXPIRATION), None)


def action_reason(policy: ParameterPolicy, name: str, created: float) -> str:
    """The "action-reason" of a policy's action event, in AWS's words."""
    since = f"the policy created at {_iso(created)}"
    if policy.type == EXPIRATION:
        return (
            f"Deleted parameter {name}: it expired at {policy.attributes['Timestamp']}. "
            f"This action was taken based on {since}"
        )
    amount = policy.attributes.get("Before", policy.attributes.get("After", ""))
    unit = policy.attributes["Unit"].lower()
    period = f"{amount} {unit.removesuffix('s') if amount == '1' else unit}"
    if policy.type == EXPIRATION_NOTIFICATION:
        what = f"The parameter will expire in {period}."
    else:
        what = f"The parameter has not been changed for {period}."
    return f"{what} This notification was generated based on {since}"


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def stored_text(policies: tuple[ParameterPolicy, ...]) -> str:
    """The version's policies as stored: a JSON array of ``{"text", "status"}``."""
    return orjson.dumps([{"text": p.text, "status": p.status} for p in policies]).decode()


def from_stored(text: str | None) -> tuple[ParameterPolicy, ...]:
    """The policies of a stored version (as `stored_text` wrote them)."""
    out = []
    for entry in orjson.loads(text) if text else ():
        doc = orjson.loads(entry["text"])
        out.append(
            ParameterPolicy(doc["Type"], entry["text"], dict(doc["Attributes"]), entry["status"])
        )
    return tuple(out)


def stored_policies(text: str | None) -> list[dict[str, str]]:
    """GetParameterHistory's and DescribeParameters' Policies of a version."""
    return [
        {"PolicyText": p.text, "PolicyType": p.type, "PolicyStatus": p.status}
        for p in from_stored(text)
    ]

"""EventBridge's authorisation table: the IAM action, resource types and condition keys
of each served operation, after AWS's Service Authorization Reference ("Actions,
resources, and condition keys for Amazon EventBridge").

Rules are ``arn:aws:events:<region>:<account>:rule/<name>`` (default bus);
PutEvents acts on the event bus, ``arn:aws:events:<region>:<account>:event-bus/default``,
with ``events:source`` and ``events:detail-type`` from each entry. PutTargets and
PutRule with a RoleArn also ask ``iam:PassRole`` on the role, as AWS does.
"""

from __future__ import annotations

from garrison.iam.actions import OperationAuth, table

_RULE = ("rule", "|", "aws:ResourceTag/${TagKey}")
_TAGS = ("aws:RequestTag/${TagKey}", "aws:TagKeys")

ACTIONS: dict[str, OperationAuth] = table(
    "events",
    {
        "PutRule": ("rule", "|", *_TAGS, "events:source", "events:detail-type"),
        "DescribeRule": _RULE,
        "ListRules": (),
        "DeleteRule": _RULE,
        "EnableRule": _RULE,
        "DisableRule": _RULE,
        "PutTargets": (*_RULE, "events:TargetArn"),
        "RemoveTargets": _RULE,
        "ListTargetsByRule": _RULE,
        "ListRuleNamesByTarget": ("rule",),
        "PutEvents": ("event-bus", "|", "events:source", "events:detail-type"),
        "TestEventPattern": (),
        "TagResource": ("rule", "|", *_TAGS),
        "UntagResource": ("rule", "|", "aws:TagKeys"),
        "ListTagsForResource": ("rule",),
        # connections and API destinations (connections.py, api_destinations.py)
        "CreateConnection": ("connection",),
        "DescribeConnection": ("connection",),
        "UpdateConnection": ("connection",),
        "DeleteConnection": ("connection",),
        "DeauthorizeConnection": ("connection",),
        "ListConnections": (),
        "CreateApiDestination": ("api-destination",),
        "DescribeApiDestination": ("api-destination",),
        "UpdateApiDestination": ("api-destination",),
        "DeleteApiDestination": ("api-destination",),
        "ListApiDestinations": (),
    },
)

PASS_ROLE = "iam:PassRole"  # noqa: S105 (an IAM action, not a secret)

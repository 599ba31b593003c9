"""EventBridge's errors, with the codes and HTTP statuses of its botocore model.

AwsError
 ├── ValidationException                400  (garrison.errors) names, targets, inputs
 ├── AccessDeniedException              400  (garrison.errors) IAM, iam:PassRole
 ├── InvalidEventPatternException       400  (garrison.events.patterns)
 ├── ResourceNotFoundException          400  a rule, an event bus other than default
 ├── LimitExceededException             400  rules per bus, targets per rule, tags
 └── ManagedRuleException               400  (never raised: Garrison makes no managed rules)
"""

from __future__ import annotations

from garrison.errors import AccessDeniedException, AwsError, ValidationException
from garrison.events.patterns import InvalidEventPatternException


class ResourceNotFoundException(AwsError):
    code = "ResourceNotFoundException"


class LimitExceededException(AwsError):
    code = "LimitExceededException"


def no_rule(name: str, bus: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Rule {name} does not exist on EventBus {bus}.")


def no_bus(name: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(
        f"Event bus {name} does not exist. (Garrison serves the default event bus only.)"
    )


__all__ = [
    "AccessDeniedException",
    "InvalidEventPatternException",
    "LimitExceededException",
    "ResourceNotFoundException",
    "ValidationException",
    "no_bus",
    "no_rule",
]

"""PutParameter's rules that need no storage: AWS's texts for its refusals, the
AllowedPattern check, the value size per tier, the tags given on creation."""

from __future__ import annotations

import re
from collections.abc import Sequence

from garrison.services.ssm.domain import MAX_TAGS, STANDARD
from garrison.services.ssm.errors import (
    InvalidAllowedPatternException,
    ParameterPatternMismatchException,
    ValidationException,
)

ALREADY_EXISTS = (
    "The parameter already exists. To overwrite this value, set the overwrite option in the "
    "request to true."
)
TAGS_WITH_OVERWRITE = (
    "Invalid request: tags and overwrite can't be used together. To create a parameter with "
    "tags, please remove overwrite flag. To update tags for an existing parameter, please use "
    "AddTagsToResource or RemoveTagsFromResource."
)
TYPE_CHANGE = (
    "Parameter Store doesn't support changing a parameter type in a hierarchy. For example, "
    "you can't change a parameter from a String type to a SecureString type. You must create "
    "a new, unique parameter."
)
DOWNGRADE = (
    "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from "
    "the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete "
    "the advanced parameter and recreate it as a standard parameter."
)
QUOTA = (
    "You have exceeded the number of parameters for this AWS account. Delete one or more "
    "parameters and try again."
)


def check_pattern(pattern: str | None, value: str) -> None:
    if pattern is None:
        return
    try:
        compiled = re.compile(pattern)
    except (re.error, RecursionError, OverflowError):
        raise InvalidAllowedPatternException(
            "The request doesn't meet the regular expression requirement."
        ) from None
    # Java's String.matches: the whole value must match
    if compiled.fullmatch(value) is None:
        raise ParameterPatternMismatchException(
            f"Parameter value, cannot be validated against allowedPattern: {pattern}"
        )


def too_large(tier: str) -> str:
    if tier == STANDARD:
        return (
            "Standard tier parameters support a maximum parameter value of 4096 characters. To "
            "create a larger parameter value, upgrade the parameter to use the advanced-parameter "
            "tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/"
            "userguide/parameter-store-advanced-parameters.html"
        )
    return "Advanced tier parameters support a maximum parameter value of 8192 characters."


def check_tags(tags: Sequence[tuple[str, str]]) -> None:
    keys = [k for k, _ in tags]
    if len(set(keys)) != len(keys):
        raise ValidationException("The tags contain duplicate tag keys.")
    if len(keys) > MAX_TAGS:
        raise ValidationException(
            f"A parameter can have at most {MAX_TAGS} tags; the request gives {len(keys)}."
        )
    if any(k.lower().startswith("aws:") for k in keys):
        raise ValidationException("Tag keys beginning with aws: are reserved for AWS use.")

"""AWS's rules for parameter names, paths, selectors and labels.

    "/app/db/password"               a name (case-sensitive, at most 15 levels)
    "/app/db/password:3"             the name with a version selector
    "/app/db/password:prod"          ... with a label selector
    "arn:aws:ssm:<r>:<a>:parameter/app/db/password[:sel]"   the same, as an ARN

A name that is one level deep is the same parameter with or without its
leading slash (``/TestParam1`` and ``TestParam1``, AWS's "Uniqueness" rule), so
lookups try both spellings (`spellings`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from garrison.services.ssm.domain import MAX_HIERARCHY_LEVELS, MAX_NAME_WITH_ARN, parameter_arn
from garrison.services.ssm.errors import (
    AccessDeniedException,
    HierarchyLevelLimitExceededException,
    ValidationException,
)

_NAME_CHARS = re.compile(r"[a-zA-Z0-9_.\-/]+")
_LABEL = re.compile(r"[a-zA-Z0-9_.\-]{1,100}")
_RESERVED = ("aws", "ssm")
_ARN = re.compile(r"arn:aws[a-z-]*:ssm:([a-z0-9-]+):(\d{12}):parameter(/.*)")

NAME_RULES = (
    'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive). '
    "If formed as a path, it can consist of sub-paths divided by slash symbol; each "
    "sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_"
)
PATH_RULES = (
    "The parameter doesn't meet the parameter name requirements. The parameter name must "
    'begin with a forward slash "/". It can\'t be prefixed with "aws" or "ssm" '
    "(case-insensitive). It must use only letters, numbers, or the following symbols: . "
    "(period), - (hyphen), _ (underscore). Special characters are not allowed. All "
    'sub-paths, if specified, must use the forward slash symbol "/". Valid example: '
    "/get/parameters2-/by1./path0_."
)
LEVELS_MESSAGE = (
    "A hierarchy can have a maximum of 15 levels. For more information, see Requirements "
    "and constraints for parameter names in the AWS Systems Manager User Guide."
)


def _reserved(text: str) -> bool:
    return text.lstrip("/").lower().startswith(_RESERVED)


def check_new_name(name: str, region: str, account_id: str) -> str:
    """The name PutParameter stores (outer spaces removed), or AWS's refusal."""
    name = name.strip(" ")
    if name.startswith("arn:"):
        raise ValidationException(
            "Parameter name: You can't enter the Amazon Resource Name (ARN) for a "
            "parameter, only the parameter name itself."
        )
    if name.lower().startswith("/aws/") and name.count("/") > 1:
        # AWS's public parameters live there; nobody may write under them
        raise AccessDeniedException(f"No access to reserved parameter name: {name}.")
    if _reserved(name) or not _NAME_CHARS.fullmatch(name):
        raise ValidationException(NAME_RULES)
    if "/" in name and (
        not name.startswith("/") or "//" in name or name.endswith("/") or name == "/"
    ):
        raise ValidationException(
            "Parameter name must be a fully qualified name: a name in a hierarchy begins "
            'with a forward slash "/" and has no empty level.'
        )
    if len(name.split("/")) - (1 if name.startswith("/") else 0) > MAX_HIERARCHY_LEVELS:
        raise HierarchyLevelLimitExceededException(LEVELS_MESSAGE)
    if len(parameter_arn(region, account_id, name)) > MAX_NAME_WITH_ARN:
        raise ValidationException(
            f"Parameter name: the name, with the ARN that precedes it, can have at most "
            f"{MAX_NAME_WITH_ARN} characters."
        )
    return name


def spellings(name: str) -> tuple[str, ...]:
    """The names one parameter may be stored under (a top-level name with or without '/')."""
    bare = name.removeprefix("/")
    if "/" in bare or not bare:
        return (name,)
    return (name, bare) if name.startswith("/") else (name, "/" + bare)


@dataclass(frozen=True, slots=True)
class Reference:
    """A name as a read names it: the parameter's name, and a selector if any."""

    given: str  # as the request spelled it (GetParameters' InvalidParameters)
    name: str
    version: int | None = None
    label: str | None = None
    account_id: str | None = None  # from an ARN
    region: str | None = None

    @property
    def selector(self) -> str | None:
        if self.version is not None:
            return f":{self.version}"
        if self.label is not None:
            return f":{self.label}"
        return None


def parse_reference(given: str, *, selectors: bool = True) -> Reference | None:
    """`given` as a name (or ARN) and selector; None when it cannot name any parameter."""
    text = given.strip(" ")
    account = region = None
    found = _ARN.fullmatch(text)
    if found is not None:
        region, account, text = found.group(1), found.group(2), found.group(3)
        # an ARN drops the leading slash: the name is the same parameter either way
    elif text.startswith("arn:"):
        return None
    name, sep, selector = text.partition(":")
    if not name or not _NAME_CHARS.fullmatch(name):
        return None
    if not sep:
        return Reference(given, name, account_id=account, region=region)
    if not selectors or not selector or ":" in selector:
        return None
    if selector.isdigit():
        return Reference(given, name, version=int(selector), account_id=account, region=region)
    return Reference(given, name, label=selector, account_id=account, region=region)


def check_path(path: str) -> str:
    """GetParametersByPath's path, with one trailing slash (``/`` for the root)."""
    if (
        not path.startswith("/")
        or "//" in path
        or not _NAME_CHARS.fullmatch(path)
        or _reserved(path)
    ):
        raise ValidationException(PATH_RULES)
    if len(path.strip("/").split("/")) > MAX_HIERARCHY_LEVELS:
        raise HierarchyLevelLimitExceededException(LEVELS_MESSAGE)
    return path.rstrip("/") + "/"


def valid_label(label: str) -> bool:
    """AWS's label rules: letters, digits, '.', '-', '_', at most 100 characters, not
    beginning with a digit, "aws" or "ssm" (any case)."""
    return (
        _LABEL.fullmatch(label) is not None
        and not label[0].isdigit()
        and not label.lower().startswith(_RESERVED)
    )

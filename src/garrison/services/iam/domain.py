"""IAM's domain values: users, groups, roles, managed policies, access keys, tags.

Frozen dataclasses; wire shapes are built from them only in `shapes`. Ids are
AWS's unique ids (``AIDA``/``AGPA``/``AROA``/``ANPA`` and 17 characters of
``[A-Z0-9]``); ARNs are AWS's formats, the path between the resource type and
the name (``arn:aws:iam::111122223333:user/division/alice``).
"""

from __future__ import annotations

import enum
import secrets
import string
from dataclasses import dataclass
from datetime import datetime

AWS_ACCOUNT = "aws"  # the account of AWS managed policies: arn:aws:iam::aws:policy/...
_ID_ALPHABET = string.ascii_uppercase + string.digits


class Kind(enum.Enum):
    """What a policy attaches to (the value of iam_attachments.principal_kind)."""

    USER = "user"
    GROUP = "group"
    ROLE = "role"

    @property
    def title(self) -> str:
        return self.value.capitalize()


ID_PREFIX = {Kind.USER: "AIDA", Kind.GROUP: "AGPA", Kind.ROLE: "AROA"}
POLICY_ID_PREFIX = "ANPA"


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


def iam_arn(account_id: str, kind: str, path: str, name: str) -> str:
    """``arn:aws:iam::<account>:<kind><path><name>`` (path starts and ends with /)."""
    return f"arn:aws:iam::{account_id}:{kind}{path}{name}"


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    account_id: str
    name: str
    path: str
    arn: str
    created_at: datetime
    permissions_boundary: str | None = None


@dataclass(frozen=True, slots=True)
class Group:
    group_id: str
    account_id: str
    name: str
    path: str
    arn: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Role:
    role_id: str
    account_id: str
    name: str
    path: str
    arn: str
    created_at: datetime
    trust_policy: str
    description: str
    max_session_duration: int
    permissions_boundary: str | None = None
    last_used_at: datetime | None = None
    last_used_region: str | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """A user, group or role as policies attach to it: kind, id, name, account."""

    kind: Kind
    id: str
    name: str
    account_id: str
    arn: str


@dataclass(frozen=True, slots=True)
class ManagedPolicy:
    policy_id: str
    account_id: str
    name: str
    path: str
    arn: str
    description: str
    default_version_id: str
    next_version: int
    created_at: datetime
    updated_at: datetime

    @property
    def aws_managed(self) -> bool:
        return self.account_id == AWS_ACCOUNT


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    policy_id: str
    version_id: str
    document: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PolicyUsage:
    """How many times a managed policy is used in one account."""

    attachments: int
    boundaries: int


class KeyStatus(enum.Enum):
    ACTIVE = "Active"
    INACTIVE = "Inactive"


@dataclass(frozen=True, slots=True)
class AccessKeyInfo:
    """An access key as IAM shows it (never its secret)."""

    access_key_id: str
    account_id: str
    principal_type: str  # "IAMUser" or "Root"
    user_id: str
    user_name: str  # "" for the account root
    status: KeyStatus
    created_at: datetime
    last_used_at: datetime | None = None
    last_used_service: str | None = None
    last_used_region: str | None = None

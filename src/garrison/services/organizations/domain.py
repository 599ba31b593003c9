"""Organizations' domain: the organization tree, its accounts and policies.

    Organization (o-xxxxxxxxxx, one management account)
      └─ Root r-xxxx              PolicyTypes enabled here (SERVICE_CONTROL_POLICY)
           ├─ OU ou-xxxx-xxxxxxxx  (nested up to 5 levels)
           │    └─ Account        12 digits; joined INVITED (management) or CREATED
           └─ Account
    Policy p-xxxxxxxx (SERVICE_CONTROL_POLICY), attached to roots, OUs and accounts;
    p-FullAWSAccess is AWS managed, one row shared by every organization.

    CreateAccountStatus: IN_PROGRESS -> SUCCEEDED | FAILED

Ids and ARNs follow AWS's formats exactly (Service Authorization Reference,
"Resource types defined by AWS Organizations"). Everything here is pure.
"""

from __future__ import annotations

import enum
import secrets
import string
from dataclasses import dataclass

LOWER_DIGITS = string.ascii_lowercase + string.digits
SCP = "SERVICE_CONTROL_POLICY"
FEATURE_SETS = ("ALL", "CONSOLIDATED_BILLING")
ROOT_NAME = "Root"
DEFAULT_ROLE_NAME = "OrganizationAccountAccessRole"

FULL_AWS_ACCESS_ID = "p-FullAWSAccess"
FULL_AWS_ACCESS_NAME = "FullAWSAccess"
FULL_AWS_ACCESS_DESCRIPTION = "Allows access to every operation"
FULL_AWS_ACCESS_CONTENT = (
    '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {\n      "Effect": "Allow",\n'
    '      "Action": "*",\n      "Resource": "*"\n    }\n  ]\n}'
)
FULL_AWS_ACCESS_ARN = "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess"
MANAGED_OWNER = "aws"  # org_policies.org_id of AWS managed policies

# AWS's quotas ("Quotas and service limits for AWS Organizations").
MAX_OU_DEPTH = 5
MAX_OUS = 1000
MAX_POLICIES = 1000
MAX_SCPS_PER_TARGET = 5
MAX_SCP_SIZE = 5120  # characters
MAX_TAGS = 50
DEFAULT_MAX_ACCOUNTS = 10


def _random(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def new_org_id() -> str:
    return "o-" + _random(LOWER_DIGITS, 10)


def new_root_id() -> str:
    return "r-" + _random(LOWER_DIGITS, 4)


def new_ou_id(root_id: str) -> str:
    """``ou-<the root's suffix>-<8>``, as AWS builds them."""
    return f"ou-{root_id[2:]}-" + _random(LOWER_DIGITS, 8)


def new_policy_id() -> str:
    return "p-" + _random(LOWER_DIGITS, 8)


def new_create_account_request_id() -> str:
    return "car-" + secrets.token_hex(16)


def org_arn(mgmt: str, org_id: str) -> str:
    return f"arn:aws:organizations::{mgmt}:organization/{org_id}"


def root_arn(mgmt: str, org_id: str, root_id: str) -> str:
    return f"arn:aws:organizations::{mgmt}:root/{org_id}/{root_id}"


def ou_arn(mgmt: str, org_id: str, ou_id: str) -> str:
    return f"arn:aws:organizations::{mgmt}:ou/{org_id}/{ou_id}"


def account_arn(mgmt: str, org_id: str, account_id: str) -> str:
    return f"arn:aws:organizations::{mgmt}:account/{org_id}/{account_id}"


def policy_arn(mgmt: str, org_id: str, policy_type: str, policy_id: str) -> str:
    return f"arn:aws:organizations::{mgmt}:policy/{org_id}/{policy_type.lower()}/{policy_id}"


class UnitKind(enum.Enum):
    ROOT = "root"
    OU = "ou"


class CreateAccountState(enum.Enum):
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class Organization:
    org_id: str
    management_account_id: str
    feature_set: str
    arn: str
    created_at: float

    @property
    def all_features(self) -> bool:
        return self.feature_set == "ALL"


@dataclass(frozen=True, slots=True)
class Unit:
    """A root or an organizational unit: a node of the tree that holds children."""

    unit_id: str
    org_id: str
    kind: UnitKind
    parent_id: str | None
    name: str
    arn: str
    policy_types: tuple[str, ...]  # enabled policy types (roots only)

    @property
    def is_root(self) -> bool:
        return self.kind is UnitKind.ROOT


@dataclass(frozen=True, slots=True)
class MemberAccount:
    account_id: str
    org_id: str
    parent_id: str
    name: str
    email: str
    arn: str
    status: str
    joined_method: str  # INVITED (the management account) | CREATED
    joined_at: float


@dataclass(frozen=True, slots=True)
class CreateAccountStatus:
    request_id: str
    org_id: str
    account_name: str
    state: CreateAccountState
    account_id: str | None
    failure_reason: str | None
    requested_at: float
    completed_at: float | None


@dataclass(frozen=True, slots=True)
class OrgPolicy:
    policy_id: str
    org_id: str
    name: str
    description: str
    type: str
    content: str
    arn: str
    aws_managed: bool


def full_aws_access() -> OrgPolicy:
    return OrgPolicy(
        policy_id=FULL_AWS_ACCESS_ID,
        org_id=MANAGED_OWNER,
        name=FULL_AWS_ACCESS_NAME,
        description=FULL_AWS_ACCESS_DESCRIPTION,
        type=SCP,
        content=FULL_AWS_ACCESS_CONTENT,
        arn=FULL_AWS_ACCESS_ARN,
        aws_managed=True,
    )

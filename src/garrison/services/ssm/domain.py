"""Parameter Store's domain: parameters, their versions, tiers and AWS's limits.

    Parameter (name, latest version, tier)
     └── ParameterVersion 1..n   type, data type, tier, KeyId, description,
                                 AllowedPattern, policies, value (sealed), labels

A parameter's tier only moves up: Standard -> Advanced (AWS refuses the way
back). Intelligent-Tiering is a request, not a tier: it stores Standard unless
the value or the policies need Advanced (or the parameter already is Advanced).

The limits are AWS's ("Parameter Store quotas", "Managing parameter tiers",
"Working with parameter labels"): 100 versions per parameter, 10 labels per
version, 15 hierarchy levels, 1011 characters for the name with the ARN that
precedes it, values of 4 KB (Standard) and 8 KB (Advanced).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

STRING, STRING_LIST, SECURE_STRING = "String", "StringList", "SecureString"
PARAMETER_TYPES = (STRING, STRING_LIST, SECURE_STRING)

STANDARD, ADVANCED, INTELLIGENT_TIERING = "Standard", "Advanced", "Intelligent-Tiering"
MAX_VALUE_BYTES = {STANDARD: 4096, ADVANCED: 8192}

TEXT = "text"
# AWS's other data types: both validate against services Garrison does not serve
# (EC2's AMIs, integrations), so they are refused by name rather than stored unchecked.
UNSERVED_DATA_TYPES = ("aws:ec2:image", "aws:ssm:integration")

MAX_VERSIONS = 100
MAX_LABELS_PER_VERSION = 10
MAX_HIERARCHY_LEVELS = 15
MAX_NAME_WITH_ARN = 1011
MAX_NAMES_PER_CALL = 10
MAX_TAGS = 50

# SecureString without KeyId: the AWS managed key, created on first use.
AWS_MANAGED_KEY_SERVICE = "ssm"
DEFAULT_KEY_ID = "alias/aws/ssm"
# The encryption context SSM binds every SecureString ciphertext to.
CONTEXT_KEY = "PARAMETER_ARN"


def parameter_arn(region: str, account_id: str, name: str) -> str:
    """``arn:aws:ssm:<region>:<account>:parameter/<name without its leading slash>``."""
    return f"arn:aws:ssm:{region}:{account_id}:parameter/{name.removeprefix('/')}"


@dataclass(frozen=True, slots=True)
class Parameter:
    """A parameter: a name with a history; `version` and `tier` are the latest's."""

    parameter_id: str
    account_id: str
    region: str
    name: str
    version: int
    tier: str
    last_modified: float

    @property
    def arn(self) -> str:
        return parameter_arn(self.region, self.account_id, self.name)


@dataclass(frozen=True, slots=True)
class ParameterVersion:
    """One version of a parameter. `stored` is what the barrier seals: the value's
    UTF-8 bytes, or for a SecureString the KMS ciphertext of them."""

    parameter: Parameter
    version: int
    type: str
    data_type: str
    tier: str
    key_id: str | None
    description: str | None
    allowed_pattern: str | None
    policies: str | None  # the version's parameter policies, as given (JSON)
    stored: bytes
    last_modified: float
    last_modified_user: str
    labels: tuple[str, ...] = ()

    @property
    def secure(self) -> bool:
        return self.type == SECURE_STRING


@dataclass(frozen=True, slots=True)
class PutRequest:
    """PutParameter's members, typed (wire names stay in the provider)."""

    name: str
    value: str
    type: str | None = None
    description: str | None = None
    key_id: str | None = None
    overwrite: bool = False
    allowed_pattern: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    tier: str | None = None
    policies: str | None = None
    data_type: str | None = None


@dataclass(frozen=True, slots=True)
class Resolved:
    """A version as a read returns it: `value` is the plaintext, or for a
    SecureString read without decryption the ciphertext as base64."""

    version: ParameterVersion
    value: str
    selector: str | None = None


def choose_tier(
    requested: str | None, current: str | None, value_bytes: int, policies: bool
) -> str:
    """The tier a new version is stored in (before the size and downgrade checks)."""
    if requested is None:
        return current or STANDARD
    if requested != INTELLIGENT_TIERING:
        return requested
    if current == ADVANCED or policies or value_bytes > MAX_VALUE_BYTES[STANDARD]:
        return ADVANCED
    return STANDARD


def time_of(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)

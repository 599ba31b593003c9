"""STS's domain: roles as AssumeRole sees them, session requests, issued sessions.

    AssumeRoleRequest ──(trust policy, limits)──> SessionGrant ──(stored)──> IssuedSession

The limits are AWS's (AssumeRole API reference, "Session tags" and "Role
chaining" in the IAM User Guide): sessions last 900 s up to the role's
MaxSessionDuration (default 3600 s); a session assumed with another role
session's credentials (role chaining) lasts at most one hour; at most 50 session
tags and 10 managed session policies; session policies and tags are packed
together under one size limit, reported as a percentage.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_DURATION_SECONDS = 900
DEFAULT_DURATION_SECONDS = 3600
CHAINED_MAX_DURATION_SECONDS = 3600
MAX_SESSION_TAGS = 50
MAX_POLICY_ARNS = 10
# Sessions expired this long ago are purged by the scheduler; until then a
# request with their credentials is told "expired", not "invalid".
PURGE_AFTER_SECONDS = 86_400.0


@dataclass(frozen=True, slots=True)
class Role:
    """An IAM role, with what AssumeRole needs of it."""

    role_id: str  # AROA...
    account_id: str
    name: str
    arn: str
    trust_policy: str
    max_session_duration: int


@dataclass(frozen=True, slots=True)
class AssumeRoleRequest:
    """AssumeRole's request members, typed (wire names stay in the provider)."""

    role_arn: str
    session_name: str
    duration_seconds: int | None = None
    policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    transitive_tag_keys: tuple[str, ...] = ()
    external_id: str | None = None
    serial_number: str | None = None
    token_code: str | None = None
    source_identity: str | None = None
    provided_contexts: int = 0  # how many ProvidedContexts the request carried


@dataclass(frozen=True, slots=True)
class SessionGrant:
    """A session AssumeRole decided to issue, before it has credentials."""

    role: Role
    session_name: str
    issued_by: str  # the caller's ARN
    created_at: float
    expires_at: float
    chained: bool
    source_identity: str
    session_policy: str | None
    policy_arns: tuple[str, ...]
    tags: tuple[tuple[str, str], ...]  # incoming transitive tags first
    transitive_tag_keys: tuple[str, ...]
    packed_policy_size: int  # percent of the packed limit; 0 when nothing was passed

    @property
    def assumed_role_id(self) -> str:
        return f"{self.role.role_id}:{self.session_name}"

    @property
    def assumed_role_arn(self) -> str:
        partition = self.role.arn.split(":", 2)[1]
        return (
            f"arn:{partition}:sts::{self.role.account_id}:assumed-role/"
            f"{self.role.name}/{self.session_name}"
        )


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """Temporary credentials as AssumeRole returns them (the only time the secrets exist
    in the clear outside the credential cache)."""

    grant: SessionGrant
    access_key_id: str
    secret_access_key: str
    session_token: str

"""What a provider knows about the call it serves: never HTTP, only facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

PrincipalType = Literal["Root", "IAMUser", "AssumedRole", "AWSService", "Anonymous"]


@dataclass(frozen=True, slots=True)
class RoleSession:
    """What a role session (AssumeRole's temporary credentials) carries beyond its ARN.

    The authorizer intersects the session policies (`session_policy`,
    `policy_arns`) with the role's own; `tags` are the session's principal tags
    (the incoming transitive ones included); the audit trail shows the issuer
    in CloudTrail's ``sessionContext``.
    """

    role_arn: str
    role_id: str
    role_name: str
    session_name: str
    created_at: float
    expires_at: float
    source_identity: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    transitive_tag_keys: tuple[str, ...] = ()
    session_policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    chained: bool = False  # assumed with another role session's credentials


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, as CloudTrail's userIdentity describes it."""

    arn: str
    account_id: str
    type: PrincipalType
    user_id: str
    access_key_id: str = ""
    user_name: str = ""
    # set for type "AssumedRole": the session behind the credentials
    session: RoleSession | None = None
    # the hash, computed once: principals key the authorizer's tables, looked up
    # several times a call, and a generated __hash__ hashed all fields (the
    # session's too) each time
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fields = (
            self.arn,
            self.account_id,
            self.type,
            self.user_id,
            self.access_key_id,
            self.user_name,
            self.session,
        )
        object.__setattr__(self, "_hash", hash(fields))

    def __hash__(self) -> int:
        return self._hash

    @property
    def is_root(self) -> bool:
        return self.type == "Root"


@dataclass(frozen=True, slots=True)
class RequestContext:
    """One API call: who, where, when; handed to every provider method."""

    request_id: str
    service: str
    operation: str
    region: str
    principal: Principal
    now: datetime
    source_ip: str = "127.0.0.1"
    user_agent: str = ""
    secure_transport: bool = False
    # the CloudTrail eventID this call's audit event will carry
    event_id: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def account_id(self) -> str:
        return self.principal.account_id

"""What a provider knows about the call it serves: never HTTP, only facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

PrincipalType = Literal["Root", "IAMUser", "AssumedRole", "AWSService", "Anonymous"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, as CloudTrail's userIdentity describes it."""

    arn: str
    account_id: str
    type: PrincipalType
    user_id: str
    access_key_id: str = ""
    user_name: str = ""

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

"""The STS provider: AWS STS's wire shapes in, use cases called, wire shapes out.

Served: GetCallerIdentity, AssumeRole, GetAccessKeyInfo. The other operations
of the model (GetSessionToken, GetFederationToken, AssumeRoleWithSAML /
WithWebIdentity, AssumeRoot, DecodeAuthorizationMessage, ...) are not in
`handlers()`, so the pipeline answers them as unsupported.

Every request member of a served operation is handled (`HANDLED`); a member a
newer model adds is refused with its name, never dropped. The response's
SecretAccessKey is `sensitive` in the model, and the protocol's redaction keeps
the SessionToken out of the trail too: neither reaches an audit event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from garrison.api import Call, Handler, Request, Response
from garrison.clock import Clock
from garrison.iam.authorizer import Authorizer
from garrison.services.common.handlers import guarded_handlers
from garrison.services.sts.domain import AssumeRoleRequest, IssuedSession
from garrison.services.sts.errors import ValidationError
from garrison.services.sts.service import StsService
from garrison.storage.writer import Tx

HANDLED: dict[str, frozenset[str]] = {
    "GetCallerIdentity": frozenset(),
    "GetAccessKeyInfo": frozenset({"AccessKeyId"}),
    "AssumeRole": frozenset(
        {
            "RoleArn",
            "RoleSessionName",
            "PolicyArns",
            "Policy",
            "DurationSeconds",
            "Tags",
            "TransitiveTagKeys",
            "ExternalId",
            "SerialNumber",
            "TokenCode",
            "SourceIdentity",
            "ProvidedContexts",
        }
    ),  # fmt: skip
}

# CloudTrail records all three as read-only: they change no resource.
READ_ONLY = frozenset({"GetCallerIdentity", "GetAccessKeyInfo", "AssumeRole"})


class StsProvider:
    service = "sts"
    event_source = "sts.amazonaws.com"
    stores_on_read = frozenset({"AssumeRole"})  # the session it issues (api.reads_only)

    def __init__(self, clock: Clock, authorizer: Authorizer) -> None:
        self.sts = StsService(clock, authorizer)
        self._handlers: dict[str, Callable[[Call, Request], Response]] = {
            "GetCallerIdentity": self.get_caller_identity,
            "GetAccessKeyInfo": self.get_access_key_info,
            "AssumeRole": self.assume_role,
        }

    # -- the Provider protocol -------------------------------------------------
    def handlers(self) -> Mapping[str, Handler]:
        return guarded_handlers(self._handlers, HANDLED)

    def is_read_only(self, operation: str) -> bool:
        return operation in READ_ONLY

    # -- jobs --------------------------------------------------------------------
    def purge_expired_sessions(self, tx: Tx, now: float) -> int:
        return self.sts.purge_expired(tx, now)

    # -- operations ----------------------------------------------------------------
    def get_caller_identity(self, call: Call, request: Request) -> Response:
        user_id, account, arn = self.sts.caller_identity(call.ctx.principal)
        return {"UserId": user_id, "Account": account, "Arn": arn}

    def get_access_key_info(self, call: Call, request: Request) -> Response:
        return {"Account": self.sts.access_key_account(call, request["AccessKeyId"])}

    def assume_role(self, call: Call, request: Request) -> Response:
        req = AssumeRoleRequest(
            role_arn=request["RoleArn"],
            session_name=request["RoleSessionName"],
            duration_seconds=request.get("DurationSeconds"),
            policy=request.get("Policy"),
            policy_arns=_policy_arns(request.get("PolicyArns") or ()),
            tags=tuple((t["Key"], t["Value"]) for t in request.get("Tags") or ()),
            transitive_tag_keys=tuple(request.get("TransitiveTagKeys") or ()),
            external_id=request.get("ExternalId"),
            serial_number=request.get("SerialNumber"),
            token_code=request.get("TokenCode"),
            source_identity=request.get("SourceIdentity"),
            provided_contexts=len(request.get("ProvidedContexts") or ()),
        )
        issued = self.sts.assume_role(call, req)
        call.audit_resource("AWS::IAM::Role", issued.grant.role.arn)
        return assume_role_response(issued)


def _policy_arns(descriptors: Sequence[Mapping[str, str]]) -> tuple[str, ...]:
    if any("arn" not in d for d in descriptors):
        raise ValidationError("Each element of PolicyArns must name a policy arn.")
    return tuple(d["arn"] for d in descriptors)


def assume_role_response(issued: IssuedSession) -> Response:
    grant = issued.grant
    out: dict[str, Any] = {
        "Credentials": {
            "AccessKeyId": issued.access_key_id,
            "SecretAccessKey": issued.secret_access_key,
            "SessionToken": issued.session_token,
            "Expiration": datetime.fromtimestamp(grant.expires_at, UTC),
        },
        "AssumedRoleUser": {
            "AssumedRoleId": grant.assumed_role_id,
            "Arn": grant.assumed_role_arn,
        },
    }
    if grant.session_policy is not None or grant.policy_arns or grant.tags:
        out["PackedPolicySize"] = grant.packed_policy_size
    if grant.source_identity:
        out["SourceIdentity"] = grant.source_identity
    return out

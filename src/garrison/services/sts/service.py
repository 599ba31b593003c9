"""STS's use cases: who is calling, and AssumeRole's temporary credentials.

AssumeRole, in the order its checks run (each refusal is AWS's error):

    MFA / ProvidedContexts        refused: Garrison has no MFA devices and no
                                  trusted context providers
    RoleArn shape                 ValidationError "Request ARN is invalid"
    session tags, session policy  ValidationError / MalformedPolicyDocument
    role lookup + trust policy    AccessDenied (a missing role reads the same as a
                                  denied one: nobody learns which roles exist)
    sts:TagSession                when session tags are passed or inherited
    sts:SetSourceIdentity         when a source identity is passed or inherited
    DurationSeconds               900 .. MaxSessionDuration; 3600 when chained
    source identity, transitive   immutable along a role chain
    packed size                   PackedPolicyTooLarge over 100 %
      -> new ASIA key, secret (sealed), session token (SHA-256 stored), expiry;
         the role's RoleLastUsed
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Sequence

from garrison.api import Call
from garrison.clock import Clock
from garrison.context import Principal, RoleSession
from garrison.iam.authorizer import Authorizer, denied_message
from garrison.iam.credentials import (
    new_access_key_id,
    new_secret_access_key,
    new_session_token,
    session_token_digest,
)
from garrison.iam.policy import Policy, PolicyError, compile_policy
from garrison.services.sts import store
from garrison.services.sts.actions import ACTIONS, SET_SOURCE_IDENTITY, TAG_SESSION
from garrison.services.sts.domain import (
    CHAINED_MAX_DURATION_SECONDS,
    DEFAULT_DURATION_SECONDS,
    MAX_POLICY_ARNS,
    PURGE_AFTER_SECONDS,
    AssumeRoleRequest,
    IssuedSession,
    Role,
    SessionGrant,
)
from garrison.services.sts.errors import (
    AccessDeniedException,
    MalformedPolicyDocumentException,
    PackedPolicyTooLargeException,
    ValidationError,
)
from garrison.storage.writer import Tx

_ASSUME_ROLE = ACTIONS["AssumeRole"].action
_ROLE_ARN = re.compile(
    r"arn:(aws[a-z-]*):iam::(\d{12}):role/(?:[\x21-\x7e]*/)?([\w+=,.@-]{1,64})", re.ASCII
)
_POLICY_ARN = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}|aws):policy/[\x21-\x7e]+")
_WHITESPACE = re.compile(r"\s+")
# The packed form's budget, in bytes of compressed policy and tag text: a
# typical 2,048-character session policy with a few tags packs to 20-60 %.
PACKED_LIMIT_BYTES = 1024
_MFA_FAILED = "MultiFactorAuthentication failed, unable to validate MFA code."


class StsService:
    def __init__(self, clock: Clock, authorizer: Authorizer) -> None:
        self.clock = clock
        self.authorizer = authorizer

    # -- GetCallerIdentity / GetAccessKeyInfo ---------------------------------
    @staticmethod
    def caller_identity(principal: Principal) -> tuple[str, str, str]:
        """(UserId, Account, Arn). Never authorised: AWS answers it even under a deny."""
        return principal.user_id, principal.account_id, principal.arn

    def access_key_account(self, call: Call, access_key_id: str) -> str:
        self.authorizer.authorize(call, ACTIONS["GetAccessKeyInfo"].action, "*")
        tx = call.tx
        account = store.access_key_account(tx, access_key_id) or store.session_account(
            tx, access_key_id
        )
        if account is None:
            # AWS reads the account out of the key id itself; Garrison's key ids
            # carry no account, so a key it never issued has none to report.
            raise ValidationError(f"The access key ID {access_key_id} was not issued here.")
        return account

    # -- AssumeRole ------------------------------------------------------------
    def assume_role(self, call: Call, req: AssumeRoleRequest) -> IssuedSession:
        if req.serial_number is not None or req.token_code is not None:
            # No MFA devices exist, so no code can be validated.
            raise AccessDeniedException(_MFA_FAILED)
        if req.provided_contexts:
            raise ValidationError(
                "ProvidedContexts is not supported: no trusted context provider is configured."
            )
        match = _ROLE_ARN.fullmatch(req.role_arn)
        if match is None:
            raise ValidationError("Request ARN is invalid")
        role_account, role_name = match.group(2), match.group(3)
        caller = call.ctx.principal
        session = caller.session
        inherited = _inherited_transitive_tags(session)
        _check_tags(req, inherited)
        session_policy = _session_policy(req.policy)
        policy_arns = _policy_arns(req.policy_arns)

        role = store.find_role(call.tx, role_account, role_name)
        trust = _trust_policy(role) if role is not None and role.arn == req.role_arn else None
        if role is None or trust is None:
            raise AccessDeniedException(
                denied_message(
                    caller.arn,
                    _ASSUME_ROLE,
                    req.role_arn,
                    f"because no resource-based policy allows the {_ASSUME_ROLE} action",
                )
            )
        source_identity = req.source_identity
        if session is not None and session.source_identity:
            if source_identity is not None and source_identity != session.source_identity:
                raise ValidationError(
                    "The source identity of a role session cannot be changed once set: "
                    f"the calling session's source identity is {session.source_identity}."
                )
            source_identity = session.source_identity
        context = _context(req, source_identity)
        # The trust policy must allow each action itself (resource_policy_required).
        needed = [_ASSUME_ROLE]
        if req.tags or req.transitive_tag_keys or inherited:
            needed.append(TAG_SESSION)
        if source_identity:
            needed.append(SET_SOURCE_IDENTITY)
        for action in needed:
            self.authorizer.authorize(
                call,
                action,
                role.arn,
                context,
                resource_policy=trust,
                resource_account=role.account_id,
                resource_policy_required=True,
            )

        chained = caller.type == "AssumedRole"
        duration = _duration(req.duration_seconds, role, chained)
        tags = (*inherited, *req.tags)
        transitive = (*(k for k, _ in inherited), *req.transitive_tag_keys)
        packed = _packed_percent(session_policy, policy_arns, tags)
        if packed > 100:
            raise PackedPolicyTooLargeException(
                f"Packed policy consumes {packed}% of allotted space, please use smaller policy."
            )
        now = self.clock.time()
        grant = SessionGrant(
            role=role,
            session_name=req.session_name,
            issued_by=caller.arn,
            created_at=now,
            expires_at=float(math.floor(now) + duration),
            chained=chained,
            source_identity=source_identity or "",
            session_policy=session_policy,
            policy_arns=policy_arns,
            tags=tags,
            transitive_tag_keys=transitive,
            packed_policy_size=packed,
        )
        token = new_session_token()
        issued = IssuedSession(grant, new_access_key_id("ASIA"), new_secret_access_key(), token)
        # No `tx.mark_changed()`: a new key id is in no node's cache, so nothing
        # needs dropping, and every AssumeRole would otherwise empty every cache.
        store.insert_session(call.tx, issued, session_token_digest(token))
        store.record_role_use(call.tx, role.role_id, now, call.ctx.region)
        return issued

    # -- housekeeping ------------------------------------------------------------
    @staticmethod
    def purge_expired(tx: Tx, now: float) -> int:
        """Delete sessions expired more than a day before `now` (one batch)."""
        return store.purge_expired(tx, now - PURGE_AFTER_SECONDS)


def _inherited_transitive_tags(session: RoleSession | None) -> tuple[tuple[str, str], ...]:
    """The calling session's transitive tags: they pass on down a role chain."""
    if session is None or not session.transitive_tag_keys:
        return ()
    keys = {k.lower() for k in session.transitive_tag_keys}
    return tuple((k, v) for k, v in session.tags if k.lower() in keys)


def _check_tags(req: AssumeRoleRequest, inherited: Sequence[tuple[str, str]]) -> None:
    keys = [k.lower() for k, _ in req.tags]
    if len(set(keys)) != len(keys):
        raise ValidationError(
            "Duplicate tag keys found. Please note that Tag keys are case insensitive."
        )
    if not {k.lower() for k in req.transitive_tag_keys} <= set(keys):
        raise ValidationError("The specified transitive tag key must be included in the tags.")
    clash = sorted({k for k, _ in inherited if k.lower() in set(keys)})
    if clash:
        raise ValidationError(
            "Cannot override the transitive session tags of the calling session: "
            + ", ".join(clash)
        )


def _session_policy(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        compile_policy(text, resource_policy=False)
    except PolicyError as err:
        raise MalformedPolicyDocumentException(err.reason) from None
    return text


def _policy_arns(arns: Sequence[str]) -> tuple[str, ...]:
    if len(arns) > MAX_POLICY_ARNS:
        raise ValidationError(
            f"The number of managed session policies ({len(arns)}) exceeds the limit of "
            f"{MAX_POLICY_ARNS}."
        )
    for arn in arns:
        if _POLICY_ARN.fullmatch(arn) is None:
            raise ValidationError(f"Invalid policy ARN: {arn}")
    return tuple(arns)


def _trust_policy(role: Role) -> Policy | None:
    try:
        return compile_policy(role.trust_policy, resource_policy=True)
    except PolicyError:
        return None  # IAM refuses to store one; an unreadable policy trusts nobody


def _context(req: AssumeRoleRequest, source_identity: str | None) -> dict[str, list[str]]:
    context: dict[str, list[str]] = {"sts:RoleSessionName": [req.session_name]}
    if req.external_id is not None:
        context["sts:ExternalId"] = [req.external_id]
    if source_identity:
        context["sts:SourceIdentity"] = [source_identity]
    if req.tags:
        context["aws:TagKeys"] = [k for k, _ in req.tags]
        for key, value in req.tags:
            context[f"aws:RequestTag/{key}"] = [value]
    if req.transitive_tag_keys:
        context["sts:TransitiveTagKeys"] = list(req.transitive_tag_keys)
    return context


def _duration(requested: int | None, role: Role, chained: bool) -> int:
    duration = DEFAULT_DURATION_SECONDS if requested is None else requested
    if chained and duration > CHAINED_MAX_DURATION_SECONDS:
        raise ValidationError(
            "The requested DurationSeconds exceeds the 1 hour session limit "
            "for roles assumed by role chaining."
        )
    if duration > role.max_session_duration:
        raise ValidationError(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        )
    return duration


def _packed_percent(
    policy: str | None, policy_arns: Sequence[str], tags: Sequence[tuple[str, str]]
) -> int:
    """PackedPolicySize: session policies and tags, compressed, as a percentage of the limit.

    AWS's packed binary format is not published; like it, this counts the
    policy without white space, the policy ARNs and every tag, compressed, so
    repetitive policies pack small and random tag values do not.
    """
    if policy is None and not policy_arns and not tags:
        return 0
    parts = [_WHITESPACE.sub("", policy or ""), *policy_arns]
    parts += [f"{k}={v}" for k, v in tags]
    packed = len(zlib.compress("\n".join(parts).encode(), 9))
    return math.ceil(packed * 100 / PACKED_LIMIT_BYTES)

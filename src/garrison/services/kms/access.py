"""Finding the key a request names, and checking the caller may do the action on it.

Every use case goes through `KeyAccess`: `find` (parse the identifier, follow
an alias, scope to the caller's account and Region -- or, for the operations
AWS allows cross-account, to the account a key or alias ARN names -- and name
the key in the audit event) then `authorize` (the `Authorizer` with the key
policy as the resource policy, which must allow: directly, or by delegating to
the account's IAM policies). Reads on the hot path come from the cache; use
cases that change a key ask for ``fresh=True`` and read the store, so a change
is never based on a cached copy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from garrison.api import Call
from garrison.errors import AccessDeniedException
from garrison.iam.authorizer import IMPLICIT_DENY, SCP, Authorizer, Verdict, denied_message
from garrison.iam.authorizer import implicit as implicit_why
from garrison.services.kms import grant_store, store
from garrison.services.kms.actions import CROSS_ACCOUNT
from garrison.services.kms.cache import KeyView, KmsCache, load_view
from garrison.services.kms.domain import Key, alias_arn, key_arn, row_key_id
from garrison.services.kms.errors import NotFoundException
from garrison.services.kms.grant_domain import (
    Grant,
    grantee_names,
    request_encryption_context,
)
from garrison.services.kms.identifiers import alias_not_found, key_not_found, parse_key_ref
from garrison.services.kms.keypolicy import key_context, kms_context

KEY_RESOURCE_TYPE = "AWS::KMS::Key"

GrantTest = Callable[[Grant], bool]


@dataclass(frozen=True, slots=True)
class Target:
    """A key as one request found it: through an alias (`request_alias`) or directly."""

    view: KeyView
    request_alias: str | None = None

    @property
    def key(self) -> Key:
        return self.view.key


def audit_key(call: Call, arn: str) -> None:
    entry = (KEY_RESOURCE_TYPE, arn)
    if entry not in call.resources:
        call.audit_resource(*entry)


class KeyAccess:
    def __init__(self, cache: KmsCache, authorizer: Authorizer) -> None:
        self.cache = cache
        self.authorizer = authorizer

    def find(self, call: Call, text: str, *, aliases: bool, fresh: bool = False) -> Target:
        """The key `text` names in the caller's account and Region (or, by ARN, in
        another account where the operation allows it), or NotFoundException."""
        ctx, tx = call.ctx, call.tx
        cross = ctx.operation in CROSS_ACCOUNT
        ref = parse_key_ref(ctx, text, aliases=aliases, cross_account=cross)
        account = ref.account or ctx.account_id
        key_id = ref.key_id
        if ref.alias is not None:
            if fresh:
                alias = store.get_alias(tx, account, ctx.region, ref.alias)
                key_id = alias.target_key_id if alias else None
            else:
                key_id = self.cache.alias_target(tx, account, ctx.region, ref.alias)
            if key_id is None:
                if ref.account is not None:
                    arn = alias_arn(account, ctx.region, ref.alias)
                    raise NotFoundException(f"Alias {arn} is not found.")
                raise alias_not_found(ctx, ref.alias)
        assert key_id is not None
        target = self._find(call, key_id, account, fresh=fresh)
        if target is None:
            if ref.account is not None:
                arn = key_arn(account, ctx.region, key_id)
                raise NotFoundException(f"Key '{arn}' does not exist")
            raise key_not_found(ctx, key_id)
        return Target(target.view, ref.alias)

    def find_id(self, call: Call, key_id: str, *, fresh: bool = False) -> Target | None:
        """The key with this id the caller may name, or None; names it in the audit
        event. A key of another account only where the operation is cross-account
        (Decrypt finding its key in the ciphertext)."""
        ctx = call.ctx
        account = None if ctx.operation in CROSS_ACCOUNT else ctx.account_id
        return self._find(call, key_id, account, fresh=fresh)

    def _find(self, call: Call, key_id: str, account: str | None, *, fresh: bool) -> Target | None:
        tx, ctx = call.tx, call.ctx
        # a multi-Region key id names the related key of the caller's Region
        key_id = row_key_id(key_id, ctx.region)
        view = load_view(tx, key_id) if fresh else self.cache.view(tx, key_id)
        if view is None or view.key.region != ctx.region:
            return None
        if account is not None and view.key.account_id != account:
            return None
        audit_key(call, view.key.arn)
        return Target(view)

    def authorize(
        self,
        call: Call,
        target: Target,
        action: str,
        extra: Mapping[str, Sequence[str]] | None = None,
        grant_allows: GrantTest | None = None,
    ) -> None:
        """AccessDeniedException unless the caller may do `action` on the target key:
        by the key policy and IAM, else by a grant (`granted`); `grant_allows`
        replaces the grant's own test (CreateGrant through a grant)."""
        context = kms_context(call.ctx)
        context.update(key_context(target.view.facts, target.request_alias))
        if extra:
            context.update(extra)
        key = target.key
        verdict = self.authorizer.evaluate(
            call,
            action,
            key.arn,
            context,
            resource_policy=target.view.policy,
            resource_account=key.account_id,
            resource_policy_required=True,
        )
        if verdict.allowed:
            return
        if granted(call, target, action, verdict, context, grant_allows):
            return
        raise AccessDeniedException(
            denied_message(call.ctx.principal.arn, action, key.arn, verdict.why)
        )

    def authorize_identity(
        self,
        call: Call,
        action: str,
        resource: str = "*",
        extra: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """For actions on no existing key (CreateKey, ListKeys, ...) and on alias ARNs."""
        context = kms_context(call.ctx)
        if extra:
            context.update(extra)
        self.authorizer.authorize(call, action, resource, context)


# -- grants (CreateGrant) ------------------------------------------------------------------
def granted(
    call: Call,
    target: Target,
    action: str,
    verdict: Verdict,
    context: Mapping[str, Sequence[str]],
    grant_allows: GrantTest | None = None,
) -> bool:
    """Does a grant on the key let the caller do `action`, the policies having denied?

    Grants only add permissions: an explicit deny anywhere, or an SCP that does
    not allow, still denies (AWS). The key's view carries its grants (cache.py),
    so a grantee's call reads nothing from the store either, unless the key has
    more grants than the cache keeps.
    """
    if verdict.decision != IMPLICIT_DENY or verdict.why == implicit_why(SCP, action):
        return False
    names = grantee_names(call.ctx.principal)
    cached = target.view.grants
    if cached is None:  # too many to cache: only the caller's, from the store
        grants = grant_store.grants_for(call.tx, target.key.key_id, names)
    else:
        grants = [g for g in cached if g.grantee_principal in names]
    if not grants:
        return False
    if grant_allows is not None:
        return any(grant_allows(g) for g in grants)
    operation = action.removeprefix("kms:")
    request_context = request_encryption_context(context)
    return any(g.allows(operation, request_context) for g in grants)

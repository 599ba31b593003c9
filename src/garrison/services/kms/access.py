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
from typing import NamedTuple

from garrison.api import Call
from garrison.errors import AccessDeniedException
from garrison.iam.authorizer import IMPLICIT_DENY, SCP, Authorizer, Verdict, denied_message
from garrison.iam.authorizer import implicit as implicit_why
from garrison.services.kms import grant_store, store
from garrison.services.kms.actions import CROSS_ACCOUNT
from garrison.services.kms.cache import KeyView, KmsCache, load_view
from garrison.services.kms.domain import MRK_PREFIX, Key, alias_arn, key_arn, row_key_id
from garrison.services.kms.errors import NotFoundException
from garrison.services.kms.grant_domain import (
    Grant,
    account_grantee,
    grantee_names,
    request_encryption_context,
)
from garrison.services.kms.identifiers import alias_not_found, key_not_found, parse_key_ref
from garrison.services.kms.keypolicy import kms_context

KEY_RESOURCE_TYPE = "AWS::KMS::Key"

GrantTest = Callable[[Grant], bool]
# (call, alias name) -> the AWS managed key of a predefined ``alias/aws/<service>``,
# created in the call's unit if it does not exist yet; None for any other name
PredefinedAlias = Callable[[Call, str], Key | None]


class Target(NamedTuple):
    """A key as one request found it: through an alias (`request_alias`) or directly.

    A named tuple, not a frozen dataclass: one per find on the hot path, built
    without an object.__setattr__ per field."""

    view: KeyView
    request_alias: str | None = None

    @property
    def key(self) -> Key:
        return self.view.key


def audit_key(call: Call, arn: str) -> None:
    resources = call.resources
    entry = (KEY_RESOURCE_TYPE, arn)
    if entry not in resources:
        resources.append(entry)  # Call.audit_resource, without the extra call


class KeyAccess:
    def __init__(self, cache: KmsCache, authorizer: Authorizer) -> None:
        self.cache = cache
        self.authorizer = authorizer
        # set by KmsService (service.py), which knows AWS's predefined aliases
        self.predefined: PredefinedAlias | None = None

    def find(
        self,
        call: Call,
        text: str,
        *,
        aliases: bool,
        fresh: bool = False,
        create_predefined: bool = False,
    ) -> Target:
        """The key `text` names in the caller's account and Region (or, by ARN, in
        another account where the operation allows it), or NotFoundException.

        `create_predefined` (DescribeKey): a predefined AWS alias of the caller's
        own account with no key yet gets its AWS managed key now, as in AWS.
        """
        ctx = call.ctx
        ref = parse_key_ref(
            ctx, text, aliases=aliases, cross_account=ctx.operation in CROSS_ACCOUNT
        )
        account = ref.account or ctx.account_id
        key_id = ref.key_id
        name = ref.alias
        if name is not None:
            if fresh:
                alias = store.get_alias(call.tx, account, ctx.region, name)
                key_id = alias.target_key_id if alias else None
            else:
                key_id = self.cache.alias_target(call.tx, account, ctx.region, name)
            if key_id is None and create_predefined and ref.account is None and self.predefined:
                created = self.predefined(call, name)
                if created is not None:
                    key_id, fresh = created.key_id, True  # not committed: read the store
            if key_id is None:
                if ref.account is not None:
                    raise NotFoundException(
                        f"Alias {alias_arn(account, ctx.region, name)} is not found."
                    )
                raise alias_not_found(ctx, name)
        assert key_id is not None
        view = self._view(call, key_id, account, fresh)
        if view is None:
            if ref.account is not None:
                arn = key_arn(account, ctx.region, key_id)
                raise NotFoundException(f"Key '{arn}' does not exist")
            raise key_not_found(ctx, key_id)
        return Target(view, name)

    def find_id(self, call: Call, key_id: str, *, fresh: bool = False) -> Target | None:
        """The key with this id the caller may name, or None; names it in the audit
        event. A key of another account only where the operation is cross-account
        (Decrypt finding its key in the ciphertext)."""
        ctx = call.ctx
        account = None if ctx.operation in CROSS_ACCOUNT else ctx.account_id
        view = self._view(call, key_id, account, fresh)
        return None if view is None else Target(view)

    def _view(self, call: Call, key_id: str, account: str | None, fresh: bool) -> KeyView | None:
        tx, ctx = call.tx, call.ctx
        # a multi-Region key id names the related key of the caller's Region
        if key_id.startswith(MRK_PREFIX):
            key_id = row_key_id(key_id, ctx.region)
        view = load_view(tx, key_id) if fresh else self.cache.view(tx, key_id)
        if view is None or view.key.region != ctx.region:
            return None
        if account is not None and view.key.account_id != account:
            return None
        audit_key(call, view.arn)
        return view

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
        view = target.view
        key = view.key
        arn = view.arn
        # A verdict no policy needed the context for (the common shapes) is kept by the
        # authorizer: then no context is built unless a grant must be consulted.
        verdict = self.authorizer.settled(
            call,
            action,
            arn,
            resource_policy=view.policy,
            resource_account=key.account_id,
            resource_policy_required=True,
        )
        if verdict is not None and verdict.allowed:
            return
        context = _context(call, target, extra)
        if verdict is None:
            verdict = self.authorizer.evaluate(
                call,
                action,
                arn,
                context,
                resource_policy=view.policy,
                resource_account=key.account_id,
                resource_policy_required=True,
            )
            if verdict.allowed:
                return
        if granted(
            call,
            target,
            action,
            verdict,
            context,
            grant_allows,
            identity_allows=lambda: self.identity_allows(call, action, arn, context),
        ):
            return
        raise AccessDeniedException(
            denied_message(call.ctx.principal.arn, action, arn, verdict.why)
        )

    def identity_allows(
        self,
        call: Call,
        action: str,
        resource: str,
        context: Mapping[str, Sequence[str]] | None = None,
    ) -> bool:
        """Do the caller's own policies allow `action` on `resource`, as for a resource
        whose policy delegates to the caller's account: its identity policies, then
        its permissions boundary and session policies, under its account's SCPs.

        How a grant to an account (`account_grantee`) reaches the account's IAM
        users and role sessions; the resource's own policy is not consulted.
        """
        if context is None:
            context = kms_context(call.ctx)
        verdict = self.authorizer.evaluate(
            call, action, resource, context, resource_account=call.ctx.principal.account_id
        )
        return verdict.allowed

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


def _context(
    call: Call, target: Target, extra: Mapping[str, Sequence[str]] | None
) -> dict[str, Sequence[str]]:
    """The KMS condition keys of a request on `target`: kms:CallerAccount and
    kms:ViaService (`kms_context`), the key's (`key_context`, built once with its
    cached view), kms:RequestAlias, then `extra`."""
    ctx = call.ctx
    context: dict[str, Sequence[str]] = dict(target.view.facts.context)
    context["kms:CallerAccount"] = (ctx.principal.account_id,)
    via = ctx.extra.get("via_service")
    if via:
        context["kms:ViaService"] = (via,)
    if target.request_alias:
        context["kms:RequestAlias"] = (target.request_alias,)
    if extra:
        context.update(extra)
    return context


# -- grants (CreateGrant) ------------------------------------------------------------------
def granted(
    call: Call,
    target: Target,
    action: str,
    verdict: Verdict,
    context: Mapping[str, Sequence[str]],
    grant_allows: GrantTest | None = None,
    identity_allows: Callable[[], bool] | None = None,
) -> bool:
    """Does a grant on the key let the caller do `action`, the policies having denied?

    Grants only add permissions: an explicit deny anywhere, or an SCP that does
    not allow, still denies (AWS). The key's view carries its grants (cache.py),
    so a grantee's call reads nothing from the store either, unless the key has
    more grants than the cache keeps.

    A grant names the caller directly (its ARN, or its role's), or names the
    caller's account (`account_grantee`): the account's grant serves an IAM user
    or role session of it only if `identity_allows` -- its own IAM policies allow
    the action on the key -- as AWS delegates to an account in a key policy. This
    second evaluation runs only when no direct grant allows and an account grant does.
    """
    if verdict.decision != IMPLICIT_DENY or verdict.why == implicit_why(SCP, action):
        return False
    principal = call.ctx.principal
    names = grantee_names(principal)
    account = account_grantee(principal) if identity_allows is not None else None
    wanted = names if account is None else (*names, account)
    cached = target.view.grants
    if cached is None:  # too many to cache: only the caller's, from the store
        grants = grant_store.grants_for(call.tx, target.key.key_id, wanted)
    else:
        grants = [g for g in cached if g.grantee_principal in wanted]
    if not grants:
        return False
    allows = grant_allows or _allows(action.removeprefix("kms:"), context)
    if any(allows(g) for g in grants if g.grantee_principal != account):
        return True
    by_account = any(allows(g) for g in grants if g.grantee_principal == account)
    return by_account and identity_allows is not None and identity_allows()


def _allows(operation: str, context: Mapping[str, Sequence[str]]) -> GrantTest:
    """The grant test of a call: `operation` with the request's encryption context."""
    request_context = request_encryption_context(context)
    return lambda g: g.allows(operation, request_context)

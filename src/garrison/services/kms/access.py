"""Finding the key a request names, and checking the caller may do the action on it.

Every use case goes through `KeyAccess`: `find` (parse the identifier, follow
an alias, scope to the caller's account and Region, name the key in the audit
event) then `authorize` (key policy, and IAM when the policy delegates to it).
Reads on the hot path come from the cache; use cases that change a key ask for
``fresh=True`` and read the store, so a change is never based on a cached copy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from garrison.api import Call
from garrison.services.kms import store
from garrison.services.kms.cache import KeyView, KmsCache, load_view
from garrison.services.kms.domain import Key
from garrison.services.kms.identifiers import alias_not_found, key_not_found, parse_key_ref
from garrison.services.kms.keypolicy import (
    IdentityAuthorizer,
    authorize_identity_action,
    authorize_key_action,
    caller_context,
    key_context,
)

KEY_RESOURCE_TYPE = "AWS::KMS::Key"


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
    def __init__(self, cache: KmsCache, identity: IdentityAuthorizer) -> None:
        self.cache = cache
        self.identity = identity

    def find(self, call: Call, text: str, *, aliases: bool, fresh: bool = False) -> Target:
        """The key `text` names in the caller's account and Region, or NotFoundException."""
        ctx, tx = call.ctx, call.tx
        ref = parse_key_ref(ctx, text, aliases=aliases)
        key_id = ref.key_id
        if ref.alias is not None:
            if fresh:
                alias = store.get_alias(tx, ctx.account_id, ctx.region, ref.alias)
                key_id = alias.target_key_id if alias else None
            else:
                key_id = self.cache.alias_target(tx, ctx.account_id, ctx.region, ref.alias)
            if key_id is None:
                raise alias_not_found(ctx, ref.alias)
        assert key_id is not None
        target = self.find_id(call, key_id, fresh=fresh)
        if target is None:
            raise key_not_found(ctx, key_id)
        return Target(target.view, ref.alias)

    def find_id(self, call: Call, key_id: str, *, fresh: bool = False) -> Target | None:
        """The caller's key with this id, or None; names it in the audit event."""
        tx, ctx = call.tx, call.ctx
        view = load_view(tx, key_id) if fresh else self.cache.view(tx, key_id)
        if view is None or view.key.account_id != ctx.account_id or view.key.region != ctx.region:
            return None
        audit_key(call, view.key.arn)
        return Target(view)

    def authorize(
        self,
        call: Call,
        target: Target,
        action: str,
        extra: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """AccessDeniedException unless the caller may do `action` on the target key."""
        context = caller_context(call.ctx)
        context.update(key_context(target.view.facts, target.request_alias))
        if extra:
            context.update(extra)
        authorize_key_action(
            target.view.policy, self.identity, call.ctx, action, target.key.arn, context
        )

    def authorize_identity(
        self,
        call: Call,
        action: str,
        resource: str = "*",
        extra: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """For actions on no existing key (CreateKey, ListKeys, ...) and on alias ARNs."""
        context = caller_context(call.ctx)
        if extra:
            context.update(extra)
        authorize_identity_action(self.identity, call.ctx, action, resource, context)

"""Alias use cases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

An alias is a name (``alias/...``) for one key of the same account and Region.
Changing one needs permission twice, as AWS documents: the caller's IAM
policies on the alias ARN, and the key policy of every key involved (both the
old and the new target of UpdateAlias). Names under ``alias/aws/`` belong to
AWS managed keys: customers cannot create, move or delete them
(NotAuthorizedException, which AWS sends without a message).
"""

from __future__ import annotations

from garrison.api import Call
from garrison.services.kms import store
from garrison.services.kms.access import KeyAccess, Target
from garrison.services.kms.cache import KmsCache
from garrison.services.kms.domain import (
    ALIAS_PREFIX,
    AWS_ALIAS_PREFIX,
    Alias,
    alias_arn,
)
from garrison.services.kms.errors import (
    AlreadyExistsException,
    InvalidAliasNameException,
    LimitExceededException,
    NotAuthorizedException,
)
from garrison.services.kms.identifiers import (
    alias_not_found,
    check_alias_name,
    decode_marker,
    encode_marker,
    key_not_found,
    page_size,
)
from garrison.services.kms.keys import Page, unsupported_for_aws_managed
from garrison.storage.writer import Tx


def _customer_alias_name(name: str) -> None:
    check_alias_name(name)
    if name.startswith(AWS_ALIAS_PREFIX):
        raise NotAuthorizedException()
    if name == ALIAS_PREFIX:
        raise InvalidAliasNameException("An alias name needs a name after the alias/ prefix.")


def insert_alias(tx: Tx, cache: KmsCache, alias: Alias) -> None:
    """Store a new alias and drop what the cache knew of its name and its key."""
    store.insert_alias(tx, alias)
    cache.invalidate_alias(tx, alias.account_id, alias.region, alias.name)
    cache.invalidate_key(tx, alias.target_key_id)
    tx.mark_changed()


class AliasUseCases:
    def __init__(self, access: KeyAccess, cache: KmsCache, *, max_aliases: int) -> None:
        self.access = access
        self.cache = cache
        self.max_aliases = max_aliases

    def _target(self, call: Call, key_id: str, action: str) -> Target:
        target = self.access.find(call, key_id, aliases=False, fresh=True)
        self.access.authorize(call, target, action)
        return target

    def _existing(self, call: Call, name: str) -> Alias:
        ctx = call.ctx
        alias = store.get_alias(call.tx, ctx.account_id, ctx.region, name)
        if alias is None:
            raise alias_not_found(ctx, name)
        return alias

    def create_alias(self, call: Call, alias_name: str, target_key_id: str) -> None:
        ctx, tx = call.ctx, call.tx
        _customer_alias_name(alias_name)
        arn = alias_arn(ctx.account_id, ctx.region, alias_name)
        self.access.authorize_identity(call, "kms:CreateAlias", arn)
        target = self._target(call, target_key_id, "kms:CreateAlias")
        target.key.require("CreateAlias")
        unsupported_for_aws_managed(target.key, "CreateAlias")
        if store.get_alias(tx, ctx.account_id, ctx.region, alias_name) is not None:
            raise AlreadyExistsException(f"An alias with the name {arn} already exists")
        if store.count_customer_aliases(tx, ctx.account_id, ctx.region) >= self.max_aliases:
            raise LimitExceededException(
                f"The request was rejected because the account and Region already have "
                f"{self.max_aliases} aliases, the quota."
            )
        alias = Alias(ctx.account_id, ctx.region, alias_name, target.key.key_id, ctx.now, ctx.now)
        insert_alias(tx, self.cache, alias)

    def update_alias(self, call: Call, alias_name: str, target_key_id: str) -> None:
        ctx, tx = call.ctx, call.tx
        _customer_alias_name(alias_name)
        alias = self._existing(call, alias_name)
        self.access.authorize_identity(call, "kms:UpdateAlias", alias.arn)
        new = self._target(call, target_key_id, "kms:UpdateAlias")
        old = self.access.find_id(call, alias.target_key_id, fresh=True)
        if old is None:  # cannot happen: deleting a key deletes its aliases
            raise key_not_found(ctx, alias.target_key_id)
        self.access.authorize(call, old, "kms:UpdateAlias")
        new.key.require("UpdateAlias")
        unsupported_for_aws_managed(new.key, "UpdateAlias")
        moved = Alias(
            alias.account_id, alias.region, alias.name, new.key.key_id, alias.created_at, ctx.now
        )
        store.retarget_alias(tx, moved)
        self.cache.invalidate_alias(tx, alias.account_id, alias.region, alias.name)
        self.cache.invalidate_key(tx, old.key.key_id)
        self.cache.invalidate_key(tx, new.key.key_id)
        tx.mark_changed()

    def delete_alias(self, call: Call, alias_name: str) -> None:
        ctx, tx = call.ctx, call.tx
        _customer_alias_name(alias_name)
        alias = self._existing(call, alias_name)
        self.access.authorize_identity(call, "kms:DeleteAlias", alias.arn)
        target = self.access.find_id(call, alias.target_key_id, fresh=True)
        if target is None:
            raise key_not_found(ctx, alias.target_key_id)
        self.access.authorize(call, target, "kms:DeleteAlias")
        store.delete_alias(tx, alias)
        self.cache.invalidate_alias(tx, alias.account_id, alias.region, alias.name)
        self.cache.invalidate_key(tx, alias.target_key_id)
        tx.mark_changed()

    def list_aliases(
        self, call: Call, *, key_id: str | None, limit: int | None, marker: str | None
    ) -> Page[Alias]:
        ctx = call.ctx
        self.access.authorize_identity(call, "kms:ListAliases")
        target_id = None
        if key_id is not None:
            target_id = self.access.find(call, key_id, aliases=False).key.key_id
        after = decode_marker("aliases", marker)
        size = page_size(limit, default=50, maximum=100)
        found = store.list_aliases(
            call.tx, ctx.account_id, ctx.region, key_id=target_id, after=after, limit=size + 1
        )
        more = len(found) > size
        found = found[:size]
        return Page(found, encode_marker("aliases", found[-1].name) if more else None)

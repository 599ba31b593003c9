"""Authorise an IAM call and announce what it changed.

    IamAccess.check(call, operation, resource, context, tags_of=id)
        the operation's action from `ACTIONS`, through the injected Authorizer;
        `tags_of` adds the resource's tags as aws:ResourceTag/* and iam:ResourceTag/*
    IamAccess.changed(call)        policies, memberships, boundaries or tags changed
    IamAccess.keys_changed(call, ids)   access keys changed: forget them after commit

Every change marks the unit changed (other nodes drop their caches within a
poll) and drops this node's caches after the commit, never before: a rolled
back unit leaves the caches as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from garrison.api import Call
from garrison.iam.authorizer import Authorizer
from garrison.services.iam import store
from garrison.services.iam.actions import ACTIONS

ForgetKeys = Callable[[list[str]], None]


class IamAccess:
    def __init__(self, authorizer: Authorizer, forget_keys: ForgetKeys) -> None:
        self.authorizer = authorizer
        self.forget_keys = forget_keys

    def check(
        self,
        call: Call,
        operation: str,
        resource: str,
        context: Mapping[str, Sequence[str]] | None = None,
        *,
        tags_of: str | None = None,
        resource_account: str | None = None,
    ) -> None:
        full: dict[str, Sequence[str]] = dict(context or {})
        if tags_of is not None:
            for tag in store.get_tags(call.tx, tags_of):
                full[f"aws:ResourceTag/{tag.key}"] = [tag.value]
                full[f"iam:ResourceTag/{tag.key}"] = [tag.value]
        self.authorizer.authorize(
            call, ACTIONS[operation].action, resource, full, resource_account=resource_account
        )

    def changed(self, call: Call) -> None:
        call.tx.mark_changed()
        call.tx.after_commit(self.authorizer.invalidate)

    def keys_changed(self, call: Call, access_key_ids: list[str]) -> None:
        self.changed(call)
        ids = list(access_key_ids)
        call.tx.after_commit(lambda: self.forget_keys(ids))

"""Tags of organization resources (accounts, roots, OUs, policies).

AWS's rules: at most 50 tags a resource, keys unique within a request, keys
starting with ``aws:`` reserved; lengths and patterns are the model's and were
checked by the pipeline. AWS managed policies cannot be tagged.
"""

from __future__ import annotations

from collections.abc import Sequence

from garrison.api import Call
from garrison.iam.authorizer import Context
from garrison.services.organizations import store
from garrison.services.organizations.access import Gate, Scope
from garrison.services.organizations.domain import MAX_TAGS
from garrison.services.organizations.errors import (
    ConstraintViolationException,
    InvalidInputException,
    TargetNotFoundException,
)


def validated(tag_list: Sequence[dict[str, str]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for tag in tag_list or ():
        key = tag["Key"]
        if key in out:
            raise InvalidInputException(
                "DUPLICATE_TAG_KEY",
                "Tag keys must be unique among the tags attached to the same entity.",
            )
        _check_key(key)
        out[key] = tag["Value"]
    if len(out) > MAX_TAGS:
        raise _too_many()
    return out


def _check_key(key: str) -> None:
    if key.lower().startswith("aws:"):
        raise InvalidInputException(
            "INVALID_SYSTEM_TAGS_PARAMETER",
            "You specified a tag key that is a system tag. You can't add, edit, or delete "
            "system tag keys because they're reserved for AWS use.",
        )


def _too_many() -> ConstraintViolationException:
    return ConstraintViolationException(
        "MAX_TAG_LIMIT_EXCEEDED", "You have exceeded the number of tags allowed on this resource."
    )


def request_context(tags: dict[str, str]) -> Context:
    """aws:RequestTag/<key> and aws:TagKeys for a request that sets `tags`."""
    if not tags:
        return {}
    context: dict[str, Sequence[str]] = {f"aws:RequestTag/{k}": [v] for k, v in tags.items()}
    context["aws:TagKeys"] = list(tags)
    return context


def _resource_exists(call: Call, scope: Scope, resource_id: str) -> bool:
    tx = call.tx
    if resource_id.startswith(("r-", "ou-")):
        return store.get_unit(tx, scope.org_id, resource_id) is not None
    if resource_id.startswith("p-"):
        policy = store.get_policy(tx, scope.org_id, resource_id)
        if policy is not None and policy.aws_managed:
            raise InvalidInputException(
                "IMMUTABLE_POLICY",
                "You specified a policy that is managed by AWS and can't be modified.",
            )
        return policy is not None
    return store.get_account(tx, scope.org_id, resource_id) is not None


class TagService:
    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    def tag_resource(
        self, call: Call, resource_id: str, tag_list: Sequence[dict[str, str]]
    ) -> None:
        new = validated(tag_list)
        scope = self.gate.enter(
            call, lambda s: [s.arn_of(resource_id)], context=request_context(new)
        )
        if not _resource_exists(call, scope, resource_id):
            raise TargetNotFoundException()
        merged = {**store.tags_of(call.tx, resource_id), **new}
        if len(merged) > MAX_TAGS:
            raise _too_many()
        store.put_tags(call.tx, resource_id, new)
        call.tx.mark_changed()

    def untag_resource(self, call: Call, resource_id: str, keys: Sequence[str]) -> None:
        scope = self.gate.enter(
            call, lambda s: [s.arn_of(resource_id)], context={"aws:TagKeys": list(keys)}
        )
        if not _resource_exists(call, scope, resource_id):
            raise TargetNotFoundException()
        for key in keys:
            _check_key(key)
        store.remove_tags(call.tx, resource_id, keys)
        call.tx.mark_changed()

    def list_tags_for_resource(self, call: Call, resource_id: str) -> dict[str, str]:
        scope = self.gate.enter(call, lambda s: [s.arn_of(resource_id)])
        if resource_id.startswith("p-"):
            policy = store.get_policy(call.tx, scope.org_id, resource_id)
            if policy is None:
                raise TargetNotFoundException()
        elif not _resource_exists(call, scope, resource_id):
            raise TargetNotFoundException()
        return store.tags_of(call.tx, resource_id)

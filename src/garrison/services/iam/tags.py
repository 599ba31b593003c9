"""Tags of users, roles and customer managed policies: Tag*, Untag*, List*Tags.

Keys are unique per resource case-insensitively (tagging ``Dept`` over
``dept`` replaces it), at most 50 tags, ``aws:`` keys reserved; see `limits`.
Tags are condition keys (aws:ResourceTag/*, aws:PrincipalTag/*), so every
change drops the authorizer's caches.
"""

from __future__ import annotations

from collections.abc import Sequence

from garrison.api import Call
from garrison.services.iam import identities, policies, roles, store
from garrison.services.iam.access import IamAccess
from garrison.services.iam.domain import Tag
from garrison.services.iam.limits import merge_tags, tag_context
from garrison.services.iam.paging import Page, page_of

RESOURCES = ("User", "Role", "Policy")


def _resource_id(
    call: Call, access: IamAccess, resource: str, op: str, name: str, ctx: dict[str, list[str]]
) -> str:
    """The id tags are stored under, after authorising `op` on the resource."""
    if resource == "User":
        return identities.authorized_user(call, access, op, name, **ctx).user_id
    if resource == "Role":
        return roles.authorized_role(call, access, op, name, **ctx).role_id
    policy = policies.authorized_policy(call, access, op, name, write=op != "ListPolicyTags")
    return policy.policy_id


def tag(call: Call, access: IamAccess, resource: str, name: str, tags: Sequence[Tag]) -> None:
    rid = _resource_id(call, access, resource, f"Tag{resource}", name, tag_context(tags))
    store.set_tags(call.tx, rid, merge_tags(store.get_tags(call.tx, rid), tags))
    access.changed(call)


def untag(call: Call, access: IamAccess, resource: str, name: str, keys: Sequence[str]) -> None:
    ctx = {"aws:TagKeys": list(keys)}
    rid = _resource_id(call, access, resource, f"Untag{resource}", name, ctx)
    gone = {k.lower() for k in keys}
    kept = [t for t in store.get_tags(call.tx, rid) if t.key.lower() not in gone]
    store.set_tags(call.tx, rid, kept)
    access.changed(call)


def list_tags(
    call: Call,
    access: IamAccess,
    resource: str,
    name: str,
    marker: str | None,
    max_items: int | None,
) -> Page[Tag]:
    rid = _resource_id(call, access, resource, f"List{resource}Tags", name, {})
    return page_of(store.get_tags(call.tx, rid), lambda t: t.key, marker, max_items)

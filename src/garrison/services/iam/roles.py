"""Roles: create, read, update (description, session duration, trust policy), list, delete.

A role's trust policy (AssumeRolePolicyDocument) is a resource policy: it must
name a Principal, and it may hold at most 2,048 characters without white space.
MaxSessionDuration is 3,600..43,200 seconds (the model checks the range).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from garrison.api import Call
from garrison.services.iam import store
from garrison.services.iam.access import IamAccess
from garrison.services.iam.domain import ID_PREFIX, Kind, Role, Tag, iam_arn, new_id
from garrison.services.iam.errors import EntityAlreadyExists, NoSuchEntity
from garrison.services.iam.limits import (
    DEFAULT_MAX_SESSION_DURATION,
    check_path,
    tag_context,
    trust_policy,
)
from garrison.services.iam.paging import Page, decode_marker, keyset_page
from garrison.services.iam.policies import refuse_while_policies, require_boundary_policy
from garrison.storage.sql import IntegrityError


def role_arn(account_id: str, name: str, path: str = "/") -> str:
    return iam_arn(account_id, "role", path, name)


def no_such_role(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The role with name {name} cannot be found.")


def authorized_role(
    call: Call, access: IamAccess, operation: str, name: str, **ctx: list[str]
) -> Role:
    account = call.ctx.account_id
    role = store.get_role(call.tx, account, name)
    arn = role.arn if role else role_arn(account, name)
    if role is not None and role.permissions_boundary and "iam:PermissionsBoundary" not in ctx:
        ctx["iam:PermissionsBoundary"] = [role.permissions_boundary]
    access.check(call, operation, arn, ctx, tags_of=role.role_id if role else None)
    if role is None:
        raise no_such_role(name)
    call.audit_resource("AWS::IAM::Role", role.arn)
    return role


def create_role(
    call: Call,
    access: IamAccess,
    *,
    name: str,
    path: str,
    trust: str,
    description: str,
    max_session_duration: int | None,
    boundary: str | None,
    tags: Sequence[Tag],
) -> Role:
    check_path(path)
    account = call.ctx.account_id
    arn = role_arn(account, name, path)
    context = tag_context(tags)
    if boundary is not None:
        context["iam:PermissionsBoundary"] = [boundary]
    access.check(call, "CreateRole", arn, context)
    if tags:
        access.check(call, "TagRole", arn, tag_context(tags))
    trust_policy(trust)
    if boundary is not None:
        require_boundary_policy(call, boundary)
    if store.get_role(call.tx, account, name) is not None:
        raise EntityAlreadyExists(f"Role with name {name} already exists.")
    role = Role(
        role_id=new_id(ID_PREFIX[Kind.ROLE]),
        account_id=account,
        name=name,
        path=path,
        arn=arn,
        created_at=call.ctx.now,
        trust_policy=trust,
        description=description,
        max_session_duration=max_session_duration or DEFAULT_MAX_SESSION_DURATION,
        permissions_boundary=boundary,
    )
    try:
        store.insert_role(call.tx, role)
    except IntegrityError:  # another node created it since the check
        raise EntityAlreadyExists(f"Role with name {name} already exists.") from None
    store.set_tags(call.tx, role.role_id, tags)
    access.changed(call)
    call.audit_resource("AWS::IAM::Role", arn)
    return role


def get_role(call: Call, access: IamAccess, name: str) -> tuple[Role, list[Tag]]:
    role = authorized_role(call, access, "GetRole", name)
    return role, store.get_tags(call.tx, role.role_id)


def update_role(
    call: Call,
    access: IamAccess,
    name: str,
    description: str | None,
    max_session_duration: int | None,
) -> None:
    role = authorized_role(call, access, "UpdateRole", name)
    values: dict[str, object] = {}
    if description is not None:
        values["description"] = description
    if max_session_duration is not None:
        values["max_session_duration"] = max_session_duration
    if values:
        store.update_role(call.tx, role.role_id, **values)
        access.changed(call)


def update_role_description(call: Call, access: IamAccess, name: str, description: str) -> Role:
    role = authorized_role(call, access, "UpdateRoleDescription", name)
    store.update_role(call.tx, role.role_id, description=description)
    access.changed(call)
    return replace(role, description=description)


def update_assume_role_policy(call: Call, access: IamAccess, name: str, document: str) -> None:
    role = authorized_role(call, access, "UpdateAssumeRolePolicy", name)
    trust_policy(document)
    store.update_role(call.tx, role.role_id, trust_policy=document)
    access.changed(call)


def delete_role(call: Call, access: IamAccess, name: str) -> None:
    role = authorized_role(call, access, "DeleteRole", name)
    refuse_while_policies(call.tx, Kind.ROLE, role.role_id)
    store.delete_role(call.tx, role.role_id)
    access.changed(call)


def list_roles(
    call: Call, access: IamAccess, path_prefix: str | None, marker: str | None, max_items: int
) -> Page[Role]:
    access.check(call, "ListRoles", "*")
    rows = store.list_roles(
        call.tx, call.ctx.account_id, path_prefix, decode_marker(marker), max_items
    )
    return keyset_page(rows, max_items, lambda r: store.sort_key(r.name, r.role_id))

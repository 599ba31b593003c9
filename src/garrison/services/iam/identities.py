"""Users, groups and group membership: the IAM use cases that name people.

Each use case looks the entity up, authorises on its ARN (the ARN it would have
when it does not exist, as AWS does), then acts or raises AWS's error. A user's
deletion is refused while anything still hangs off it (DeleteConflict), in the
order AWS checks: access keys, inline policies, attached policies, groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from garrison.api import Call
from garrison.services.iam import store
from garrison.services.iam.access import IamAccess
from garrison.services.iam.domain import ID_PREFIX, Group, Kind, Tag, User, iam_arn, new_id
from garrison.services.iam.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    LimitExceeded,
    NoSuchEntity,
    ValidationError,
)
from garrison.services.iam.limits import GROUPS_PER_USER, check_path, tag_context
from garrison.services.iam.paging import Page, decode_marker, keyset_page, page_of
from garrison.services.iam.policies import refuse_while_policies, require_boundary_policy
from garrison.storage.sql import IntegrityError


def user_arn(account_id: str, name: str, path: str = "/") -> str:
    return iam_arn(account_id, "user", path, name)


def group_arn(account_id: str, name: str, path: str = "/") -> str:
    return iam_arn(account_id, "group", path, name)


def find_user(call: Call, name: str) -> tuple[User | None, str]:
    """The user called `name` in the caller's account (or None) and the ARN to authorise."""
    account = call.ctx.account_id
    user = store.get_user(call.tx, account, name)
    return user, (user.arn if user else user_arn(account, name))


def no_such_user(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The user with name {name} cannot be found.")


def no_such_group(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The group with name {name} cannot be found.")


def authorized_user(
    call: Call, access: IamAccess, operation: str, name: str, **ctx: list[str]
) -> User:
    """Authorise `operation` on the user called `name`, then return it (NoSuchEntity if none)."""
    user, arn = find_user(call, name)
    if user is not None and user.permissions_boundary and "iam:PermissionsBoundary" not in ctx:
        ctx["iam:PermissionsBoundary"] = [user.permissions_boundary]
    access.check(call, operation, arn, ctx, tags_of=user.user_id if user else None)
    if user is None:
        raise no_such_user(name)
    call.audit_resource("AWS::IAM::User", user.arn)
    return user


def authorized_group(call: Call, access: IamAccess, operation: str, name: str) -> Group:
    account = call.ctx.account_id
    group = store.get_group(call.tx, account, name)
    access.check(call, operation, group.arn if group else group_arn(account, name))
    if group is None:
        raise no_such_group(name)
    call.audit_resource("AWS::IAM::Group", group.arn)
    return group


def caller_user(call: Call) -> User | None:
    """The IAM user making the call; None for the account root; ValidationError otherwise."""
    principal = call.ctx.principal
    if principal.is_root:
        return None
    if principal.type == "IAMUser":
        user = store.get_user_by_id(call.tx, principal.user_id)
        if user is None:
            raise no_such_user(principal.user_name)
        return user
    raise ValidationError("Must specify userName when calling with non-User credentials")


# -- users ----------------------------------------------------------------------------


def create_user(
    call: Call,
    access: IamAccess,
    name: str,
    path: str,
    boundary: str | None,
    tags: Sequence[Tag],
) -> User:
    check_path(path)
    account = call.ctx.account_id
    arn = user_arn(account, name, path)
    context = tag_context(tags)
    if boundary is not None:
        context["iam:PermissionsBoundary"] = [boundary]
    access.check(call, "CreateUser", arn, context)
    if tags:
        access.check(call, "TagUser", arn, tag_context(tags))
    if boundary is not None:
        require_boundary_policy(call, boundary)
    if store.get_user(call.tx, account, name) is not None:
        raise EntityAlreadyExists(f"User with name {name} already exists.")
    user = User(new_id(ID_PREFIX[Kind.USER]), account, name, path, arn, call.ctx.now, boundary)
    try:
        store.insert_user(call.tx, user)
    except IntegrityError:  # another node created it since the check
        raise EntityAlreadyExists(f"User with name {name} already exists.") from None
    store.set_tags(call.tx, user.user_id, tags)
    access.changed(call)
    call.audit_resource("AWS::IAM::User", arn)
    return user


def root_user(call: Call) -> dict[str, object]:
    """What GetUser answers for the account root: its ARN, the account id, no name."""
    account = call.ctx.account_id
    created = store.account_created_at(call.tx, account) or call.ctx.now
    return {"UserId": account, "Arn": f"arn:aws:iam::{account}:root", "CreateDate": created}


def get_user(call: Call, access: IamAccess, name: str | None) -> User | None:
    """The user named, or the caller's own (None: the caller is the account root)."""
    if name is not None:
        return authorized_user(call, access, "GetUser", name)
    user = caller_user(call)
    access.check(call, "GetUser", user.arn if user else call.ctx.principal.arn)
    return user


def update_user(
    call: Call, access: IamAccess, name: str, new_name: str | None, new_path: str | None
) -> None:
    user = authorized_user(call, access, "UpdateUser", name)
    if new_path is not None:
        check_path(new_path)
    path = new_path if new_path is not None else user.path
    target_name = new_name if new_name is not None else user.name
    updated = replace(
        user, name=target_name, path=path, arn=user_arn(user.account_id, target_name, path)
    )
    if updated.arn != user.arn:
        access.check(call, "UpdateUser", updated.arn)
    renamed = new_name is not None and new_name.lower() != user.name.lower()
    if renamed and store.get_user(call.tx, user.account_id, target_name) is not None:
        raise EntityAlreadyExists(f"User with name {new_name} already exists.")
    store.rename_user(call.tx, updated)
    keys = [k.access_key_id for k in store.access_keys_of(call.tx, user.account_id, user.user_id)]
    access.keys_changed(call, keys)  # cached principals carry the old name and ARN


def delete_user(call: Call, access: IamAccess, name: str) -> None:
    user = authorized_user(call, access, "DeleteUser", name)
    tx = call.tx
    if store.access_keys_of(tx, user.account_id, user.user_id):
        raise DeleteConflict("Cannot delete entity, must delete access keys first.")
    refuse_while_policies(tx, Kind.USER, user.user_id)
    if store.user_groups(tx, user.user_id):
        raise DeleteConflict("Cannot delete entity, must remove user from all groups first.")
    store.delete_user(tx, user.user_id)
    access.changed(call)


def list_users(
    call: Call, access: IamAccess, path_prefix: str | None, marker: str | None, max_items: int
) -> Page[User]:
    access.check(call, "ListUsers", "*")
    rows = store.list_users(
        call.tx, call.ctx.account_id, path_prefix, decode_marker(marker), max_items
    )
    return keyset_page(rows, max_items, lambda u: store.sort_key(u.name, u.user_id))


# -- groups ---------------------------------------------------------------------------


def create_group(call: Call, access: IamAccess, name: str, path: str) -> Group:
    check_path(path)
    account = call.ctx.account_id
    arn = group_arn(account, name, path)
    access.check(call, "CreateGroup", arn)
    if store.get_group(call.tx, account, name) is not None:
        raise EntityAlreadyExists(f"Group with name {name} already exists.")
    group = Group(new_id(ID_PREFIX[Kind.GROUP]), account, name, path, arn, call.ctx.now)
    try:
        store.insert_group(call.tx, group)
    except IntegrityError:
        raise EntityAlreadyExists(f"Group with name {name} already exists.") from None
    call.audit_resource("AWS::IAM::Group", arn)
    return group


def get_group(
    call: Call, access: IamAccess, name: str, marker: str | None, max_items: int | None
) -> tuple[Group, Page[User]]:
    group = authorized_group(call, access, "GetGroup", name)
    users = store.group_users(call.tx, group.group_id)
    return group, page_of(users, lambda u: store.sort_key(u.name, u.user_id), marker, max_items)


def update_group(
    call: Call, access: IamAccess, name: str, new_name: str | None, new_path: str | None
) -> None:
    group = authorized_group(call, access, "UpdateGroup", name)
    if new_path is not None:
        check_path(new_path)
    path = new_path if new_path is not None else group.path
    target = new_name if new_name is not None else group.name
    updated = replace(group, name=target, path=path, arn=group_arn(group.account_id, target, path))
    if updated.arn != group.arn:
        access.check(call, "UpdateGroup", updated.arn)
    renamed = new_name is not None and new_name.lower() != group.name.lower()
    if renamed and store.get_group(call.tx, group.account_id, target) is not None:
        raise EntityAlreadyExists(f"Group with name {new_name} already exists.")
    store.rename_group(call.tx, updated)
    access.changed(call)


def delete_group(call: Call, access: IamAccess, name: str) -> None:
    group = authorized_group(call, access, "DeleteGroup", name)
    tx = call.tx
    if store.group_users(tx, group.group_id):
        raise DeleteConflict("Cannot delete entity, must remove users from group first.")
    refuse_while_policies(tx, Kind.GROUP, group.group_id)
    store.delete_group(tx, group.group_id)
    access.changed(call)


def list_groups(
    call: Call, access: IamAccess, path_prefix: str | None, marker: str | None, max_items: int
) -> Page[Group]:
    access.check(call, "ListGroups", "*")
    rows = store.list_groups(
        call.tx, call.ctx.account_id, path_prefix, decode_marker(marker), max_items
    )
    return keyset_page(rows, max_items, lambda g: store.sort_key(g.name, g.group_id))


def add_user_to_group(call: Call, access: IamAccess, group_name: str, user_name: str) -> None:
    group = authorized_group(call, access, "AddUserToGroup", group_name)
    user = store.get_user(call.tx, call.ctx.account_id, user_name)
    if user is None:
        raise no_such_user(user_name)
    call.audit_resource("AWS::IAM::User", user.arn)
    if store.is_member(call.tx, group.group_id, user.user_id):
        return
    if len(store.user_groups(call.tx, user.user_id)) >= GROUPS_PER_USER:
        raise LimitExceeded(f"Cannot exceed quota for GroupsPerUser: {GROUPS_PER_USER}")
    store.add_member(call.tx, group.group_id, user.user_id, call.ctx.now)
    access.changed(call)


def remove_user_from_group(call: Call, access: IamAccess, group_name: str, user_name: str) -> None:
    group = authorized_group(call, access, "RemoveUserFromGroup", group_name)
    user = store.get_user(call.tx, call.ctx.account_id, user_name)
    if user is None:
        raise no_such_user(user_name)
    call.audit_resource("AWS::IAM::User", user.arn)
    if not store.remove_member(call.tx, group.group_id, user.user_id):
        raise NoSuchEntity(f"The user with name {user_name} is not in group {group.name}.")
    access.changed(call)


def list_groups_for_user(
    call: Call, access: IamAccess, name: str, marker: str | None, max_items: int | None
) -> Page[Group]:
    user = authorized_user(call, access, "ListGroupsForUser", name)
    groups = store.user_groups(call.tx, user.user_id)
    return page_of(groups, lambda g: store.sort_key(g.name, g.group_id), marker, max_items)

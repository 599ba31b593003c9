"""What gives a user, group or role its permissions: attached managed policies,
inline policies and (users and roles) a permissions boundary.

The same use cases serve the three kinds; `target` resolves and authorises the
principal by kind, so ``AttachUserPolicy`` and ``AttachRolePolicy`` differ only
in the operation they authorise. Every change drops the authorizer's caches
after commit (`IamAccess.changed`).
"""

from __future__ import annotations

from garrison.api import Call
from garrison.services.iam import identities, policy_store, roles, store
from garrison.services.iam.access import IamAccess
from garrison.services.iam.domain import Kind, ManagedPolicy, Principal
from garrison.services.iam.errors import LimitExceeded, NoSuchEntity
from garrison.services.iam.limits import ATTACHED_POLICIES, check_inline_size, identity_policy
from garrison.services.iam.paging import Page, page_of
from garrison.services.iam.policies import require_attachable


def target(
    call: Call, access: IamAccess, kind: Kind, operation: str, name: str, **ctx: list[str]
) -> tuple[Principal, str | None]:
    """The principal called `name`, authorised for `operation`, and its boundary ARN."""
    if kind is Kind.USER:
        user = identities.authorized_user(call, access, operation, name, **ctx)
        return Principal(kind, user.user_id, user.name, user.account_id, user.arn), (
            user.permissions_boundary
        )
    if kind is Kind.ROLE:
        role = roles.authorized_role(call, access, operation, name, **ctx)
        return Principal(kind, role.role_id, role.name, role.account_id, role.arn), (
            role.permissions_boundary
        )
    group = identities.authorized_group(call, access, operation, name)
    return Principal(kind, group.group_id, group.name, group.account_id, group.arn), None


# -- managed policies -------------------------------------------------------------------


def attach(call: Call, access: IamAccess, kind: Kind, name: str, arn: str) -> None:
    principal, _ = target(
        call, access, kind, f"Attach{kind.title}Policy", name, **{"iam:PolicyARN": [arn]}
    )
    policy = require_attachable(call, arn)
    attached = policy_store.attached_arns(call.tx, kind, principal.id)
    if policy.arn in attached:
        return
    limit = ATTACHED_POLICIES[kind]
    if len(attached) >= limit:
        raise LimitExceeded(f"Cannot exceed quota for PoliciesPer{kind.title}: {limit}")
    policy_store.attach(call.tx, kind, principal.id, policy.arn, call.ctx.now.timestamp())
    call.audit_resource("AWS::IAM::Policy", policy.arn)
    access.changed(call)


def detach(call: Call, access: IamAccess, kind: Kind, name: str, arn: str) -> None:
    principal, _ = target(
        call, access, kind, f"Detach{kind.title}Policy", name, **{"iam:PolicyARN": [arn]}
    )
    if not policy_store.detach(call.tx, kind, principal.id, arn):
        raise NoSuchEntity(f"Policy {arn} was not found.")
    call.audit_resource("AWS::IAM::Policy", arn)
    access.changed(call)


def list_attached(
    call: Call,
    access: IamAccess,
    kind: Kind,
    name: str,
    path_prefix: str | None,
    marker: str | None,
    max_items: int | None,
) -> Page[ManagedPolicy]:
    principal, _ = target(call, access, kind, f"ListAttached{kind.title}Policies", name)
    policies = []
    for arn in policy_store.attached_arns(call.tx, kind, principal.id):
        policy = policy_store.get_policy(call.tx, arn)
        if policy is not None and (not path_prefix or policy.path.startswith(path_prefix)):
            policies.append(policy)
    return page_of(policies, lambda p: f"{p.name.lower()}\x00{p.arn}", marker, max_items)


# -- inline policies --------------------------------------------------------------------


def put_inline(
    call: Call, access: IamAccess, kind: Kind, name: str, policy_name: str, document: str
) -> None:
    principal, _ = target(call, access, kind, f"Put{kind.title}Policy", name)
    identity_policy(document)
    others = policy_store.inline_policies(call.tx, kind, principal.id)
    others.pop(policy_name, None)
    check_inline_size(kind, principal.name, [*others.values(), document])
    policy_store.put_inline(call.tx, kind, principal.id, policy_name, document)
    access.changed(call)


def _no_such_inline(kind: Kind, policy_name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The {kind.value} policy with name {policy_name} cannot be found.")


def get_inline(
    call: Call, access: IamAccess, kind: Kind, name: str, policy_name: str
) -> tuple[Principal, str]:
    principal, _ = target(call, access, kind, f"Get{kind.title}Policy", name)
    document = policy_store.inline_policies(call.tx, kind, principal.id).get(policy_name)
    if document is None:
        raise _no_such_inline(kind, policy_name)
    return principal, document


def delete_inline(call: Call, access: IamAccess, kind: Kind, name: str, policy_name: str) -> None:
    principal, _ = target(call, access, kind, f"Delete{kind.title}Policy", name)
    if not policy_store.delete_inline(call.tx, kind, principal.id, policy_name):
        raise _no_such_inline(kind, policy_name)
    access.changed(call)


def list_inline(
    call: Call, access: IamAccess, kind: Kind, name: str, marker: str | None, max_items: int | None
) -> Page[str]:
    principal, _ = target(call, access, kind, f"List{kind.title}Policies", name)
    names = list(policy_store.inline_policies(call.tx, kind, principal.id))
    return page_of(names, lambda n: n, marker, max_items)


# -- permissions boundaries -------------------------------------------------------------


def put_boundary(call: Call, access: IamAccess, kind: Kind, name: str, arn: str) -> None:
    principal, _ = target(
        call,
        access,
        kind,
        f"Put{kind.title}PermissionsBoundary",
        name,
        **{"iam:PermissionsBoundary": [arn]},
    )
    policy = require_attachable(call, arn)
    if kind is Kind.USER:
        store.set_user_boundary(call.tx, principal.id, policy.arn)
    else:
        store.update_role(call.tx, principal.id, permissions_boundary=policy.arn)
    call.audit_resource("AWS::IAM::Policy", policy.arn)
    access.changed(call)


def delete_boundary(call: Call, access: IamAccess, kind: Kind, name: str) -> None:
    principal, boundary = target(call, access, kind, f"Delete{kind.title}PermissionsBoundary", name)
    if boundary is None:
        return
    if kind is Kind.USER:
        store.set_user_boundary(call.tx, principal.id, None)
    else:
        store.update_role(call.tx, principal.id, permissions_boundary=None)
    access.changed(call)

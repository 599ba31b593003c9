"""Managed policies and their versions: create, read, version, list, delete.

A managed policy keeps up to five versions, one of them the default (the one
that is in force). AWS managed policies (account ``aws``) are readable by every
account and changeable by none. A policy is deleted only once nothing uses it
(attachments or permissions boundaries) and only its default version is left.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from garrison.api import Call
from garrison.errors import AccessDeniedException
from garrison.iam.authorizer import denied_message
from garrison.services.iam import policy_store, store
from garrison.services.iam.access import IamAccess
from garrison.services.iam.domain import (
    AWS_ACCOUNT,
    POLICY_ID_PREFIX,
    Kind,
    ManagedPolicy,
    PolicyUsage,
    PolicyVersion,
    Principal,
    Tag,
    iam_arn,
    new_id,
)
from garrison.services.iam.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    InvalidInput,
    LimitExceeded,
    NoSuchEntity,
)
from garrison.services.iam.limits import (
    POLICY_VERSIONS,
    check_managed_size,
    check_path,
    identity_policy,
    tag_context,
)
from garrison.services.iam.paging import Page, page_of
from garrison.storage.sql import IntegrityError
from garrison.storage.writer import Tx

_POLICY_ARN = re.compile(r"arn:aws:iam::(\d{12}|aws):policy/(.+)")
_NO_USE = PolicyUsage(0, 0)


@dataclass(frozen=True, slots=True)
class PolicyView:
    """A managed policy as one account sees it: with its use there and its tags."""

    policy: ManagedPolicy
    usage: PolicyUsage
    tags: tuple[Tag, ...] = ()


def policy_account(arn: str) -> str:
    """The account part of a managed policy ARN; InvalidInput if it is not one."""
    match = _POLICY_ARN.fullmatch(arn)
    if match is None:
        raise InvalidInput(f"ARN {arn} is not valid.")
    return match.group(1)


def _visible(call: Call, arn: str) -> ManagedPolicy | None:
    account = policy_account(arn)
    if account not in (AWS_ACCOUNT, call.ctx.account_id):
        return None
    return policy_store.get_policy(call.tx, arn)


def authorized_policy(
    call: Call, access: IamAccess, operation: str, arn: str, *, write: bool = False
) -> ManagedPolicy:
    """Authorise `operation` on the policy `arn` (an AWS managed one: reads only)."""
    policy = _visible(call, arn)
    aws_managed = policy_account(arn) == AWS_ACCOUNT
    access.check(
        call,
        operation,
        arn,
        tags_of=policy.policy_id if policy else None,
        # AWS managed policies belong to no account and every account may read them
        resource_account=call.ctx.account_id if aws_managed and not write else None,
    )
    if write and aws_managed:
        action = f"iam:{operation}"
        raise AccessDeniedException(
            denied_message(
                call.ctx.principal.arn,
                action,
                arn,
                "because AWS managed policies cannot be changed",
            )
        )
    if policy is None:
        raise NoSuchEntity(f"Policy {arn} was not found.")
    call.audit_resource("AWS::IAM::Policy", policy.arn)
    return policy


def require_attachable(call: Call, arn: str) -> ManagedPolicy:
    """The managed policy to attach or set as a boundary; NoSuchEntity as AWS words it."""
    policy = _visible(call, arn)
    if policy is None:
        raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
    return policy


def require_boundary_policy(call: Call, arn: str) -> ManagedPolicy:
    return require_attachable(call, arn)


def refuse_while_policies(tx: Tx, kind: Kind, principal_id: str) -> None:
    """DeleteConflict while a principal still has inline or attached policies (AWS's order)."""
    if policy_store.inline_policies(tx, kind, principal_id):
        raise DeleteConflict("Cannot delete entity, must delete policies first.")
    if policy_store.attached_arns(tx, kind, principal_id):
        raise DeleteConflict("Cannot delete entity, must detach all policies first.")


def view(call: Call, policy: ManagedPolicy, *, with_tags: bool = False) -> PolicyView:
    use = policy_store.usage(call.tx, call.ctx.account_id, [policy.arn]).get(policy.arn, _NO_USE)
    tags = tuple(store.get_tags(call.tx, policy.policy_id)) if with_tags else ()
    return PolicyView(policy, use, tags)


def create_policy(
    call: Call,
    access: IamAccess,
    name: str,
    path: str,
    document: str,
    description: str,
    tags: Sequence[Tag],
) -> PolicyView:
    check_path(path)
    account = call.ctx.account_id
    arn = iam_arn(account, "policy", path, name)
    access.check(call, "CreatePolicy", arn, tag_context(tags))
    if tags:
        access.check(call, "TagPolicy", arn, tag_context(tags))
    identity_policy(document)
    check_managed_size(document)
    if policy_store.policy_name_taken(call.tx, account, name):
        raise EntityAlreadyExists(
            f"A policy called {name} already exists. Duplicate names are not allowed."
        )
    now = call.ctx.now
    policy = ManagedPolicy(
        new_id(POLICY_ID_PREFIX), account, name, path, arn, description, "v1", 2, now, now
    )
    first = PolicyVersion(policy.policy_id, "v1", document, now)
    try:
        policy_store.insert_policy(call.tx, policy, first)
    except IntegrityError:  # another node created it since the check
        raise EntityAlreadyExists(
            f"A policy called {name} already exists. Duplicate names are not allowed."
        ) from None
    store.set_tags(call.tx, policy.policy_id, tags)
    call.audit_resource("AWS::IAM::Policy", arn)
    return PolicyView(policy, _NO_USE, tuple(tags))


def get_policy(call: Call, access: IamAccess, arn: str) -> PolicyView:
    return view(call, authorized_policy(call, access, "GetPolicy", arn), with_tags=True)


def _version(call: Call, policy: ManagedPolicy, version_id: str) -> PolicyVersion:
    version = policy_store.get_version(call.tx, policy.policy_id, version_id)
    if version is None:
        raise NoSuchEntity(
            f"Policy {policy.arn} version {version_id} does not exist or is not attachable."
        )
    return version


def get_policy_version(
    call: Call, access: IamAccess, arn: str, version_id: str
) -> tuple[ManagedPolicy, PolicyVersion]:
    policy = authorized_policy(call, access, "GetPolicyVersion", arn)
    return policy, _version(call, policy, version_id)


def create_policy_version(
    call: Call, access: IamAccess, arn: str, document: str, set_as_default: bool
) -> tuple[ManagedPolicy, PolicyVersion]:
    policy = authorized_policy(call, access, "CreatePolicyVersion", arn, write=True)
    identity_policy(document)
    check_managed_size(document)
    if len(policy_store.versions_of(call.tx, policy.policy_id)) >= POLICY_VERSIONS:
        raise LimitExceeded(
            f"A managed policy can have up to {POLICY_VERSIONS} versions. Before you create a "
            "new version, you must delete an existing version."
        )
    now = call.ctx.now
    version = PolicyVersion(policy.policy_id, f"v{policy.next_version}", document, now)
    policy_store.insert_version(call.tx, version)
    default = version.version_id if set_as_default else policy.default_version_id
    policy_store.update_policy(
        call.tx,
        policy.policy_id,
        next_version=policy.next_version + 1,
        default_version_id=default,
        updated_at=now.timestamp(),
    )
    if set_as_default:
        access.changed(call)
    return policy, version


def set_default_policy_version(call: Call, access: IamAccess, arn: str, version_id: str) -> None:
    policy = authorized_policy(call, access, "SetDefaultPolicyVersion", arn, write=True)
    _version(call, policy, version_id)
    policy_store.update_policy(call.tx, policy.policy_id, default_version_id=version_id)
    access.changed(call)


def delete_policy_version(call: Call, access: IamAccess, arn: str, version_id: str) -> None:
    policy = authorized_policy(call, access, "DeletePolicyVersion", arn, write=True)
    _version(call, policy, version_id)
    if version_id == policy.default_version_id:
        raise DeleteConflict("Cannot delete the default version of a policy.")
    policy_store.delete_version(call.tx, policy.policy_id, version_id)


def delete_policy(call: Call, access: IamAccess, arn: str) -> None:
    policy = authorized_policy(call, access, "DeletePolicy", arn, write=True)
    use = view(call, policy).usage
    if use.attachments or use.boundaries:
        raise DeleteConflict("Cannot delete a policy attached to entities.")
    if len(policy_store.versions_of(call.tx, policy.policy_id)) > 1:
        raise DeleteConflict(
            "This policy has more than one version. Before you delete a policy, you must delete "
            "the policy's versions. The default version is deleted with the policy."
        )
    policy_store.delete_policy(call.tx, policy.policy_id)
    access.changed(call)


def list_policies(
    call: Call,
    access: IamAccess,
    *,
    scope: str,
    only_attached: bool,
    path_prefix: str | None,
    usage_filter: str | None,
    marker: str | None,
    max_items: int | None,
) -> Page[PolicyView]:
    access.check(call, "ListPolicies", "*")
    account = call.ctx.account_id
    accounts = {"All": [AWS_ACCOUNT, account], "AWS": [AWS_ACCOUNT], "Local": [account]}[scope]
    policies = policy_store.policies_of(call.tx, accounts, path_prefix)
    usage = policy_store.usage(call.tx, account)
    views = [PolicyView(p, usage.get(p.arn, _NO_USE)) for p in policies]
    if only_attached:
        views = [v for v in views if _used(v.usage, usage_filter)]
    return page_of(
        views, lambda v: store.sort_key(v.policy.name, v.policy.policy_id), marker, max_items
    )


def _used(use: PolicyUsage, usage_filter: str | None) -> bool:
    if usage_filter == "PermissionsPolicy":
        return use.attachments > 0
    if usage_filter == "PermissionsBoundary":
        return use.boundaries > 0
    return use.attachments > 0 or use.boundaries > 0


def list_policy_versions(
    call: Call, access: IamAccess, arn: str, marker: str | None, max_items: int | None
) -> tuple[ManagedPolicy, Page[PolicyVersion]]:
    policy = authorized_policy(call, access, "ListPolicyVersions", arn)
    versions = policy_store.versions_of(call.tx, policy.policy_id)
    # newest first, as AWS lists them; the key sorts descending by version number
    return policy, page_of(
        versions, lambda v: f"{10**9 - int(v.version_id[1:]):010d}", marker, max_items
    )


def list_entities_for_policy(
    call: Call,
    access: IamAccess,
    arn: str,
    *,
    entity_filter: str | None,
    path_prefix: str | None,
    usage_filter: str | None,
    marker: str | None,
    max_items: int | None,
) -> Page[Principal]:
    policy = authorized_policy(call, access, "ListEntitiesForPolicy", arn)
    account = call.ctx.account_id
    found: dict[tuple[str, str], Principal] = {}
    if usage_filter in (None, "PermissionsPolicy"):
        for p in policy_store.attached_entities(call.tx, account, policy.arn):
            found[(p.kind.value, p.id)] = p
    if usage_filter in (None, "PermissionsBoundary"):
        for p in policy_store.boundary_holders(call.tx, account, policy.arn):
            found[(p.kind.value, p.id)] = p
    entities = list(found.values())
    if entity_filter is not None:
        entities = [e for e in entities if e.kind.title == entity_filter]
    if path_prefix:
        entities = [e for e in entities if _path_of(e.arn).startswith(path_prefix)]
    return page_of(
        entities, lambda e: f"{e.kind.value}\x00{store.sort_key(e.name, e.id)}", marker, max_items
    )


def _path_of(arn: str) -> str:
    resource = arn.split(":", 5)[5]
    return resource[resource.index("/") : resource.rindex("/") + 1]

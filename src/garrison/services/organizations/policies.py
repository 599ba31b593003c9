"""Service control policies: their documents, the policy type on the root, attachments.

    EnablePolicyType(SCP)   root's PolicyTypes += SCP; FullAWSAccess attached to the
                            root and every OU and account (AWS's default)
    DisablePolicyType(SCP)  every SCP detached from every target of the root
    AttachPolicy            at most 5 SCPs per target
    DetachPolicy            never the last SCP of a target (AWS: every root, OU and
                            account keeps at least one)
    DeletePolicy            only when attached nowhere

A document is validated as AWS validates an SCP: at most 5,120 characters, and
the IAM policy grammar of an identity policy (no Principal). Only
SERVICE_CONTROL_POLICY is implemented; other policy types are refused with
UnsupportedOperationException, never accepted and ignored. Garrison's
authorizer (garrison.iam.authorizer) reads what this module stores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from garrison.api import Call
from garrison.iam.policy import PolicyError, compile_policy
from garrison.services.organizations import store, tags
from garrison.services.organizations.access import (
    Gate,
    Page,
    Scope,
    decode_token,
    page_size,
    paged,
)
from garrison.services.organizations.domain import (
    FULL_AWS_ACCESS_ID,
    MAX_POLICIES,
    MAX_SCP_SIZE,
    MAX_SCPS_PER_TARGET,
    SCP,
    OrgPolicy,
    Unit,
    new_policy_id,
    policy_arn,
)
from garrison.services.organizations.errors import (
    ConstraintViolationException,
    DuplicatePolicyAttachmentException,
    DuplicatePolicyException,
    InvalidInputException,
    MalformedPolicyDocumentException,
    PolicyInUseException,
    PolicyNotAttachedException,
    PolicyNotFoundException,
    PolicyTypeAlreadyEnabledException,
    PolicyTypeNotAvailableForOrganizationException,
    PolicyTypeNotEnabledException,
    RootNotFoundException,
    TargetNotFoundException,
    UnsupportedOperationException,
)
from garrison.storage.writer import Tx


def supported_type(policy_type: str) -> None:
    if policy_type != SCP:
        raise UnsupportedOperationException(
            f"Policy type {policy_type} is not supported by this Garrison release; only {SCP} is."
        )


def validate_scp(content: str) -> None:
    """AWS's SCP rules: size first, then the policy grammar (no Principal)."""
    if len(content) > MAX_SCP_SIZE:
        raise ConstraintViolationException(
            "POLICY_CONTENT_LIMIT_EXCEEDED",
            "You attempted to create a policy that is larger than the maximum size.",
        )
    try:
        compile_policy(content, resource_policy=False)
    except PolicyError as err:
        raise MalformedPolicyDocumentException(
            "The provided policy document doesn't meet the requirements of the specified "
            f"policy type. {err}"
        ) from None


def _immutable() -> InvalidInputException:
    return InvalidInputException(
        "IMMUTABLE_POLICY", "You specified a policy that is managed by AWS and can't be modified."
    )


def _context(policy_type: str) -> dict[str, Sequence[str]]:
    return {"organizations:PolicyType": [policy_type]}


class PolicyService:
    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    # -- documents -------------------------------------------------------------------------
    def create_policy(
        self,
        call: Call,
        *,
        content: str,
        description: str,
        name: str,
        policy_type: str,
        tag_list: Sequence[dict[str, str]] | None,
    ) -> OrgPolicy:
        tx = call.tx
        new_tags = tags.validated(tag_list)
        context = {**tags.request_context(new_tags), **_context(policy_type)}
        scope = self.gate.enter(
            call, lambda s: [policy_arn(s.mgmt, s.org_id, policy_type, "*")], context=context
        )
        if new_tags:
            self.gate.also(
                call, scope, "organizations:TagResource",
                policy_arn(scope.mgmt, scope.org_id, policy_type, "*"), context,
            )  # fmt: skip
        supported_type(policy_type)
        if not scope.org.all_features:
            raise PolicyTypeNotAvailableForOrganizationException()
        validate_scp(content)
        if store.count_policies(tx, scope.org_id, policy_type) >= MAX_POLICIES:
            raise ConstraintViolationException(
                "POLICY_NUMBER_LIMIT_EXCEEDED",
                "You attempted to exceed the number of policies that you can have in an "
                "organization.",
            )
        if store.policy_name_taken(tx, scope.org_id, policy_type, name):
            raise DuplicatePolicyException()
        policy_id = new_policy_id()
        policy = OrgPolicy(
            policy_id=policy_id,
            org_id=scope.org_id,
            name=name,
            description=description,
            type=policy_type,
            content=content,
            arn=policy_arn(scope.mgmt, scope.org_id, policy_type, policy_id),
            aws_managed=False,
        )
        store.insert_policy(tx, policy)
        store.put_tags(tx, policy_id, new_tags)
        call.audit_resource("AWS::Organizations::Policy", policy.arn)
        tx.mark_changed()
        return policy

    def _policy(self, tx: Tx, scope: Scope, policy_id: str) -> OrgPolicy:
        policy = store.get_policy(tx, scope.org_id, policy_id)
        if policy is None:
            raise PolicyNotFoundException()
        return policy

    def describe_policy(self, call: Call, policy_id: str) -> OrgPolicy:
        scope = self.gate.enter(call, lambda s: [s.arn_of(policy_id)], context=_context(SCP))
        return self._policy(call.tx, scope, policy_id)

    def update_policy(
        self,
        call: Call,
        policy_id: str,
        *,
        name: str | None,
        description: str | None,
        content: str | None,
    ) -> OrgPolicy:
        tx = call.tx
        scope = self.gate.enter(call, lambda s: [s.arn_of(policy_id)], context=_context(SCP))
        policy = self._policy(tx, scope, policy_id)
        if policy.aws_managed:
            raise _immutable()
        if content is not None:
            validate_scp(content)
        if (
            name is not None
            and name != policy.name
            and store.policy_name_taken(tx, scope.org_id, policy.type, name)
        ):
            raise DuplicatePolicyException()
        updated = replace(
            policy,
            name=policy.name if name is None else name,
            description=policy.description if description is None else description,
            content=policy.content if content is None else content,
        )
        store.update_policy(tx, updated)
        call.audit_resource("AWS::Organizations::Policy", policy.arn)
        self.gate.changed(call)
        return updated

    def delete_policy(self, call: Call, policy_id: str) -> None:
        tx = call.tx
        scope = self.gate.enter(call, lambda s: [s.arn_of(policy_id)], context=_context(SCP))
        policy = self._policy(tx, scope, policy_id)
        if policy.aws_managed:
            raise _immutable()
        if store.attached_anywhere(tx, policy_id):
            raise PolicyInUseException()
        store.delete_policy(tx, policy_id)
        call.audit_resource("AWS::Organizations::Policy", policy.arn)
        tx.mark_changed()

    def list_policies(
        self, call: Call, policy_type: str, token: str | None, limit: int | None
    ) -> Page[OrgPolicy]:
        op = f"ListPolicies/{policy_type}"
        scope = self.gate.enter(call, context=_context(policy_type))
        after = decode_token(op, token)
        n = page_size(limit)
        rows = store.list_policies(call.tx, scope.org_id, policy_type, after, n + 1)
        return paged(op, rows, n, lambda p: p.policy_id)

    # -- targets -----------------------------------------------------------------------------
    def _target(self, tx: Tx, scope: Scope, target_id: str) -> tuple[str, str]:
        """(Type, Name) of a root, OU or account of the organization."""
        if target_id.startswith(("r-", "ou-")):
            unit = store.get_unit(tx, scope.org_id, target_id)
            if unit is not None:
                return ("ROOT" if unit.is_root else "ORGANIZATIONAL_UNIT"), unit.name
        else:
            account = store.get_account(tx, scope.org_id, target_id)
            if account is not None:
                return "ACCOUNT", account.name
        raise TargetNotFoundException()

    def _root(self, tx: Tx, scope: Scope) -> Unit:
        return store.roots(tx, scope.org_id)[0]

    def list_policies_for_target(
        self, call: Call, target_id: str, policy_type: str, token: str | None, limit: int | None
    ) -> Page[OrgPolicy]:
        op = f"ListPoliciesForTarget/{target_id}/{policy_type}"
        scope = self.gate.enter(
            call, lambda s: [s.arn_of(target_id)], context=_context(policy_type)
        )
        self._target(call.tx, scope, target_id)
        after = decode_token(op, token)
        n = page_size(limit)
        rows = store.policies_for_target(
            call.tx, scope.org_id, target_id, policy_type, after, n + 1
        )
        return paged(op, rows, n, lambda p: p.policy_id)

    def list_targets_for_policy(
        self, call: Call, policy_id: str, token: str | None, limit: int | None
    ) -> Page[tuple[str, str, str, str]]:
        """(TargetId, Arn, Name, Type) of each target the policy is attached to."""
        op = f"ListTargetsForPolicy/{policy_id}"
        scope = self.gate.enter(call, lambda s: [s.arn_of(policy_id)], context=_context(SCP))
        self._policy(call.tx, scope, policy_id)
        after = decode_token(op, token)
        n = page_size(limit)
        ids = store.targets_of(call.tx, scope.org_id, policy_id, after, n + 1)
        page = paged(op, ids, n, lambda i: i)
        out = []
        for target_id in page.items:
            kind, name = self._target(call.tx, scope, target_id)
            out.append((target_id, scope.arn_of(target_id), name, kind))
        return Page(out, page.next_token)

    def attach_policy(self, call: Call, policy_id: str, target_id: str) -> None:
        tx = call.tx
        scope = self.gate.enter(
            call, lambda s: [s.arn_of(policy_id), s.arn_of(target_id)], context=_context(SCP)
        )
        policy = self._policy(tx, scope, policy_id)
        self._target(tx, scope, target_id)
        if policy.type not in self._root(tx, scope).policy_types:
            raise PolicyTypeNotEnabledException()
        if store.is_attached(tx, policy_id, target_id):
            raise DuplicatePolicyAttachmentException()
        if store.count_attached(tx, scope.org_id, target_id, policy.type) >= MAX_SCPS_PER_TARGET:
            raise ConstraintViolationException(
                "MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
                "You attempted to exceed the number of policies of a certain type that can be "
                "attached to an entity at one time.",
            )
        store.attach(tx, policy_id, target_id)
        call.audit_resource("AWS::Organizations::Policy", policy.arn)
        self.gate.changed(call)

    def detach_policy(self, call: Call, policy_id: str, target_id: str) -> None:
        tx = call.tx
        scope = self.gate.enter(
            call, lambda s: [s.arn_of(policy_id), s.arn_of(target_id)], context=_context(SCP)
        )
        policy = self._policy(tx, scope, policy_id)
        self._target(tx, scope, target_id)
        if not store.is_attached(tx, policy_id, target_id):
            raise PolicyNotAttachedException()
        if store.count_attached(tx, scope.org_id, target_id, policy.type) <= 1:
            raise ConstraintViolationException(
                "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
                "You attempted to detach a policy from an entity that would cause the entity "
                "to have fewer than the minimum number of policies of a certain type required.",
            )
        store.detach(tx, policy_id, target_id)
        call.audit_resource("AWS::Organizations::Policy", policy.arn)
        self.gate.changed(call)

    # -- the policy type on the root ------------------------------------------------------
    def _enabling(self, call: Call, root_id: str, policy_type: str) -> tuple[Scope, Unit]:
        scope = self.gate.enter(call, lambda s: [s.arn_of(root_id)], context=_context(policy_type))
        root = store.get_unit(call.tx, scope.org_id, root_id)
        if root is None or not root.is_root:
            raise RootNotFoundException()
        supported_type(policy_type)
        return scope, root

    def enable_policy_type(self, call: Call, root_id: str, policy_type: str) -> Unit:
        tx = call.tx
        scope, root = self._enabling(call, root_id, policy_type)
        if not scope.org.all_features:
            raise PolicyTypeNotAvailableForOrganizationException()
        if policy_type in root.policy_types:
            raise PolicyTypeAlreadyEnabledException()
        types = (*root.policy_types, policy_type)
        store.set_policy_types(tx, root_id, types)
        # AWS attaches FullAWSAccess to the root and to every OU and account.
        store.ensure_full_aws_access(tx)
        targets = [u.unit_id for u in store.units_of(tx, scope.org_id)]
        targets += store.account_ids_of(tx, scope.org_id)
        store.attach_many(
            tx,
            FULL_AWS_ACCESS_ID,
            [t for t in targets if not store.is_attached(tx, FULL_AWS_ACCESS_ID, t)],
        )
        call.audit_resource("AWS::Organizations::Root", root.arn)
        self.gate.changed(call)
        return replace(root, policy_types=tuple(sorted(types)))

    def disable_policy_type(self, call: Call, root_id: str, policy_type: str) -> Unit:
        tx = call.tx
        scope, root = self._enabling(call, root_id, policy_type)
        if policy_type not in root.policy_types:
            raise PolicyTypeNotEnabledException()
        # AWS: disabling SCPs in a root detaches every SCP from every entity in it.
        store.detach_type(tx, scope.org_id, policy_type)
        types = tuple(t for t in root.policy_types if t != policy_type)
        store.set_policy_types(tx, root_id, types)
        call.audit_resource("AWS::Organizations::Root", root.arn)
        self.gate.changed(call)
        return replace(root, policy_types=types)

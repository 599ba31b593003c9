"""Grant use cases: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant,
and the grant-token check every operation with GrantTokens makes.

Who may do what (AWS's "Grants in AWS KMS"):

- CreateGrant: the key policy / IAM allow kms:CreateGrant (with the condition
  keys kms:GrantOperations, kms:GranteePrincipal, kms:RetiringPrincipal,
  kms:GrantIsForAWSResource, kms:GrantConstraintType and the constraint's
  encryption context), or a grant with CreateGrant whose operations and
  constraint cover the new grant's;
- RevokeGrant, ListGrants: the key policy / IAM;
- RetireGrant: the grant's retiring principal, its grantee if the grant lists
  RetireGrant, or whoever the key policy / IAM allow kms:RetireGrant; where the
  grant names an account there, that account's IAM users and role sessions whose
  IAM policies allow kms:RetireGrant on the key;
- ListRetirableGrants: IAM (kms:ListRetirableGrants on the retiring principal,
  which must be of the caller's account).

A grantee (or retiring principal) ``arn:aws:iam::<account>:root`` names the
account, not only its root user: like a key policy naming an account, the grant
delegates to it, and any IAM user or role session of that account -- the key's
own or another -- may use the grant if its own IAM policies allow the operation
on the key (`access.granted`, `grant_domain.account_grantee`).

Grants are used by authorisation in `access.granted`, from the key's cached
view (`cache.KeyView.grants`): every change here drops that view on this node
and, through `tx.mark_changed`, on the others. They go when their key is
deleted (`store.delete_key`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from garrison.api import Call
from garrison.services.kms import grant_store
from garrison.services.kms.access import KeyAccess, Target, audit_key
from garrison.services.kms.errors import (
    AccessDeniedException,
    DryRunOperationException,
    InvalidGrantIdException,
    InvalidGrantTokenException,
    LimitExceededException,
    NotFoundException,
    ValidationException,
)
from garrison.services.kms.grant_domain import (
    ConstraintType,
    Grant,
    GrantConstraint,
    account_grantee,
    check_constraint,
    check_operations,
    grant_id_of_token,
    grantee_names,
    is_grant_id,
    new_grant_id,
    new_grant_token,
)
from garrison.services.kms.identifiers import decode_marker, encode_marker, page_size
from garrison.services.kms.keypolicy import encryption_context
from garrison.services.kms.keys import Page

# AWS's "Grants for a KMS key" quota; the setting kms_max_grants_per_key
DEFAULT_MAX_GRANTS_PER_KEY = 50_000
# A principal KMS accepts as grantee or retiring principal: an IAM or STS ARN, or
# an AWS service principal.
_PRINCIPAL = re.compile(
    r"arn:aws[a-z-]*:(iam|sts)::\d{12}:(root|user/.+|role/.+|assumed-role/.+|federated-user/.+)"
    r"|[a-z0-9.-]+\.amazonaws\.com(\.cn)?"
)


def check_grant_tokens(tokens: Sequence[str] | None) -> None:
    """InvalidGrantTokenException for a token KMS did not issue. A well-formed token
    needs no further step: a grant is effective as soon as CreateGrant commits."""
    for token in tokens or ():
        if grant_id_of_token(token) is None:
            raise InvalidGrantTokenException()


def _check_principal(member: str, value: str) -> None:
    if not _PRINCIPAL.fullmatch(value):
        raise ValidationException(f"{member} {value!r} is not a valid principal.")


def _constraint(constraints: Mapping[str, Any] | None) -> GrantConstraint | None:
    if not constraints:
        return None
    subset = constraints.get("EncryptionContextSubset")
    equals = constraints.get("EncryptionContextEquals")
    if subset is not None and equals is not None:
        raise ValidationException(
            "A grant constraint can have EncryptionContextSubset or EncryptionContextEquals, "
            "not both."
        )
    if equals is not None:
        return GrantConstraint.of(ConstraintType.EQUALS, equals)
    if subset is not None:
        return GrantConstraint.of(ConstraintType.SUBSET, subset)
    return None


def _grant_context(
    call: Call,
    operations: Sequence[str],
    grantee: str,
    retiring: str | None,
    constraint: GrantConstraint | None,
) -> dict[str, Sequence[str]]:
    """CreateGrant's condition keys."""
    out: dict[str, Sequence[str]] = {
        "kms:GrantOperations": tuple(operations),
        "kms:GranteePrincipal": (grantee,),
        **_for_aws_resource(call),
    }
    if retiring is not None:
        out["kms:RetiringPrincipal"] = (retiring,)
    if constraint is not None:
        out["kms:GrantConstraintType"] = (constraint.kind.value,)
        out.update(encryption_context(dict(constraint.context)))
    return out


def _for_aws_resource(call: Call) -> dict[str, Sequence[str]]:
    """kms:GrantIsForAWSResource: true when an AWS (Garrison) service calls for its caller."""
    return {
        "kms:GrantIsForAWSResource": ("true" if call.ctx.extra.get("via_service") else "false",)
    }


class GrantUseCases:
    def __init__(
        self, access: KeyAccess, *, max_grants_per_key: int = DEFAULT_MAX_GRANTS_PER_KEY
    ) -> None:
        self.access = access
        self.max_grants_per_key = max_grants_per_key

    def _changed(self, call: Call, key_id: str) -> None:
        """The key's cached view holds its grants: drop it here, and on other nodes."""
        self.access.cache.invalidate_key(call.tx, key_id)
        call.tx.mark_changed()

    # -- CreateGrant ----------------------------------------------------------------
    def create_grant(
        self,
        call: Call,
        key_id: str,
        *,
        grantee_principal: str,
        operations: Sequence[str],
        retiring_principal: str | None = None,
        constraints: Mapping[str, Any] | None = None,
        grant_tokens: Sequence[str] | None = None,
        name: str | None = None,
        dry_run: bool = False,
    ) -> tuple[Grant, str]:
        """The grant (new, or the same-named one with the same parameters) and a new token."""
        check_grant_tokens(grant_tokens)
        constraint = _constraint(constraints)
        ops = tuple(sorted(set(operations)))
        if not ops:
            raise ValidationException(
                "1 validation error detected: Value '[]' at 'operations' failed to satisfy "
                "constraint: Member must have length greater than or equal to 1"
            )
        target = self.access.find(call, key_id, aliases=False, fresh=True)
        context = _grant_context(call, ops, grantee_principal, retiring_principal, constraint)
        self.access.authorize(
            call,
            target,
            "kms:CreateGrant",
            context,
            grant_allows=lambda parent: parent.permits_child(ops, constraint),
        )
        key = target.key
        key.require("CreateGrant")
        _check_principal("GranteePrincipal", grantee_principal)
        if retiring_principal is not None:
            _check_principal("RetiringPrincipal", retiring_principal)
        check_operations(key.key_usage, key.key_spec, ops)
        check_constraint(key.key_spec, ops, constraint)
        if dry_run:
            raise DryRunOperationException()
        ctx, tx = call.ctx, call.tx
        grant = Grant(
            grant_id=new_grant_id(),
            key_id=key.key_id,
            key_arn=key.arn,
            issuing_account=ctx.account_id,
            grantee_principal=grantee_principal,
            retiring_principal=retiring_principal,
            operations=ops,
            constraint=constraint,
            name=name,
            created_at=ctx.now,
        )
        if name is not None:
            for existing in grant_store.grants_named(tx, key.key_id, name):
                if existing.same_parameters(grant):
                    return existing, new_grant_token(existing.grant_id)
        if grant_store.count_grants(tx, key.key_id) >= self.max_grants_per_key:
            raise LimitExceededException(
                f"The request was rejected because a quota was exceeded: {key.arn} already "
                f"has {self.max_grants_per_key} grants, the Grants for a KMS key quota."
            )
        grant_store.insert_grant(tx, grant)
        self._changed(call, key.key_id)
        return grant, new_grant_token(grant.grant_id)

    # -- ListGrants, ListRetirableGrants -----------------------------------------------
    def list_grants(
        self,
        call: Call,
        key_id: str,
        *,
        grant_id: str | None = None,
        grantee_principal: str | None = None,
        limit: int | None = None,
        marker: str | None = None,
    ) -> Page[Grant]:
        target = self.access.find(call, key_id, aliases=False)
        self.access.authorize(call, target, "kms:ListGrants", _for_aws_resource(call))
        if grant_id is not None and not is_grant_id(grant_id):
            raise InvalidGrantIdException(f"Grant ID {grant_id} is not valid.")
        after = decode_marker("grants", marker)
        size = page_size(limit, default=50, maximum=100)
        found = grant_store.list_grants(
            call.tx,
            target.key.key_id,
            after=after,
            limit=size + 1,
            grant_id=grant_id,
            grantee=grantee_principal,
        )
        return _page("grants", found, size)

    def list_retirable_grants(
        self,
        call: Call,
        retiring_principal: str,
        *,
        limit: int | None = None,
        marker: str | None = None,
    ) -> Page[Grant]:
        # AWS authorises the retiring principal as the resource: one of the caller's
        # account (another account's ARN is cross-account, with no policy to allow it)
        self.access.authorize_identity(call, "kms:ListRetirableGrants", retiring_principal)
        after = decode_marker("retirable", marker)
        size = page_size(limit, default=50, maximum=100)
        found = grant_store.list_retirable(
            call.tx, call.ctx.region, retiring_principal, after=after, limit=size + 1
        )
        return _page("retirable", found, size)

    # -- RetireGrant, RevokeGrant ---------------------------------------------------------
    def retire_grant(
        self,
        call: Call,
        *,
        grant_token: str | None = None,
        key_id: str | None = None,
        grant_id: str | None = None,
        dry_run: bool = False,
    ) -> None:
        if grant_token is None and (key_id is None or grant_id is None):
            raise ValidationException(
                "Either the grant token, or both the key ID and the grant ID are required."
            )
        target: Target | None = None
        if key_id is not None:
            target = self.access.find(call, key_id, aliases=False, fresh=True)
        if grant_token is not None:
            from_token = grant_id_of_token(grant_token)
            if from_token is None:
                raise InvalidGrantTokenException()
            if grant_id is not None and grant_id != from_token:
                raise InvalidGrantIdException("The grant ID does not match the grant token.")
            grant_id = from_token
        assert grant_id is not None
        if not is_grant_id(grant_id):
            raise InvalidGrantIdException(f"Grant ID {grant_id} is not valid.")
        grant = grant_store.get_grant(call.tx, grant_id)
        if grant is None or (target is not None and grant.key_id != target.key.key_id):
            raise NotFoundException(f"Grant ID {grant_id} not found.")
        audit_key(call, grant.key_arn)
        if not self._may_retire(call, grant):
            found = target or self.access.find_id(call, grant.key_id, fresh=True)
            if found is None:
                raise AccessDeniedException(
                    f"User: {call.ctx.principal.arn} is not authorized to perform: "
                    f"kms:RetireGrant on resource: {grant.key_arn}"
                )
            self.access.authorize(call, found, "kms:RetireGrant", grant_allows=_never)
        if dry_run:
            raise DryRunOperationException()
        grant_store.delete_grant(call.tx, grant_id)
        self._changed(call, grant.key_id)

    def _may_retire(self, call: Call, grant: Grant) -> bool:
        """Is the caller a principal the grant names for retiring it: its retiring
        principal, or its grantee if it lists RetireGrant? A grant naming the caller's
        account there lets the account delegate retiring to its IAM users and role
        sessions through their IAM policies (kms:RetireGrant on the key), as AWS does."""
        principal = call.ctx.principal
        names = grantee_names(principal)
        by_grantee = "RetireGrant" in grant.operations
        if grant.retiring_principal in names or (by_grantee and grant.grantee_principal in names):
            return True
        account = account_grantee(principal)
        if account is None:
            return False
        if grant.retiring_principal != account and not (
            by_grantee and grant.grantee_principal == account
        ):
            return False
        return self.access.identity_allows(call, "kms:RetireGrant", grant.key_arn)

    def revoke_grant(
        self, call: Call, key_id: str, grant_id: str, *, dry_run: bool = False
    ) -> None:
        target = self.access.find(call, key_id, aliases=False, fresh=True)
        self.access.authorize(
            call, target, "kms:RevokeGrant", _for_aws_resource(call), grant_allows=_never
        )
        if not is_grant_id(grant_id):
            raise InvalidGrantIdException(f"Grant ID {grant_id} is not valid.")
        grant = grant_store.get_grant(call.tx, grant_id)
        if grant is None or grant.key_id != target.key.key_id:
            raise NotFoundException(f"Grant ID {grant_id} not found.")
        if dry_run:
            raise DryRunOperationException()
        grant_store.delete_grant(call.tx, grant_id)
        self._changed(call, grant.key_id)


def _never(grant: Grant) -> bool:
    """Grants cannot allow RevokeGrant, and RetireGrant only as `_may_retire` says."""
    return False


def _page(kind: str, found: list[Grant], size: int) -> Page[Grant]:
    more = len(found) > size
    items = found[:size]
    return Page(items, encode_marker(kind, items[-1].grant_id) if more else None)

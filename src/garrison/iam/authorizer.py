"""Authorisation for every service: AWS's evaluation logic over all the policies of a call.

    Authorizer.authorize(call, action, resource, context, resource_policy=...)
        -> None, or raises AccessDeniedException with AWS's message

Every provider asks this one object, with the IAM action its operation declares
(see the per-service action tables), so every service is authorised the same way.

INTERFACE STUB: the full logic (identity policies of users, groups and roles,
permissions boundaries, session policies, SCPs, cross-account rules, caching)
replaces the body; the signature is what providers code against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from garrison.api import Call
from garrison.errors import AccessDeniedException
from garrison.iam.policy import AuthzRequest, Decision, Policy

Context = Mapping[str, Sequence[str]]


def denied_message(principal_arn: str, action: str, resource: str, why: str) -> str:
    """AWS's AccessDenied text: ``User: <arn> is not authorized to perform: <action> on
    resource: <resource> <why>``."""
    return (
        f"User: {principal_arn} is not authorized to perform: {action} on resource: "
        f"{resource} {why}"
    )


class Authorizer:
    """Decides one action on one resource for the caller of a call."""

    def authorize(
        self,
        call: Call,
        action: str,
        resource: str,
        context: Context | None = None,
        *,
        resource_policy: Policy | None = None,
        resource_account: str | None = None,
        resource_policy_required: bool = False,
    ) -> None:
        """Raise AccessDeniedException unless `call`'s caller may do `action` on `resource`.

        - `context`: the request's condition keys beyond the global ones (which
          the authorizer adds itself from `call.ctx`).
        - `resource_policy`: the resource's own policy (a KMS key policy, a role's
          trust policy, later secret and parameter policies), if it has one.
        - `resource_account`: the account owning the resource (default: parsed
          from the ARN, else the caller's); a different account than the caller's
          makes the call cross-account, where both sides must allow.
        - `resource_policy_required`: KMS keys and role trust policies: the
          resource policy must allow, directly or by delegating to the account
          (then identity policies must allow too).
        """
        request = AuthzRequest.for_principal(call.ctx.principal, action, resource, context or {})
        arn = call.ctx.principal.arn
        if resource_policy is not None:
            verdict = resource_policy.evaluate(request)
            if verdict.decision is Decision.EXPLICIT_DENY:
                raise AccessDeniedException(
                    denied_message(
                        arn, action, resource, "with an explicit deny in a resource-based policy"
                    )
                )
            if verdict.decision is Decision.ALLOW and not verdict.via_account:
                return
            if resource_policy_required and verdict.decision is Decision.NO_MATCH:
                raise AccessDeniedException(
                    denied_message(
                        arn,
                        action,
                        resource,
                        f"because no resource-based policy allows the {action} action",
                    )
                )
        parts = resource.split(":", 5)
        own = resource == "*" or (len(parts) == 6 and parts[4] in ("", call.ctx.account_id))
        if call.ctx.principal.is_root and own:
            return
        raise AccessDeniedException(
            denied_message(
                arn,
                action,
                resource,
                f"because no identity-based policy allows the {action} action",
            )
        )

    def invalidate(self) -> None:
        """Drop every cached compiled policy set (another node changed IAM state)."""

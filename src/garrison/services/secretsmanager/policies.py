"""Secret resource policies: the checks of PutResourcePolicy and ValidateResourcePolicy.

`policy_errors`: what the policy engine refuses in a document (a resource policy:
`Principal` required), at most 20,480 characters. `is_public`: AWS's notion of a
policy granting broad access, which BlockPublicPolicy refuses.
"""

from __future__ import annotations

from typing import Any

from garrison.iam.policy import PolicyError, compile_policy

MAX_POLICY_CHARS = 20480


def is_public(document: Any) -> bool:
    """AWS's notion of a policy granting broad access: an Allow whose principal is a
    wildcard (``*``, ``{"AWS": "*"}``, any account) not pinned by a condition on the
    caller's or source's account, organisation, ARN or network."""
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    for st in statements:
        if not isinstance(st, dict) or st.get("Effect") != "Allow":
            continue
        if "NotPrincipal" in st:
            return True
        if not _wildcard_principal(st.get("Principal")):
            continue
        if not _pinned(st.get("Condition")):
            return True
    return False


_PINNING_KEYS = frozenset(
    k.lower()
    for k in (
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:PrincipalOrgID",
        "aws:PrincipalOrgPaths",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:SourceOwner",
        "aws:SourceVpc",
        "aws:SourceVpce",
        "aws:SourceIp",
        "aws:userid",
        "aws:username",
    )
)


def _wildcard_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for value in principal.values():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and "*" in v for v in values):
            return True
    return False


def _pinned(condition: Any) -> bool:
    if not isinstance(condition, dict):
        return False
    for operator, pairs in condition.items():
        if not isinstance(pairs, dict) or "IfExists" in str(operator):
            continue
        for key, value in pairs.items():
            values = value if isinstance(value, list) else [value]
            if (
                key.lower() in _PINNING_KEYS
                and values
                and all(isinstance(v, str) and v and "*" not in v for v in values)
            ):
                return True
    return False


def policy_errors(document: str) -> list[str]:
    if not 1 <= len(document) <= MAX_POLICY_CHARS:
        return [f"The policy document must be 1 to {MAX_POLICY_CHARS} characters long."]
    try:
        compile_policy(document)
    except PolicyError as err:
        return [str(err) or "This resource policy contains a syntax error."]
    except (ValueError, TypeError):
        return ["This resource policy contains a syntax error."]
    return []

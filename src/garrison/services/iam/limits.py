"""IAM's quotas and its checks of policy documents and tags (AWS "IAM and AWS STS quotas").

Policy sizes are counted as AWS counts them: characters, white space excluded.

    managed policy version        6,144     LimitExceeded "Cannot exceed quota for PolicySize"
    inline, per user (aggregate)  2,048     LimitExceeded "Maximum policy size of ... exceeded"
    inline, per group             5,120
    inline, per role             10,240
    role trust policy             2,048     LimitExceeded "Cannot exceed quota for ACLSizePerRole"
    managed policies attached    10 per user, group and role (AWS's default quotas)
    access keys                   2 per user (and for the account root)
    versions of a managed policy  5
    tags                         50 per user, role and policy; "aws:" keys are reserved;
                                 keys are unique case-insensitively
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from garrison.iam.policy import Policy, PolicyError, compile_policy
from garrison.services.iam.domain import Kind, Tag
from garrison.services.iam.errors import InvalidInput, LimitExceeded, MalformedPolicyDocument

MANAGED_POLICY_SIZE = 6144
TRUST_POLICY_SIZE = 2048
INLINE_POLICY_SIZE = {Kind.USER: 2048, Kind.GROUP: 5120, Kind.ROLE: 10240}
ATTACHED_POLICIES = {Kind.USER: 10, Kind.GROUP: 10, Kind.ROLE: 10}
ACCESS_KEYS_PER_USER = 2
POLICY_VERSIONS = 5
TAGS_PER_RESOURCE = 50
GROUPS_PER_USER = 10
DEFAULT_MAX_SESSION_DURATION = 3600

_WHITESPACE = re.compile(r"\s+")


def policy_size(document: str) -> int:
    """The size AWS counts against the quotas: characters without white space."""
    return len(_WHITESPACE.sub("", document))


def identity_policy(document: str) -> Policy:
    """Compile an identity policy (managed or inline); MalformedPolicyDocument if refused."""
    return _compile(document, resource_policy=False)


def trust_policy(document: str) -> Policy:
    """Compile a role trust policy (a resource policy: Principal required)."""
    policy = _compile(document, resource_policy=True)
    if policy_size(document) > TRUST_POLICY_SIZE:
        raise LimitExceeded(f"Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_SIZE}")
    return policy


def _compile(document: str, *, resource_policy: bool) -> Policy:
    try:
        return compile_policy(document, resource_policy=resource_policy)
    except PolicyError as err:
        raise MalformedPolicyDocument(_aws_message(err.reason)) from None


def _aws_message(reason: str) -> str:
    """AWS's texts for the causes it names the same way; the engine's reason otherwise."""
    if reason == "Policy document is not valid JSON":
        return "Syntax errors in policy."
    if "has no vendor prefix" in reason or "invalid vendor prefix" in reason:
        return (
            f"Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. ({reason})"
        )
    if "identity policy must not specify a principal" in reason:
        return "Policy document should not specify a principal."
    return reason


def check_managed_size(document: str) -> None:
    if policy_size(document) > MANAGED_POLICY_SIZE:
        raise LimitExceeded(f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_SIZE}")


def check_inline_size(kind: Kind, name: str, documents: Iterable[str]) -> None:
    limit = INLINE_POLICY_SIZE[kind]
    if sum(policy_size(d) for d in documents) > limit:
        raise LimitExceeded(
            f"Maximum policy size of {limit} bytes exceeded for {kind.value} {name}"
        )


def check_path(path: str) -> None:
    """The model's pattern allows ``//``; IAM does not."""
    if "//" in path:
        raise InvalidInput(f"The specified value for path is invalid: {path}")


# -- tags ---------------------------------------------------------------------------


def tags_from_request(raw: Sequence[Mapping[str, Any]] | None) -> list[Tag]:
    """The Tags member of a request, checked as IAM checks it."""
    if not raw:
        return []
    tags = [Tag(str(t["Key"]), str(t.get("Value", ""))) for t in raw]
    seen: set[str] = set()
    for tag in tags:
        if tag.key.lower().startswith("aws:"):
            raise InvalidInput(
                "User-defined tag keys can't start with 'aws:'. "
                "This prefix is reserved for AWS use."
            )
        if tag.key.lower() in seen:
            raise InvalidInput(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive."
            )
        seen.add(tag.key.lower())
    if len(tags) > TAGS_PER_RESOURCE:
        raise LimitExceeded(_TOO_MANY_TAGS)
    return tags


_TOO_MANY_TAGS = f"The number of tags has reached the maximum limit of {TAGS_PER_RESOURCE}."


def merge_tags(existing: Sequence[Tag], new: Sequence[Tag]) -> list[Tag]:
    """`existing` with `new` added; a key already there (in any case) takes the new value."""
    replaced = {t.key.lower() for t in new}
    merged = [t for t in existing if t.key.lower() not in replaced] + list(new)
    if len(merged) > TAGS_PER_RESOURCE:
        raise LimitExceeded(_TOO_MANY_TAGS)
    return merged


def tag_context(tags: Sequence[Tag]) -> dict[str, list[str]]:
    """aws:RequestTag/<key> and aws:TagKeys for a request that sets `tags`."""
    context: dict[str, list[str]] = {f"aws:RequestTag/{t.key}": [t.value] for t in tags}
    if tags:
        context["aws:TagKeys"] = [t.key for t in tags]
    return context

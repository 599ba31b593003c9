"""Key-policy decisions: the default policy, explicit denies, delegation to IAM, lockout."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from garrison.api import Call
from garrison.context import Principal, RequestContext
from garrison.iam.authorizer import Authorizer
from garrison.iam.identity import NO_GUARDS, AccountGuards, PrincipalPolicies, SourcePolicy
from garrison.iam.policy import Policy, compile_policy
from garrison.services.kms.errors import AccessDeniedException, MalformedPolicyDocumentException
from garrison.services.kms.keypolicy import (
    MAX_POLICY_BYTES,
    KeyFacts,
    aws_managed_key_policy,
    caller_context,
    check_lockout,
    compile_key_policy,
    default_key_policy,
    encryption_context,
    key_context,
)

ACCOUNT = "111122223333"
ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
ROOT = Principal(ROOT_ARN, ACCOUNT, "Root", ACCOUNT)
ALICE = Principal(
    f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT, "IAMUser", "AIDAALICE", user_name="alice"
)


class Identity:
    """An in-memory policy store: every non-root principal holds `documents`."""

    def __init__(self, *documents: str) -> None:
        self.held = PrincipalPolicies(
            identity=tuple(
                SourcePolicy(f"p{n}", "user", compile_policy(d, resource_policy=False))
                for n, d in enumerate(documents)
            )
        )

    def principal(self, tx: Any, principal: Principal) -> PrincipalPolicies:
        return self.held

    def guards(self, tx: Any, account_id: str) -> AccountGuards:
        return NO_GUARDS


class NoTx:
    def after_commit(self, fn: Any) -> None:
        pass


IDENTITY = Identity()


def authorize_key_action(
    key_policy: Policy,
    identity: Identity,
    c: RequestContext,
    action: str,
    key_arn: str,
    context: dict[str, Any],
) -> None:
    Authorizer(identity).authorize(
        Call(c, NoTx()),  # type: ignore[arg-type]
        action,
        key_arn,
        context,
        resource_policy=key_policy,
        resource_policy_required=True,
    )


def authorize_identity_action(
    identity: Identity, c: RequestContext, action: str, resource: str, context: dict[str, Any]
) -> None:
    Authorizer(identity).authorize(Call(c, NoTx()), action, resource, context)  # type: ignore[arg-type]


def ctx(principal: Principal = ROOT, **extra: str) -> RequestContext:
    return RequestContext(
        request_id="r", service="kms", operation="Encrypt", region="us-east-1",
        principal=principal, now=datetime(2024, 1, 1, tzinfo=UTC), extra=dict(extra),
    )  # fmt: skip


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal: str, action: Any = "kms:*", **kw: Any) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": action,
        "Resource": "*",
        **kw,
    }


def deny(principal: str, action: Any, **kw: Any) -> dict[str, Any]:
    return {
        "Effect": "Deny",
        "Principal": {"AWS": principal},
        "Action": action,
        "Resource": "*",
        **kw,
    }


def decide(
    doc: str, action: str, who: Principal = ROOT, context: dict[str, Any] | None = None
) -> None:
    c = ctx(who)
    full = caller_context(c)
    full.update(context or {})
    authorize_key_action(compile_key_policy(doc), IDENTITY, c, action, KEY_ARN, full)


def test_default_policy_is_aws_text_and_allows_root_everything() -> None:
    doc = default_key_policy(ACCOUNT)
    parsed = json.loads(doc)
    assert parsed["Id"] == "key-default-1"
    assert parsed["Statement"] == [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": ROOT_ARN},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    for action in ("kms:Encrypt", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"):
        decide(doc, action)


def test_explicit_deny_binds_the_root_and_only_its_action() -> None:
    doc = policy(allow(ROOT_ARN), deny(ROOT_ARN, "kms:Encrypt"))
    with pytest.raises(AccessDeniedException) as exc:
        decide(doc, "kms:Encrypt")
    assert exc.value.message == (
        f"User: {ROOT_ARN} is not authorized to perform: kms:Encrypt on resource: {KEY_ARN} "
        "with an explicit deny in a resource-based policy"
    )
    decide(doc, "kms:Decrypt")


def test_no_matching_statement_denies() -> None:
    doc = policy(allow("arn:aws:iam::999999999999:root"))
    with pytest.raises(AccessDeniedException) as exc:
        decide(doc, "kms:Decrypt")
    assert exc.value.message.endswith(
        "because no resource-based policy allows the kms:Decrypt action"
    )


def test_delegation_to_iam_needs_an_identity_policy_for_users() -> None:
    doc = default_key_policy(ACCOUNT)
    with pytest.raises(AccessDeniedException) as exc:
        decide(doc, "kms:Encrypt", who=ALICE)
    assert ALICE.arn in exc.value.message
    assert exc.value.message.endswith(
        "because no identity-based policy allows the kms:Encrypt action"
    )


def test_a_key_policy_naming_the_user_allows_without_iam() -> None:
    decide(policy(allow(ALICE.arn, "kms:Encrypt")), "kms:Encrypt", who=ALICE)


def test_identity_explicit_deny_wins_over_a_direct_allow() -> None:
    deny_all = Identity(
        json.dumps({"Version": "2012-10-17",
                    "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})
    )  # fmt: skip
    c = ctx(ALICE)
    with pytest.raises(AccessDeniedException) as exc:
        authorize_key_action(
            compile_key_policy(policy(allow(ALICE.arn))), deny_all, c, "kms:Encrypt", KEY_ARN, {}
        )
    assert "explicit deny in an identity-based policy" in exc.value.message


def test_root_identity_is_implicit_on_its_own_account_only() -> None:
    authorize_identity_action(IDENTITY, ctx(), "kms:ListKeys", "*", {})
    with pytest.raises(
        AccessDeniedException, match="no identity-based policy allows the kms:ListKeys"
    ):
        authorize_identity_action(IDENTITY, ctx(ALICE), "kms:ListKeys", "*", {})
    other = "arn:aws:kms:us-east-1:999999999999:key/x"
    with pytest.raises(AccessDeniedException, match="no resource-based policy allows"):
        authorize_identity_action(IDENTITY, ctx(), "kms:Encrypt", other, {})


def test_encryption_context_conditions() -> None:
    doc = policy(
        allow(ROOT_ARN),
        deny(
            ROOT_ARN,
            "kms:Encrypt",
            Condition={"StringNotEquals": {"kms:EncryptionContext:tenant": "alpha"}},
        ),
    )
    decide(doc, "kms:Encrypt", context=encryption_context({"tenant": "alpha"}))
    with pytest.raises(AccessDeniedException):
        decide(doc, "kms:Encrypt", context=encryption_context({"tenant": "beta"}))
    keys = encryption_context({"b": "2", "a": "1"})
    assert set(keys["kms:EncryptionContextKeys"]) == {"a", "b"}


def test_key_condition_keys() -> None:
    facts = KeyFacts(
        "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "AWS_KMS", ("alias/app",), {"team": "sec"}
    )
    context = key_context(facts, "alias/app")
    doc = policy(
        allow(
            ROOT_ARN,
            "kms:Encrypt",
            Condition={
                "StringEquals": {"aws:ResourceTag/team": "sec", "kms:RequestAlias": "alias/app"},
                "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/app"},
            },
        ),
        allow(ROOT_ARN, "kms:PutKeyPolicy"),
    )
    decide(doc, "kms:Encrypt", context=context)
    with pytest.raises(AccessDeniedException):
        decide(doc, "kms:Encrypt", context=key_context(facts, None))


def test_caller_context() -> None:
    out = caller_context(ctx(ALICE, via_service="secretsmanager.us-east-1.amazonaws.com"))
    assert out["aws:PrincipalType"] == ("User",)
    assert out["kms:CallerAccount"] == (ACCOUNT,)
    assert out["aws:username"] == ("alice",)
    assert out["kms:ViaService"] == ("secretsmanager.us-east-1.amazonaws.com",)
    assert out["aws:SecureTransport"] == ("false",)
    assert caller_context(ctx())["aws:PrincipalType"] == ("Account",)


def test_aws_managed_policy_allows_use_only_through_the_service() -> None:
    doc = aws_managed_key_policy(ACCOUNT, "us-east-1", "secretsmanager")
    json.loads(doc)
    direct = ctx()
    compiled = compile_key_policy(doc)
    with pytest.raises(AccessDeniedException):
        authorize_key_action(
            compiled, IDENTITY, direct, "kms:Encrypt", KEY_ARN, caller_context(direct)
        )
    via = ctx(via_service="secretsmanager.us-east-1.amazonaws.com")
    authorize_key_action(compiled, IDENTITY, via, "kms:Encrypt", KEY_ARN, caller_context(via))
    authorize_key_action(
        compiled, IDENTITY, direct, "kms:DescribeKey", KEY_ARN, caller_context(direct)
    )
    for action in ("kms:ScheduleKeyDeletion", "kms:PutKeyPolicy", "kms:DisableKey"):
        with pytest.raises(AccessDeniedException):
            authorize_key_action(
                compiled, IDENTITY, direct, action, KEY_ARN, caller_context(direct)
            )


def test_lockout_check() -> None:
    c = ctx()
    check_lockout(compile_key_policy(default_key_policy(ACCOUNT)), c, KEY_ARN, {})
    for doc in (
        policy(allow(ROOT_ARN, "kms:Encrypt")),
        policy(allow(ROOT_ARN), deny(ROOT_ARN, "kms:PutKeyPolicy")),
    ):
        with pytest.raises(MalformedPolicyDocumentException) as exc:
            check_lockout(compile_key_policy(doc), c, KEY_ARN, {})
        assert exc.value.message == (
            "The new key policy will not allow you to update the key policy in the future."
        )


@pytest.mark.parametrize(
    "doc",
    [
        "not json",
        "[]",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Permit", "Principal": "*", "Action": "kms:*"}],
            }
        ),
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}],
            }
        ),
    ],
)
def test_malformed_policies(doc: str) -> None:
    with pytest.raises(MalformedPolicyDocumentException) as exc:
        compile_key_policy(doc)
    assert exc.value.message


def test_policy_size_limit() -> None:
    padding = " " * (MAX_POLICY_BYTES + 1 - len(default_key_policy(ACCOUNT)))
    with pytest.raises(MalformedPolicyDocumentException):
        compile_key_policy(default_key_policy(ACCOUNT) + padding)

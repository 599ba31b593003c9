"""The hand-written evaluation table (tests/iam/authz_cases.py), decided by the
Authorizer over an in-memory policy store: each case's principal holds exactly
the case's policies, and the decision and AWS's message must be the case's."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from garrison.api import Call
from garrison.context import Principal, PrincipalType, RequestContext
from garrison.errors import AccessDeniedException
from garrison.iam.authorizer import Authorizer
from garrison.iam.identity import AccountGuards, PrincipalPolicies, SourcePolicy
from garrison.iam.policy import compile_policy
from tests.iam.authz_cases import CASES, REGION, WHO, Case, Doc, expected_why


def _doc(statements: Doc) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _identity(name: str, kind: str, statements: Doc) -> SourcePolicy:
    return SourcePolicy(name, kind, compile_policy(_doc(statements), resource_policy=False))


class CaseStore:
    """A policy store holding exactly one case's policies for its principal."""

    def __init__(self, case: Case) -> None:
        self.case = case

    def principal(self, tx: Any, principal: Principal) -> PrincipalPolicies:
        c = self.case
        return PrincipalPolicies(
            identity=tuple(_identity(f"p{n}", "user", d) for n, d in enumerate(c.identity)),
            boundary=_identity("boundary", "boundary", c.boundary)
            if c.boundary is not None
            else None,
            session=(
                tuple(_identity(f"s{n}", "session", d) for n, d in enumerate(c.session))
                if c.session is not None
                else None
            ),
            tags=dict(c.tags),
        )

    def guards(self, tx: Any, account_id: str) -> AccountGuards:
        c = self.case
        levels = tuple(
            tuple(_identity(f"scp{n}", "scp", d) for n, d in enumerate(level)) for level in c.scps
        )
        return AccountGuards(c.org_id, levels)


class NoTx:
    def after_commit(self, fn: Any) -> None:
        fn()


def call_for(case: Case) -> Call:
    arn, account, kind, user_id, user_name = WHO[case.who]
    ptype: PrincipalType = kind  # type: ignore[assignment]
    principal = Principal(arn, account, ptype, user_id, f"AKIA{case.who.upper()}", user_name)
    r = case.request
    ctx = RequestContext(
        request_id="req",
        service="kms",
        operation="Encrypt",
        region=r.get("region", REGION),
        principal=principal,
        now=datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
        source_ip=r.get("source_ip", "127.0.0.1"),
        secure_transport=r.get("secure_transport", False),
        extra={"via_service": r["via_service"]} if "via_service" in r else {},
    )
    return Call(ctx, NoTx())  # type: ignore[arg-type]


def context_of(case: Case) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in case.context.items():
        out[key] = (value,) if isinstance(value, str) else tuple(value)
    if any(k.startswith("kms:EncryptionContext:") for k in out):
        out.setdefault(
            "kms:EncryptionContextKeys",
            tuple(k.split(":", 2)[2] for k in out if k.startswith("kms:EncryptionContext:")),
        )
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_table(case: Case) -> None:
    authorizer = Authorizer(CaseStore(case))
    call = call_for(case)
    key_policy = compile_policy(_doc(case.key_policy)) if case.key_policy is not None else None
    question = (call, case.action, case.resource, context_of(case))
    policy_args: dict[str, Any] = {
        "resource_policy": key_policy,
        "resource_policy_required": case.required and key_policy is not None,
    }
    verdict = authorizer.evaluate(*question, **policy_args)
    assert (verdict.decision, verdict.why) == (
        "allowed" if case.expect == "allowed" else verdict.decision,
        expected_why(case),
    )
    if case.expect.startswith("deny:"):
        assert verdict.decision == "explicitDeny"
    elif case.expect.startswith("no:"):
        assert verdict.decision == "implicitDeny"
    if case.expect == "allowed":
        return
    with pytest.raises(AccessDeniedException) as exc:
        authorizer.authorize(*question, **policy_args)
    arn = WHO[case.who][0]
    assert exc.value.message == (
        f"User: {arn} is not authorized to perform: {case.action} on resource: "
        f"{case.resource} {expected_why(case)}"
    )


def test_the_table_is_large_and_covers_every_outcome() -> None:
    assert len(CASES) >= 150
    assert len({c.id for c in CASES}) == len(CASES)
    outcomes = {c.expect for c in CASES}
    for kind in ("scp", "resource", "identity", "boundary", "session"):
        assert f"deny:{kind}" in outcomes
        assert f"no:{kind}" in outcomes


def simulator_inputs(case: Case) -> dict[str, Any] | None:
    """SimulateCustomPolicy's request for `case`, or None where its inputs cannot
    express the case (session policies, SCPs, the root user's implicit rights, a
    required key policy that does not match: the simulator's resource policy is
    optional)."""
    arn, account, kind, user_id, user_name = WHO[case.who]
    cross = account != "111122223333"
    if case.identity == () and case.key_policy is None:
        return None  # the simulator needs at least one policy
    if case.session is not None or case.scps or kind != "IAMUser":
        return None
    if case.expect == "no:resource" and not cross:
        return None
    r = case.request
    entries: dict[str, tuple[str, list[str]]] = {
        "aws:username": ("string", [user_name]),
        "aws:userid": ("string", [user_id]),
        "aws:PrincipalArn": ("string", [arn]),
        "aws:PrincipalType": ("string", ["User"]),
        "aws:PrincipalAccount": ("string", [account]),
        "aws:SourceIp": ("ip", [r.get("source_ip", "127.0.0.1")]),
        "aws:SecureTransport": ("boolean", ["true" if r.get("secure_transport") else "false"]),
        "aws:RequestedRegion": ("string", [r.get("region", REGION)]),
        "aws:CurrentTime": ("date", ["2026-11-29T12:00:00Z"]),
        "aws:ViaAWSService": ("boolean", ["true" if "via_service" in r else "false"]),
    }
    if "via_service" in r:
        entries["aws:CalledVia"] = (
            "stringList",
            [r["via_service"].split(".")[0] + ".amazonaws.com"],
        )
    if case.org_id:
        entries["aws:PrincipalOrgID"] = ("string", [case.org_id])
    for name, value in case.tags.items():
        entries[f"aws:PrincipalTag/{name}"] = ("string", [value])
    for name, values in context_of(case).items():
        entries[name] = ("stringList", list(values))
    request: dict[str, Any] = {
        "PolicyInputList": [_doc(d) for d in case.identity] or [_doc([])],
        "ActionNames": [case.action],
        "ResourceArns": [case.resource],
        "CallerArn": arn,
        "ContextEntries": [
            {"ContextKeyName": k, "ContextKeyType": t, "ContextKeyValues": v}
            for k, (t, v) in entries.items()
        ],
    }
    if case.boundary is not None:
        request["PermissionsBoundaryPolicyInputList"] = [_doc(case.boundary)]
    if case.key_policy is not None:
        request["ResourcePolicy"] = _doc(case.key_policy)
        request["ResourceOwner"] = "111122223333"
    return request


SIMULATED = [c for c in CASES if simulator_inputs(c) is not None]


@pytest.mark.parametrize("case", SIMULATED, ids=[c.id for c in SIMULATED])
def test_table_in_the_simulator(case: Case) -> None:
    from garrison.services.iam.simulation import simulate_custom_policy

    request = simulator_inputs(case)
    assert request is not None
    root = Principal("arn:aws:iam::111122223333:root", "111122223333", "Root", "111122223333")
    ctx = RequestContext("r", "iam", "SimulateCustomPolicy", REGION, root, datetime.now(UTC))
    out = simulate_custom_policy(Call(ctx, NoTx()), request)  # type: ignore[arg-type]
    decision = {"allowed": "allowed", "deny": "explicitDeny", "no": "implicitDeny"}
    assert out["EvaluationResults"][0]["EvalDecision"] == decision[case.expect.split(":")[0]]

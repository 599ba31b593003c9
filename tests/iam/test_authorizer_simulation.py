"""The policy simulator (services/iam/simulation.py) over the Authorizer's logic."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from garrison.api import Call
from garrison.context import Principal, RequestContext
from garrison.errors import AccessDeniedException
from garrison.iam.authorizer import Authorizer
from garrison.services.iam.errors import InvalidInput, MalformedPolicyDocument, NoSuchEntity
from garrison.services.iam.simulation import (
    simulate_custom_policy,
    simulate_principal_policy,
    statement_spans,
)
from garrison.storage.database import Database
from tests.iam.test_authorizer import ALICE, A, seed
from tests.inprocess import fresh_database

ROOT = Principal(f"arn:aws:iam::{A}:root", A, "Root", A, "AKIAROOT")
KEY = f"arn:aws:kms:us-east-1:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"

POLICY = """{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Use", "Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*",
     "Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "alpha"}}},
    {
      "Effect": "Deny",
      "Action": "kms:ScheduleKeyDeletion",
      "Resource": "*"
    }
  ]
}"""


class NoTx:
    def after_commit(self, fn: Any) -> None:
        fn()


def call_as(principal: Principal, tx: Any = None) -> Call:
    ctx = RequestContext(
        request_id="r", service="iam", operation="SimulateCustomPolicy", region="us-east-1",
        principal=principal, now=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    return Call(ctx, tx or NoTx())


def custom(**request: Any) -> dict[str, Any]:
    request.setdefault("PolicyInputList", [POLICY])
    return simulate_custom_policy(call_as(ROOT), request)


def test_statement_spans_locate_each_statement() -> None:
    assert statement_spans(POLICY) == [((4, 5), (5, 78)), ((6, 5), (10, 5))]
    single = '{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}'
    assert statement_spans(single) == [((1, 15), (1, 65))]
    tricky = '{"Id": "Statement", "Statement": [{"Sid": "a}{"}, {}]}'
    assert [s[0] for s in statement_spans(tricky)] == [(1, 35), (1, 51)]


def test_custom_policy_decisions_matched_statements_and_missing_keys() -> None:
    out = custom(
        ActionNames=["kms:Encrypt", "kms:ScheduleKeyDeletion", "kms:Decrypt"],
        ContextEntries=[{"ContextKeyName": "kms:EncryptionContext:tenant",
                         "ContextKeyValues": ["alpha"], "ContextKeyType": "string"}],
    )  # fmt: skip
    results = out["EvaluationResults"]
    assert [(r["EvalActionName"], r["EvalDecision"]) for r in results] == [
        ("kms:Encrypt", "allowed"),
        ("kms:ScheduleKeyDeletion", "explicitDeny"),
        ("kms:Decrypt", "implicitDeny"),
    ]
    assert results[0]["MatchedStatements"] == [
        {"SourcePolicyId": "PolicyInputList.1", "SourcePolicyType": "none",
         "StartPosition": {"Line": 4, "Column": 5}, "EndPosition": {"Line": 5, "Column": 78}}
    ]  # fmt: skip
    assert results[1]["MatchedStatements"][0]["StartPosition"] == {"Line": 6, "Column": 5}
    assert results[2]["MatchedStatements"] == []
    assert out["IsTruncated"] is False
    missing = custom(ActionNames=["kms:Encrypt"])["EvaluationResults"][0]
    assert missing["EvalDecision"] == "implicitDeny"
    assert missing["MissingContextValues"] == ["kms:EncryptionContext:tenant"]


def test_custom_policy_with_a_boundary_and_a_resource_policy() -> None:
    boundary = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]})  # fmt: skip
    out = custom(
        ActionNames=["kms:ScheduleKeyDeletion", "kms:Encrypt"],
        PermissionsBoundaryPolicyInputList=[boundary],
        ContextEntries=[{"ContextKeyName": "kms:EncryptionContext:tenant",
                         "ContextKeyValues": ["alpha"], "ContextKeyType": "string"}],
    )  # fmt: skip
    encrypt = out["EvaluationResults"][1]
    assert encrypt["EvalDecision"] == "implicitDeny"
    assert encrypt["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}
    resource_policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ALICE.arn}, "Action": "kms:Decrypt",
         "Resource": "*"}]})  # fmt: skip
    out = custom(
        ActionNames=["kms:Decrypt"], ResourceArns=[KEY], ResourcePolicy=resource_policy,
        CallerArn=ALICE.arn,
    )  # fmt: skip
    result = out["EvaluationResults"][0]
    assert result["EvalDecision"] == "allowed"
    assert result["MatchedStatements"][0]["SourcePolicyId"] == "ResourcePolicy"
    assert result["MatchedStatements"][0]["SourcePolicyType"] == "resource"
    assert result["EvalDecisionDetails"] == {}
    other = custom(
        ActionNames=["kms:Decrypt"], ResourceArns=[KEY], ResourcePolicy=resource_policy,
        CallerArn=ALICE.arn, ResourceOwner="444455556666",
    )["EvaluationResults"][0]  # fmt: skip
    assert other["EvalDecision"] == "implicitDeny"
    assert other["EvalDecisionDetails"] == {
        "IAM Policy": "implicitDeny", "Resource Policy": "allowed"
    }  # fmt: skip


def test_pagination_walks_every_action_resource_pair() -> None:
    seen = []
    marker = None
    while True:
        request: dict[str, Any] = {
            "ActionNames": ["kms:Encrypt", "kms:Decrypt"], "ResourceArns": ["*", KEY], "MaxItems": 3
        }  # fmt: skip
        if marker:
            request["Marker"] = marker
        out = custom(**request)
        seen += [(r["EvalActionName"], r["EvalResourceName"]) for r in out["EvaluationResults"]]
        if not out["IsTruncated"]:
            break
        marker = out["Marker"]
    assert seen == [("kms:Encrypt", "*"), ("kms:Encrypt", KEY), ("kms:Decrypt", "*"),
                    ("kms:Decrypt", KEY)]  # fmt: skip


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        ({"PolicyInputList": ["{"]}, MalformedPolicyDocument),
        ({"ContextEntries": [{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["x"],
                              "ContextKeyType": "ip"}]}, InvalidInput),
        ({"ContextEntries": [{"ContextKeyName": "k:n", "ContextKeyValues": ["1", "2"],
                              "ContextKeyType": "numeric"}]}, InvalidInput),
        ({"ResourceHandlingOption": "EC2-VPC-InstanceStore"}, InvalidInput),
        ({"ResourcePolicy": '{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*"}}'},
         InvalidInput),
        ({"Marker": "bogus"}, InvalidInput),
    ],
)  # fmt: skip
def test_bad_input_is_refused(request_: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        custom(ActionNames=["kms:Encrypt"], **request_)


def test_custom_simulation_without_an_authorizer_is_for_the_root_only() -> None:
    with pytest.raises(AccessDeniedException):
        simulate_custom_policy(
            call_as(ALICE), {"PolicyInputList": [POLICY], "ActionNames": ["kms:Encrypt"]}
        )


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    with fresh_database(tmp_path) as database:
        yield database


def test_principal_policy_uses_the_users_policies_and_boundary(db: Database) -> None:
    db.writer.run_sync(seed)
    authorizer = Authorizer()

    def simulate(request: dict[str, Any]) -> dict[str, Any]:
        return db.writer.run_sync(
            lambda tx: simulate_principal_policy(call_as(ROOT, tx), request, authorizer)
        )

    actions = ["kms:Encrypt", "kms:ScheduleKeyDeletion", "kms:ListKeys"]
    out = simulate({"PolicySourceArn": ALICE.arn, "ActionNames": actions})
    decisions = [r["EvalDecision"] for r in out["EvaluationResults"]]
    assert decisions == ["allowed", "explicitDeny", "implicitDeny"]
    first = out["EvaluationResults"][0]
    assert first["MatchedStatements"][0]["SourcePolicyId"] == f"arn:aws:iam::{A}:policy/Enc"
    assert first["MatchedStatements"][0]["SourcePolicyType"] == "user-managed"
    assert first["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": True}
    narrow = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]})  # fmt: skip
    out = simulate({"PolicySourceArn": ALICE.arn, "ActionNames": ["kms:Encrypt"],
                    "PermissionsBoundaryPolicyInputList": [narrow]})  # fmt: skip
    assert out["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"
    extra = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:ListKeys", "Resource": "*"}]})  # fmt: skip
    out = simulate({"PolicySourceArn": ALICE.arn, "ActionNames": ["kms:ListKeys"],
                    "PolicyInputList": [extra]})  # fmt: skip
    assert out["EvaluationResults"][0]["EvalDecision"] == "allowed"
    group = simulate({"PolicySourceArn": f"arn:aws:iam::{A}:group/dev",
                      "ActionNames": ["kms:ListAliases", "kms:Encrypt"]})  # fmt: skip
    assert [r["EvalDecision"] for r in group["EvaluationResults"]] == ["allowed", "implicitDeny"]
    role = simulate({"PolicySourceArn": f"arn:aws:iam::{A}:role/ops/Admin",
                     "ActionNames": ["kms:Decrypt"]})  # fmt: skip
    assert role["EvaluationResults"][0]["EvalDecision"] == "allowed"
    with pytest.raises(NoSuchEntity):
        simulate({"PolicySourceArn": f"arn:aws:iam::{A}:user/ghost", "ActionNames": ["kms:*"]})


def test_missing_context_values_include_policy_variables() -> None:
    document = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:Encrypt",
         "Resource": "arn:aws:kms:*:*:key/${aws:PrincipalTag/key, 'none'}",
         "Condition": {"StringEquals": {"kms:EncryptionContext:user": "${aws:username}"}}},
    ]})  # fmt: skip
    out = custom(PolicyInputList=[document], ActionNames=["kms:Encrypt"], ResourceArns=[KEY])
    assert out["EvaluationResults"][0]["MissingContextValues"] == [
        "kms:EncryptionContext:user", "aws:username", "aws:PrincipalTag/key"
    ]  # fmt: skip

"""The IAM policy language: each expected decision is written by hand from AWS's
documentation (policy grammar, evaluation logic, condition operators, multi-value
keys, policy variables), not produced by running the evaluator."""

# ruff: noqa: E501  (one case per line reads better than a wrapped table)

from __future__ import annotations

from typing import Any

import orjson
import pytest

from garrison.context import Principal, PrincipalType
from garrison.iam.policy import (
    AuthzRequest,
    Decision,
    Evaluation,
    PolicyError,
    compile_policy,
)

ACCOUNT = "111122223333"
OTHER = "444455556666"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/Admin"
ADMIN_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice-session"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321"

ALLOW, DENY, NO_MATCH = Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.NO_MATCH

# fmt: off
WHO: dict[str, tuple[str, str, PrincipalType]] = {  # arn, account, type
    "alice": (ALICE, ACCOUNT, "IAMUser"),
    "bob": (BOB, ACCOUNT, "IAMUser"),
    "root": (ROOT, ACCOUNT, "Root"),
    "admin-session": (ADMIN_SESSION, ACCOUNT, "AssumedRole"),
    "other-admin-session": (f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/bob", ACCOUNT, "AssumedRole"),
    "auditor-session": (f"arn:aws:sts::{ACCOUNT}:assumed-role/Auditor/x", ACCOUNT, "AssumedRole"),
    "carol-other-account": (f"arn:aws:iam::{OTHER}:user/carol", OTHER, "IAMUser"),
    "cloudtrail": ("cloudtrail.amazonaws.com", "", "AWSService"),
    "config": ("config.amazonaws.com", "", "AWSService"),
    "anonymous": ("anonymous", "", "Anonymous"),
}
# fmt: on


def request(
    who: str = "alice",
    action: str = "kms:Encrypt",
    resource: str = KEY,
    context: dict[str, Any] | None = None,
) -> AuthzRequest:
    arn, account, kind = WHO[who]
    return AuthzRequest(arn, account, kind, action, resource, context or {})


def statement(effect: str = "Allow", **elements: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"Effect": effect, "Principal": "*", "Action": "kms:*", "Resource": "*"}
    body.update(elements)
    return {k: v for k, v in body.items() if v is not None}


def document(*statements: dict[str, Any], version: str | None = "2012-10-17") -> str:
    doc: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        doc["Version"] = version
    return orjson.dumps(doc).decode()


def decide(
    *statements: dict[str, Any], req: AuthzRequest, version: str | None = "2012-10-17"
) -> Evaluation:
    return compile_policy(document(*statements, version=version)).evaluate(req)


# --------------------------------------------------------------------------- Action

# fmt: off
ACTION_CASES = [
    ("kms:*", "kms:Encrypt", ALLOW),
    ("kms:Encrypt", "kms:Encrypt", ALLOW),
    ("kms:Encrypt", "KMS:encrypt", ALLOW),  # action names are case-insensitive
    ("KMS:ENCRYPT", "kms:Encrypt", ALLOW),
    ("kms:Encrypt*", "kms:Encrypt", ALLOW),  # * also matches nothing
    ("kms:Re*", "kms:ReEncryptFrom", ALLOW),
    ("kms:?ncrypt", "kms:Encrypt", ALLOW),
    ("kms:?ncrypt", "kms:Decrypt", NO_MATCH),
    ("kms:Decrypt", "kms:Encrypt", NO_MATCH),
    ("*", "s3:GetObject", ALLOW),
    ("s3:*", "kms:Encrypt", NO_MATCH),
    ("kms:*", "kmsx:Encrypt", NO_MATCH),
    (["kms:Decrypt", "kms:Encrypt"], "kms:Encrypt", ALLOW),
    ("kms:NoSuchAction", "kms:Encrypt", NO_MATCH),  # unknown names are accepted, match nothing
]
# fmt: on


@pytest.mark.parametrize(("actions", "action", "expected"), ACTION_CASES)
def test_action_matching(actions: Any, action: str, expected: Decision) -> None:
    result = decide(statement(Action=actions), req=request(action=action))
    assert result.decision is expected


# fmt: off
NOT_ACTION_CASES = [
    ("kms:Decrypt", "kms:Encrypt", ALLOW),
    ("kms:Decrypt", "kms:decrypt", NO_MATCH),
    ("kms:*", "s3:GetObject", ALLOW),
    (["kms:Create*", "kms:Delete*"], "kms:DeleteAlias", NO_MATCH),
]
# fmt: on


@pytest.mark.parametrize(("not_actions", "action", "expected"), NOT_ACTION_CASES)
def test_not_action_applies_to_every_other_action(
    not_actions: Any, action: str, expected: Decision
) -> None:
    result = decide(statement(Action=None, NotAction=not_actions), req=request(action=action))
    assert result.decision is expected


# --------------------------------------------------------------------------- Resource

# fmt: off
RESOURCE_CASES = [
    ("*", KEY, ALLOW),
    (KEY, KEY, ALLOW),
    (KEY, OTHER_KEY, NO_MATCH),
    (f"arn:aws:kms:us-east-1:{ACCOUNT}:key/*", KEY, ALLOW),
    (f"arn:aws:kms:*:{ACCOUNT}:key/*", KEY, ALLOW),
    ("arn:aws:kms:us-east-1:*:key/*", KEY, ALLOW),
    (f"arn:aws:kms:us-*:{ACCOUNT}:key/*", KEY, ALLOW),
    (f"arn:aws:kms:us-west-2:{ACCOUNT}:key/*", KEY, NO_MATCH),
    (f"arn:aws:kms:us-east-1:{ACCOUNT}:KEY/*", KEY, NO_MATCH),  # ARNs are case-sensitive
    # A wildcard in the region cannot swallow the account that follows it.
    ("arn:aws:logs:*:log-group:x", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:x", NO_MATCH),
    # In the resource part, * crosses both ':' and '/'.
    (f"arn:aws:logs:us-east-1:{ACCOUNT}:*", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:x:log-stream/y", ALLOW),
    ("arn:aws:s3:::bucket-?", "arn:aws:s3:::bucket-1", ALLOW),
    ("arn:aws:s3:::bucket-?", "arn:aws:s3:::bucket-12", NO_MATCH),
    ([OTHER_KEY, KEY], KEY, ALLOW),
]
# fmt: on


@pytest.mark.parametrize(("resources", "resource", "expected"), RESOURCE_CASES)
def test_resource_matching(resources: Any, resource: str, expected: Decision) -> None:
    result = decide(statement(Resource=resources), req=request(resource=resource))
    assert result.decision is expected


@pytest.mark.parametrize(("resource", "expected"), [(OTHER_KEY, ALLOW), (KEY, NO_MATCH)])
def test_not_resource_applies_to_every_other_resource(resource: str, expected: Decision) -> None:
    result = decide(statement(Resource=None, NotResource=KEY), req=request(resource=resource))
    assert result.decision is expected


def test_resource_may_be_omitted_in_a_resource_policy() -> None:
    assert decide(statement(Resource=None), req=request()).decision is ALLOW


# --------------------------------------------------------------------------- Principal

# fmt: off
PRINCIPAL_CASES = [
    # principal element, caller, decision, via_account
    ("*", "alice", ALLOW, False),
    ("*", "anonymous", ALLOW, False),
    ("*", "cloudtrail", ALLOW, False),
    ({"AWS": "*"}, "anonymous", ALLOW, False),
    ({"AWS": ACCOUNT}, "alice", ALLOW, True),  # the account delegates to its IAM policies
    ({"AWS": ROOT}, "alice", ALLOW, True),
    ({"AWS": ROOT}, "admin-session", ALLOW, True),
    ({"AWS": ACCOUNT}, "root", ALLOW, False),  # the root user is the account
    ({"AWS": ACCOUNT}, "carol-other-account", NO_MATCH, False),
    ({"AWS": OTHER}, "carol-other-account", ALLOW, True),  # cross-account delegation
    ({"AWS": ACCOUNT}, "anonymous", NO_MATCH, False),
    ({"AWS": ALICE}, "alice", ALLOW, False),
    ({"AWS": ALICE}, "bob", NO_MATCH, False),
    ({"AWS": [BOB, ALICE]}, "alice", ALLOW, False),
    ({"AWS": ADMIN_ROLE}, "admin-session", ALLOW, False),  # a role covers its sessions
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/ops/Admin"}, "admin-session", ALLOW, False),
    ({"AWS": ADMIN_ROLE}, "auditor-session", NO_MATCH, False),
    ({"AWS": ADMIN_SESSION}, "admin-session", ALLOW, False),
    ({"AWS": ADMIN_SESSION}, "other-admin-session", NO_MATCH, False),
    ({"Service": "cloudtrail.amazonaws.com"}, "cloudtrail", ALLOW, False),
    ({"Service": "cloudtrail.amazonaws.com"}, "config", NO_MATCH, False),
    ({"Service": "cloudtrail.amazonaws.com"}, "alice", NO_MATCH, False),
    ({"Federated": "cognito-identity.amazonaws.com"}, "alice", NO_MATCH, False),
    ({"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}, "alice", NO_MATCH, False),
]
# fmt: on


@pytest.mark.parametrize(("principal", "who", "expected", "via_account"), PRINCIPAL_CASES)
def test_principal_matching(
    principal: Any, who: str, expected: Decision, via_account: bool
) -> None:
    result = decide(statement(Principal=principal), req=request(who))
    assert (result.decision, result.via_account) == (expected, via_account)


# fmt: off
NOT_PRINCIPAL_CASES = [
    # Deny everyone except the NotPrincipal; a second statement allows everyone.
    ({"AWS": [ALICE, ROOT]}, "alice", ALLOW),
    ({"AWS": [ALICE, ROOT]}, "bob", DENY),
    ({"AWS": ALICE}, "alice", DENY),  # AWS: name the account too, or the account is denied
    ({"AWS": [ADMIN_ROLE, ROOT]}, "admin-session", ALLOW),
    ({"AWS": [ADMIN_SESSION, ACCOUNT]}, "admin-session", DENY),  # the role level is not named
    ({"AWS": [ADMIN_ROLE, ROOT]}, "auditor-session", DENY),
    ({"AWS": ACCOUNT}, "root", ALLOW),
    ({"AWS": ACCOUNT}, "carol-other-account", DENY),
    ({"Service": "cloudtrail.amazonaws.com"}, "cloudtrail", ALLOW),
    ({"Service": "cloudtrail.amazonaws.com"}, "anonymous", DENY),
    ({"AWS": "*"}, "anonymous", ALLOW),
]
# fmt: on


@pytest.mark.parametrize(("not_principal", "who", "expected"), NOT_PRINCIPAL_CASES)
def test_not_principal_denies_everyone_else(
    not_principal: Any, who: str, expected: Decision
) -> None:
    deny = statement("Deny", Principal=None, NotPrincipal=not_principal)
    result = decide(statement(), deny, req=request(who))
    assert result.decision is expected


# --------------------------------------------------------------------------- Conditions

# fmt: off
CONDITION_CASES: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    # -- String
    ("StringEquals match", {"StringEquals": {"kms:CallerAccount": ACCOUNT}}, {"kms:CallerAccount": [ACCOUNT]}, True),
    ("StringEquals differ", {"StringEquals": {"kms:CallerAccount": ACCOUNT}}, {"kms:CallerAccount": [OTHER]}, False),
    ("StringEquals missing key", {"StringEquals": {"kms:CallerAccount": ACCOUNT}}, {}, False),
    ("StringEquals value case matters", {"StringEquals": {"aws:username": "Alice"}}, {"aws:username": "alice"}, False),
    ("condition keys are case-insensitive", {"StringEquals": {"KMS:callerACCOUNT": ACCOUNT}}, {"kms:CallerAccount": ACCOUNT}, True),
    ("values for one key are ORed", {"StringEquals": {"aws:username": ["bob", "alice"]}}, {"aws:username": "alice"}, True),
    ("StringNotEquals differs from all", {"StringNotEquals": {"aws:username": ["bob", "carol"]}}, {"aws:username": "alice"}, True),
    ("StringNotEquals is a NOR", {"StringNotEquals": {"aws:username": ["bob", "alice"]}}, {"aws:username": "alice"}, False),
    ("StringNotEquals missing key is true", {"StringNotEquals": {"aws:username": "bob"}}, {}, True),
    ("StringEqualsIgnoreCase", {"StringEqualsIgnoreCase": {"aws:username": "ALICE"}}, {"aws:username": "alice"}, True),
    ("StringNotEqualsIgnoreCase", {"StringNotEqualsIgnoreCase": {"aws:username": "ALICE"}}, {"aws:username": "alice"}, False),
    ("StringLike * and ?", {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin?"}}, {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/Admin1"}, True),
    ("StringLike * crosses /", {"StringLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "home/alice/docs"}, True),
    ("StringLike is case-sensitive", {"StringLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "Home/alice"}, False),
    ("StringNotLike", {"StringNotLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "tmp/x"}, True),
    ("StringNotLike missing key is true", {"StringNotLike": {"s3:prefix": "home/*"}}, {}, True),
    ("keys in one block are ANDed", {"StringEquals": {"aws:username": "alice", "kms:CallerAccount": ACCOUNT}}, {"aws:username": "alice"}, False),
    ("operator blocks are ANDed", {"StringEquals": {"aws:username": "alice"}, "Bool": {"aws:SecureTransport": "true"}}, {"aws:username": "alice", "aws:SecureTransport": "false"}, False),
    ("single-valued operator, many values: any", {"StringEquals": {"aws:TagKeys": "env"}}, {"aws:TagKeys": ["team", "env"]}, True),
    ("negated operator, many values: none", {"StringNotEquals": {"aws:TagKeys": "env"}}, {"aws:TagKeys": ["team", "env"]}, False),
    # -- Numeric
    ("NumericLessThan", {"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "5"}, True),
    ("NumericLessThan equal", {"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, False),
    ("NumericLessThanEquals", {"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, True),
    ("NumericGreaterThan decimal", {"NumericGreaterThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "10.5"}, True),
    ("NumericGreaterThanEquals", {"NumericGreaterThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "9"}, False),
    ("NumericEquals 10 == 10.0", {"NumericEquals": {"s3:max-keys": 10}}, {"s3:max-keys": "10.0"}, True),
    ("NumericNotEquals", {"NumericNotEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "11"}, True),
    ("NumericEquals non-number", {"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "ten"}, False),
    ("NumericNotEquals non-number", {"NumericNotEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "ten"}, False),
    # -- Date
    ("DateGreaterThan ISO", {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, {"aws:CurrentTime": "2024-05-01T12:00:00Z"}, True),
    ("DateLessThan epoch", {"DateLessThan": {"aws:CurrentTime": "1700000000"}}, {"aws:CurrentTime": "2024-05-01T12:00:00Z"}, False),
    ("DateEquals ISO vs epoch", {"DateEquals": {"aws:EpochTime": "2020-01-01T00:00:00Z"}}, {"aws:EpochTime": "1577836800"}, True),
    ("DateNotEquals", {"DateNotEquals": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, {"aws:CurrentTime": "2020-01-01T00:00:01Z"}, True),
    ("DateLessThanEquals", {"DateLessThanEquals": {"aws:CurrentTime": "2020-01-01T00:00:00+00:00"}}, {"aws:CurrentTime": "2020-01-01T00:00:00Z"}, True),
    ("DateGreaterThanEquals date-only", {"DateGreaterThanEquals": {"aws:CurrentTime": "2030-01-01"}}, {"aws:CurrentTime": "2024-05-01T12:00:00Z"}, False),
    # -- Bool
    ("Bool true", {"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "true"}, True),
    ("Bool false", {"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "false"}, False),
    ("Bool JSON boolean, any case", {"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": "TRUE"}, True),
    ("Bool missing key", {"Bool": {"aws:SecureTransport": "false"}}, {}, False),
    ("BoolIfExists missing key", {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}, {}, True),
    # -- Binary
    ("BinaryEquals", {"BinaryEquals": {"s3:x-key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}, {"s3:x-key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}, True),
    ("BinaryEquals differ", {"BinaryEquals": {"s3:x-key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}, {"s3:x-key": "b3RoZXI="}, False),
    # -- IP address
    ("IpAddress in CIDR", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.113.7"}, True),
    ("IpAddress outside CIDR", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "198.51.100.1"}, False),
    ("IpAddress single address", {"IpAddress": {"aws:SourceIp": "203.0.113.7"}}, {"aws:SourceIp": "203.0.113.7"}, True),
    ("IpAddress IPv6", {"IpAddress": {"aws:SourceIp": "2001:DB8:1234:5678::/64"}}, {"aws:SourceIp": "2001:db8:1234:5678::1"}, True),
    ("IpAddress IPv4 range, IPv6 caller", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "2001:db8::1"}, False),
    ("NotIpAddress", {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "10.0.0.0/8"]}}, {"aws:SourceIp": "198.51.100.1"}, True),
    ("NotIpAddress inside", {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "10.1.2.3"}, False),
    ("NotIpAddress missing key", {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {}, True),
    # -- ARN
    ("ArnLike", {"ArnLike": {"aws:SourceArn": f"arn:aws:cloudtrail:*:{ACCOUNT}:trail/*"}}, {"aws:SourceArn": f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/main"}, True),
    ("ArnLike per component", {"ArnLike": {"aws:SourceArn": "arn:aws:iam::*:role/x"}}, {"aws:SourceArn": f"arn:aws:iam::{ACCOUNT}:extra:role/x"}, False),
    ("ArnEquals", {"ArnEquals": {"aws:SourceArn": KEY}}, {"aws:SourceArn": KEY}, True),
    ("ArnEquals is case-sensitive", {"ArnEquals": {"aws:SourceArn": KEY.upper()}}, {"aws:SourceArn": KEY}, False),
    ("ArnNotEquals", {"ArnNotEquals": {"aws:SourceArn": KEY}}, {"aws:SourceArn": OTHER_KEY}, True),
    ("ArnNotLike missing key", {"ArnNotLike": {"aws:SourceArn": "arn:aws:s3:::*"}}, {}, True),
    ("ArnLike non-ARN value", {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}}, {"aws:SourceArn": "bucket"}, False),
    # -- Null
    ("Null true, key absent", {"Null": {"aws:TokenIssueTime": "true"}}, {}, True),
    ("Null true, key present", {"Null": {"aws:TokenIssueTime": "true"}}, {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"}, False),
    ("Null false, key present", {"Null": {"aws:TokenIssueTime": False}}, {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"}, True),
    ("Null false, key absent", {"Null": {"aws:TokenIssueTime": "false"}}, {}, False),
    ("Null treats an empty list as absent", {"Null": {"aws:TagKeys": "true"}}, {"aws:TagKeys": []}, True),
    # -- ...IfExists
    ("IfExists, key absent", {"StringEqualsIfExists": {"ec2:InstanceType": "t3.micro"}}, {}, True),
    ("IfExists, key present and differs", {"StringEqualsIfExists": {"ec2:InstanceType": "t3.micro"}}, {"ec2:InstanceType": "m5.large"}, False),
    ("IfExists, key present and equal", {"StringEqualsIfExists": {"ec2:InstanceType": "t3.micro"}}, {"ec2:InstanceType": "t3.micro"}, True),
    ("NumericLessThanIfExists present", {"NumericLessThanIfExists": {"s3:max-keys": "10"}}, {"s3:max-keys": "20"}, False),
    # -- ForAnyValue
    ("ForAnyValue one matches", {"ForAnyValue:StringEquals": {"aws:TagKeys": ["env", "team"]}}, {"aws:TagKeys": ["env", "x"]}, True),
    ("ForAnyValue none matches", {"ForAnyValue:StringEquals": {"aws:TagKeys": ["env", "team"]}}, {"aws:TagKeys": ["x"]}, False),
    ("ForAnyValue missing key", {"ForAnyValue:StringEquals": {"aws:TagKeys": "env"}}, {}, False),
    ("ForAnyValue negated: one differs", {"ForAnyValue:StringNotEquals": {"aws:TagKeys": "env"}}, {"aws:TagKeys": ["env", "x"]}, True),
    ("ForAnyValue negated: all equal", {"ForAnyValue:StringNotEquals": {"aws:TagKeys": "env"}}, {"aws:TagKeys": ["env"]}, False),
    ("ForAnyValue IfExists missing key", {"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": "env*"}}, {}, True),
    # -- ForAllValues
    ("ForAllValues subset", {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}, {"aws:TagKeys": ["team", "env"]}, True),
    ("ForAllValues one outside", {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}, {"aws:TagKeys": ["env", "x"]}, False),
    ("ForAllValues missing key", {"ForAllValues:StringEquals": {"aws:TagKeys": "env"}}, {}, True),
    ("ForAllValues empty list", {"ForAllValues:StringEquals": {"aws:TagKeys": "env"}}, {"aws:TagKeys": []}, True),
    ("ForAllValues StringLike", {"ForAllValues:StringLike": {"aws:TagKeys": "Created*"}}, {"aws:TagKeys": ["CreatedBy", "CreatedAt"]}, True),
    ("ForAllValues:StringNotLike match", {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}, {"aws:TagKeys": ["key2:audit"]}, True),
    ("ForAllValues:StringNotLike no match", {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}, {"aws:TagKeys": ["key1:hr", "key1:personnel"]}, False),
    ("ForAllValues:StringNotLike missing", {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}, {}, True),
]
# fmt: on


@pytest.mark.parametrize(
    ("condition", "context", "holds"),
    [pytest.param(c, ctx, h, id=name) for name, c, ctx, h in CONDITION_CASES],
)
def test_condition(condition: dict[str, Any], context: dict[str, Any], holds: bool) -> None:
    result = decide(statement(Condition=condition), req=request(context=context))
    assert result.decision is (ALLOW if holds else NO_MATCH)


def test_condition_under_deny_denies_only_when_it_holds() -> None:
    deny_plain_http = statement("Deny", Condition={"Bool": {"aws:SecureTransport": "false"}})
    policy = compile_policy(document(statement(), deny_plain_http))
    assert policy.evaluate(request(context={"aws:SecureTransport": "false"})).decision is DENY
    assert policy.evaluate(request(context={"aws:SecureTransport": "true"})).decision is ALLOW


# --------------------------------------------------------------------------- Variables

BUCKET_HOME = "arn:aws:s3:::bucket/${aws:username}/*"

# fmt: off
VARIABLE_CASES: list[tuple[str, dict[str, Any], str, dict[str, Any], Decision]] = [
    ("Resource variable", {"Resource": BUCKET_HOME}, "arn:aws:s3:::bucket/alice/notes", {"aws:username": "alice"}, ALLOW),
    ("someone else's home", {"Resource": BUCKET_HOME}, "arn:aws:s3:::bucket/bob/notes", {"aws:username": "alice"}, NO_MATCH),
    ("unresolved variable", {"Resource": BUCKET_HOME}, "arn:aws:s3:::bucket/alice/notes", {}, NO_MATCH),
    ("variable keys are case-insensitive", {"Resource": "arn:aws:s3:::bucket/${AWS:UserName}"}, "arn:aws:s3:::bucket/alice", {"aws:username": "alice"}, ALLOW),
    ("a substituted * is literal", {"Resource": BUCKET_HOME}, "arn:aws:s3:::bucket/bob/notes", {"aws:username": "*"}, NO_MATCH),
    ("multi-valued key does not resolve", {"Resource": BUCKET_HOME}, "arn:aws:s3:::bucket/a/x", {"aws:username": ["a", "b"]}, NO_MATCH),
    ("${*} is a literal asterisk", {"Resource": "arn:aws:s3:::bucket/${*}"}, "arn:aws:s3:::bucket/x", {}, NO_MATCH),
    ("${*} matches an asterisk", {"Resource": "arn:aws:s3:::bucket/${*}"}, "arn:aws:s3:::bucket/*", {}, ALLOW),
    ("${$} and ${?}", {"Resource": "arn:aws:s3:::b/${$}${?}"}, "arn:aws:s3:::b/$?", {}, ALLOW),
    ("default value", {"Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team, 'none'}"} } }, KEY, {"aws:ResourceTag/team": "none"}, ALLOW),
    ("tag equals tag", {"Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}}, KEY, {"aws:ResourceTag/team": "blue", "aws:PrincipalTag/team": "blue"}, ALLOW),
    ("tag differs from tag", {"Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}}, KEY, {"aws:ResourceTag/team": "blue", "aws:PrincipalTag/team": "red"}, NO_MATCH),
    ("unresolved under StringEquals", {"Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}}, KEY, {"aws:ResourceTag/team": "blue"}, NO_MATCH),
    ("unresolved under StringNotEquals", {"Condition": {"StringNotEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}}, KEY, {"aws:ResourceTag/team": "blue"}, NO_MATCH),
    ("StringLike with a variable", {"Condition": {"StringLike": {"s3:prefix": "home/${aws:username}/*"}}}, KEY, {"s3:prefix": "home/alice/a", "aws:username": "alice"}, ALLOW),
    ("ArnLike with a variable", {"Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:sqs:*:*:${aws:username}-queue"}}}, KEY, {"aws:SourceArn": f"arn:aws:sqs:us-east-2:{ACCOUNT}:alice-queue", "aws:username": "alice"}, ALLOW),
    ("a key compared with its own variable", {"Condition": {"StringEquals": {"aws:username": "${aws:username}"}}}, KEY, {"aws:username": "alice"}, ALLOW),
]
# fmt: on


@pytest.mark.parametrize(
    ("elements", "resource", "context", "expected"),
    [pytest.param(e, r, c, d, id=name) for name, e, r, c, d in VARIABLE_CASES],
)
def test_policy_variables(
    elements: dict[str, Any], resource: str, context: dict[str, Any], expected: Decision
) -> None:
    result = decide(statement(**elements), req=request(resource=resource, context=context))
    assert result.decision is expected


@pytest.mark.parametrize("version", ["2008-10-17", None])
def test_variables_are_literal_text_before_version_2012(version: str | None) -> None:
    policy = compile_policy(document(statement(Resource=BUCKET_HOME), version=version))
    ctx = {"aws:username": "alice"}
    substituted = request(resource="arn:aws:s3:::bucket/alice/x", context=ctx)
    literal = request(resource="arn:aws:s3:::bucket/${aws:username}/x", context=ctx)
    assert policy.evaluate(substituted).decision is NO_MATCH
    assert policy.evaluate(literal).decision is ALLOW


# --------------------------------------------------------------------------- Evaluation


def test_explicit_deny_beats_allow() -> None:
    policy = compile_policy(
        document(
            statement(Sid="AllowAll"),
            statement("Deny", Sid="NoDecrypt", Action="kms:Decrypt"),
        )
    )
    assert policy.evaluate(request(action="kms:Decrypt")) == Evaluation(DENY, ("NoDecrypt",))
    assert policy.evaluate(request(action="kms:Encrypt")) == Evaluation(ALLOW, ("AllowAll",))


def test_matched_lists_every_applicable_statement_by_sid_or_position() -> None:
    policy = compile_policy(
        document(
            statement(Sid="ByAccount", Principal={"AWS": ACCOUNT}),
            statement(Principal={"AWS": ALICE}),
        )
    )
    result = policy.evaluate(request())
    assert result == Evaluation(ALLOW, ("ByAccount", "Statement 2"), via_account=False)
    assert policy.evaluate(request("bob")) == Evaluation(ALLOW, ("ByAccount",), via_account=True)


def test_nothing_applicable_is_an_implicit_deny() -> None:
    result = decide(statement(Action="kms:Decrypt"), req=request())
    assert result == Evaluation(NO_MATCH, ())
    assert not result.allowed


def test_a_statement_object_needs_no_list() -> None:
    doc = orjson.dumps({"Version": "2012-10-17", "Statement": statement()}).decode()
    assert compile_policy(doc).evaluate(request()).allowed


def test_identity_policy_has_no_principal_and_matches_directly() -> None:
    doc = document({"Effect": "Allow", "Action": "kms:Encrypt", "Resource": KEY})
    policy = compile_policy(doc, resource_policy=False)
    assert policy.evaluate(request()) == Evaluation(ALLOW, ("Statement 1",))


def test_default_key_policy_delegates_to_iam() -> None:
    doc = document(
        statement(Sid="Enable IAM User Permissions", Principal={"AWS": ROOT}, Action="kms:*")
    )
    policy = compile_policy(doc)
    assert policy.evaluate(request("root")) == Evaluation(ALLOW, ("Enable IAM User Permissions",))
    assert policy.evaluate(request("alice")).via_account
    assert policy.evaluate(request("carol-other-account")).decision is NO_MATCH


def test_request_context_bare_string_is_one_value() -> None:
    req = request(context={"aws:username": "alice"})
    assert req.lookup == {"aws:username": ("alice",)}


def test_request_for_principal() -> None:
    principal = Principal(arn=ALICE, account_id=ACCOUNT, type="IAMUser", user_id="AIDA")
    req = AuthzRequest.for_principal(principal, "kms:Encrypt", KEY)
    assert (req.principal_arn, req.principal_account, req.principal_type) == (
        ALICE,
        ACCOUNT,
        "IAMUser",
    )


def test_compiled_policies_are_cached_by_text() -> None:
    doc = document(statement())
    assert compile_policy(doc) is compile_policy(doc)


# --------------------------------------------------------------------------- Validation


def _doc(**top: Any) -> str:
    return orjson.dumps(top).decode()


def _one(**elements: Any) -> str:
    return document(statement(**elements))


# fmt: off
VALIDATION_CASES = [
    ("not JSON", "{not json", "Policy document is not valid JSON"),
    ("not an object", "[]", "Policy document must be a JSON object"),
    ("missing Statement", _doc(Version="2012-10-17"), "Policy document is missing the Statement element"),
    ("unknown Version", _doc(Version="2012-10-18", Statement=[]), "Policy document has an unknown Version '2012-10-18'"),
    ("unknown top-level element", _doc(Version="2012-10-17", Statement=[], Foo=1), "Policy document has an unknown element 'Foo'"),
    ("Statement of the wrong type", _doc(Statement="x"), "Statement must be an object or a list of objects"),
    ("statement not an object", _doc(Statement=["x"]), "Statement 1 must be an object"),
    ("unknown statement element", _one(Effects="Allow"), "Statement 1 has an unknown element 'Effects'"),
    ("bad Effect", document(statement(), statement(Effect="Permit")), "Statement 2 has an invalid Effect 'Permit'"),
    ("Effect is case-sensitive", _one(Effect="allow"), "Statement 1 has an invalid Effect 'allow'"),
    ("missing Effect", _one(Effect=None), "Statement 1 is missing Effect"),
    ("Sid not a string", _one(Sid=1), "Statement 1 has a Sid that is not a string"),
    ("no Action", _one(Action=None), "Statement 1 must have Action or NotAction"),
    ("Action and NotAction", _one(NotAction="kms:Decrypt"), "Statement 1 has both Action and NotAction"),
    ("empty Action list", _one(Action=[]), "Statement 1: Action must be a string or a non-empty string list"),
    ("Action not a string", _one(Action=42), "Statement 1: Action must be a string or a non-empty string list"),
    ("action without prefix", _one(Action="Encrypt"), "Action 'Encrypt' has no vendor prefix"),
    ("wildcard without prefix", _one(Action="kms*"), "Action 'kms*' has no vendor prefix"),
    ("empty prefix", _one(Action=":Encrypt"), "Action ':Encrypt' has no vendor prefix"),
    ("invalid characters", _one(Action="kms:Encrypt Data"), "Action 'kms:Encrypt Data' has invalid characters"),
    ("extra colon", _one(Action="kms:Encrypt:x"), "Action 'kms:Encrypt:x' has invalid characters"),
    ("invalid vendor", _one(Action="km s:Encrypt"), "Action 'km s:Encrypt' has an invalid vendor prefix 'km s'"),
    ("Resource and NotResource", _one(NotResource=KEY), "Statement 1 has both Resource and NotResource"),
    ("Resource not an ARN", _one(Resource="key/1234"), "Resource 'key/1234' must be in ARN format or '*'"),
    ("Resource too short", _one(Resource="arn:aws:kms:*"), "Resource 'arn:aws:kms:*' must be in ARN format or '*'"),
    ("no principal", _one(Principal=None), "Statement 1 must have Principal or NotPrincipal"),
    ("Principal and NotPrincipal", _one(NotPrincipal={"AWS": ALICE}), "Statement 1 has both Principal and NotPrincipal"),
    ("NotPrincipal with Allow", _one(Principal=None, NotPrincipal={"AWS": ALICE}), "Statement 1 uses NotPrincipal, which requires Effect Deny"),
    ("principal not an ARN", _one(Principal={"AWS": "not-an-arn"}), 'Invalid principal in policy: "AWS":"not-an-arn"'),
    ("principal short account id", _one(Principal={"AWS": "12345"}), 'Invalid principal in policy: "AWS":"12345"'),
    ("wildcard inside a principal ARN", _one(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/*"}), f'Invalid principal in policy: "AWS":"arn:aws:iam::{ACCOUNT}:user/*"'),
    ("a group is no principal", _one(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:group/dev"}), f'Invalid principal in policy: "AWS":"arn:aws:iam::{ACCOUNT}:group/dev"'),
    ("not an IAM ARN", _one(Principal={"AWS": KEY}), f'Invalid principal in policy: "AWS":"{KEY}"'),
    ("bare principal ARN", _one(Principal=ROOT), f"Invalid principal in policy: {ROOT}"),
    ("unknown principal kind", _one(Principal={"Users": "alice"}), 'Invalid principal in policy: "Users":"alice"'),
    ("empty principal list", _one(Principal={"AWS": []}), 'Invalid principal in policy: "AWS":"[]"'),
    ("unknown condition operator", _one(Condition={"StringEqualz": {"aws:username": "a"}}), "Unknown condition operator 'StringEqualz'"),
    ("no IfExists for Null", _one(Condition={"NullIfExists": {"aws:username": "true"}}), "Unknown condition operator 'NullIfExists'"),
    ("unknown set qualifier", _one(Condition={"ForSomeValues:StringEquals": {"aws:username": "a"}}), "Unknown condition operator 'ForSomeValues:StringEquals'"),
    ("Null takes no qualifier", _one(Condition={"ForAnyValue:Null": {"aws:username": "true"}}), "Condition operator 'ForAnyValue:Null': Null takes no set qualifier"),
    ("Condition not an object", _one(Condition=["x"]), "Condition must be an object mapping operators to keys and values"),
    ("operator body not an object", _one(Condition={"StringEquals": "x"}), "Condition operator 'StringEquals' must map condition keys to values"),
    ("condition value is an object", _one(Condition={"StringEquals": {"aws:username": {"a": 1}}}), "Condition StringEquals on 'aws:username' has a value of the wrong type"),
    ("condition value is null", _one(Condition={"StringEquals": {"aws:username": None}}), "Condition StringEquals on 'aws:username' has a value of the wrong type"),
    ("condition key without prefix", _one(Condition={"StringEquals": {"username": "a"}}), "Condition key 'username' is not valid (expected prefix:name)"),
    ("bad number", _one(Condition={"NumericLessThan": {"s3:max-keys": "ten"}}), "Condition NumericLessThan on 's3:max-keys' has an invalid numeric value 'ten'"),
    ("bad date", _one(Condition={"DateLessThan": {"aws:CurrentTime": "yesterday"}}), "Condition DateLessThan on 'aws:CurrentTime' has an invalid date value 'yesterday'"),
    ("bad CIDR", _one(Condition={"IpAddress": {"aws:SourceIp": "300.1.2.3/8"}}), "Condition IpAddress on 'aws:SourceIp' has an invalid IP address or CIDR '300.1.2.3/8'"),
    ("bad boolean", _one(Condition={"Bool": {"aws:SecureTransport": "yes"}}), "Condition Bool on 'aws:SecureTransport' has an invalid boolean value 'yes'"),
    ("bad base64", _one(Condition={"BinaryEquals": {"s3:x": "!!"}}), "Condition BinaryEquals on 's3:x' has an invalid base64 value '!!'"),
    ("bad Null value", _one(Condition={"Null": {"aws:username": "maybe"}}), "Condition Null on 'aws:username' must be true or false"),
]
# fmt: on


@pytest.mark.parametrize(
    ("doc", "reason"), [pytest.param(d, r, id=name) for name, d, r in VALIDATION_CASES]
)
def test_malformed_policy_is_rejected(doc: str, reason: str) -> None:
    with pytest.raises(PolicyError) as caught:
        compile_policy(doc)
    assert caught.value.reason.startswith(reason)
    assert isinstance(caught.value, ValueError)


def test_identity_policy_rejects_principal_and_requires_resource() -> None:
    with pytest.raises(PolicyError, match="an identity policy must not specify a principal"):
        compile_policy(_one(), resource_policy=False)
    with pytest.raises(PolicyError, match="Statement 1 must have Resource or NotResource"):
        compile_policy(document({"Effect": "Allow", "Action": "kms:*"}), resource_policy=False)


def test_max_size_counts_utf8_bytes() -> None:
    doc = document(statement(Sid="é" * 100))
    compile_policy(doc, max_size=len(doc.encode()))
    with pytest.raises(PolicyError, match="exceeds the maximum size of 100 bytes"):
        compile_policy(doc, max_size=100)


def test_valid_principal_forms_are_accepted() -> None:
    principals = {
        "AWS": [
            "*",
            ACCOUNT,
            ROOT,
            ALICE,
            f"arn:aws:iam::{ACCOUNT}:user/division/alice",
            ADMIN_ROLE,
            ADMIN_SESSION,
            f"arn:aws:sts::{ACCOUNT}:federated-user/carol",
            f"arn:aws-cn:iam::{ACCOUNT}:root",
        ],
        "Service": ["kms.amazonaws.com", "logs.us-east-1.amazonaws.com"],
        "Federated": "arn:aws:iam::111122223333:saml-provider/corp",
        "CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
    }
    compile_policy(_one(Principal=principals))

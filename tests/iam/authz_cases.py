"""The acceptance table of AWS's policy evaluation logic, written by hand.

Each `Case` names the policies one principal holds (identity policies,
permissions boundary, session policies, the key policy, the SCPs of the
caller's account), the request (action on a KMS key, condition keys, request
facts) and the outcome AWS documents for it -- "allowed", or the policy type
AWS's AccessDenied message names -- as a literal, never computed by the engine.

Sources: IAM User Guide "Policy evaluation logic" (flowchart, "Evaluating
identity-based policies with resource-based policies", "cross-account policy
evaluation logic"), "Permissions boundaries for IAM entities" (effective
permissions; resource-based policies naming a user are not limited by an
implicit deny in the boundary), "Session policies" (naming the session ARN is
not limited by the session policy, naming the role ARN is), "Service control
policies" (every level must allow; they bind the member account's root user,
never the management account), "Troubleshoot access denied error messages", and
the KMS Developer Guide "Determining access to a KMS key" (the key policy must
allow, directly or by delegating to the account's IAM policies).

Used by tests/iam/test_authorizer_table.py (the Authorizer over an in-memory
store) and tests/e2e/test_authz_table.py (real IAM users, roles and keys).
"""

# ruff: noqa: E501  (one case per line reads better than a wrapped table)

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

A = "111122223333"  # the key's account
B = "444455556666"  # another account
REGION = "us-east-1"
KEY = f"arn:aws:kms:{REGION}:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE_A = f"arn:aws:iam::{A}:role/Admin"
ROLE_B = f"arn:aws:iam::{B}:role/Ops"

# who -> (arn, account, principal type, user id, user name)
WHO: dict[str, tuple[str, str, str, str, str]] = {
    "alice": (f"arn:aws:iam::{A}:user/alice", A, "IAMUser", "AIDAALICEEXAMPLE00001", "alice"),
    "bob": (f"arn:aws:iam::{A}:user/bob", A, "IAMUser", "AIDABOBEXAMPLE0000001", "bob"),
    "session": (
        f"arn:aws:sts::{A}:assumed-role/Admin/s1",
        A,
        "AssumedRole",
        "AROAADMINEXAMPLE00001:s1",
        "",
    ),
    "root": (f"arn:aws:iam::{A}:root", A, "Root", A, ""),
    "carol": (f"arn:aws:iam::{B}:user/carol", B, "IAMUser", "AIDACAROLEXAMPLE00001", "carol"),
    "b-session": (
        f"arn:aws:sts::{B}:assumed-role/Ops/s2",
        B,
        "AssumedRole",
        "AROAOPSEXAMPLE0000001:s2",
        "",
    ),
    "b-root": (f"arn:aws:iam::{B}:root", B, "Root", B, ""),
}
ALICE, BOB, SESSION, ROOT = (WHO[w][0] for w in ("alice", "bob", "session", "root"))
CAROL, B_SESSION, B_ROOT = (WHO[w][0] for w in ("carol", "b-session", "b-root"))

Statement = dict[str, Any]
Doc = list[Statement]


def allow(action: Any = "kms:Encrypt", resource: Any = "*", **condition: Any) -> Statement:
    """An identity-policy (or boundary, session policy, SCP) Allow statement."""
    out: Statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        out["Condition"] = condition
    return out


def deny(action: Any = "kms:Encrypt", resource: Any = "*", **condition: Any) -> Statement:
    out: Statement = {"Effect": "Deny", "Action": action, "Resource": resource}
    if condition:
        out["Condition"] = condition
    return out


def not_action(effect: str, actions: Any) -> Statement:
    return {"Effect": effect, "NotAction": actions, "Resource": "*"}


def kallow(principal: Any, action: Any = "kms:*", **condition: Any) -> Statement:
    """A key-policy Allow statement; `principal` is an "AWS" principal or "*"."""
    out: Statement = {
        "Effect": "Allow",
        "Principal": principal if principal == "*" else {"AWS": principal},
        "Action": action,
        "Resource": "*",
    }
    if condition:
        out["Condition"] = condition
    return out


def kdeny(principal: Any, action: Any = "kms:*", **condition: Any) -> Statement:
    out = kallow(principal, action, **condition)
    out["Effect"] = "Deny"
    return out


def root_of(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


FULL = [allow("*")]  # FullAWSAccess, as an SCP or a boundary
DEFAULT_KEY_POLICY = [kallow(root_of(A))]  # KMS's default key policy
NO_KEY_POLICY: Doc = []  # a key policy that allows nobody


@dataclass(frozen=True)
class Case:
    id: str
    who: str
    expect: str  # "allowed" | "deny:<kind>" | "no:<kind>"; kinds below
    identity: tuple[Doc, ...] = ()
    boundary: Doc | None = None
    session: tuple[Doc, ...] | None = None
    key_policy: Doc | None = None  # None: no resource policy (identity-only action)
    scps: tuple[tuple[Doc, ...], ...] = ()  # levels root -> OUs -> account; () none apply
    action: str = "kms:Encrypt"
    resource: str = KEY
    context: dict[str, Any] = field(default_factory=dict)  # service condition keys
    request: dict[str, Any] = field(
        default_factory=dict
    )  # source_ip, secure_transport, region, via_service
    tags: dict[str, str] = field(default_factory=dict)  # the principal's tags
    org_id: str | None = None
    required: bool = True  # the resource policy must allow (KMS keys); False: optional


# AWS's message for each outcome (Troubleshoot access denied error messages).
KINDS = {
    "scp": "service control policy",
    "resource": "resource-based policy",
    "identity": "identity-based policy",
    "boundary": "permissions boundary",
    "session": "session policy",
}
EXPLICIT_TEXT = {
    "scp": "with an explicit deny in a service control policy",
    "resource": "with an explicit deny in a resource-based policy",
    "identity": "with an explicit deny in an identity-based policy",
    "boundary": "with an explicit deny in a permissions boundary",
    "session": "with an explicit deny in a session policy",
}


def expected_why(case: Case) -> str:
    """The tail of AWS's AccessDenied message for `case` ("" when allowed)."""
    if case.expect == "allowed":
        return ""
    how, kind = case.expect.split(":")
    if how == "deny":
        return EXPLICIT_TEXT[kind]
    return f"because no {KINDS[kind]} allows the {case.action} action"


EC = "kms:EncryptionContext:tenant"
S = "service control policy"

# fmt: off
CASES: list[Case] = [
    # ---------------------------------------------------------------- A. identity policies alone
    # Identity-only actions (no resource policy): an identity policy must allow.
    Case("A01 no policy: implicit deny", "alice", "no:identity", action="kms:ListKeys", resource="*" ),
    Case("A02 exact action allows", "alice", "allowed", identity=([allow("kms:ListKeys")],), action="kms:ListKeys", resource="*"),
    Case("A03 wildcard action allows", "alice", "allowed", identity=([allow("kms:List*")],), action="kms:ListKeys", resource="*"),
    Case("A04 service wildcard allows", "alice", "allowed", identity=([allow("kms:*")],), action="kms:ListAliases", resource="*"),
    Case("A05 star action allows", "alice", "allowed", identity=([allow("*")],), action="kms:CreateKey", resource="*"),
    Case("A06 action names are case-insensitive", "alice", "allowed", identity=([allow("KMS:listkeys")],), action="kms:ListKeys", resource="*"),
    Case("A07 another action does not allow", "alice", "no:identity", identity=([allow("kms:ListAliases")],), action="kms:ListKeys", resource="*"),
    Case("A08 another service does not allow", "alice", "no:identity", identity=([allow("s3:*")],), action="kms:ListKeys", resource="*"),
    Case("A09 NotAction allow covers others", "alice", "allowed", identity=([not_action("Allow", "iam:*")],), action="kms:ListKeys", resource="*"),
    Case("A10 NotAction allow excludes the named", "alice", "no:identity", identity=([not_action("Allow", "kms:List*")],), action="kms:ListKeys", resource="*"),
    Case("A11 deny beats allow in one policy", "alice", "deny:identity", identity=([allow("kms:*"), deny("kms:ListKeys")],), action="kms:ListKeys", resource="*"),
    Case("A12 deny in another policy beats allow", "alice", "deny:identity", identity=([allow("kms:*")], [deny("kms:ListKeys")],), action="kms:ListKeys", resource="*"),
    Case("A13 deny of another action leaves allow", "alice", "allowed", identity=([allow("kms:*"), deny("kms:CreateKey")],), action="kms:ListKeys", resource="*"),
    Case("A14 NotAction deny denies all but named", "alice", "deny:identity", identity=([allow("*"), not_action("Deny", "kms:Describe*")],), action="kms:ListKeys", resource="*"),
    Case("A15 NotAction deny spares the named", "alice", "allowed", identity=([allow("*"), not_action("Deny", "kms:List*")],), action="kms:ListKeys", resource="*"),
    Case("A16 deny alone is still an explicit deny", "alice", "deny:identity", identity=([deny("kms:*")],), action="kms:ListKeys", resource="*"),
    Case("A17 allow in one of several policies", "alice", "allowed", identity=([allow("s3:*")], [allow("iam:*")], [allow("kms:ListKeys")],), action="kms:ListKeys", resource="*"),
    # Conditions with global keys
    Case("A18 username condition holds", "alice", "allowed", identity=([allow("kms:ListKeys", StringEquals={"aws:username": "alice"})],), action="kms:ListKeys", resource="*"),
    Case("A19 username condition fails", "bob", "no:identity", identity=([allow("kms:ListKeys", StringEquals={"aws:username": "alice"})],), action="kms:ListKeys", resource="*"),
    Case("A20 source IP inside the range", "alice", "allowed", identity=([allow("kms:ListKeys", IpAddress={"aws:SourceIp": "10.0.0.0/8"})],), action="kms:ListKeys", resource="*", request={"source_ip": "10.1.2.3"}),
    Case("A21 source IP outside the range", "alice", "no:identity", identity=([allow("kms:ListKeys", IpAddress={"aws:SourceIp": "10.0.0.0/8"})],), action="kms:ListKeys", resource="*", request={"source_ip": "192.168.1.1"}),
    Case("A22 deny without TLS applies", "alice", "deny:identity", identity=([allow("kms:*"), deny("kms:*", Bool={"aws:SecureTransport": "false"})],), action="kms:ListKeys", resource="*", request={"secure_transport": False}),
    Case("A23 deny without TLS spares TLS calls", "alice", "allowed", identity=([allow("kms:*"), deny("kms:*", Bool={"aws:SecureTransport": "false"})],), action="kms:ListKeys", resource="*", request={"secure_transport": True}),
    Case("A24 requested region allowed", "alice", "allowed", identity=([allow("kms:ListKeys", StringEquals={"aws:RequestedRegion": ["us-east-1", "eu-west-1"]} ) ],), action="kms:ListKeys", resource="*"),
    Case("A25 requested region not allowed", "alice", "no:identity", identity=([allow("kms:ListKeys", StringEquals={"aws:RequestedRegion": "eu-west-1"})],), action="kms:ListKeys", resource="*"),
    Case("A26 principal tag matches", "alice", "allowed", identity=([allow("kms:ListKeys", StringEquals={"aws:PrincipalTag/team": "sec"})],), action="kms:ListKeys", resource="*", tags={"team": "sec"}),
    Case("A27 principal tag differs", "alice", "no:identity", identity=([allow("kms:ListKeys", StringEquals={"aws:PrincipalTag/team": "sec"})],), action="kms:ListKeys", resource="*", tags={"team": "dev"}),
    Case("A28 principal tag absent", "alice", "no:identity", identity=([allow("kms:ListKeys", StringEquals={"aws:PrincipalTag/team": "sec"})],), action="kms:ListKeys", resource="*"),
    Case("A29 principal type User", "alice", "allowed", identity=([allow("kms:ListKeys", StringEquals={"aws:PrincipalType": "User"})],), action="kms:ListKeys", resource="*"),
    Case("A30 principal type AssumedRole", "session", "allowed", identity=([allow("kms:ListKeys", StringEquals={"aws:PrincipalType": "AssumedRole"})],), action="kms:ListKeys", resource="*"),
    Case("A31 userid of a user", "alice", "allowed", identity=([allow("kms:ListKeys", StringEquals={"aws:userid": "AIDAALICEEXAMPLE00001"})],), action="kms:ListKeys", resource="*"),
    Case("A32 userid of a session is role-id:session", "session", "allowed", identity=([allow("kms:ListKeys", StringLike={"aws:userid": "AROAADMINEXAMPLE00001:*"})],), action="kms:ListKeys", resource="*"),
    Case("A33 principal ARN ArnLike", "alice", "allowed", identity=([allow("kms:ListKeys", ArnLike={"aws:PrincipalArn": f"arn:aws:iam::{A}:user/*"})],), action="kms:ListKeys", resource="*"),
    Case("A34 principal account", "alice", "allowed", identity=([allow("kms:ListKeys", StringEquals={"aws:PrincipalAccount": A})],), action="kms:ListKeys", resource="*"),
    Case("A35 date condition before a past date fails", "alice", "no:identity", identity=([allow("kms:ListKeys", DateLessThan={"aws:CurrentTime": "2020-01-01T00:00:00Z"})],), action="kms:ListKeys", resource="*"),
    Case("A36 date condition after a past date holds", "alice", "allowed", identity=([allow("kms:ListKeys", DateGreaterThan={"aws:CurrentTime": "2020-01-01T00:00:00Z"})],), action="kms:ListKeys", resource="*"),
    Case("A37 condition on an absent key fails", "alice", "no:identity", identity=([allow("kms:ListKeys", StringEquals={"aws:PrincipalOrgID": "o-abcdefghij"})],), action="kms:ListKeys", resource="*"),
    Case("A38 IfExists on an absent key holds", "alice", "allowed", identity=([allow("kms:ListKeys", StringEqualsIfExists={"aws:PrincipalOrgID": "o-abcdefghij"})],), action="kms:ListKeys", resource="*"),
    Case("A39 called directly: ViaAWSService false", "alice", "deny:identity", identity=([allow("kms:*"), deny("kms:*", Bool={"aws:ViaAWSService": "false"})],), action="kms:ListKeys", resource="*"),
    Case("A40 called via a service: ViaAWSService true", "alice", "allowed", identity=([allow("kms:*"), deny("kms:*", Bool={"aws:ViaAWSService": "false"})],), action="kms:ListKeys", resource="*", request={"via_service": f"secretsmanager.{REGION}.amazonaws.com"}),
    Case("A41 CalledVia names the service", "alice", "allowed", identity=([allow("kms:ListKeys", **{"ForAnyValue:StringEquals": {"aws:CalledVia": "secretsmanager.amazonaws.com" } }) ],), action="kms:ListKeys", resource="*", request={"via_service": f"secretsmanager.{REGION}.amazonaws.com"}),
    # Resources of identity policies, on a key
    Case("A42 resource ARN matches the key", "alice", "allowed", identity=([allow("kms:Encrypt", KEY)],), key_policy=DEFAULT_KEY_POLICY),
    Case("A43 resource wildcard over the account's keys", "alice", "allowed", identity=([allow("kms:Encrypt", f"arn:aws:kms:*:{A}:key/*")],), key_policy=DEFAULT_KEY_POLICY),
    Case("A44 resource of another key", "alice", "no:identity", identity=([allow("kms:Encrypt", f"arn:aws:kms:{REGION}:{A}:key/0987dcba-09fe-87dc-65ba-ab0987654321") ],), key_policy=DEFAULT_KEY_POLICY),
    Case("A45 resource of another region", "alice", "no:identity", identity=([allow("kms:Encrypt", f"arn:aws:kms:eu-west-1:{A}:key/*")],), key_policy=DEFAULT_KEY_POLICY),
    Case("A46 alias ARN resource does not cover the key", "alice", "no:identity", identity=([allow("kms:Encrypt", f"arn:aws:kms:{REGION}:{A}:alias/app")],), key_policy=DEFAULT_KEY_POLICY),
    Case("A47 NotResource allow excluding the key", "alice", "no:identity", identity=([{"Effect": "Allow", "Action": "kms:Encrypt", "NotResource": KEY}],), key_policy=DEFAULT_KEY_POLICY),
    Case("A48 NotResource deny excluding the key spares it", "alice", "allowed", identity=([allow("kms:*"), {"Effect": "Deny", "Action": "kms:*", "NotResource": KEY}],), key_policy=DEFAULT_KEY_POLICY),
    Case("A49 encryption-context condition holds", "alice", "allowed", identity=([allow("kms:Encrypt", StringEquals={EC: "alpha"})],), key_policy=DEFAULT_KEY_POLICY, context={EC: "alpha"}),
    Case("A50 encryption-context condition fails", "alice", "no:identity", identity=([allow("kms:Encrypt", StringEquals={EC: "alpha"})],), key_policy=DEFAULT_KEY_POLICY, context={EC: "beta"}),
    Case("A51 encryption-context condition, no context", "alice", "no:identity", identity=([allow("kms:Encrypt", StringEquals={EC: "alpha"})],), key_policy=DEFAULT_KEY_POLICY),
    Case("A52 policy variable in the condition", "alice", "allowed", identity=([allow("kms:Encrypt", StringEquals={EC: "${aws:username}"})],), key_policy=DEFAULT_KEY_POLICY, context={EC: "alice"}),
    Case("A53 policy variable for another user", "bob", "no:identity", identity=([allow("kms:Encrypt", StringEquals={EC: "${aws:username}"})],), key_policy=DEFAULT_KEY_POLICY, context={EC: "alice"}),
    # ---------------------------------------------------------------- B. permissions boundaries
    Case("B01 boundary and identity allow", "alice", "allowed", identity=([allow("kms:ListKeys")],), boundary=[allow("kms:*")], action="kms:ListKeys", resource="*"),
    Case("B02 boundary allows, identity does not", "alice", "no:identity", boundary=[allow("kms:*")], action="kms:ListKeys", resource="*"),
    Case("B03 identity allows, boundary does not", "alice", "no:boundary", identity=([allow("kms:*")],), boundary=[allow("s3:*")], action="kms:ListKeys", resource="*"),
    Case("B04 boundary explicit deny", "alice", "deny:boundary", identity=([allow("kms:*")],), boundary=[allow("*"), deny("kms:ListKeys")], action="kms:ListKeys", resource="*"),
    Case("B05 identity deny, boundary allows", "alice", "deny:identity", identity=([deny("kms:ListKeys")],), boundary=[allow("*")], action="kms:ListKeys", resource="*"),
    Case("B06 boundary full access is no limit", "alice", "allowed", identity=([allow("kms:ListKeys")],), boundary=FULL, action="kms:ListKeys", resource="*"),
    Case("B07 boundary of another action limits", "alice", "no:boundary", identity=([allow("kms:*")],), boundary=[allow("kms:ListAliases")], action="kms:ListKeys", resource="*"),
    Case("B08 boundary with a failing condition", "alice", "no:boundary", identity=([allow("kms:*")],), boundary=[allow("kms:*", StringEquals={"aws:RequestedRegion": "eu-west-1"})], action="kms:ListKeys", resource="*"),
    Case("B09 boundary with a holding condition", "alice", "allowed", identity=([allow("kms:*")],), boundary=[allow("kms:*", StringEquals={"aws:RequestedRegion": REGION})], action="kms:ListKeys", resource="*"),
    Case("B10 boundary NotAction allows the rest", "alice", "allowed", identity=([allow("kms:*")],), boundary=[not_action("Allow", "iam:*")], action="kms:ListKeys", resource="*"),
    Case("B11 boundary NotAction excludes kms", "alice", "no:boundary", identity=([allow("kms:*")],), boundary=[not_action("Allow", "kms:*")], action="kms:ListKeys", resource="*"),
    Case("B12 boundary limits a role session too", "session", "no:boundary", identity=([allow("kms:*")],), boundary=[allow("s3:*")], action="kms:ListKeys", resource="*"),
    Case("B13 boundary allows a role session", "session", "allowed", identity=([allow("kms:*")],), boundary=[allow("kms:List*")], action="kms:ListKeys", resource="*"),
    Case("B14 boundary resource narrower than the key", "alice", "no:boundary", identity=([allow("kms:Encrypt")],), boundary=[allow("kms:*", f"arn:aws:kms:{REGION}:{A}:key/0987dcba-09fe-87dc-65ba-ab0987654321") ], key_policy=DEFAULT_KEY_POLICY),
    Case("B15 boundary resource covers the key", "alice", "allowed", identity=([allow("kms:Encrypt")],), boundary=[allow("kms:*", f"arn:aws:kms:{REGION}:{A}:key/*")], key_policy=DEFAULT_KEY_POLICY),
    Case("B16 boundary, key policy delegates, identity allows", "alice", "allowed", identity=([allow("kms:Encrypt")],), boundary=[allow("kms:Encrypt")], key_policy=DEFAULT_KEY_POLICY),
    Case("B17 boundary, key policy delegates, boundary silent", "alice", "no:boundary", identity=([allow("kms:Encrypt")],), boundary=[allow("kms:Decrypt")], key_policy=DEFAULT_KEY_POLICY),
    Case("B18 boundary deny with encryption context", "alice", "deny:boundary", identity=([allow("kms:*")],), boundary=[allow("kms:*"), deny("kms:Encrypt", StringNotEquals={EC: "alpha"})], key_policy=DEFAULT_KEY_POLICY, context={EC: "beta"}),
    Case("B19 boundary deny with encryption context spared", "alice", "allowed", identity=([allow("kms:*")],), boundary=[allow("kms:*"), deny("kms:Encrypt", StringNotEquals={EC: "alpha"})], key_policy=DEFAULT_KEY_POLICY, context={EC: "alpha"}),
    Case("B20 empty boundary denies everything", "alice", "no:boundary", identity=([allow("*")],), boundary=[allow("iam:GetUser")], action="kms:CreateKey", resource="*"),
    # ---------------------------------------------------------------- C. session policies
    Case("C01 no session policy: the role's policies decide", "session", "allowed", identity=([allow("kms:ListKeys")],), action="kms:ListKeys", resource="*"),
    Case("C02 session policy and role allow", "session", "allowed", identity=([allow("kms:*")],), session=([allow("kms:ListKeys")],), action="kms:ListKeys", resource="*"),
    Case("C03 session policy does not allow", "session", "no:session", identity=([allow("kms:*")],), session=([allow("s3:*")],), action="kms:ListKeys", resource="*"),
    Case("C04 session policy allows, role does not", "session", "no:identity", session=([allow("kms:*")],), action="kms:ListKeys", resource="*"),
    Case("C05 session policy explicit deny", "session", "deny:session", identity=([allow("kms:*")],), session=([allow("*"), deny("kms:ListKeys")],), action="kms:ListKeys", resource="*"),
    Case("C06 role deny beats session allow", "session", "deny:identity", identity=([deny("kms:ListKeys")],), session=([allow("*")],), action="kms:ListKeys", resource="*"),
    Case("C07 any of several session policies allows", "session", "allowed", identity=([allow("kms:*")],), session=([allow("s3:*")], [allow("kms:List*")],), action="kms:ListKeys", resource="*"),
    Case("C08 none of several session policies allows", "session", "no:session", identity=([allow("kms:*")],), session=([allow("s3:*")], [allow("iam:*")],), action="kms:ListKeys", resource="*"),
    Case("C09 session policy, boundary and role all allow", "session", "allowed", identity=([allow("kms:*")],), boundary=[allow("kms:*")], session=([allow("kms:ListKeys")],), action="kms:ListKeys", resource="*"),
    Case("C10 boundary silent with a session policy", "session", "no:boundary", identity=([allow("kms:*")],), boundary=[allow("s3:*")], session=([allow("kms:*")],), action="kms:ListKeys", resource="*"),
    Case("C11 session policy with a failing condition", "session", "no:session", identity=([allow("kms:*")],), session=([allow("kms:*", IpAddress={"aws:SourceIp": "10.0.0.0/8"})],), action="kms:ListKeys", resource="*", request={"source_ip": "192.0.2.1"}),
    Case("C12 session policy narrows the key resource", "session", "no:session", identity=([allow("kms:*")],), session=([allow("kms:*", f"arn:aws:kms:{REGION}:{A}:key/0987dcba-09fe-87dc-65ba-ab0987654321")],), key_policy=DEFAULT_KEY_POLICY),
    Case("C13 session policy covers the key", "session", "allowed", identity=([allow("kms:*")],), session=([allow("kms:Encrypt", KEY)],), key_policy=DEFAULT_KEY_POLICY),
    Case("C14 session tag condition in the role policy", "session", "allowed", identity=([allow("kms:ListKeys", StringEquals={"aws:PrincipalTag/project": "x"})],), action="kms:ListKeys", resource="*", tags={"project": "x"}),
    Case("C15 session deny with NotAction", "session", "deny:session", identity=([allow("*")],), session=([allow("*"), not_action("Deny", "s3:*")],), action="kms:ListKeys", resource="*"),
    # ---------------------------------------------------------------- D. key policies, same account
    Case("D01 default key policy, root", "root", "allowed", key_policy=DEFAULT_KEY_POLICY),
    Case("D02 default key policy, user with IAM allow", "alice", "allowed", identity=([allow("kms:Encrypt")],), key_policy=DEFAULT_KEY_POLICY),
    Case("D03 default key policy, user without IAM allow", "alice", "no:identity", key_policy=DEFAULT_KEY_POLICY),
    Case("D04 key policy names the user, no IAM policy", "alice", "allowed", key_policy=[kallow(ALICE, "kms:Encrypt")]),
    Case("D05 key policy names another user", "alice", "no:resource", identity=([allow("kms:*")],), key_policy=[kallow(BOB, "kms:Encrypt")]),
    Case("D06 key policy allows nobody, IAM allows", "alice", "no:resource", identity=([allow("kms:*")],), key_policy=NO_KEY_POLICY + [kallow(BOB, "kms:Decrypt")]),
    Case("D07 key policy allows nobody, root", "root", "no:resource", key_policy=[kallow(ALICE, "kms:Encrypt")]),
    Case("D08 key policy deny of the user", "alice", "deny:resource", identity=([allow("kms:*")],), key_policy=DEFAULT_KEY_POLICY + [kdeny(ALICE, "kms:Encrypt")]),
    Case("D09 key policy deny binds the root", "root", "deny:resource", key_policy=DEFAULT_KEY_POLICY + [kdeny(root_of(A), "kms:Encrypt")]),
    Case("D10 key policy deny of the account binds users", "alice", "deny:resource", identity=([allow("kms:*")],), key_policy=[kallow(ALICE), kdeny(root_of(A), "kms:Encrypt")]),
    Case("D11 key policy deny of everyone", "alice", "deny:resource", key_policy=[kallow(ALICE), kdeny("*", "kms:Encrypt")]),
    Case("D12 key policy allows everyone", "alice", "allowed", key_policy=[kallow("*", "kms:Encrypt")]),
    Case("D13 key policy allows everyone, IAM denies", "alice", "deny:identity", identity=([deny("kms:Encrypt")],), key_policy=[kallow("*", "kms:Encrypt")]),
    Case("D14 key policy names the user, IAM denies", "alice", "deny:identity", identity=([deny("kms:*")],), key_policy=[kallow(ALICE)]),
    Case("D15 key policy names the user, boundary silent", "alice", "allowed", boundary=[allow("s3:*")], key_policy=[kallow(ALICE, "kms:Encrypt")]),
    Case("D16 key policy names the user, boundary denies", "alice", "deny:boundary", boundary=[allow("*"), deny("kms:Encrypt")], key_policy=[kallow(ALICE, "kms:Encrypt")]),
    Case("D17 key policy names the account, boundary silent", "alice", "no:boundary", identity=([allow("kms:*")],), boundary=[allow("s3:*")], key_policy=DEFAULT_KEY_POLICY),
    Case("D18 key policy names the role, no session policy", "session", "allowed", key_policy=[kallow(ROLE_A, "kms:Encrypt")]),
    Case("D19 key policy names the role, session policy silent", "session", "no:session", session=([allow("s3:*")],), key_policy=[kallow(ROLE_A, "kms:Encrypt")]),
    Case("D20 key policy names the role, session policy allows", "session", "allowed", session=([allow("kms:Encrypt")],), key_policy=[kallow(ROLE_A, "kms:Encrypt")]),
    Case("D21 key policy names the role, boundary silent", "session", "no:boundary", boundary=[allow("s3:*")], key_policy=[kallow(ROLE_A, "kms:Encrypt")]),
    Case("D22 key policy names the session, session policy silent", "session", "allowed", session=([allow("s3:*")],), key_policy=[kallow(SESSION, "kms:Encrypt")]),
    Case("D23 key policy names the session, boundary silent", "session", "allowed", boundary=[allow("s3:*")], key_policy=[kallow(SESSION, "kms:Encrypt")]),
    Case("D24 key policy names the session, session policy denies", "session", "deny:session", session=([allow("*"), deny("kms:Encrypt")],), key_policy=[kallow(SESSION, "kms:Encrypt")]),
    Case("D25 key policy names another session of the role", "session", "no:resource", identity=([allow("kms:*")],), key_policy=[kallow(f"arn:aws:sts::{A}:assumed-role/Admin/other", "kms:Encrypt")]),
    Case("D26 key policy names another role", "session", "no:resource", identity=([allow("kms:*")],), key_policy=[kallow(f"arn:aws:iam::{A}:role/Auditor", "kms:Encrypt")]),
    Case("D27 key policy names the account, session allowed by IAM", "session", "allowed", identity=([allow("kms:Encrypt")],), key_policy=DEFAULT_KEY_POLICY),
    Case("D28 key policy names the account, session policy silent", "session", "no:session", identity=([allow("kms:Encrypt")],), session=([allow("kms:Decrypt")],), key_policy=DEFAULT_KEY_POLICY),
    Case("D29 key policy, other action only", "alice", "no:resource", key_policy=[kallow(ALICE, "kms:Decrypt")]),
    Case("D30 key policy condition on encryption context holds", "alice", "allowed", key_policy=[kallow(ALICE, "kms:Encrypt", StringEquals={EC: "alpha"})], context={EC: "alpha"}),
    Case("D31 key policy condition on encryption context fails", "alice", "no:resource", key_policy=[kallow(ALICE, "kms:Encrypt", StringEquals={EC: "alpha"})], context={EC: "beta"}),
    Case("D32 key policy kms:CallerAccount", "alice", "allowed", identity=([allow("kms:Encrypt")],), key_policy=[kallow("*", "kms:Encrypt", StringEquals={"kms:CallerAccount": A})], context={"kms:CallerAccount": A}),
    Case("D33 key policy kms:ViaService fails for a direct call", "alice", "no:resource", key_policy=[kallow("*", "kms:Encrypt", StringEquals={"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}) ]),
    Case("D34 key policy deny when not via a service", "alice", "deny:resource", key_policy=[kallow(ALICE), kdeny("*", "kms:Encrypt", Bool={"aws:ViaAWSService": "false"})]),
    Case("D35 key policy deny unless the user's tag", "alice", "deny:resource", key_policy=[kallow(ALICE), kdeny("*", "kms:Encrypt", StringNotEquals={"aws:PrincipalTag/team": "sec"})], tags={"team": "dev"}),
    Case("D36 key policy deny unless tag spares the tagged", "alice", "allowed", key_policy=[kallow(ALICE), kdeny("*", "kms:Encrypt", StringNotEquals={"aws:PrincipalTag/team": "sec"})], tags={"team": "sec"}),
    Case("D37 key policy names the account ARN as 12 digits", "alice", "allowed", identity=([allow("kms:Encrypt")],), key_policy=[kallow(A)]),
    Case("D38 key policy 12-digit account, no IAM allow", "alice", "no:identity", key_policy=[kallow(A)]),
    Case("D39 key policy names the account, IAM allows another key", "alice", "no:identity", identity=([allow("kms:*", f"arn:aws:kms:{REGION}:{A}:key/0987dcba-09fe-87dc-65ba-ab0987654321")],), key_policy=DEFAULT_KEY_POLICY),
    Case("D40 key policy PrincipalArn condition with star principal", "alice", "allowed", key_policy=[kallow("*", "kms:Encrypt", ArnEquals={"aws:PrincipalArn": ALICE})]),
    Case("D41 key policy PrincipalArn condition for someone else", "bob", "no:resource", identity=([allow("kms:*")],), key_policy=[kallow("*", "kms:Encrypt", ArnEquals={"aws:PrincipalArn": ALICE})]),
    Case("D42 key policy PrincipalType User only", "session", "no:resource", identity=([allow("kms:*")],), key_policy=[kallow("*", "kms:Encrypt", StringEquals={"aws:PrincipalType": "User"})]),
    Case("D43 root needs no IAM policy under delegation", "root", "allowed", action="kms:ScheduleKeyDeletion", key_policy=DEFAULT_KEY_POLICY),
    Case("D44 root, key policy allows only Decrypt", "root", "no:resource", key_policy=[kallow(root_of(A), "kms:Decrypt")]),
    Case("D45 root, boundaryless, key policy names another account", "root", "no:resource", key_policy=[kallow(root_of(B))]),
    # ---------------------------------------------------------------- E. optional resource policies
    # A resource policy that is not required (the resource's own policy, as for a
    # secret or a bucket): an identity allow OR a resource allow suffices in one account.
    Case("E01 resource policy names the user, no IAM", "alice", "allowed", key_policy=[kallow(ALICE, "kms:Encrypt")], action="kms:Encrypt", required=False),
    Case("E02 resource policy silent, IAM allows", "alice", "allowed", identity=([allow("kms:Encrypt")],), key_policy=[kallow(BOB, "kms:Encrypt")], required=False),
    Case("E03 resource policy silent, IAM silent", "alice", "no:identity", key_policy=[kallow(BOB, "kms:Encrypt")], required=False),
    Case("E04 resource policy deny beats IAM allow", "alice", "deny:resource", identity=([allow("kms:*")],), key_policy=[kdeny(ALICE, "kms:Encrypt")], required=False),
    Case("E05 resource policy names the account, IAM silent", "alice", "no:identity", key_policy=[kallow(root_of(A), "kms:Encrypt")], required=False),
    # ---------------------------------------------------------------- F. cross-account
    Case("F01 key policy names B, carol's IAM allows", "carol", "allowed", identity=([allow("kms:Encrypt")],), key_policy=DEFAULT_KEY_POLICY + [kallow(root_of(B), "kms:Encrypt")]),
    Case("F02 key policy names B, carol has no IAM allow", "carol", "no:identity", key_policy=DEFAULT_KEY_POLICY + [kallow(root_of(B), "kms:Encrypt")]),
    Case("F03 key policy names carol, no IAM allow", "carol", "no:identity", key_policy=DEFAULT_KEY_POLICY + [kallow(CAROL, "kms:Encrypt")]),
    Case("F04 key policy names carol, IAM allows", "carol", "allowed", identity=([allow("kms:Encrypt", KEY)],), key_policy=DEFAULT_KEY_POLICY + [kallow(CAROL, "kms:Encrypt")]),
    Case("F05 key policy only for A, carol's IAM allows", "carol", "no:resource", identity=([allow("kms:*")],), key_policy=DEFAULT_KEY_POLICY),
    Case("F06 key policy denies B", "carol", "deny:resource", identity=([allow("kms:*")],), key_policy=[kallow(root_of(B)), kdeny(root_of(B), "kms:Encrypt")]),
    Case("F07 carol's IAM denies", "carol", "deny:identity", identity=([allow("kms:*"), deny("kms:Encrypt", KEY)],), key_policy=[kallow(root_of(B))]),
    Case("F08 carol's boundary silent", "carol", "no:boundary", identity=([allow("kms:*")],), boundary=[allow("s3:*")], key_policy=[kallow(CAROL)]),
    Case("F09 carol's boundary allows", "carol", "allowed", identity=([allow("kms:*")],), boundary=[allow("kms:Encrypt")], key_policy=[kallow(CAROL)]),
    Case("F10 B's root, key policy names B", "b-root", "allowed", key_policy=[kallow(root_of(B), "kms:Encrypt")]),
    Case("F11 B's root, key policy for A only", "b-root", "no:resource", key_policy=DEFAULT_KEY_POLICY),
    Case("F12 B's session, key policy names the role, IAM allows", "b-session", "allowed", identity=([allow("kms:Encrypt")],), key_policy=[kallow(ROLE_B, "kms:Encrypt")]),
    Case("F13 B's session, key policy names the role, no IAM", "b-session", "no:identity", key_policy=[kallow(ROLE_B, "kms:Encrypt")]),
    Case("F14 B's session, session policy silent", "b-session", "no:session", identity=([allow("kms:*")],), session=([allow("s3:*")],), key_policy=[kallow(root_of(B))]),
    Case("F15 B's session names itself, still needs IAM", "b-session", "no:identity", key_policy=[kallow(B_SESSION, "kms:Encrypt")]),
    Case("F16 key policy allows everyone, carol needs IAM", "carol", "no:identity", key_policy=[kallow("*", "kms:Encrypt")]),
    Case("F17 key policy everyone, carol's IAM allows", "carol", "allowed", identity=([allow("kms:Encrypt")],), key_policy=[kallow("*", "kms:Encrypt")]),
    Case("F18 key policy PrincipalAccount condition", "carol", "allowed", identity=([allow("kms:Encrypt")],), key_policy=[kallow("*", "kms:Encrypt", StringEquals={"aws:PrincipalAccount": B})]),
    Case("F19 key policy PrincipalAccount of another", "carol", "no:resource", identity=([allow("kms:Encrypt")],), key_policy=[kallow("*", "kms:Encrypt", StringEquals={"aws:PrincipalAccount": "999988887777"}) ]),
    Case("F20 key policy PrincipalOrgID matches", "carol", "allowed", identity=([allow("kms:Encrypt")],), key_policy=[kallow("*", "kms:Encrypt", StringEquals={"aws:PrincipalOrgID": "o-exampleorg1"}) ], org_id="o-exampleorg1"),
    Case("F21 key policy PrincipalOrgID, no organization", "carol", "no:resource", identity=([allow("kms:Encrypt")],), key_policy=[kallow("*", "kms:Encrypt", StringEquals={"aws:PrincipalOrgID": "o-exampleorg1"}) ]),
    Case("F22 key policy for A only refuses DescribeKey", "carol", "no:resource", identity=([allow("kms:*")],), action="kms:DescribeKey", key_policy=[kallow(root_of(A))]),
    Case("F23 carol's IAM allows only another account's keys", "carol", "no:identity", identity=([allow("kms:Encrypt", f"arn:aws:kms:*:{B}:key/*")],), key_policy=[kallow(root_of(B))]),
    # ---------------------------------------------------------------- G. service control policies
    Case("G01 full access at every level, IAM allows", "alice", "allowed", identity=([allow("kms:ListKeys")],), scps=((FULL,), (FULL,)), action="kms:ListKeys", resource="*"),
    Case("G02 full access at every level, IAM silent", "alice", "no:identity", scps=((FULL,), (FULL,)), action="kms:ListKeys", resource="*"),
    Case("G03 deny at the root", "alice", "deny:scp", identity=([allow("*")],), scps=((FULL, [deny("kms:*")]), (FULL,)), action="kms:ListKeys", resource="*"),
    Case("G04 deny at the account", "alice", "deny:scp", identity=([allow("*")],), scps=((FULL,), (FULL, [deny("kms:ListKeys")])), action="kms:ListKeys", resource="*"),
    Case("G05 account level allows only s3", "alice", "no:scp", identity=([allow("*")],), scps=((FULL,), ([allow("s3:*")],)), action="kms:ListKeys", resource="*"),
    Case("G06 OU level allows only s3", "alice", "no:scp", identity=([allow("*")],), scps=((FULL,), ([allow("s3:*")],), (FULL,)), action="kms:ListKeys", resource="*"),
    Case("G07 each level allows by a different policy", "alice", "allowed", identity=([allow("*")],), scps=(([allow("kms:*")],), ([allow("kms:List*")],), ([allow("*")],)), action="kms:ListKeys", resource="*"),
    Case("G08 a level with two SCPs, one allows", "alice", "allowed", identity=([allow("*")],), scps=((FULL,), ([allow("s3:*")], [allow("kms:*")])), action="kms:ListKeys", resource="*"),
    Case("G09 a level with no SCP allows nothing", "alice", "no:scp", identity=([allow("*")],), scps=((FULL,), ()), action="kms:ListKeys", resource="*"),
    Case("G10 SCP binds the member account's root", "root", "deny:scp", scps=((FULL,), (FULL, [deny("kms:*")])), key_policy=DEFAULT_KEY_POLICY),
    Case("G11 SCP silence binds the root", "root", "no:scp", scps=((FULL,), ([allow("s3:*")],)), key_policy=DEFAULT_KEY_POLICY),
    Case("G12 SCP binds even a direct key-policy grant", "alice", "no:scp", scps=((FULL,), ([allow("s3:*")],)), key_policy=[kallow(ALICE, "kms:Encrypt")]),
    Case("G13 SCP deny beats a direct key-policy grant", "alice", "deny:scp", scps=((FULL, [deny("kms:Encrypt")]),), key_policy=[kallow(ALICE, "kms:Encrypt")]),
    Case("G14 SCP region guard denies another region", "alice", "deny:scp", identity=([allow("*")],), scps=((FULL, [deny("*", StringNotEquals={"aws:RequestedRegion": "eu-west-1"})]),), action="kms:ListKeys", resource="*"),
    Case("G15 SCP region guard spares its region", "alice", "allowed", identity=([allow("*")],), scps=((FULL, [deny("*", StringNotEquals={"aws:RequestedRegion": REGION})]),), action="kms:ListKeys", resource="*"),
    Case("G16 SCP NotAction deny", "alice", "deny:scp", identity=([allow("*")],), scps=((FULL, [not_action("Deny", ["s3:*", "iam:*"])]),), action="kms:ListKeys", resource="*"),
    Case("G17 SCP allows, boundary silent", "alice", "no:boundary", identity=([allow("*")],), boundary=[allow("s3:*")], scps=((FULL,),), action="kms:ListKeys", resource="*"),
    Case("G18 SCP allows, session policy silent", "session", "no:session", identity=([allow("*")],), session=([allow("s3:*")],), scps=((FULL,),), action="kms:ListKeys", resource="*"),
    Case("G19 SCP on the caller's account binds cross-account use", "carol", "deny:scp", identity=([allow("kms:*")],), scps=((FULL, [deny("kms:Encrypt")]),), key_policy=[kallow(root_of(B))]),
    Case("G20 SCP silence binds cross-account use", "carol", "no:scp", identity=([allow("kms:*")],), scps=((FULL,), ([allow("s3:*")],)), key_policy=[kallow(root_of(B))]),
    Case("G21 SCP allows cross-account use", "carol", "allowed", identity=([allow("kms:*")],), scps=((FULL,), (FULL,)), key_policy=[kallow(root_of(B))]),
    Case("G23 SCP with a principal-tag exception", "alice", "allowed", identity=([allow("*")],), scps=((FULL, [deny("kms:*", StringNotEquals={"aws:PrincipalTag/role": "admin"})]),), action="kms:ListKeys", resource="*", tags={"role": "admin"}),
    Case("G24 SCP with a principal-tag exception, untagged", "alice", "deny:scp", identity=([allow("*")],), scps=((FULL, [deny("kms:*", StringNotEquals={"aws:PrincipalTag/role": "admin"})]),), action="kms:ListKeys", resource="*"),
    Case("G25 SCP ArnNotLike exception for a role", "session", "allowed", identity=([allow("*")],), scps=((FULL, [deny("kms:*", ArnNotLike={"aws:PrincipalArn": ROLE_A})]),), action="kms:ListKeys", resource="*"),
    Case("G26 SCP ArnNotLike exception, other principal", "alice", "deny:scp", identity=([allow("*")],), scps=((FULL, [deny("kms:*", ArnNotLike={"aws:PrincipalArn": ROLE_A})]),), action="kms:ListKeys", resource="*"),
    # ---------------------------------------------------------------- H. precedence of explicit denies
    Case("H04 explicit deny beats every allow", "alice", "deny:identity", identity=([allow("*")], [deny("kms:Encrypt", KEY)],), boundary=FULL, key_policy=[kallow(ALICE)]),
    Case("H05 explicit deny in a policy that does not apply is no deny", "alice", "allowed", identity=([allow("*"), deny("kms:Encrypt", f"arn:aws:kms:{REGION}:{A}:key/0987dcba-09fe-87dc-65ba-ab0987654321")],), key_policy=DEFAULT_KEY_POLICY),
    Case("H06 deny with a condition that does not hold", "alice", "allowed", identity=([allow("*"), deny("kms:*", StringEquals={"aws:username": "bob"})],), key_policy=DEFAULT_KEY_POLICY),
    Case("H07 deny with a negated condition on an absent key applies", "alice", "deny:identity", identity=([allow("*"), deny("kms:*", StringNotEquals={EC: "alpha"})],), key_policy=DEFAULT_KEY_POLICY),
    Case("H08 deny with Null check on the context", "alice", "deny:identity", identity=([allow("*"), deny("kms:Encrypt", Null={"kms:EncryptionContextKeys": "true"})],), key_policy=DEFAULT_KEY_POLICY),
    Case("H09 Null check spares a call with context", "alice", "allowed", identity=([allow("*"), deny("kms:Encrypt", Null={"kms:EncryptionContextKeys": "true"})],), key_policy=DEFAULT_KEY_POLICY, context={EC: "alpha", "kms:EncryptionContextKeys": ["tenant"]}),
    Case("H10 ForAllValues restricts context keys", "alice", "no:identity", identity=([allow("kms:Encrypt", **{"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["tenant"]}})],), key_policy=DEFAULT_KEY_POLICY, context={EC: "alpha", "kms:EncryptionContext:other": "x", "kms:EncryptionContextKeys": ["tenant", "other"]}),
    Case("H11 ForAllValues allows the listed keys", "alice", "allowed", identity=([allow("kms:Encrypt", **{"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["tenant", "other"]}})],), key_policy=DEFAULT_KEY_POLICY, context={EC: "alpha", "kms:EncryptionContextKeys": ["tenant"]}),
]
# fmt: on

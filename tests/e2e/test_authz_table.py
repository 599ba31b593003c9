"""The hand-written evaluation table (tests/iam/authz_cases.py), checked by REAL calls.

For each case a principal is made that holds exactly the case's policies -- an
IAM user (inline policies, a permissions boundary, tags) or a role session
(the role's inline policies and boundary, the session policies passed to
AssumeRole) -- a key is created with the case's key policy, and the principal
calls the KMS operation of the case's action through boto3. The outcome, and
AWS's AccessDenied message, must be the table's. Where SimulateCustomPolicy's
inputs can express the case, the simulator must agree as well.

Names in the table (alice, bob, the Admin role, the key) are made unique per
case by substitution, so cases share one server and run in any order.
Not driven here (the unit table covers them): cases needing a request from
another IP, over TLS or through another service; optional resource policies
(KMS key policies are always required); another account's principals and SCPs
(tests/e2e/test_authz_cross_account.py).
"""

# ruff: noqa: E501

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, REGION, ServerProcess
from tests.e2e.helpers import session_client
from tests.iam.authz_cases import CASES, KEY, WHO, Case, Doc, expected_why
from tests.iam.test_authorizer_table import simulator_inputs

RUN = secrets.token_hex(3)
_OTHER_KEY_IDS = ("0987dcba-09fe-87dc-65ba-ab0987654321",)


def drivable(case: Case) -> bool:
    r = case.request
    return (
        case.who in ("alice", "bob", "session", "root")
        and not case.scps
        and case.required
        and r.get("source_ip", "127.0.0.1") == "127.0.0.1"
        and not r.get("secure_transport")
        and "via_service" not in r
        and r.get("region", REGION) == REGION
        and case.org_id is None
    )


DRIVEN = [c for c in CASES if drivable(c)]


class Names:
    """The per-case renaming of the table's literals to this run's entities."""

    def __init__(self, n: int) -> None:
        self.suffix = f"{RUN}-{n}"
        self.pairs: list[tuple[str, str]] = []

    def add(self, old: str, new: str) -> None:
        self.pairs.append((old, new))

    def text(self, value: str) -> str:
        if value in ("alice", "bob", "carol"):  # a bare user name (aws:username, contexts)
            return f"{value}-{self.suffix}"
        for old, new in self.pairs:
            value = value.replace(old, new)
        return value

    def doc(self, statements: Doc) -> str:
        return self.text(json.dumps({"Version": "2012-10-17", "Statement": statements}))


@pytest.fixture(scope="module")
def root(sqlite_server: ServerProcess) -> dict[str, Any]:
    return {s: sqlite_server.client(s) for s in ("iam", "kms", "sts")}


def _policy_arn(iam: Any, names: Names, name: str, document: str) -> str:
    return str(
        iam.create_policy(PolicyName=f"{name}-{names.suffix}", PolicyDocument=document)["Policy"][
            "Arn"
        ]
    )


USERS = ("alice", "bob", "carol")
ROLES = {"session": ("Admin", "s1"), "b-session": ("Ops", "s2")}


def make_principal(
    server: ServerProcess,
    root: dict[str, Any],
    case: Case,
    names: Names,
    account: str = ACCOUNT_ID,
) -> tuple[Any, str]:
    """Create the case's principal holding exactly its policies: (kms client, its ARN).

    `root` holds iam/kms/sts clients with full rights in `account`, the account the
    principal is made in (AssumeRole is called with them too).
    """
    iam = root["iam"]
    tags = [{"Key": k, "Value": v} for k, v in case.tags.items()]
    boundary = {}
    if case.boundary is not None:
        boundary = {
            "PermissionsBoundary": _policy_arn(iam, names, "bound", names.doc(case.boundary))
        }
    if case.who == "root":
        return root["kms"], f"arn:aws:iam::{account}:root"
    if case.who in USERS:
        name = f"{case.who}-{names.suffix}"
        user_tags = {"Tags": tags} if tags else {}
        user = iam.create_user(UserName=name, **boundary, **user_tags)["User"]
        names.pairs.insert(0, (WHO[case.who][3], user["UserId"]))
        for n, d in enumerate(case.identity):
            iam.put_user_policy(UserName=name, PolicyName=f"p{n}", PolicyDocument=names.doc(d))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return session_client(server, "kms", key), str(user["Arn"])
    # a role session: the role holds the identity policies, AssumeRole passes the session policies
    base, session_name = ROLES[case.who]
    role_name = f"{base}-{names.suffix}"
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": ["sts:AssumeRole", "sts:TagSession"]}]})  # fmt: skip
    extra = {"Tags": tags} if tags else {}
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust, **boundary, **extra)
    names.pairs.insert(0, (WHO[case.who][3].split(":")[0], role["Role"]["RoleId"]))
    for n, d in enumerate(case.identity):
        iam.put_role_policy(RoleName=role_name, PolicyName=f"p{n}", PolicyDocument=names.doc(d))
    assume: dict[str, Any] = {}
    if case.session is not None:
        first, *rest = case.session
        assume["Policy"] = names.doc(first)
        if rest:
            assume["PolicyArns"] = [
                {"arn": _policy_arn(iam, names, f"sess{n}", names.doc(d))}
                for n, d in enumerate(rest)
            ]
    out = root["sts"].assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{role_name}",
        RoleSessionName=session_name,
        **assume,
    )
    return session_client(server, "kms", out["Credentials"]), str(out["AssumedRoleUser"]["Arn"])


def rename(names: Names) -> None:
    """The table's user and role names, made unique to the case."""
    for who in USERS:
        names.add(f"user/{who}", f"user/{who}-{names.suffix}")
    names.add('"alice"', f'"alice-{names.suffix}"')  # aws:username values and contexts
    for base, _ in ROLES.values():
        names.add(f"role/{base}", f"role/{base}-{names.suffix}")
        names.add(f"assumed-role/{base}/", f"assumed-role/{base}-{names.suffix}/")


def expect(case: Case, kms: Any, key_arn: str, names: Names, arn: str) -> None:
    """Make the case's call as its principal and check the table's outcome and message."""
    resource = key_arn if case.key_policy is not None and case.resource == KEY else "*"
    if case.resource not in (KEY, "*"):
        resource = names.text(case.resource)
    if case.expect == "allowed":
        call_kms(kms, case, key_arn, names)
        return
    with pytest.raises(ClientError) as exc:
        call_kms(kms, case, key_arn, names)
    error = exc.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == (
        f"User: {arn} is not authorized to perform: {case.action} on resource: "
        f"{resource} {expected_why(case)}"
    )


def encryption_context(case: Case) -> dict[str, str]:
    prefix = "kms:EncryptionContext:"
    return {
        k[len(prefix) :]: v
        for k, v in case.context.items()
        if k.startswith(prefix) and isinstance(v, str)
    }


def call_kms(kms: Any, case: Case, key_arn: str, names: Names) -> None:
    action = case.action
    if action == "kms:Encrypt":
        ec = {k: names.text(v) for k, v in encryption_context(case).items()}
        kms.encrypt(KeyId=key_arn, Plaintext=b"x", **({"EncryptionContext": ec} if ec else {}))
    elif action == "kms:ListKeys":
        kms.list_keys()
    elif action == "kms:ListAliases":
        kms.list_aliases()
    elif action == "kms:CreateKey":
        kms.create_key()
    elif action == "kms:DescribeKey":
        kms.describe_key(KeyId=key_arn)
    elif action == "kms:ScheduleKeyDeletion":
        kms.schedule_key_deletion(KeyId=key_arn, PendingWindowInDays=7)
    else:
        raise AssertionError(f"no KMS call drives {action}")


@pytest.mark.parametrize("case", DRIVEN, ids=[c.id for c in DRIVEN])
def test_table_by_real_calls(
    sqlite_server: ServerProcess, root: dict[str, Any], case: Case
) -> None:
    names = Names(CASES.index(case))
    rename(names)
    key_arn = ""
    if case.key_policy is not None:
        key_arn = root["kms"].create_key(
            Policy=names.doc(case.key_policy), BypassPolicyLockoutSafetyCheck=True
        )["KeyMetadata"]["Arn"]
        names.add(KEY, key_arn)
    kms, arn = make_principal(sqlite_server, root, case, names)
    iam = root["iam"]
    expect(case, kms, key_arn, names, arn)
    request = simulator_inputs(case)
    if request is None:
        return
    text = _renamed(request, names)
    text["CallerArn"] = arn
    for entry in text["ContextEntries"]:
        if entry["ContextKeyName"] == "aws:PrincipalArn":
            entry["ContextKeyValues"] = [arn]
    results = iam.simulate_custom_policy(**text)["EvaluationResults"]
    decision = {"allowed": "allowed", "deny": "explicitDeny", "no": "implicitDeny"}
    assert results[0]["EvalDecision"] == decision[case.expect.split(":")[0]]
    # the user's own policies and boundary, as IAM holds them
    del text["PolicyInputList"]
    text.pop("PermissionsBoundaryPolicyInputList", None)
    text["PolicySourceArn"] = arn
    results = iam.simulate_principal_policy(**text)["EvaluationResults"]
    assert results[0]["EvalDecision"] == decision[case.expect.split(":")[0]]


def _renamed(value: Any, names: Names) -> Any:
    """`value` with the table's literals renamed in every string it holds."""
    if isinstance(value, str):
        return names.text(value)
    if isinstance(value, list):
        return [_renamed(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _renamed(v, names) for k, v in value.items()}
    return value


def test_most_of_the_table_is_driven_by_real_calls() -> None:
    assert len(DRIVEN) >= 120

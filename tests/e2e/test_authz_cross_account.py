"""The evaluation table's cross-account and SCP cases, checked by REAL calls.

One server with an organization: the dev account (A, 111122223333) is its
management account, and each case gets a member account M made by CreateAccount,
administered through OrganizationAccountAccessRole:

- cross-account cases (F*): the table's account B is M; the case's principal
  (carol, or a session of the Ops role) is made in M, the key in A with the
  case's key policy; M's principal calls KMS with the key's ARN;
- SCP cases (G*): the table's account A is M (principal and key both there);
  the case's SCP levels become OUs root -> ... -> M, each holding exactly the
  level's policies (FullAWSAccess detached), attached once the principal and key
  exist -- SCPs bind M's administrator too.

Not driven (the unit table covers them): the member account's root user (no
root credentials for created accounts), a level with no SCP (Organizations
refuses to detach the last one), an account outside any organization.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import REGION, ServerProcess, backend_server
from tests.e2e.helpers import iam_user, session_client
from tests.e2e.test_authz_table import (
    Names,
    expect,
    make_principal,
    rename,
)
from tests.iam.authz_cases import CASES, KEY, Case, Doc, root_of

A, B = "111122223333", "444455556666"
SCP = "SERVICE_CONTROL_POLICY"


def drivable(case: Case) -> bool:
    if case.who in ("root", "b-root") or case.id.startswith("F21"):
        return False
    if any(not level for level in case.scps):
        return False
    r = case.request
    plain = not r and case.required
    return plain and (case.who in ("carol", "b-session") or bool(case.scps))


DRIVEN = [c for c in CASES if drivable(c)]


@pytest.fixture(scope="module")
def org_server(tmp_root: Path) -> Iterator[ServerProcess]:
    yield from backend_server(tmp_root / f"authz-xacct-{secrets.token_hex(3)}", "sqlite")


@pytest.fixture(scope="module")
def org(org_server: ServerProcess) -> dict[str, Any]:
    orgs = org_server.client("organizations")
    org_id = orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root_id = orgs.list_roots()["Roots"][0]["Id"]
    try:
        orgs.enable_policy_type(RootId=root_id, PolicyType=SCP)
    except ClientError as err:
        assert err.response["Error"]["Code"] == "PolicyTypeAlreadyEnabledException"
    clients = {s: org_server.client(s) for s in ("iam", "kms", "sts")}
    return {"orgs": orgs, "org_id": org_id, "root_id": root_id, "a": clients}


def member_account(
    server: ServerProcess, org: dict[str, Any], names: Names
) -> tuple[str, dict[str, Any]]:
    """A new member account and iam/kms/sts clients of its administrator."""
    orgs = org["orgs"]
    car = orgs.create_account(Email=f"{names.suffix}@example.com", AccountName=names.suffix)
    status = orgs.describe_create_account_status(
        CreateAccountRequestId=car["CreateAccountStatus"]["Id"]
    )["CreateAccountStatus"]
    assert status["State"] == "SUCCEEDED", status
    account = str(status["AccountId"])
    creds = org["a"]["sts"].assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
        RoleSessionName="admin",
    )["Credentials"]
    return account, {s: session_client(server, s, creds) for s in ("iam", "kms", "sts")}


@pytest.fixture(scope="module")
def members(
    org_server: ServerProcess, org: dict[str, Any]
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Two member accounts (the organization allows ten): one for cross-account
    cases, never under an SCP but FullAWSAccess; one that SCP cases take in turn."""
    return {
        "cross": member_account(org_server, org, Names(20_000)),
        "scp": member_account(org_server, org, Names(20_001)),
    }


def apply_scps(
    org: dict[str, Any], account: str, levels: tuple[tuple[Doc, ...], ...], names: Names
) -> list[str]:
    """OUs root -> ... -> account, each level holding exactly its SCPs; returns the
    ids of the policies attached to the account itself (for `restore`)."""
    orgs = org["orgs"]
    parent = org["root_id"]
    targets = []
    for n in range(len(levels) - 1):
        ou = orgs.create_organizational_unit(ParentId=parent, Name=f"L{n}-{names.suffix}")
        parent = ou["OrganizationalUnit"]["Id"]
        targets.append(parent)
    if parent != org["root_id"]:
        orgs.move_account(
            AccountId=account, SourceParentId=org["root_id"], DestinationParentId=parent
        )
    targets.append(account)
    on_account: list[str] = []
    for target, level in zip(targets, levels, strict=True):
        for n, statements in enumerate(level):
            policy = orgs.create_policy(
                Content=names.doc(statements),
                Description="",
                Name=f"{target}-{n}-{names.suffix}",
                Type=SCP,
            )["Policy"]["PolicySummary"]["Id"]
            orgs.attach_policy(PolicyId=policy, TargetId=target)
            if target == account:
                on_account.append(policy)
        try:
            orgs.detach_policy(PolicyId="p-FullAWSAccess", TargetId=target)
        except ClientError as err:
            assert err.response["Error"]["Code"] == "PolicyNotAttachedException", err
    return on_account


def restore(org: dict[str, Any], account: str, attached: list[str]) -> None:
    """Back under the root with FullAWSAccess only."""
    orgs = org["orgs"]
    orgs.attach_policy(PolicyId="p-FullAWSAccess", TargetId=account)
    for policy in attached:
        orgs.detach_policy(PolicyId=policy, TargetId=account)
    parent = orgs.list_parents(ChildId=account)["Parents"][0]["Id"]
    if parent != org["root_id"]:
        orgs.move_account(
            AccountId=account, SourceParentId=parent, DestinationParentId=org["root_id"]
        )


@pytest.mark.parametrize("case", DRIVEN, ids=[c.id for c in DRIVEN])
def test_cross_account_and_scp_cases_by_real_calls(
    org_server: ServerProcess,
    org: dict[str, Any],
    members: dict[str, tuple[str, dict[str, Any]]],
    case: Case,
) -> None:
    names = Names(CASES.index(case))
    rename(names)
    names.add("o-exampleorg1", org["org_id"])
    account, admin = members["scp" if case.scps else "cross"]
    cross = case.who in ("carol", "b-session")
    key_owner = org["a"] if cross else admin
    key_arn = ""
    if case.key_policy is not None:
        # the key policy names accounts by the table's ids: relocate them first
        relocated = Names(CASES.index(case))
        relocated.pairs = [*names.pairs, (B if cross else A, account)]
        key_arn = key_owner["kms"].create_key(
            Policy=relocated.doc(case.key_policy), BypassPolicyLockoutSafetyCheck=True
        )["KeyMetadata"]["Arn"]
        names.add(KEY, key_arn)
    names.add(B if cross else A, account)
    kms, arn = make_principal(org_server, admin, case, names, account)
    attached = apply_scps(org, account, case.scps, names) if case.scps else []
    try:
        expect(case, kms, key_arn, names, arn)
    finally:
        if case.scps:
            restore(org, account, attached)


def test_the_cross_account_story(
    org_server: ServerProcess, org: dict[str, Any], members: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    """Account M's user uses A's key only when A's key policy and M's identity policy
    both allow; an SCP on M denies it again."""
    names = Names(10_000)
    account, admin = members["scp"]
    a_kms = org["a"]["kms"]
    key = a_kms.create_key()["KeyMetadata"]["Arn"]
    iam = admin["iam"]
    carol_name, secret = iam_user(iam, "carol-story")
    carol = session_client(org_server, "kms", secret)
    carol_arn = f"arn:aws:iam::{account}:user/{carol_name}"

    def denied(why: str) -> None:
        with pytest.raises(ClientError) as exc:
            carol.encrypt(KeyId=key, Plaintext=b"x")
        assert exc.value.response["Error"]["Message"] == (
            f"User: {carol_arn} is not authorized to perform: kms:Encrypt on resource: {key} {why}"
        )

    denied("because no resource-based policy allows the kms:Encrypt action")
    policy = names.doc([{"Effect": "Allow", "Principal": {"AWS": root_of(A)}, "Action": "kms:*",
                         "Resource": "*"},
                        {"Effect": "Allow", "Principal": {"AWS": root_of(account)},
                         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"],
                         "Resource": "*"}])  # fmt: skip
    a_kms.put_key_policy(KeyId=key, PolicyName="default", Policy=policy)
    denied("because no identity-based policy allows the kms:Encrypt action")
    iam.put_user_policy(
        UserName=carol_name, PolicyName="use-a-key",
        PolicyDocument=names.doc([{"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt",
                                   "kms:DescribeKey"], "Resource": key}]),
    )  # fmt: skip
    blob = carol.encrypt(KeyId=key, Plaintext=b"shared")["CiphertextBlob"]
    assert carol.decrypt(CiphertextBlob=blob)["Plaintext"] == b"shared"
    assert carol.describe_key(KeyId=key)["KeyMetadata"]["AWSAccountId"] == A
    # an alias ARN of A names A's key (AWS: "you must use a key ARN or alias ARN")
    alias = f"alias/shared-{names.suffix}"
    a_kms.create_alias(AliasName=alias, TargetKeyId=key)
    alias_arn = f"arn:aws:kms:{REGION}:{A}:{alias}"
    assert carol.encrypt(KeyId=alias_arn, Plaintext=b"x")["KeyId"] == key
    # alias names and key ids name the caller's own keys only; other operations stay home
    key_id = key.rsplit("/", 1)[1]
    with pytest.raises(ClientError) as exc:
        carol.encrypt(KeyId=alias, Plaintext=b"x")
    assert exc.value.response["Error"]["Message"] == (
        f"Alias arn:aws:kms:{REGION}:{account}:{alias} is not found."
    )
    for call in (lambda: carol.encrypt(KeyId=key_id, Plaintext=b"x"),
                 lambda: carol.get_key_policy(KeyId=key, PolicyName="default")):  # fmt: skip
        with pytest.raises(ClientError) as exc:
            call()
        assert exc.value.response["Error"]["Code"] == "NotFoundException"
    attached = apply_scps(org, account, ((_allow_all(),), (_allow_all(), _deny_encrypt())), names)
    try:
        denied("with an explicit deny in a service control policy")
    finally:
        restore(org, account, attached)


def _allow_all() -> Doc:
    return [{"Effect": "Allow", "Action": "*", "Resource": "*"}]


def _deny_encrypt() -> Doc:
    return [{"Effect": "Deny", "Action": "kms:Encrypt", "Resource": "*"}]


def test_at_least_150_table_cases_are_checked_by_real_calls() -> None:
    from tests.e2e.test_authz_table import DRIVEN as SAME_ACCOUNT

    assert not {c.id for c in DRIVEN} & {c.id for c in SAME_ACCOUNT}
    assert len(DRIVEN) + len(SAME_ACCOUNT) >= 150

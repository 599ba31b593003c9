"""Grants, end to end: real IAM users and role sessions with no policy access to a key
use it through a grant (with and without a grant token) and lose it on RetireGrant /
RevokeGrant; encryption-context constraints, name idempotency, the condition keys
of CreateGrant, who may retire, grants going with their key, and a revoke seen by a
second node."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, ServerProcess
from tests.e2e.helpers import TRUST_ROOT, error_of, iam_user, name, session_client
from tests.e2e.helpers import iam as iam  # the fixture
from tests.e2e.policies import ALLOW_ROOT, deny, policy
from tests.e2e.test_multinode import PROPAGATION_SECONDS, Pair, seconds_until
from tests.e2e.test_multinode import pair as pair  # the two-node fixture

USE = ["Encrypt", "Decrypt", "GenerateDataKey", "DescribeKey"]


def make_user(server: ServerProcess, iam: Any, *statements: dict[str, Any]) -> Any:
    """A user with an access key and (by default) no policy at all: (kms client, ARN)."""
    user, key = iam_user(iam, "grantee", *statements)
    return session_client(server, "kms", key), f"arn:aws:iam::{ACCOUNT_ID}:user/{user}"


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def denied(call: Any, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    assert code(exc) == "AccessDeniedException"


def test_grant_allows_user_without_policy_until_retired(
    server: ServerProcess, kms: Any, iam: Any
) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    user_kms, user_arn = make_user(server, iam)
    denied(user_kms.encrypt, KeyId=key_id, Plaintext=b"secret")

    made = kms.create_grant(KeyId=key_id, GranteePrincipal=user_arn, Operations=USE)
    token, grant_id = made["GrantToken"], made["GrantId"]
    assert len(grant_id) == 64
    # with the token, at once
    blob = user_kms.encrypt(KeyId=key_id, Plaintext=b"secret", GrantTokens=[token])
    # and without it
    assert user_kms.decrypt(CiphertextBlob=blob["CiphertextBlob"])["Plaintext"] == b"secret"
    assert user_kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] == key_id
    data_key = user_kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert len(data_key["Plaintext"]) == 32
    # not an operation of the grant
    denied(user_kms.generate_data_key_without_plaintext, KeyId=key_id, KeySpec="AES_256")
    denied(user_kms.list_grants, KeyId=key_id)

    kms.retire_grant(GrantToken=token)  # the key's administrator, by the key policy
    denied(user_kms.encrypt, KeyId=key_id, Plaintext=b"secret")
    denied(user_kms.decrypt, CiphertextBlob=blob["CiphertextBlob"])
    assert kms.list_grants(KeyId=key_id)["Grants"] == []


def test_revoke_grant_ends_access_and_list_grants_shows_it(
    server: ServerProcess, kms: Any, iam: Any
) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    user_kms, user_arn = make_user(server, iam)
    made = kms.create_grant(
        KeyId=key_id,
        GranteePrincipal=user_arn,
        RetiringPrincipal=f"arn:aws:iam::{ACCOUNT_ID}:root",
        Operations=["Encrypt"],
        Constraints={"EncryptionContextSubset": {"app": "billing"}},
        Name="billing-writer",
    )
    user_kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext={"app": "billing"})
    [entry] = kms.list_grants(KeyId=key_id)["Grants"]
    assert entry["GrantId"] == made["GrantId"]
    assert entry["GranteePrincipal"] == user_arn
    assert entry["Operations"] == ["Encrypt"]
    assert entry["Name"] == "billing-writer"
    assert entry["IssuingAccount"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
    assert entry["Constraints"] == {"EncryptionContextSubset": {"app": "billing"}}
    assert entry["KeyId"].endswith(f":key/{key_id}")
    assert kms.list_grants(KeyId=key_id, GranteePrincipal="arn:aws:iam::1:user/x")["Grants"] == []
    assert kms.list_grants(KeyId=key_id, GrantId=made["GrantId"])["Grants"] == [entry]

    kms.revoke_grant(KeyId=key_id, GrantId=made["GrantId"])
    denied(user_kms.encrypt, KeyId=key_id, Plaintext=b"x", EncryptionContext={"app": "billing"})
    with pytest.raises(ClientError) as exc:
        kms.revoke_grant(KeyId=key_id, GrantId=made["GrantId"])
    assert code(exc) == "NotFoundException"


def test_encryption_context_constraints_are_enforced(
    server: ServerProcess, kms: Any, iam: Any
) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    subset_kms, subset_arn = make_user(server, iam)
    equals_kms, equals_arn = make_user(server, iam)
    kms.create_grant(
        KeyId=key_id,
        GranteePrincipal=subset_arn,
        Operations=["Encrypt", "Decrypt", "GenerateDataKey"],
        Constraints={"EncryptionContextSubset": {"tenant": "a"}},
    )
    kms.create_grant(
        KeyId=key_id,
        GranteePrincipal=equals_arn,
        Operations=["Encrypt", "Decrypt", "GenerateDataKey"],
        Constraints={"EncryptionContextEquals": {"tenant": "a"}},
    )
    wider = {"tenant": "a", "file": "f1"}
    # Subset: the request's context includes the pairs
    blob = subset_kms.encrypt(KeyId=key_id, Plaintext=b"p", EncryptionContext=wider)
    out = subset_kms.decrypt(CiphertextBlob=blob["CiphertextBlob"], EncryptionContext=wider)
    assert out["Plaintext"] == b"p"
    subset_kms.generate_data_key(KeyId=key_id, KeySpec="AES_128", EncryptionContext=wider)
    denied(subset_kms.encrypt, KeyId=key_id, Plaintext=b"p", EncryptionContext={"tenant": "b"})
    denied(subset_kms.encrypt, KeyId=key_id, Plaintext=b"p")
    denied(subset_kms.generate_data_key, KeyId=key_id, KeySpec="AES_128")
    # Equals: exactly these pairs
    exact = {"tenant": "a"}
    blob = equals_kms.encrypt(KeyId=key_id, Plaintext=b"q", EncryptionContext=exact)
    out = equals_kms.decrypt(CiphertextBlob=blob["CiphertextBlob"], EncryptionContext=exact)
    assert out["Plaintext"] == b"q"
    denied(equals_kms.encrypt, KeyId=key_id, Plaintext=b"q", EncryptionContext=wider)
    other = kms.encrypt(KeyId=key_id, Plaintext=b"r", EncryptionContext=wider)
    denied(equals_kms.decrypt, CiphertextBlob=other["CiphertextBlob"], EncryptionContext=wider)
    denied(equals_kms.generate_data_key, KeyId=key_id, KeySpec="AES_128", EncryptionContext=wider)


def test_grant_for_a_role_works_for_its_sessions(server: ServerProcess, kms: Any, iam: Any) -> None:
    role = iam.create_role(RoleName=name("grantee-role"), AssumeRolePolicyDocument=json.dumps(
        TRUST_ROOT))["Role"]  # fmt: skip
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    creds = server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="s1")
    session_kms = session_client(server, "kms", creds["Credentials"])
    denied(session_kms.encrypt, KeyId=key_id, Plaintext=b"x")
    made = kms.create_grant(KeyId=key_id, GranteePrincipal=role["Arn"], Operations=USE)
    blob = session_kms.encrypt(KeyId=key_id, Plaintext=b"x", GrantTokens=[made["GrantToken"]])
    assert session_kms.decrypt(CiphertextBlob=blob["CiphertextBlob"])["Plaintext"] == b"x"
    kms.revoke_grant(KeyId=key_id, GrantId=made["GrantId"])
    denied(session_kms.encrypt, KeyId=key_id, Plaintext=b"x")


def test_explicit_deny_in_key_policy_beats_a_grant(
    server: ServerProcess, kms: Any, iam: Any
) -> None:
    user_kms, user_arn = make_user(server, iam)
    doc = policy(ALLOW_ROOT, deny("kms:Encrypt", principal={"AWS": user_arn}))
    key_id = kms.create_key(Policy=doc)["KeyMetadata"]["KeyId"]
    kms.create_grant(KeyId=key_id, GranteePrincipal=user_arn, Operations=USE)
    denied(user_kms.encrypt, KeyId=key_id, Plaintext=b"x")
    user_kms.describe_key(KeyId=key_id)  # not denied: the grant allows it


def test_malformed_grant_token_is_refused(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    for call, kwargs in [
        (kms.encrypt, {"KeyId": key_id, "Plaintext": b"x"}),
        (kms.describe_key, {"KeyId": key_id}),
        (kms.generate_data_key, {"KeyId": key_id, "KeySpec": "AES_256"}),
    ]:
        with pytest.raises(ClientError) as exc:
            call(GrantTokens=["not-a-token"], **kwargs)
        assert code(exc) == "InvalidGrantTokenException"
    with pytest.raises(ClientError) as exc:
        kms.retire_grant(GrantToken="not-a-token")
    assert code(exc) == "InvalidGrantTokenException"


def test_name_makes_create_grant_idempotent(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    grantee = f"arn:aws:iam::{ACCOUNT_ID}:user/idem"
    args = {"KeyId": key_id, "GranteePrincipal": grantee, "Operations": ["Encrypt"], "Name": "n1"}
    first = kms.create_grant(**args)
    again = kms.create_grant(**args)
    assert again["GrantId"] == first["GrantId"]
    assert again["GrantToken"] != first["GrantToken"]
    other = kms.create_grant(**{**args, "Operations": ["Encrypt", "Decrypt"]})
    assert other["GrantId"] != first["GrantId"]
    unnamed = {k: v for k, v in args.items() if k != "Name"}
    assert kms.create_grant(**unnamed)["GrantId"] != kms.create_grant(**unnamed)["GrantId"]
    assert len(kms.list_grants(KeyId=key_id)["Grants"]) == 4


def test_create_grant_validation(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    grantee = f"arn:aws:iam::{ACCOUNT_ID}:user/v"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"Operations": ["Sign"]}, "ValidationException"),
        ({"Operations": ["GenerateMac"]}, "ValidationException"),
        (
            {
                "Operations": ["Encrypt"],
                "Constraints": {
                    "EncryptionContextSubset": {"a": "1"},
                    "EncryptionContextEquals": {"a": "1"},
                },
            },
            "ValidationException",
        ),
        ({"Operations": ["Encrypt"], "GranteePrincipal": "nobody"}, "ValidationException"),
        ({"Operations": ["Encrypt"], "GrantTokens": ["bad"]}, "InvalidGrantTokenException"),
        ({"Operations": ["Encrypt"], "DryRun": True}, "DryRunOperationException"),
    ]
    for extra, expected in cases:
        args = {"KeyId": key_id, "GranteePrincipal": grantee, **extra}
        with pytest.raises(ClientError) as exc:
            kms.create_grant(**args)
        assert code(exc) == expected, extra
    assert kms.list_grants(KeyId=key_id)["Grants"] == []
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    with pytest.raises(ClientError) as exc:
        kms.create_grant(KeyId=key_id, GranteePrincipal=grantee, Operations=["Encrypt"])
    assert code(exc) == "KMSInvalidStateException"


def test_who_may_retire_a_grant(server: ServerProcess, kms: Any, iam: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    grantee_kms, grantee_arn = make_user(server, iam)
    retirer_kms, retirer_arn = make_user(server, iam)
    stranger_kms, _ = make_user(server, iam)
    # the retiring principal retires by key and grant id
    made = kms.create_grant(
        KeyId=key_id,
        GranteePrincipal=grantee_arn,
        RetiringPrincipal=retirer_arn,
        Operations=["Encrypt"],
    )
    key_arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    with pytest.raises(ClientError) as exc:
        stranger_kms.retire_grant(GrantToken=made["GrantToken"])
    assert code(exc) == "AccessDeniedException"
    with pytest.raises(ClientError) as exc:
        grantee_kms.retire_grant(GrantToken=made["GrantToken"])  # no RetireGrant operation
    assert code(exc) == "AccessDeniedException"
    listed = kms.list_retirable_grants(RetiringPrincipal=retirer_arn)
    assert [g["GrantId"] for g in listed["Grants"]] == [made["GrantId"]]
    retirer_kms.retire_grant(KeyId=key_arn, GrantId=made["GrantId"])
    assert kms.list_retirable_grants(RetiringPrincipal=retirer_arn)["Grants"] == []
    denied(kms.list_retirable_grants, RetiringPrincipal="arn:aws:iam::444455556666:user/x")
    # the grantee retires a grant that lists RetireGrant, by token
    own = kms.create_grant(
        KeyId=key_id, GranteePrincipal=grantee_arn, Operations=["Encrypt", "RetireGrant"]
    )
    grantee_kms.encrypt(KeyId=key_id, Plaintext=b"x")
    grantee_kms.retire_grant(GrantToken=own["GrantToken"])
    denied(grantee_kms.encrypt, KeyId=key_id, Plaintext=b"x")
    with pytest.raises(ClientError) as exc:
        kms.retire_grant(KeyId=key_arn, GrantId=own["GrantId"])
    assert code(exc) == "NotFoundException"


def test_create_grant_condition_keys_bind_the_grantor(
    server: ServerProcess, kms: Any, iam: Any
) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    only_encrypt = {
        "Effect": "Allow",
        "Action": "kms:CreateGrant",
        "Resource": "*",
        "Condition": {
            "ForAllValues:StringEquals": {"kms:GrantOperations": ["Encrypt"]},
            "Bool": {"kms:GrantIsForAWSResource": "false"},
            "StringEquals": {"kms:GrantConstraintType": "EncryptionContextSubset"},
        },
    }
    grantor_kms, _ = make_user(server, iam, only_encrypt)
    grantee = f"arn:aws:iam::{ACCOUNT_ID}:user/someone"
    subset = {"EncryptionContextSubset": {"k": "v"}}
    grantor_kms.create_grant(
        KeyId=key_id, GranteePrincipal=grantee, Operations=["Encrypt"], Constraints=subset
    )
    denied(
        grantor_kms.create_grant,
        KeyId=key_id,
        GranteePrincipal=grantee,
        Operations=["Encrypt", "Decrypt"],
        Constraints=subset,
    )
    denied(grantor_kms.create_grant, KeyId=key_id, GranteePrincipal=grantee, Operations=["Encrypt"])


def test_grantee_with_create_grant_delegates_no_more_than_it_holds(
    server: ServerProcess, kms: Any, iam: Any
) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    middle_kms, middle_arn = make_user(server, iam)
    last_kms, last_arn = make_user(server, iam)
    kms.create_grant(
        KeyId=key_id,
        GranteePrincipal=middle_arn,
        Operations=["Encrypt", "CreateGrant"],
        Constraints={"EncryptionContextSubset": {"team": "x"}},
    )
    strict = {"EncryptionContextEquals": {"team": "x", "env": "prod"}}
    middle_kms.create_grant(
        KeyId=key_id, GranteePrincipal=last_arn, Operations=["Encrypt"], Constraints=strict
    )
    last_kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext={"team": "x", "env": "prod"})
    denied(  # more operations than the grant holds
        middle_kms.create_grant,
        KeyId=key_id,
        GranteePrincipal=last_arn,
        Operations=["Encrypt", "Decrypt"],
        Constraints=strict,
    )
    denied(  # a looser constraint
        middle_kms.create_grant, KeyId=key_id, GranteePrincipal=last_arn, Operations=["Encrypt"]
    )


def test_grants_go_with_their_key(fresh_server_factory: Any) -> None:
    # its own server: the clock moves 8 days, which other tests on a shared one must not see
    server: ServerProcess = fresh_server_factory("sqlite").start()
    kms = server.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    retiring = f"arn:aws:iam::{ACCOUNT_ID}:user/{name('retirer')}"
    kms.create_grant(
        KeyId=key_id,
        GranteePrincipal=retiring,
        RetiringPrincipal=retiring,
        Operations=["Decrypt"],
    )
    assert len(kms.list_retirable_grants(RetiringPrincipal=retiring)["Grants"]) == 1
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert len(kms.list_grants(KeyId=key_id)["Grants"]) == 1  # listable while pending
    server.advance(8 * 86400)
    server.run_scheduler()
    assert kms.list_retirable_grants(RetiringPrincipal=retiring)["Grants"] == []


def test_list_grants_pages(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    grantee = f"arn:aws:iam::{ACCOUNT_ID}:user/pager"
    ids = {
        kms.create_grant(KeyId=key_id, GranteePrincipal=grantee, Operations=["Encrypt"])["GrantId"]
        for _ in range(5)
    }
    first = kms.list_grants(KeyId=key_id, Limit=2)
    assert first["Truncated"] and len(first["Grants"]) == 2
    seen = [g["GrantId"] for g in first["Grants"]]
    marker = first["NextMarker"]
    while marker:
        page = kms.list_grants(KeyId=key_id, Limit=2, Marker=marker)
        seen += [g["GrantId"] for g in page["Grants"]]
        marker = page.get("NextMarker")
    assert sorted(seen) == sorted(ids)
    with pytest.raises(ClientError) as exc:
        kms.list_grants(KeyId=key_id, GrantId="zz")
    assert error_of(exc)[0] == "InvalidGrantIdException"


def test_grant_revoked_on_one_node_is_refused_by_the_other(pair: Pair) -> None:
    """Each node caches a key's grants with the key; a revoke reaches the other node
    through the state-version poll (within one second, as every cached change)."""
    iam_a = pair.a.client("iam")
    user_kms, user_arn = make_user(pair.b, iam_a)
    key_id = pair.kms_a.create_key()["KeyMetadata"]["KeyId"]
    made = pair.kms_a.create_grant(KeyId=key_id, GranteePrincipal=user_arn, Operations=USE)
    for _ in range(3):  # B has the key, its grants and material cached
        user_kms.encrypt(KeyId=key_id, Plaintext=b"warm", GrantTokens=[made["GrantToken"]])
    pair.kms_a.revoke_grant(KeyId=key_id, GrantId=made["GrantId"])
    took = seconds_until(
        lambda: user_kms.encrypt(KeyId=key_id, Plaintext=b"x"), "AccessDeniedException"
    )
    assert took < PROPAGATION_SECONDS

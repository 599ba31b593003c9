"""Grants to an account, and the grants-per-key quota, end to end.

One dedicated server per backend, started with ``--kms-max-grants-per-key 3`` and
an organization: the dev account A (111122223333) holds the keys, member accounts
B and C (made by CreateAccount, administered through OrganizationAccountAccessRole)
hold the IAM users who call.

A grant whose grantee is ``arn:aws:iam::<account>:root`` delegates to the account,
as a key policy naming it does: an IAM user or role session of that account uses
the grant only if its own IAM policies allow the operation on the key; a user of
another account never does; retiring or revoking the grant ends it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from garrison.config import load_settings
from tests.conftest import (
    ACCOUNT_ID,
    BACKENDS,
    ServerProcess,
    create_pg_database,
    drop_pg_database,
    pg_available,
)
from tests.e2e.helpers import error, error_of, member_account, name, session_client

MAX_GRANTS = 3
A = ACCOUNT_ID
A_ROOT = f"arn:aws:iam::{A}:root"


@pytest.fixture(scope="module", params=BACKENDS)
def limited(request: pytest.FixtureRequest, tmp_root: Path) -> Iterator[ServerProcess]:
    """A dev server allowing 3 grants per key."""
    url = ""
    if request.param == "postgresql":
        if not pg_available():
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is required for the storage tests")
        url = create_pg_database()
    data_dir = tmp_root / f"grants-accounts-{request.param}-{secrets.token_hex(3)}"
    args = ["--kms-max-grants-per-key", str(MAX_GRANTS)]
    srv = ServerProcess(data_dir, database_url=url, extra_args=args).start()
    yield srv
    srv.stop()
    if url:
        drop_pg_database(url)


@pytest.fixture(scope="module")
def accounts(limited: ServerProcess) -> dict[str, tuple[str, dict[str, Any]]]:
    """Member accounts B and C: (account id, iam/kms clients of its administrator)."""
    limited.client("organizations").create_organization(FeatureSet="ALL")
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for label in ("B", "C"):
        account, creds = member_account(limited, name(label.lower()))
        out[label] = (account, {s: session_client(limited, s, creds) for s in ("iam", "kms")})
    return out


def make_user(server: ServerProcess, iam: Any, statements: list[dict[str, Any]] | None) -> Any:
    """An IAM user with an access key and these identity-policy statements (None: no
    policy at all): its kms client."""
    user = iam.create_user(UserName=name("user"))["User"]
    if statements is not None:
        doc = {"Version": "2012-10-17", "Statement": statements}
        iam.put_user_policy(
            UserName=user["UserName"], PolicyName="kms", PolicyDocument=json.dumps(doc)
        )
    key = iam.create_access_key(UserName=user["UserName"])["AccessKey"]
    return session_client(server, "kms", key), user["Arn"]


def allow(actions: list[str], resource: str) -> list[dict[str, Any]]:
    return [{"Effect": "Allow", "Action": actions, "Resource": resource}]


def denied(call: Any, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    assert error(exc) == ("AccessDeniedException", 400), kwargs


# -- the grants-per-key quota ----------------------------------------------------------------
def test_the_setting_is_read_from_flag_environment_and_file(tmp_path: Path) -> None:
    assert load_settings({}, environ={}).kms_max_grants_per_key == 50_000  # AWS's quota
    env = {"GARRISON_KMS_MAX_GRANTS_PER_KEY": "7"}
    assert load_settings({}, environ=env).kms_max_grants_per_key == 7
    toml = tmp_path / "g.toml"
    toml.write_text("kms_max_grants_per_key = 9\n")
    assert load_settings({}, environ={}, config_file=str(toml)).kms_max_grants_per_key == 9
    flags = {"kms_max_grants_per_key": 11}
    assert load_settings(flags, environ=env, config_file=str(toml)).kms_max_grants_per_key == 11


def test_grants_past_the_configured_quota_are_refused(limited: ServerProcess) -> None:
    kms = limited.client("kms")
    key = kms.create_key()["KeyMetadata"]
    args = {
        "KeyId": key["KeyId"],
        "GranteePrincipal": f"arn:aws:iam::{A}:user/{name('q')}",
        "Operations": ["Encrypt"],
    }
    made = [kms.create_grant(**args, Name=f"g{n}")["GrantId"] for n in range(MAX_GRANTS)]
    with pytest.raises(ClientError) as exc:
        kms.create_grant(**args, Name="one-too-many")
    assert error(exc) == ("LimitExceededException", 400)
    message = error_of(exc)[1]
    assert key["Arn"] in message and f"{MAX_GRANTS} grants" in message
    # the same name and parameters is the existing grant, not a new one
    assert kms.create_grant(**args, Name="g0")["GrantId"] == made[0]
    # the quota is per key: another key has its own
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_grant(**{**args, "KeyId": other})
    assert len(kms.list_grants(KeyId=key["KeyId"])["Grants"]) == MAX_GRANTS
    # a revoked grant frees its place
    kms.revoke_grant(KeyId=key["KeyId"], GrantId=made[1])
    kms.create_grant(**args, Name="one-too-many")
    with pytest.raises(ClientError) as exc:
        kms.create_grant(**args)
    assert error(exc) == ("LimitExceededException", 400)


# -- grants to an account ----------------------------------------------------------------------
def test_a_grant_to_the_key_account_delegates_to_its_iam_policies(
    limited: ServerProcess,
) -> None:
    """The key policy names only an administrator user (not the account), so IAM
    policies alone give A's users nothing; the grant to A's account does, to each user
    whose IAM policy allows the operation, and only for the grant's operations."""
    iam = limited.client("iam")
    admin_kms, admin_arn = make_user(limited, iam, None)
    key_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": admin_arn}, "Action": "kms:*",
             "Resource": "*"},
        ],
    }  # fmt: skip
    key = limited.client("kms").create_key(
        Policy=json.dumps(key_policy), BypassPolicyLockoutSafetyCheck=True
    )["KeyMetadata"]
    key_arn = key["Arn"]
    plain_kms, _ = make_user(limited, iam, None)
    able_kms, _ = make_user(
        limited, iam, allow(["kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"], key_arn)
    )
    # before the grant, the identity policy alone is not enough (the key policy
    # does not delegate to the account)
    denied(able_kms.encrypt, KeyId=key_arn, Plaintext=b"x")

    made = admin_kms.create_grant(
        KeyId=key_arn, GranteePrincipal=A_ROOT, Operations=["Encrypt", "Decrypt", "DescribeKey"]
    )
    blob = able_kms.encrypt(KeyId=key_arn, Plaintext=b"x")["CiphertextBlob"]
    assert able_kms.describe_key(KeyId=key_arn)["KeyMetadata"]["Arn"] == key_arn
    # in the grant, not allowed by the user's IAM policy
    denied(able_kms.decrypt, CiphertextBlob=blob)
    # allowed by the IAM policy, not in the grant
    denied(able_kms.generate_data_key, KeyId=key_arn, KeySpec="AES_256")
    # no IAM policy: the account's grant is not the user's
    denied(plain_kms.encrypt, KeyId=key_arn, Plaintext=b"x")
    denied(plain_kms.decrypt, CiphertextBlob=blob)
    assert admin_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"

    admin_kms.revoke_grant(KeyId=key_arn, GrantId=made["GrantId"])
    denied(able_kms.encrypt, KeyId=key_arn, Plaintext=b"x")
    denied(able_kms.describe_key, KeyId=key_arn)


def test_a_cross_account_grant_serves_the_other_account_by_its_iam_policies(
    limited: ServerProcess, accounts: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    """A key of A with the default key policy (A's account only), a grant to B's
    account: B's users whose IAM policies allow the operation on the key use it; B's
    users without, and C's users with the same IAM policy, are refused; a retiring
    principal that is B's account lets B delegate retiring through IAM."""
    b, b_admin = accounts["B"]
    c, c_admin = accounts["C"]
    kms = limited.client("kms")
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    use = ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"]
    b_plain, _ = make_user(limited, b_admin["iam"], None)
    b_user, _ = make_user(limited, b_admin["iam"], allow(use, key_arn))
    b_retirer, _ = make_user(limited, b_admin["iam"], allow(["kms:RetireGrant"], key_arn))
    c_user, _ = make_user(limited, c_admin["iam"], allow([*use, "kms:RetireGrant"], key_arn))
    # the key policy does not name B: IAM alone is not enough cross-account
    denied(b_user.encrypt, KeyId=key_arn, Plaintext=b"x")

    b_root = f"arn:aws:iam::{b}:root"
    # CreateGrant takes the account's ARN; the bare account id of key policies is refused
    with pytest.raises(ClientError) as exc:
        kms.create_grant(KeyId=key_arn, GranteePrincipal=b, Operations=["Encrypt"])
    assert error(exc) == ("ValidationException", 400)
    made = kms.create_grant(
        KeyId=key_arn,
        GranteePrincipal=b_root,
        RetiringPrincipal=b_root,
        Operations=["Encrypt", "Decrypt", "DescribeKey"],
        Constraints={"EncryptionContextSubset": {"tenant": "b"}},
    )
    [listed] = kms.list_grants(KeyId=key_arn)["Grants"]
    assert listed["GranteePrincipal"] == b_root
    context = {"tenant": "b"}
    blob = b_user.encrypt(KeyId=key_arn, Plaintext=b"x", EncryptionContext=context)
    out = b_user.decrypt(CiphertextBlob=blob["CiphertextBlob"], EncryptionContext=context)
    assert out["Plaintext"] == b"x"
    assert b_user.describe_key(KeyId=key_arn)["KeyMetadata"]["Arn"] == key_arn
    # the grant's constraint still binds
    denied(b_user.encrypt, KeyId=key_arn, Plaintext=b"x", EncryptionContext={"tenant": "c"})
    # a role session of B whose policies allow (the administrator role) uses it too
    b_admin["kms"].encrypt(KeyId=key_arn, Plaintext=b"y", EncryptionContext=context)
    # B's user without an IAM policy; C's user with one
    denied(b_plain.encrypt, KeyId=key_arn, Plaintext=b"x", EncryptionContext=context)
    denied(c_user.encrypt, KeyId=key_arn, Plaintext=b"x", EncryptionContext=context)
    denied(c_user.decrypt, CiphertextBlob=blob["CiphertextBlob"], EncryptionContext=context)

    # retiring: C's user and B's user without kms:RetireGrant cannot; B's retirer can
    denied(c_user.retire_grant, GrantToken=made["GrantToken"])
    denied(b_plain.retire_grant, GrantToken=made["GrantToken"])
    denied(b_user.retire_grant, KeyId=key_arn, GrantId=made["GrantId"])
    b_retirer.retire_grant(KeyId=key_arn, GrantId=made["GrantId"])
    assert kms.list_grants(KeyId=key_arn)["Grants"] == []
    denied(b_user.encrypt, KeyId=key_arn, Plaintext=b"x", EncryptionContext=context)
    denied(b_user.decrypt, CiphertextBlob=blob["CiphertextBlob"], EncryptionContext=context)


def test_an_identity_deny_beats_an_account_grant(
    limited: ServerProcess, accounts: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    b, b_admin = accounts["B"]
    kms = limited.client("kms")
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    statements = [
        *allow(["kms:Encrypt", "kms:Decrypt"], key_arn),
        {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"},
    ]
    b_user, _ = make_user(limited, b_admin["iam"], statements)
    kms.create_grant(
        KeyId=key_arn,
        GranteePrincipal=f"arn:aws:iam::{b}:root",
        Operations=["Encrypt", "Decrypt", "RetireGrant"],
    )
    blob = b_user.encrypt(KeyId=key_arn, Plaintext=b"x")["CiphertextBlob"]
    denied(b_user.decrypt, CiphertextBlob=blob)
    # the grant lists RetireGrant, but B's user has no IAM permission to retire it
    [grant] = kms.list_grants(KeyId=key_arn)["Grants"]
    denied(b_user.retire_grant, KeyId=key_arn, GrantId=grant["GrantId"])

"""STS end to end with boto3: GetCallerIdentity, AssumeRole, and the temporary
credentials on every service until they expire (time is moved with the dev clock).

Roles are created with boto3's `iam.create_role`, as a user would.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.conftest import (
    ACCESS_KEY_ID,
    ACCOUNT_ID,
    REGION,
    SECRET_ACCESS_KEY,
    ServerProcess,
    make_client,
)
from tests.e2e.helpers import error_of, iam_user, session_client
from tests.e2e.policies import ALLOW_ROOT, policy

ROOT_ARN = f"arn:aws:iam::{ACCOUNT_ID}:root"


def trust_policy(
    *principals: str, actions: tuple[str, ...] = ("sts:AssumeRole",), **cond: Any
) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": list(principals)},
        "Action": list(actions),
    }
    if cond:
        statement["Condition"] = cond
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture
def sts(server: ServerProcess) -> Any:
    return server.client("sts")


@pytest.fixture
def iam(server: ServerProcess) -> Any:
    return server.client("iam")


@pytest.fixture
def role(iam: Any) -> Iterator[Any]:
    """make(trust_document, **create_role_kwargs) -> the role's ARN."""

    def make(document: str | None = None, **kwargs: Any) -> str:
        name = "r-" + uuid.uuid4().hex[:12]
        created = iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=document or trust_policy(ROOT_ARN), **kwargs
        )
        arn: str = created["Role"]["Arn"]
        return arn

    yield make


def test_caller_identity_of_the_root_user(sts: Any) -> None:
    who = sts.get_caller_identity()
    assert (who["UserId"], who["Account"], who["Arn"]) == (ACCOUNT_ID, ACCOUNT_ID, ROOT_ARN)


def test_caller_identity_of_an_iam_user(server: ServerProcess, iam: Any) -> None:
    name = "u-" + uuid.uuid4().hex[:10]
    user = iam.create_user(UserName=name, Path="/people/")["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    as_user = make_client(
        server.endpoint, "sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"]
    )
    who = as_user.get_caller_identity()
    assert who["UserId"] == user["UserId"] and who["UserId"].startswith("AIDA")
    assert who["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/people/{name}"
    assert who["Account"] == ACCOUNT_ID
    # never denied, not even by an explicit deny of everything (as AWS documents)
    deny_all = {"Effect": "Deny", "Action": "*", "Resource": "*"}
    iam.put_user_policy(UserName=name, PolicyName="deny", PolicyDocument=policy(deny_all))
    with pytest.raises(ClientError):
        as_user.get_access_key_info(AccessKeyId=key["AccessKeyId"])
    assert as_user.get_caller_identity()["Arn"] == who["Arn"]


def test_assume_role_gives_a_session_that_knows_who_it_is(
    server: ServerProcess, sts: Any, iam: Any, role: Any
) -> None:
    arn = role(Path="/deploy/")
    name = arn.rsplit("/", 1)[1]
    out = sts.assume_role(RoleArn=arn, RoleSessionName="build-7")
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    role_id = iam.get_role(RoleName=name)["Role"]["RoleId"]
    assumed = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{name}/build-7"
    assert out["AssumedRoleUser"] == {"AssumedRoleId": f"{role_id}:build-7", "Arn": assumed}
    who = session_client(server, "sts", creds).get_caller_identity()
    assert (who["UserId"], who["Account"], who["Arn"]) == (
        f"{role_id}:build-7",
        ACCOUNT_ID,
        assumed,
    )
    last_used = iam.get_role(RoleName=name)["Role"]["RoleLastUsed"]
    assert last_used["Region"] == REGION and "LastUsedDate" in last_used


def test_a_session_uses_kms_where_the_key_policy_names_its_role(
    server: ServerProcess, role: Any, sts: Any, kms: Any
) -> None:
    arn = role()
    allow_role = {
        "Effect": "Allow",
        "Principal": {"AWS": arn},
        "Action": ["kms:Encrypt", "kms:Decrypt"],
        "Resource": "*",
    }
    key_id = kms.create_key(Policy=policy(ALLOW_ROOT, allow_role))["KeyMetadata"]["KeyId"]
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    creds = sts.assume_role(RoleArn=arn, RoleSessionName="app")["Credentials"]
    as_role = session_client(server, "kms", creds)
    blob = as_role.encrypt(KeyId=key_id, Plaintext=b"hello")["CiphertextBlob"]
    assert as_role.decrypt(CiphertextBlob=blob)["Plaintext"] == b"hello"
    with pytest.raises(ClientError) as denied:  # the default key policy trusts only IAM
        as_role.encrypt(KeyId=other, Plaintext=b"x")
    assert error_of(denied)[0] == "AccessDeniedException"


def test_expired_session_is_refused_after_the_clock_moves(
    server: ServerProcess, sts: Any, role: Any
) -> None:
    creds = sts.assume_role(RoleArn=role(), RoleSessionName="short", DurationSeconds=900)[
        "Credentials"
    ]
    as_role = session_client(server, "sts", creds)
    as_role.get_caller_identity()
    server.advance(901)
    with pytest.raises(ClientError) as expired:
        as_role.get_caller_identity()
    assert error_of(expired) == (
        "ExpiredToken",
        "The security token included in the request is expired",
    )
    with pytest.raises(ClientError) as on_kms:  # the JSON services' name for it
        session_client(server, "kms", creds).list_keys()
    assert error_of(on_kms)[0] == "ExpiredTokenException"


def test_wrong_missing_or_misplaced_session_tokens_are_invalid(
    server: ServerProcess, sts: Any, role: Any
) -> None:
    creds = sts.assume_role(RoleArn=role(), RoleSessionName="tok")["Credentials"]
    invalid = ("InvalidClientTokenId", "The security token included in the request is invalid.")
    cases = [
        {**creds, "SessionToken": creds["SessionToken"][:-4] + "AAAA"},  # wrong token
        {**creds, "SessionToken": None},  # ASIA key without its token
        {  # a long-term key presenting a session token
            "AccessKeyId": ACCESS_KEY_ID,
            "SecretAccessKey": SECRET_ACCESS_KEY,
            "SessionToken": creds["SessionToken"],
        },
    ]
    for case in cases:
        with pytest.raises(ClientError) as exc:
            session_client(server, "sts", case).get_caller_identity()
        assert error_of(exc) == invalid


def test_missing_role_and_wrong_external_id_are_access_denied(sts: Any, role: Any) -> None:
    arn = role(trust_policy(ROOT_ARN, StringEquals={"sts:ExternalId": "partner-1234"}))
    for kwargs in ({}, {"ExternalId": "partner-9999"}):
        with pytest.raises(ClientError) as exc:
            sts.assume_role(RoleArn=arn, RoleSessionName="x1", **kwargs)
        code, message = error_of(exc)
        assert (
            code == "AccessDenied"
            and exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        )
        assert message.startswith(
            f"User: {ROOT_ARN} is not authorized to perform: sts:AssumeRole on resource: {arn}"
        )
    sts.assume_role(RoleArn=arn, RoleSessionName="x1", ExternalId="partner-1234")
    missing = f"arn:aws:iam::{ACCOUNT_ID}:role/no-such-role-{uuid.uuid4().hex[:6]}"
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=missing, RoleSessionName="x1")
    assert error_of(exc)[0] == "AccessDenied" and missing in error_of(exc)[1]


def test_duration_limits_and_role_chaining(server: ServerProcess, sts: Any, role: Any) -> None:
    first = role(MaxSessionDuration=7200)
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=first, RoleSessionName="long", DurationSeconds=7201)
    assert error_of(exc) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )
    creds = sts.assume_role(RoleArn=first, RoleSessionName="long", DurationSeconds=7200)[
        "Credentials"
    ]
    second = role(trust_policy(first), MaxSessionDuration=43200)
    chained = session_client(server, "sts", creds)
    with pytest.raises(ClientError) as exc:
        chained.assume_role(RoleArn=second, RoleSessionName="hop", DurationSeconds=3601)
    assert error_of(exc) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed "
        "by role chaining.",
    )
    hop = chained.assume_role(RoleArn=second, RoleSessionName="hop")
    who = session_client(server, "sts", hop["Credentials"]).get_caller_identity()
    assert who["Arn"].endswith(f"/{second.rsplit('/', 1)[1]}/hop")


def test_session_tags_need_tag_session_and_pass_down_a_chain(
    server: ServerProcess, sts: Any, role: Any
) -> None:
    tags = [{"Key": "Project", "Value": "apollo"}, {"Key": "Team", "Value": "red"}]
    plain = role()
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=plain, RoleSessionName="tag-1", Tags=tags)
    code, message = error_of(exc)
    assert code == "AccessDenied" and "sts:TagSession" in message

    both = ("sts:AssumeRole", "sts:TagSession")
    tagged = role(trust_policy(ROOT_ARN, actions=both))
    out = sts.assume_role(
        RoleArn=tagged, RoleSessionName="tag-1", Tags=tags, TransitiveTagKeys=["Project"]
    )
    assert 0 < out["PackedPolicySize"] <= 100
    # the next role trusts only sessions that carry the transitive tag
    nxt = role(
        trust_policy(tagged, actions=both, StringEquals={"aws:PrincipalTag/Project": "apollo"})
    )
    chained = session_client(server, "sts", out["Credentials"])
    chained.assume_role(RoleArn=nxt, RoleSessionName="t2")
    with pytest.raises(ClientError) as exc:  # a transitive tag cannot be overridden
        chained.assume_role(
            RoleArn=nxt, RoleSessionName="t2", Tags=[{"Key": "project", "Value": "x"}]
        )
    assert error_of(exc)[0] == "ValidationError"


def test_session_policy_source_identity_and_refused_members(sts: Any, role: Any) -> None:
    arn = role(trust_policy(ROOT_ARN, actions=("sts:AssumeRole", "sts:SetSourceIdentity")))
    scoped = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}],
        }
    )
    out = sts.assume_role(
        RoleArn=arn, RoleSessionName="pol-1", Policy=scoped, SourceIdentity="alice@example.com"
    )
    assert out["SourceIdentity"] == "alice@example.com" and out["PackedPolicySize"] > 0
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=arn, RoleSessionName="pol-1", Policy='{"Statement": ')
    assert error_of(exc)[0] == "MalformedPolicyDocument"
    with pytest.raises(ClientError) as exc:
        sts.assume_role(
            RoleArn=arn,
            RoleSessionName="pol-1",
            SerialNumber=f"arn:aws:iam::{ACCOUNT_ID}:mfa/alice",
            TokenCode="123456",
        )
    assert error_of(exc) == (
        "AccessDenied",
        "MultiFactorAuthentication failed, unable to validate MFA code.",
    )


def test_get_access_key_info(sts: Any, role: Any) -> None:
    assert sts.get_access_key_info(AccessKeyId=ACCESS_KEY_ID)["Account"] == ACCOUNT_ID
    creds = sts.assume_role(RoleArn=role(), RoleSessionName="info")["Credentials"]
    assert sts.get_access_key_info(AccessKeyId=creds["AccessKeyId"])["Account"] == ACCOUNT_ID


def test_the_trail_holds_no_secret_and_names_the_session_issuer(
    server: ServerProcess, sts: Any, role: Any, cloudtrail: Any
) -> None:
    arn = role()
    out = sts.assume_role(RoleArn=arn, RoleSessionName="audited")
    creds = out["Credentials"]
    session_client(server, "sts", creds).get_caller_identity()
    events = cloudtrail.lookup_events(
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": creds["AccessKeyId"]}]
    )["Events"]
    found = [json.loads(e["CloudTrailEvent"]) for e in events]
    by_session = [e for e in found if e["eventName"] == "GetCallerIdentity"]
    assert by_session, found
    identity = by_session[0]["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["arn"] == out["AssumedRoleUser"]["Arn"]
    assert identity["sessionContext"]["sessionIssuer"]["arn"] == arn
    assert identity["sessionContext"]["sessionIssuer"]["type"] == "Role"

    assumed = cloudtrail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "AssumeRole"}]
    )["Events"]
    mine = [e["CloudTrailEvent"] for e in assumed if creds["AccessKeyId"] in e["CloudTrailEvent"]]
    assert len(mine) == 1
    assert creds["SecretAccessKey"] not in mine[0] and creds["SessionToken"] not in mine[0]
    elements = json.loads(mine[0])["responseElements"]
    assert elements["credentials"]["accessKeyId"] == creds["AccessKeyId"]
    assert set(elements["credentials"]) == {"accessKeyId", "expiration"}


def test_expired_sessions_are_purged_a_day_later(
    server: ServerProcess, sts: Any, role: Any
) -> None:
    creds = sts.assume_role(RoleArn=role(), RoleSessionName="old", DurationSeconds=900)[
        "Credentials"
    ]
    server.advance(900 + 86_400 + 1)
    assert server.run_scheduler()["sts-session-purge"] >= 1
    with pytest.raises(ClientError) as exc:  # gone, so no longer even "expired"
        session_client(server, "sts", creds).get_caller_identity()
    assert error_of(exc)[0] == "InvalidClientTokenId"


def test_role_permissions_apply_to_the_session_narrowed_by_its_session_policy(
    server: ServerProcess, sts: Any, iam: Any, role: Any, kms: Any
) -> None:
    arn = role()
    name = arn.rsplit("/", 1)[1]
    allow_kms = {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}
    iam.put_role_policy(RoleName=name, PolicyName="kms-all", PolicyDocument=policy(allow_kms))
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]  # default policy: IAM decides
    full = sts.assume_role(RoleArn=arn, RoleSessionName="full")["Credentials"]
    session_client(server, "kms", full).describe_key(KeyId=key_id)

    only_encrypt = policy({"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"})
    narrow = sts.assume_role(RoleArn=arn, RoleSessionName="narrow", Policy=only_encrypt)
    as_narrow = session_client(server, "kms", narrow["Credentials"])
    as_narrow.encrypt(KeyId=key_id, Plaintext=b"ok")
    with pytest.raises(ClientError) as exc:
        as_narrow.describe_key(KeyId=key_id)
    assert error_of(exc)[0] == "AccessDeniedException"


def test_presigned_get_caller_identity_with_session_credentials(
    server: ServerProcess, sts: Any, role: Any
) -> None:
    """The aws-iam-authenticator pattern: a presigned GetCallerIdentity URL, the token in the
    query string (X-Amz-Security-Token), proves who holds the session."""
    out = sts.assume_role(RoleArn=role(), RoleSessionName="presign")
    url = session_client(server, "sts", out["Credentials"]).generate_presigned_url(
        "get_caller_identity", ExpiresIn=60, HttpMethod="GET"
    )
    assert "X-Amz-Security-Token=" in url
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200, answer.text
    assert f"<Arn>{out['AssumedRoleUser']['Arn']}</Arn>" in answer.text
    tampered = url.replace("X-Amz-Security-Token=", "X-Amz-Security-Token=A")
    assert requests.get(tampered, timeout=10).status_code == 403


def test_an_iam_user_assumes_a_role_its_account_trusts_only_with_an_identity_policy(
    server: ServerProcess, iam: Any, role: Any
) -> None:
    name, key = iam_user(iam, "u")
    as_user = make_client(
        server.endpoint, "sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"]
    )
    by_account = role()  # trusts the account: the user's own policies must allow too
    with pytest.raises(ClientError) as exc:
        as_user.assume_role(RoleArn=by_account, RoleSessionName="u1")
    assert error_of(exc)[0] == "AccessDenied"
    allow = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": by_account}
    iam.put_user_policy(UserName=name, PolicyName="assume", PolicyDocument=policy(allow))
    out = as_user.assume_role(RoleArn=by_account, RoleSessionName="u1")
    assert out["AssumedRoleUser"]["Arn"].endswith("/u1")
    # a trust policy naming the user itself needs no identity policy
    by_user = role(trust_policy(f"arn:aws:iam::{ACCOUNT_ID}:user/{name}"))
    iam.delete_user_policy(UserName=name, PolicyName="assume")
    as_user.assume_role(RoleArn=by_user, RoleSessionName="u2")

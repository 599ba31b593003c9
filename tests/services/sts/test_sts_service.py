"""STS use cases over a real store: GetCallerIdentity, AssumeRole and its limits,
the sessions it stores and how requests signed with them authenticate."""

from __future__ import annotations

import hashlib
import json

import pytest

from garrison.context import Principal
from garrison.errors import (
    AccessDeniedException,
    ExpiredTokenException,
    UnrecognizedClientException,
)
from garrison.iam.credentials import check_session_token
from garrison.storage import schema
from garrison.storage.sql import select
from tests.services.sts.conftest import ACCOUNT, ROOT, StsHarness, trust

USER = Principal(
    arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
    account_id=ACCOUNT,
    type="IAMUser",
    user_id="AIDAALICE0000000000",
    user_name="alice",
)


def test_caller_identity_of_root_user_and_session(sts: StsHarness) -> None:
    assert sts.call("GetCallerIdentity") == {
        "UserId": ACCOUNT,
        "Account": ACCOUNT,
        "Arn": f"arn:aws:iam::{ACCOUNT}:root",
    }
    assert sts.call("GetCallerIdentity", principal=USER)["UserId"] == "AIDAALICE0000000000"
    arn = sts.add_role("Deployer")
    out = sts.assume(arn, RoleSessionName="ci-42")
    who = sts.call("GetCallerIdentity", principal=sts.principal_of(out))
    assert who["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/ci-42"
    assert who["UserId"] == out["AssumedRoleUser"]["AssumedRoleId"]
    assert who["UserId"].startswith("AROA") and who["UserId"].endswith(":ci-42")
    # GetCallerIdentity is never authorised: AssumeRole was the only question
    assert [a for a, _, _ in sts.authorizer.asked] == ["sts:AssumeRole"]


def test_assume_role_issues_credentials_that_authenticate(sts: StsHarness) -> None:
    arn = sts.add_role("Reader", path="/team/")
    out = sts.assume(arn)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert len(creds["SecretAccessKey"]) == 40
    assert creds["Expiration"].timestamp() == int(sts.clock.time()) + 3600
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/Reader/s1"
    assert "PackedPolicySize" not in out and "SourceIdentity" not in out

    key = sts.credentials.get(creds["AccessKeyId"])
    assert key is not None and key.secret == creds["SecretAccessKey"]
    assert key.principal.type == "AssumedRole"
    assert key.principal.session is not None
    assert key.principal.session.role_arn == arn
    check_session_token(key, creds["SessionToken"], sts.clock.time())
    with pytest.raises(UnrecognizedClientException, match="security token included"):
        check_session_token(key, None, sts.clock.time())
    with pytest.raises(UnrecognizedClientException):
        check_session_token(key, creds["SessionToken"] + "x", sts.clock.time())
    with pytest.raises(ExpiredTokenException, match="is expired"):
        check_session_token(key, creds["SessionToken"], sts.clock.time() + 3600)
    root_key = sts.credentials.get("AKIANOTTHERE0000000")
    assert root_key is None


def test_sessions_are_stored_without_plaintext_secret_or_token(sts: StsHarness) -> None:
    out = sts.assume(sts.add_role("Sealed"))
    creds = out["Credentials"]
    row = sts.db.read(
        lambda tx: tx.execute(
            select(schema.sts_sessions).where(
                schema.sts_sessions.c.access_key_id == creds["AccessKeyId"]
            )
        ).one()
    )
    assert creds["SecretAccessKey"].encode() not in bytes(row.secret)
    assert bytes(row.token_hash) == hashlib.sha256(creds["SessionToken"].encode()).digest()
    assert creds["SessionToken"] not in repr(tuple(row))


def test_long_term_key_with_a_token_is_refused(sts: StsHarness) -> None:
    from garrison.iam.credentials import AccessKey

    key = AccessKey("AKIAEXAMPLE000000000", "s" * 40, ROOT, True)
    check_session_token(key, None, 0.0)
    with pytest.raises(UnrecognizedClientException):
        check_session_token(key, "some-token", 0.0)


def test_missing_role_and_untrusted_caller_get_the_same_access_denied(sts: StsHarness) -> None:
    arn = sts.add_role("OnlyBob", trust(f"arn:aws:iam::{ACCOUNT}:user/bob"))
    with pytest.raises(AccessDeniedException) as missing:
        sts.assume(f"arn:aws:iam::{ACCOUNT}:role/Nope")
    assert missing.value.message.startswith(
        f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: sts:AssumeRole "
        f"on resource: arn:aws:iam::{ACCOUNT}:role/Nope"
    )
    with pytest.raises(AccessDeniedException):
        sts.assume(arn)
    with pytest.raises(AccessDeniedException):  # right name, wrong path
        sts.assume(f"arn:aws:iam::{ACCOUNT}:role/other/OnlyBob")


def test_malformed_role_arn(sts: StsHarness) -> None:
    with pytest.raises(Exception, match="Request ARN is invalid") as err:
        sts.assume(f"arn:aws:iam::{ACCOUNT}:user/alice")
    assert err.value.code == "ValidationError"  # type: ignore[attr-defined]


def test_duration_limits(sts: StsHarness) -> None:
    arn = sts.add_role("Long", max_session_duration=7200)
    out = sts.assume(arn, DurationSeconds=7200)
    assert out["Credentials"]["Expiration"].timestamp() == int(sts.clock.time()) + 7200
    with pytest.raises(Exception, match="exceeds the MaxSessionDuration set for this role"):
        sts.assume(arn, DurationSeconds=7201)
    # role chaining: one hour at most, whatever the role allows
    chain = sts.add_role(
        "Chained", trust(f"arn:aws:iam::{ACCOUNT}:role/Long"), max_session_duration=43200
    )
    session = sts.principal_of(out)
    with pytest.raises(Exception, match="1 hour session limit for roles assumed by role chaining"):
        sts.assume(chain, session, DurationSeconds=3601)
    chained = sts.assume(chain, session, DurationSeconds=3600)
    assert sts.principal_of(chained).session.chained  # type: ignore[union-attr]


def test_external_id_and_session_name_reach_the_trust_policy(sts: StsHarness) -> None:
    arn = sts.add_role(
        "ThirdParty",
        trust(
            f"arn:aws:iam::{ACCOUNT}:root",
            condition={"StringEquals": {"sts:ExternalId": "x-123456"}},
        ),
    )
    with pytest.raises(AccessDeniedException):
        sts.assume(arn)
    with pytest.raises(AccessDeniedException):
        sts.assume(arn, ExternalId="wrong-id")
    sts.assume(arn, ExternalId="x-123456", RoleSessionName="vendor")
    action, resource, context = sts.authorizer.asked[-1]
    assert (action, resource) == ("sts:AssumeRole", arn)
    assert context["sts:RoleSessionName"] == ["vendor"]
    assert context["sts:ExternalId"] == ["x-123456"]


def test_tags_need_tag_session_and_carry_transitively(sts: StsHarness) -> None:
    first = sts.add_role("First")
    second = sts.add_role("Second", trust(f"arn:aws:iam::{ACCOUNT}:role/First"))
    out = sts.assume(
        first,
        Tags=[{"Key": "Project", "Value": "apollo"}, {"Key": "Team", "Value": "red"}],
        TransitiveTagKeys=["Project"],
    )
    asked = [a for a, _, _ in sts.authorizer.asked]
    assert asked == ["sts:AssumeRole", "sts:TagSession"]
    context = sts.authorizer.asked[0][2]
    assert context["aws:TagKeys"] == ["Project", "Team"]
    assert context["aws:RequestTag/Project"] == ["apollo"]
    assert context["sts:TransitiveTagKeys"] == ["Project"]
    assert 0 < out["PackedPolicySize"] <= 100

    session = sts.principal_of(out)
    chained = sts.principal_of(sts.assume(second, session, Tags=[{"Key": "Env", "Value": "dev"}]))
    assert chained.session is not None
    assert dict(chained.session.tags) == {"Project": "apollo", "Env": "dev"}
    assert chained.session.transitive_tag_keys == ("Project",)
    # a transitive tag cannot be overridden further down the chain
    with pytest.raises(Exception, match="transitive session tags"):
        sts.assume(second, session, Tags=[{"Key": "project", "Value": "other"}])


def test_tag_validation(sts: StsHarness) -> None:
    arn = sts.add_role("Tags")
    with pytest.raises(Exception, match="Duplicate tag keys"):
        sts.assume(arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}])
    with pytest.raises(Exception, match="transitive tag key must be included"):
        sts.assume(arn, Tags=[{"Key": "a", "Value": "1"}], TransitiveTagKeys=["b"])
    no_tag_session = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    plain = sts.add_role("NoTags", no_tag_session)
    sts.assume(plain)
    with pytest.raises(AccessDeniedException, match="sts:TagSession"):
        sts.assume(plain, Tags=[{"Key": "a", "Value": "1"}])
    with pytest.raises(AccessDeniedException, match="sts:SetSourceIdentity"):
        sts.assume(plain, SourceIdentity="alice")


def test_source_identity_is_kept_along_a_chain_and_immutable(sts: StsHarness) -> None:
    first = sts.add_role("SiFirst")
    second = sts.add_role("SiSecond", trust(f"arn:aws:iam::{ACCOUNT}:role/SiFirst"))
    out = sts.assume(first, SourceIdentity="alice")
    assert out["SourceIdentity"] == "alice"
    session = sts.principal_of(out)
    chained = sts.assume(second, session)
    assert chained["SourceIdentity"] == "alice"
    assert sts.authorizer.asked[-1][2]["sts:SourceIdentity"] == ["alice"]
    sts.assume(second, session, SourceIdentity="alice")
    with pytest.raises(Exception, match="source identity of a role session cannot be changed"):
        sts.assume(second, session, SourceIdentity="mallory")


def test_session_policies_are_validated_sized_and_stored(sts: StsHarness) -> None:
    arn = sts.add_role("Scoped")
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}],
        }
    )
    managed = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    out = sts.assume(arn, Policy=policy, PolicyArns=[{"arn": managed}])
    assert 0 < out["PackedPolicySize"] < 50
    session = sts.principal_of(out).session
    assert session is not None
    assert session.session_policy == policy and session.policy_arns == (managed,)

    with pytest.raises(Exception) as err:
        sts.assume(arn, Policy='{"Statement": [{"Effect": "Allow"')
    assert err.value.code == "MalformedPolicyDocument"  # type: ignore[attr-defined]
    with pytest.raises(Exception) as err:
        sts.assume(arn, Policy=trust(f"arn:aws:iam::{ACCOUNT}:root"))  # has a Principal
    assert err.value.code == "MalformedPolicyDocument"  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="exceeds the limit of 10"):
        sts.assume(arn, PolicyArns=[{"arn": f"{managed}{i}"} for i in range(11)])
    with pytest.raises(Exception, match="Invalid policy ARN"):
        sts.assume(arn, PolicyArns=[{"arn": f"arn:aws:iam::{ACCOUNT}:role/NotAPolicy"}])

    import secrets

    big = [{"Key": f"k{i}", "Value": secrets.token_hex(120)} for i in range(20)]
    with pytest.raises(Exception, match=r"Packed policy consumes \d+% of allotted space") as err:
        sts.assume(arn, Tags=big)
    assert err.value.code == "PackedPolicyTooLarge"  # type: ignore[attr-defined]


def test_mfa_and_provided_contexts_are_refused(sts: StsHarness) -> None:
    arn = sts.add_role("Mfa")
    with pytest.raises(AccessDeniedException, match="MultiFactorAuthentication failed"):
        sts.assume(arn, SerialNumber=f"arn:aws:iam::{ACCOUNT}:mfa/alice", TokenCode="123456")
    with pytest.raises(Exception, match="ProvidedContexts is not supported"):
        sts.assume(
            arn,
            ProvidedContexts=[
                {
                    "ProviderArn": "arn:aws:iam::aws:contextProvider/IdentityCenter",
                    "ContextAssertion": "abcd",
                }
            ],
        )


def test_role_last_used_is_recorded(sts: StsHarness) -> None:
    arn = sts.add_role("Used")
    sts.clock.advance(10)
    sts.assume(arn)
    t = schema.iam_roles
    row = sts.db.read(lambda tx: tx.execute(select(t).where(t.c.arn == arn)).one())
    assert row.last_used_at == sts.clock.time() and row.last_used_region == "us-east-1"


def test_get_access_key_info(sts: StsHarness) -> None:
    out = sts.assume(sts.add_role("Info"))
    key_id = out["Credentials"]["AccessKeyId"]
    assert sts.call("GetAccessKeyInfo", {"AccessKeyId": key_id}) == {"Account": ACCOUNT}
    with pytest.raises(Exception, match="was not issued here"):
        sts.call("GetAccessKeyInfo", {"AccessKeyId": "AKIAUNKNOWN000000000"})


def test_unknown_request_member_is_refused(sts: StsHarness) -> None:
    with pytest.raises(Exception, match="NewMember parameter of GetCallerIdentity"):
        sts.call("GetCallerIdentity", {"NewMember": 1})


def test_purge_removes_sessions_expired_over_a_day_ago(sts: StsHarness) -> None:
    arn = sts.add_role("Purge")
    old = sts.assume(arn, DurationSeconds=900)["Credentials"]["AccessKeyId"]
    sts.clock.advance(3600)
    fresh = sts.assume(arn)["Credentials"]["AccessKeyId"]
    sts.clock.advance(86_400 - 2700 + 1)  # `old` expired a day and a second ago

    def purge(tx: object) -> int:
        return sts.provider.purge_expired_sessions(tx, sts.clock.time())  # type: ignore[arg-type]

    assert sts.db.writer.run_sync(purge) == 1
    sts.credentials.invalidate()
    assert sts.credentials.get(old) is None
    assert sts.credentials.get(fresh) is not None

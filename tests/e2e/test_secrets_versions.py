"""Secrets Manager secrets, versions and staging labels, on SQLite and PostgreSQL.

Versions as AWS documents them ("Secret versions"): a new value is a new version
whose id is the ClientRequestToken; AWSCURRENT moves to it and AWSPREVIOUS to the
version that had AWSCURRENT; AWSPENDING and custom labels stay where they are; a
version without labels is deprecated. A retried token with the same value is the
same version; with another value, ResourceExistsException. Lookups by name, full
ARN and partial ARN.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, REGION, ServerProcess
from tests.e2e.helpers import error, error_of


@pytest.fixture
def sm(server: ServerProcess) -> Any:
    return server.client("secretsmanager")


def sname() -> str:
    return f"app/db-{secrets.token_hex(4)}"


def token() -> str:
    return str(uuid.uuid4())


def stages(sm: Any, secret_id: str) -> dict[str, list[str]]:
    return {
        k: sorted(v)
        for k, v in sm.describe_secret(SecretId=secret_id)["VersionIdsToStages"].items()
    }


def test_create_get_and_the_arn(sm: Any) -> None:
    n = sname()
    out = sm.create_secret(Name=n, SecretString="hunter2", Description="the db")
    prefix = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{n}-"
    assert out["ARN"].startswith(prefix) and len(out["ARN"]) == len(prefix) + 6
    assert out["Name"] == n
    got = sm.get_secret_value(SecretId=n)
    assert got["SecretString"] == "hunter2"
    assert got["VersionId"] == out["VersionId"]
    assert got["VersionStages"] == ["AWSCURRENT"]
    assert "SecretBinary" not in got
    d = sm.describe_secret(SecretId=n)
    assert d["Description"] == "the db"
    assert d["RotationEnabled"] is False
    assert "KmsKeyId" not in d  # the AWS managed key: not shown
    assert d["VersionIdsToStages"] == {out["VersionId"]: ["AWSCURRENT"]}
    assert d["LastAccessedDate"].hour == 0 and d["LastAccessedDate"].minute == 0  # a date


def test_binary_secret_and_no_value(sm: Any) -> None:
    n = sname()
    sm.create_secret(Name=n, SecretBinary=b"\x00\x01binary\xff")
    got = sm.get_secret_value(SecretId=n)
    assert got["SecretBinary"] == b"\x00\x01binary\xff" and "SecretString" not in got
    empty = sname()
    out = sm.create_secret(Name=empty)
    assert "VersionId" not in out
    assert sm.describe_secret(SecretId=empty)["VersionIdsToStages"] == {}
    with pytest.raises(ClientError) as exc:
        sm.get_secret_value(SecretId=empty)
    assert error_of(exc) == (
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT",
    )
    v = sm.put_secret_value(SecretId=empty, SecretString="first")
    assert v["VersionStages"] == ["AWSCURRENT"]
    assert sm.get_secret_value(SecretId=empty)["SecretString"] == "first"


def test_lookups_by_name_full_arn_and_partial_arn(sm: Any) -> None:
    n = sname()
    arn = sm.create_secret(Name=n, SecretString="v")["ARN"]
    partial = arn[:-7]
    for secret_id in (n, arn, partial):
        got = sm.get_secret_value(SecretId=secret_id)
        assert (got["ARN"], got["SecretString"]) == (arn, "v")
    for wrong in (arn[:-1] + ("A" if arn[-1] != "A" else "B"), n + "-nope", partial + "x"):
        with pytest.raises(ClientError) as exc:
            sm.get_secret_value(SecretId=wrong)
        assert error_of(exc) == (
            "ResourceNotFoundException",
            "Secrets Manager can't find the specified secret.",
        )


def test_put_moves_current_and_previous_and_keeps_pending(sm: Any) -> None:
    n = sname()
    v1 = sm.create_secret(Name=n, SecretString="one", ClientRequestToken=token())["VersionId"]
    v2 = sm.put_secret_value(SecretId=n, SecretString="two")["VersionId"]
    assert stages(sm, n) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"]}
    pending = sm.put_secret_value(SecretId=n, SecretString="three", VersionStages=["AWSPENDING"])
    assert pending["VersionStages"] == ["AWSPENDING"]
    v3 = pending["VersionId"]
    assert stages(sm, n) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"], v3: ["AWSPENDING"]}
    assert sm.get_secret_value(SecretId=n)["SecretString"] == "two"
    assert sm.get_secret_value(SecretId=n, VersionStage="AWSPENDING")["SecretString"] == "three"
    assert sm.get_secret_value(SecretId=n, VersionStage="AWSPREVIOUS")["SecretString"] == "one"
    assert sm.get_secret_value(SecretId=n, VersionId=v1)["SecretString"] == "one"
    v4 = sm.put_secret_value(SecretId=n, SecretString="four")["VersionId"]
    # v1 lost its last label: deprecated, listed only with IncludeDeprecated
    assert stages(sm, n) == {v2: ["AWSPREVIOUS"], v3: ["AWSPENDING"], v4: ["AWSCURRENT"]}
    listed = sm.list_secret_version_ids(SecretId=n)["Versions"]
    assert {v["VersionId"] for v in listed} == {v2, v3, v4}
    everything = sm.list_secret_version_ids(SecretId=n, IncludeDeprecated=True)["Versions"]
    assert {v["VersionId"] for v in everything} == {v1, v2, v3, v4}
    deprecated = [v for v in everything if v["VersionId"] == v1][0]
    assert "VersionStages" not in deprecated
    assert sm.get_secret_value(SecretId=n, VersionId=v1)["SecretString"] == "one"
    # a custom label with AWSCURRENT
    v5 = sm.put_secret_value(SecretId=n, SecretString="five", VersionStages=["AWSCURRENT", "blue"])
    assert sorted(sm.get_secret_value(SecretId=n, VersionStage="blue")["VersionStages"]) == [
        "AWSCURRENT",
        "blue",
    ]
    assert stages(sm, n)[v5["VersionId"]] == ["AWSCURRENT", "blue"]


def test_client_request_token_idempotency(sm: Any) -> None:
    n = sname()
    t = token()
    first = sm.create_secret(Name=n, SecretString="same", ClientRequestToken=t)
    again = sm.create_secret(Name=n, SecretString="same", ClientRequestToken=t)
    assert (again["ARN"], again["VersionId"]) == (first["ARN"], t)
    with pytest.raises(ClientError) as exc:
        sm.create_secret(Name=n, SecretString="other", ClientRequestToken=t)
    assert error(exc) == ("ResourceExistsException", 400)
    t2 = token()
    sm.put_secret_value(SecretId=n, SecretString="v2", ClientRequestToken=t2)
    retry = sm.put_secret_value(SecretId=n, SecretString="v2", ClientRequestToken=t2)
    assert (retry["VersionId"], retry["VersionStages"]) == (t2, ["AWSCURRENT"])
    with pytest.raises(ClientError) as exc:
        sm.put_secret_value(SecretId=n, SecretString="changed", ClientRequestToken=t2)
    assert error_of(exc) == (
        "ResourceExistsException",
        "You can't modify an existing version, you can only create a new version.",
    )
    # string and binary of the same bytes are different values
    with pytest.raises(ClientError) as exc:
        sm.put_secret_value(SecretId=n, SecretBinary=b"v2", ClientRequestToken=t2)
    assert error(exc) == ("ResourceExistsException", 400)
    assert stages(sm, n) == {t: ["AWSPREVIOUS"], t2: ["AWSCURRENT"]}
    assert len(sm.list_secret_version_ids(SecretId=n, IncludeDeprecated=True)["Versions"]) == 2
    with pytest.raises(ClientError) as exc:
        sm.create_secret(Name=n, SecretString="x")
    assert error_of(exc) == (
        "ResourceExistsException",
        f"The operation failed because the secret {n} already exists.",
    )


def test_update_secret_value_description_and_key(sm: Any, kms: Any) -> None:
    n = sname()
    v1 = sm.create_secret(Name=n, SecretString="one")["VersionId"]
    out = sm.update_secret(SecretId=n, Description="new words")
    assert "VersionId" not in out
    assert sm.describe_secret(SecretId=n)["Description"] == "new words"
    assert stages(sm, n) == {v1: ["AWSCURRENT"]}
    key = kms.create_key()["KeyMetadata"]
    v2 = sm.update_secret(SecretId=n, SecretString="two", KmsKeyId=key["KeyId"])["VersionId"]
    assert stages(sm, n) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"]}
    assert sm.describe_secret(SecretId=n)["KmsKeyId"] == key["KeyId"]
    versions = {v["VersionId"]: v for v in sm.list_secret_version_ids(SecretId=n)["Versions"]}
    assert versions[v2]["KmsKeyIds"] == [key["Arn"]]
    assert versions[v1]["KmsKeyIds"] != [key["Arn"]]  # written under aws/secretsmanager
    assert sm.get_secret_value(SecretId=n)["SecretString"] == "two"
    assert sm.get_secret_value(SecretId=n, VersionStage="AWSPREVIOUS")["SecretString"] == "one"


def test_update_secret_version_stage_rules(sm: Any) -> None:
    n = sname()
    v1 = sm.create_secret(Name=n, SecretString="one")["VersionId"]
    v2 = sm.put_secret_value(SecretId=n, SecretString="two", VersionStages=["AWSPENDING"])[
        "VersionId"
    ]
    # AWSCURRENT can't be removed without moving it
    with pytest.raises(ClientError) as exc:
        sm.update_secret_version_stage(
            SecretId=n, VersionStage="AWSCURRENT", RemoveFromVersionId=v1
        )
    assert error(exc) == ("InvalidParameterException", 400)
    # moving a label attached elsewhere needs RemoveFromVersionId
    with pytest.raises(ClientError) as exc:
        sm.update_secret_version_stage(SecretId=n, VersionStage="AWSCURRENT", MoveToVersionId=v2)
    code, message = error_of(exc)
    assert code == "InvalidParameterException" and v1 in message
    assert stages(sm, n) == {v1: ["AWSCURRENT"], v2: ["AWSPENDING"]}
    # moving AWSCURRENT moves AWSPREVIOUS to the version that had it
    sm.update_secret_version_stage(
        SecretId=n, VersionStage="AWSCURRENT", MoveToVersionId=v2, RemoveFromVersionId=v1
    )
    assert stages(sm, n) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT", "AWSPENDING"]}
    sm.update_secret_version_stage(SecretId=n, VersionStage="AWSPENDING", RemoveFromVersionId=v2)
    assert stages(sm, n) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"]}
    # a custom label: attached, moved, removed
    sm.update_secret_version_stage(SecretId=n, VersionStage="green", MoveToVersionId=v1)
    assert stages(sm, n) == {v1: ["AWSPREVIOUS", "green"], v2: ["AWSCURRENT"]}
    sm.update_secret_version_stage(
        SecretId=n, VersionStage="green", MoveToVersionId=v2, RemoveFromVersionId=v1
    )
    assert stages(sm, n)[v2] == ["AWSCURRENT", "green"]
    with pytest.raises(ClientError) as exc:  # not on v1
        sm.update_secret_version_stage(SecretId=n, VersionStage="green", RemoveFromVersionId=v1)
    assert error(exc) == ("InvalidParameterException", 400)
    with pytest.raises(ClientError) as exc:
        sm.update_secret_version_stage(SecretId=n, VersionStage="green", MoveToVersionId=token())
    assert error(exc) == ("ResourceNotFoundException", 400)
    assert stages(sm, n)[v2] == ["AWSCURRENT", "green"]


def test_get_by_version_id_and_stage_must_agree(sm: Any) -> None:
    n = sname()
    v1 = sm.create_secret(Name=n, SecretString="one")["VersionId"]
    v2 = sm.put_secret_value(SecretId=n, SecretString="two")["VersionId"]
    got = sm.get_secret_value(SecretId=n, VersionId=v2, VersionStage="AWSCURRENT")
    assert got["SecretString"] == "two"
    with pytest.raises(ClientError) as exc:
        sm.get_secret_value(SecretId=n, VersionId=v1, VersionStage="AWSCURRENT")
    assert error(exc) == ("ResourceNotFoundException", 400)
    with pytest.raises(ClientError) as exc:
        sm.get_secret_value(SecretId=n, VersionStage="nope")
    assert error(exc) == ("ResourceNotFoundException", 400)
    with pytest.raises(ClientError) as exc:
        sm.get_secret_value(SecretId=n, VersionId=token())
    assert error(exc) == ("ResourceNotFoundException", 400)


def test_version_ids_page(sm: Any) -> None:
    n = sname()
    sm.create_secret(Name=n, SecretString="0")
    for i in range(4):
        sm.put_secret_value(SecretId=n, SecretString=str(i + 1), VersionStages=[f"L{i}"])
    seen: list[str] = []
    kwargs: dict[str, Any] = {"SecretId": n, "MaxResults": 2}
    while True:
        page = sm.list_secret_version_ids(**kwargs)
        assert len(page["Versions"]) <= 2
        seen += [v["VersionId"] for v in page["Versions"]]
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert len(seen) == len(set(seen)) == 5
    assert page["Name"] == n


def all_version_ids(sm: Any, secret_id: str) -> list[str]:
    out: list[str] = []
    kwargs: dict[str, Any] = {"SecretId": secret_id, "IncludeDeprecated": True}
    while True:
        page = sm.list_secret_version_ids(**kwargs)
        out += [v["VersionId"] for v in page["Versions"]]
        if "NextToken" not in page:
            return out
        kwargs["NextToken"] = page["NextToken"]


def test_unlabeled_versions_beyond_100_are_removed_only_after_a_day(
    fresh_server_factory: Any,
) -> None:
    srv: ServerProcess = fresh_server_factory("sqlite").start()
    sm = srv.client("secretsmanager")
    first = sm.create_secret(Name="many", SecretString="v0")["VersionId"]
    for i in range(1, 102):
        sm.put_secret_value(SecretId="many", SecretString=f"v{i}")
    # 102 versions: none removed, all younger than 24 hours
    assert len(all_version_ids(sm, "many")) == 102
    srv.advance(25 * 3600)
    sm.put_secret_value(SecretId="many", SecretString="v102")
    ids = all_version_ids(sm, "many")
    assert len(ids) == 100 and first not in ids
    assert sm.get_secret_value(SecretId="many")["SecretString"] == "v102"
    assert sm.get_secret_value(SecretId="many", VersionStage="AWSPREVIOUS")["SecretString"] == (
        "v101"
    )

"""ListSecrets (filters with `!` negation, order, pages), BatchGetSecretValue and tags,
on SQLite and PostgreSQL.

Filters as AWS documents them: name, tag-key, tag-value, primary-region and
owning-service are case-sensitive prefix matches, description a prefix match
ignoring case, `all` every word of the value against every attribute; the values
of one filter are alternatives, filters all apply; a value starting with `!`
excludes.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import REGION, ServerProcess
from tests.e2e.helpers import error, iam_user, session_client


@pytest.fixture
def sm(server: ServerProcess) -> Any:
    return server.client("secretsmanager")


def names(sm: Any, *filters: dict[str, Any], **kwargs: Any) -> list[str]:
    out: list[str] = []
    args: dict[str, Any] = {"Filters": list(filters), **kwargs}
    while True:
        page = sm.list_secrets(**args)
        out += [s["Name"] for s in page["SecretList"]]
        if "NextToken" not in page:
            return out
        args["NextToken"] = page["NextToken"]


@pytest.fixture
def family(sm: Any) -> str:
    """Three secrets under one fresh prefix."""
    p = f"lst{secrets.token_hex(3)}"
    sm.create_secret(
        Name=f"{p}/prod/db",
        SecretString="a",
        Description="Production Database",
        Tags=[{"Key": f"{p}-team", "Value": "alpha"}, {"Key": "env", "Value": f"{p}-prod"}],
    )
    sm.create_secret(
        Name=f"{p}/dev/db",
        SecretString="b",
        Description="development database",
        Tags=[{"Key": f"{p}-team", "Value": "beta"}, {"Key": "env", "Value": f"{p}-dev"}],
    )
    sm.create_secret(Name=f"{p}/dev/cache", SecretString="c")
    return p


def test_name_filter_is_a_case_sensitive_prefix(sm: Any, family: str) -> None:
    p = family
    n = {"Key": "name", "Values": [p]}
    assert sorted(names(sm, n)) == sorted([f"{p}/prod/db", f"{p}/dev/db", f"{p}/dev/cache"])
    assert sorted(names(sm, {"Key": "name", "Values": [f"{p}/dev"]})) == [
        f"{p}/dev/cache",
        f"{p}/dev/db",
    ]
    assert names(sm, {"Key": "name", "Values": [p.upper()]}) == []
    # alternatives within one filter
    two = {"Key": "name", "Values": [f"{p}/prod", f"{p}/dev/cache"]}
    assert sorted(names(sm, two)) == [f"{p}/dev/cache", f"{p}/prod/db"]


def test_negation_and_and_of_filters(sm: Any, family: str) -> None:
    p = family
    n = {"Key": "name", "Values": [p]}
    not_dev = {"Key": "name", "Values": [f"!{p}/dev"]}
    assert names(sm, n, not_dev) == [f"{p}/prod/db"]
    tagged = {"Key": "tag-key", "Values": [f"{p}-team"]}
    assert sorted(names(sm, tagged)) == [f"{p}/dev/db", f"{p}/prod/db"]
    assert names(sm, n, {"Key": "tag-key", "Values": [f"!{p}-team"]}) == [f"{p}/dev/cache"]
    assert names(sm, tagged, {"Key": "tag-value", "Values": ["alp"]}) == [f"{p}/prod/db"]
    assert names(sm, {"Key": "tag-value", "Values": [f"{p}-d"]}) == [f"{p}/dev/db"]


def test_description_ignores_case_and_all_searches_everything(sm: Any, family: str) -> None:
    p = family
    n = {"Key": "name", "Values": [p]}
    assert sorted(names(sm, n, {"Key": "description", "Values": ["PRODUCTION"]})) == [
        f"{p}/prod/db"
    ]
    assert sorted(names(sm, n, {"Key": "description", "Values": ["dev"]})) == [f"{p}/dev/db"]
    assert names(sm, {"Key": "all", "Values": [f"{p}-prod"]}) == [f"{p}/prod/db"]
    assert sorted(names(sm, n, {"Key": "all", "Values": ["DATABASE"]})) == [
        f"{p}/dev/db",
        f"{p}/prod/db",
    ]
    assert sorted(names(sm, n, {"Key": "primary-region", "Values": [REGION]})) != []
    assert names(sm, n, {"Key": "owning-service", "Values": ["rds"]}) == []


def test_sort_order_and_pages(sm: Any, family: str) -> None:
    p = family
    n = {"Key": "name", "Values": [p]}
    asc = names(sm, n, SortOrder="asc", MaxResults=1)
    desc = names(sm, n, SortOrder="desc", MaxResults=2)
    assert asc == [f"{p}/prod/db", f"{p}/dev/db", f"{p}/dev/cache"]
    assert desc == list(reversed(asc))
    by_name = names(sm, n, SortBy="name", SortOrder="asc")
    assert by_name == sorted(asc)
    entry = sm.list_secrets(Filters=[{"Key": "name", "Values": [f"{p}/prod"]}])["SecretList"][0]
    assert {t["Key"] for t in entry["Tags"]} == {f"{p}-team", "env"}
    assert list(entry["SecretVersionsToStages"].values()) == [["AWSCURRENT"]]
    assert "SecretString" not in entry
    with pytest.raises(ClientError) as exc:
        sm.list_secrets(NextToken="garbage")
    assert error(exc) == ("InvalidNextTokenException", 400)


def test_batch_get_by_ids_and_by_filters(sm: Any, family: str) -> None:
    p = family
    missing = f"{p}/missing"
    out = sm.batch_get_secret_value(SecretIdList=[f"{p}/prod/db", missing, f"{p}/dev/db"])
    assert {v["Name"]: v["SecretString"] for v in out["SecretValues"]} == {
        f"{p}/prod/db": "a",
        f"{p}/dev/db": "b",
    }
    assert out["Errors"] == [
        {
            "SecretId": missing,
            "ErrorCode": "ResourceNotFoundException",
            "Message": "Secrets Manager can't find the specified secret.",
        }
    ]
    got: dict[str, str] = {}
    args: dict[str, Any] = {"Filters": [{"Key": "name", "Values": [p]}], "MaxResults": 2}
    while True:
        page = sm.batch_get_secret_value(**args)
        got.update({v["Name"]: v["SecretString"] for v in page["SecretValues"]})
        if "NextToken" not in page:
            break
        args["NextToken"] = page["NextToken"]
    assert got == {f"{p}/prod/db": "a", f"{p}/dev/db": "b", f"{p}/dev/cache": "c"}
    with pytest.raises(ClientError) as exc:
        sm.batch_get_secret_value(
            SecretIdList=[f"{p}/prod/db"], Filters=[{"Key": "name", "Values": [p]}]
        )
    assert error(exc) == ("InvalidParameterException", 400)


def test_tags_add_replace_remove_and_limits(sm: Any) -> None:
    n = f"tags/{secrets.token_hex(4)}"
    sm.create_secret(Name=n, SecretString="x", Tags=[{"Key": "a", "Value": "1"}])
    sm.tag_resource(SecretId=n, Tags=[{"Key": "a", "Value": "2"}, {"Key": "b", "Value": ""}])
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=n)["Tags"]}
    assert tags == {"a": "2", "b": ""}
    sm.untag_resource(SecretId=n, TagKeys=["a", "not-there"])
    assert sm.describe_secret(SecretId=n)["Tags"] == [{"Key": "b", "Value": ""}]
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    with pytest.raises(ClientError) as exc:  # 50 + b
        sm.tag_resource(SecretId=n, Tags=many)
    assert error(exc) == ("InvalidParameterException", 400)
    assert sm.describe_secret(SecretId=n)["Tags"] == [{"Key": "b", "Value": ""}]
    with pytest.raises(ClientError) as exc:
        sm.tag_resource(SecretId=n, Tags=[{"Key": "aws:reserved", "Value": "v"}])
    assert error(exc) == ("InvalidParameterException", 400)


def test_resource_tags_decide_iam_conditions(server: ServerProcess, sm: Any) -> None:
    mine, theirs = f"tagged/{secrets.token_hex(4)}", f"tagged/{secrets.token_hex(4)}"
    sm.create_secret(Name=mine, SecretString="m", Tags=[{"Key": "team", "Value": "red"}])
    sm.create_secret(Name=theirs, SecretString="t", Tags=[{"Key": "team", "Value": "blue"}])
    red_only = {
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
        "Condition": {"StringEquals": {"secretsmanager:ResourceTag/team": "red"}},
    }
    decrypt = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}
    _, key = iam_user(server.client("iam"), "sm-red", red_only, decrypt)
    client = session_client(server, "secretsmanager", key)
    with pytest.raises(ClientError) as exc:
        client.get_secret_value(SecretId=theirs)
    assert error(exc) == ("AccessDeniedException", 400)
    # the AWS managed key lets this account's principals use it through Secrets Manager
    assert client.get_secret_value(SecretId=mine)["SecretString"] == "m"

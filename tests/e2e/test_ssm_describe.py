"""DescribeParameters end to end with boto3 and the AWS CLI, on SQLite and PostgreSQL.

Every ParameterFilters key (Name, Type, KeyId, Path, Tier, DataType, tag:) with
its options, the older Filters form, the ParameterMetadata shape, paging, and
AWS's authorisation (ssm:DescribeParameters on `*`, not narrowed by each
parameter's permissions).
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, REGION, ServerProcess
from tests.e2e.helpers import error_of, iam_user, session_client
from tests.e2e.test_ssm_cli import CLI_EXIT_SERVICE_ERROR, Aws
from tests.e2e.test_ssm_cli import aws as aws  # the AWS CLI fixture


@pytest.fixture
def ssm(server: ServerProcess) -> Any:
    return server.client("ssm")


def _root() -> str:
    return f"/d-{secrets.token_hex(4)}"


def _names(ssm: Any, **request: Any) -> list[str]:
    out: list[str] = []
    for page in ssm.get_paginator("describe_parameters").paginate(**request):
        out.extend(p["Name"] for p in page["Parameters"])
    return out


def _under(root: str, option: str = "Recursive") -> dict[str, Any]:
    return {"Key": "Path", "Option": option, "Values": [root]}


@pytest.fixture
def tree(ssm: Any, kms: Any) -> dict[str, Any]:
    """A small hierarchy with every type, both tiers, a customer key and tags."""
    root = _root()
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    ssm.put_parameter(Name=f"{root}/app/url", Value="u", Type="String", Description="the url")
    ssm.put_parameter(
        Name=f"{root}/app/hosts",
        Value="a,b",
        Type="StringList",
        Tags=[{"Key": "team", "Value": "blue"}, {"Key": "env", "Value": "prod"}],
    )
    ssm.put_parameter(Name=f"{root}/app/db/password", Value="s", Type="SecureString", KeyId=key)
    ssm.put_parameter(Name=f"{root}/app/db/token", Value="t", Type="SecureString")
    ssm.put_parameter(
        Name=f"{root}/big",
        Value="x" * 5000,
        Type="String",
        Tier="Advanced",
        AllowedPattern="^x+$",
        Tags=[{"Key": "team", "Value": "green"}],
    )
    return {"root": root, "key": key}


def test_parameter_metadata_has_aws_shape_and_no_value(ssm: Any, tree: dict[str, Any]) -> None:
    root = tree["root"]
    ssm.put_parameter(Name=f"{root}/app/url", Value="u2", Overwrite=True)
    got = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [f"{root}/app/url"]}]
    )["Parameters"]
    assert len(got) == 1
    meta = got[0]
    assert meta["Name"] == f"{root}/app/url"
    assert meta["ARN"] == f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{root}/app/url"
    assert (meta["Type"], meta["Version"], meta["Tier"], meta["DataType"]) == (
        "String", 2, "Standard", "text",
    )  # fmt: skip
    assert meta["Description"] == "the url"
    assert meta["LastModifiedUser"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
    # the server's (injectable) clock, which tests on the shared servers move: the
    # date is the one the latest version carries
    latest = ssm.get_parameter(Name=f"{root}/app/url")["Parameter"]
    assert meta["LastModifiedDate"] == latest["LastModifiedDate"]
    assert meta["Policies"] == []
    assert "Value" not in meta and "KeyId" not in meta and "AllowedPattern" not in meta
    big = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [f"{root}/big"]}])[
        "Parameters"
    ][0]
    assert (big["Tier"], big["AllowedPattern"]) == ("Advanced", "^x+$")
    expires = (datetime.now(UTC) + timedelta(days=3650)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    policy = {"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": expires}}
    ssm.put_parameter(Name=f"{root}/big", Value="xx", Overwrite=True, Policies=json.dumps([policy]))
    big = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [f"{root}/big"]}])[
        "Parameters"
    ][0]
    assert big["Version"] == 2
    assert [(p["PolicyType"], json.loads(p["PolicyText"])) for p in big["Policies"]] == [
        ("Expiration", policy)
    ]
    secure = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [f"{root}/app/db/password"]}]
    )["Parameters"][0]
    assert secure["KeyId"] == tree["key"]
    token = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [f"{root}/app/db/token"]}]
    )["Parameters"][0]
    assert token["KeyId"] == "alias/aws/ssm"


def test_path_filter_one_level_and_recursive(ssm: Any, tree: dict[str, Any]) -> None:
    root = tree["root"]
    assert sorted(_names(ssm, ParameterFilters=[_under(f"{root}/app", "OneLevel")])) == [
        f"{root}/app/hosts",
        f"{root}/app/url",
    ]
    # OneLevel is the default option of Path
    assert sorted(_names(ssm, ParameterFilters=[{"Key": "Path", "Values": [root]}])) == [
        f"{root}/big"
    ]
    assert len(_names(ssm, ParameterFilters=[_under(root)])) == 5
    assert sorted(_names(ssm, ParameterFilters=[_under(f"{root}/app/db/")])) == [
        f"{root}/app/db/password",
        f"{root}/app/db/token",
    ]


def test_name_type_keyid_tier_datatype_filters(ssm: Any, tree: dict[str, Any]) -> None:
    root, key = tree["root"], tree["key"]
    scope = _under(root)

    def names(*filters: dict[str, Any]) -> list[str]:
        return sorted(n.removeprefix(root) for n in _names(ssm, ParameterFilters=[scope, *filters]))

    assert names({"Key": "Type", "Values": ["SecureString"]}) == [
        "/app/db/password",
        "/app/db/token",
    ]
    assert names({"Key": "Type", "Option": "BeginsWith", "Values": ["StringL"]}) == ["/app/hosts"]
    assert names({"Key": "Type", "Values": ["String", "StringList"]}) == [
        "/app/hosts", "/app/url", "/big",
    ]  # fmt: skip
    assert names({"Key": "KeyId", "Values": [key]}) == ["/app/db/password"]
    assert names({"Key": "KeyId", "Option": "BeginsWith", "Values": ["alias/aws/"]}) == [
        "/app/db/token"
    ]
    assert names({"Key": "Tier", "Values": ["Advanced"]}) == ["/big"]
    assert names({"Key": "Tier", "Values": ["Intelligent-Tiering"]}) == []
    assert len(names({"Key": "DataType", "Values": ["text"]})) == 5
    assert names({"Key": "DataType", "Values": ["aws:ec2:image"]}) == []
    assert names({"Key": "Name", "Option": "Contains", "Values": ["db/"]}) == [
        "/app/db/password", "/app/db/token",
    ]  # fmt: skip
    assert names({"Key": "Name", "Option": "BeginsWith", "Values": [f"{root}/app/d"]}) == [
        "/app/db/password", "/app/db/token",
    ]  # fmt: skip
    assert names({"Key": "Name", "Values": [f"{root}/app"]}) == []  # Equals: the whole name
    # every filter must hold
    assert names(
        {"Key": "Type", "Values": ["SecureString"]}, {"Key": "KeyId", "Values": [key]}
    ) == ["/app/db/password"]


def test_tag_filters(ssm: Any, tree: dict[str, Any]) -> None:
    root = tree["root"]
    scope = _under(root)

    def names(*filters: dict[str, Any]) -> list[str]:
        return sorted(n.removeprefix(root) for n in _names(ssm, ParameterFilters=[scope, *filters]))

    assert names({"Key": "tag:team", "Values": ["blue"]}) == ["/app/hosts"]
    assert names({"Key": "tag:team", "Values": ["blue", "green"]}) == ["/app/hosts", "/big"]
    assert names({"Key": "tag:team", "Option": "BeginsWith", "Values": ["gr"]}) == ["/big"]
    assert names({"Key": "tag:team"}) == ["/app/hosts", "/big"]  # the key is there
    assert (
        names({"Key": "tag:team", "Values": ["blue"]}, {"Key": "tag:env", "Values": ["qa"]}) == []
    )
    # tags added later are seen
    ssm.add_tags_to_resource(
        ResourceType="Parameter",
        ResourceId=f"{root}/app/url",
        Tags=[{"Key": "team", "Value": "blue"}],
    )
    assert names({"Key": "tag:team", "Values": ["blue"]}) == ["/app/hosts", "/app/url"]


def test_older_filters_form(ssm: Any, tree: dict[str, Any]) -> None:
    root, key = tree["root"], tree["key"]
    got = _names(ssm, Filters=[{"Key": "Name", "Values": [f"{root}/app/db"]}])
    assert sorted(got) == [f"{root}/app/db/password", f"{root}/app/db/token"]
    got = _names(
        ssm,
        Filters=[
            {"Key": "Name", "Values": [root]},
            {"Key": "Type", "Values": ["SecureString"]},
            {"Key": "KeyId", "Values": [key]},
        ],
    )
    assert got == [f"{root}/app/db/password"]
    with pytest.raises(ClientError) as exc:
        ssm.describe_parameters(
            Filters=[{"Key": "Name", "Values": [root]}], ParameterFilters=[_under(root)]
        )
    assert error_of(exc) == (
        "ValidationException",
        "You can use either Filters or ParameterFilters in a single request.",
    )


def test_pages_follow_max_results(ssm: Any) -> None:
    root = _root()
    for n in range(7):
        ssm.put_parameter(Name=f"{root}/p{n}", Value="v", Type="String")
    seen: list[str] = []
    request: dict[str, Any] = {"ParameterFilters": [_under(root)], "MaxResults": 3}
    pages = 0
    while True:
        out = ssm.describe_parameters(**request)
        assert len(out["Parameters"]) <= 3
        seen.extend(p["Name"] for p in out["Parameters"])
        pages += 1
        if "NextToken" not in out:
            break
        request["NextToken"] = out["NextToken"]
    assert seen == [f"{root}/p{n}" for n in range(7)]
    assert pages == 3
    with pytest.raises(ClientError) as exc:
        ssm.describe_parameters(NextToken="not-a-token")
    assert error_of(exc)[0] == "InvalidNextToken"


def test_authorised_on_star_not_narrowed_per_parameter(server: ServerProcess, ssm: Any) -> None:
    root = _root()
    ssm.put_parameter(Name=f"{root}/open", Value="1", Type="String")
    ssm.put_parameter(Name=f"{root}/closed", Value="2", Type="String")
    iam = server.client("iam")
    _, key = iam_user(
        iam, "describer",
        {"Effect": "Allow", "Action": "ssm:DescribeParameters", "Resource": "*"},
        {"Effect": "Allow", "Action": "ssm:GetParameter",
         "Resource": f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{root}/open"},
    )  # fmt: skip
    client = session_client(server, "ssm", key)
    # AWS lists the metadata of every parameter: GetParameter rights do not narrow it
    assert sorted(_names(client, ParameterFilters=[_under(root)])) == [
        f"{root}/closed",
        f"{root}/open",
    ]
    with pytest.raises(ClientError) as exc:
        client.get_parameter(Name=f"{root}/closed")
    assert error_of(exc)[0] == "AccessDeniedException"
    # without ssm:DescribeParameters: denied, on resource *
    _, key2 = iam_user(iam, "nodescribe")
    with pytest.raises(ClientError) as exc:
        session_client(server, "ssm", key2).describe_parameters()
    code, message = error_of(exc)
    assert code == "AccessDeniedException"
    assert "ssm:DescribeParameters on resource: *" in message


def test_cli_describe_parameters(aws: Aws, ssm: Any) -> None:
    root = _root()
    for n in range(4):
        ssm.put_parameter(Name=f"{root}/c{n}", Value="v", Type="String")
    # the CLI's own paginator over NextToken, two per page
    out = aws.json(
        "ssm", "describe-parameters", "--page-size", "2",
        "--parameter-filters", f"Key=Path,Option=Recursive,Values={root}",
    )  # fmt: skip
    assert [p["Name"] for p in out["Parameters"]] == [f"{root}/c{n}" for n in range(4)]
    done = aws.run("ssm", "describe-parameters", "--parameter-filters", "Key=Label,Values=prod")
    assert done.returncode == CLI_EXIT_SERVICE_ERROR
    assert "InvalidFilterKey" in done.stderr

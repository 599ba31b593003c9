"""SSM Parameter Store end to end with boto3, on SQLite and PostgreSQL.

Every served operation (PutParameter, GetParameter(s), GetParametersByPath,
GetParameterHistory, DeleteParameter(s), Label/UnlabelParameterVersion) with
versions, selectors, labels, tiers, parameter policies, the 100-version limit,
the per-tier quotas (a dedicated server with low configured quotas), IAM
authorisation of the ssm: actions and the audit trail.
"""

from __future__ import annotations

import json
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from garrison.services.ssm.actions import ACTIONS
from tests.conftest import ACCOUNT_ID, BACKENDS, REGION, ServerProcess
from tests.e2e.helpers import error, error_of, iam_user, name, session_client
from tests.e2e.test_multinode import Pair
from tests.e2e.test_multinode import pair as pair  # the two-node fixture (PostgreSQL)


@pytest.fixture
def ssm(server: ServerProcess) -> Any:
    return server.client("ssm")


def path(prefix: str = "t") -> str:
    return f"/{prefix}-{secrets.token_hex(4)}"


def arn(param: str) -> str:
    return f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/{param.removeprefix('/')}"


def future(days: int = 3650) -> str:  # far: the shared servers move their clocks
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# -- PutParameter / GetParameter ----------------------------------------------------------


def test_put_creates_version_1_and_overwrite_adds_versions(ssm: Any) -> None:
    p = path() + "/db/host"
    out = ssm.put_parameter(Name=p, Value="one", Type="String", Description="the host")
    assert (out["Version"], out["Tier"]) == (1, "Standard")
    got = ssm.get_parameter(Name=p)["Parameter"]
    assert (got["Name"], got["Type"], got["Value"], got["Version"]) == (p, "String", "one", 1)
    assert got["ARN"] == arn(p)
    assert got["DataType"] == "text"
    assert "Selector" not in got
    with pytest.raises(ClientError) as exc:
        ssm.put_parameter(Name=p, Value="two", Type="String")
    assert error(exc) == ("ParameterAlreadyExists", 400)
    out = ssm.put_parameter(Name=p, Value="two", Overwrite=True)  # Type kept
    assert (out["Version"], out["Tier"]) == (2, "Standard")
    got = ssm.get_parameter(Name=p)["Parameter"]
    assert (got["Value"], got["Version"], got["Type"]) == ("two", 2, "String")
    # members left out on overwrite keep the previous version's value
    history = ssm.get_parameter_history(Name=p)["Parameters"]
    assert [h["Description"] for h in history] == ["the host", "the host"]
    assert history[1]["LastModifiedUser"] == f"arn:aws:iam::{ACCOUNT_ID}:root"


def test_version_and_label_selectors(ssm: Any) -> None:
    p = path()
    for value in ("v1", "v2", "v3"):
        ssm.put_parameter(Name=p, Value=value, Type="String", Overwrite=True)
    got = ssm.get_parameter(Name=f"{p}:2")["Parameter"]
    assert (got["Name"], got["Value"], got["Version"], got["Selector"]) == (p, "v2", 2, ":2")
    ssm.label_parameter_version(Name=p, ParameterVersion=1, Labels=["golden"])
    got = ssm.get_parameter(Name=f"{p}:golden")["Parameter"]
    assert (got["Value"], got["Version"], got["Selector"]) == ("v1", 1, ":golden")
    with pytest.raises(ClientError) as exc:
        ssm.get_parameter(Name=f"{p}:9")
    assert error_of(exc) == (
        "ParameterVersionNotFound",
        f"Systems Manager could not find version 9 of {p}. Verify the version and try again.",
    )
    with pytest.raises(ClientError) as exc:
        ssm.get_parameter(Name=f"{p}:nolabel")
    assert error(exc) == ("ParameterVersionNotFound", 400)
    with pytest.raises(ClientError) as exc:
        ssm.get_parameter(Name=p + "-missing")
    assert error(exc) == ("ParameterNotFound", 400)


def test_string_list_and_arn_names(ssm: Any) -> None:
    p = path() + "/hosts"
    ssm.put_parameter(Name=p, Value="a,b,c", Type="StringList")
    got = ssm.get_parameter(Name=arn(p))["Parameter"]
    assert (got["Name"], got["Type"], got["Value"]) == (p, "StringList", "a,b,c")
    assert ssm.get_parameter(Name=arn(p) + ":1")["Parameter"]["Selector"] == ":1"
    # String <-> StringList may change on overwrite
    ssm.put_parameter(Name=p, Value="x", Type="String", Overwrite=True)
    assert ssm.get_parameter(Name=p)["Parameter"]["Type"] == "String"


def test_a_top_level_name_is_one_parameter_with_or_without_its_slash(ssm: Any) -> None:
    bare = name("top")
    ssm.put_parameter(Name=bare, Value="x", Type="String")
    with pytest.raises(ClientError) as exc:
        ssm.put_parameter(Name="/" + bare, Value="y", Type="String")
    assert error(exc) == ("ParameterAlreadyExists", 400)
    got = ssm.get_parameter(Name="/" + bare)["Parameter"]
    assert (got["Name"], got["Value"]) == (bare, "x")
    assert got["ARN"] == arn(bare)


def test_allowed_pattern_is_kept_and_enforced(ssm: Any) -> None:
    p = path()
    ssm.put_parameter(Name=p, Value="123", Type="String", AllowedPattern=r"^\d+$")
    with pytest.raises(ClientError) as exc:
        ssm.put_parameter(Name=p, Value="abc", Overwrite=True)
    assert error_of(exc) == (
        "ParameterPatternMismatchException",
        r"Parameter value, cannot be validated against allowedPattern: ^\d+$",
    )
    ssm.put_parameter(Name=p, Value="456", Overwrite=True)
    assert ssm.get_parameter(Name=p)["Parameter"]["Value"] == "456"
    history = ssm.get_parameter_history(Name=p)["Parameters"]
    assert [h.get("AllowedPattern") for h in history] == [r"^\d+$", r"^\d+$"]


# -- GetParameters ------------------------------------------------------------------------


def test_get_parameters_lists_the_invalid_ones(ssm: Any) -> None:
    a, b = path(), path()
    ssm.put_parameter(Name=a, Value="A", Type="String")
    ssm.put_parameter(Name=b, Value="B1", Type="String")
    ssm.put_parameter(Name=b, Value="B2", Type="String", Overwrite=True)
    out = ssm.get_parameters(Names=[a, f"{b}:1", a + "-nope", f"{b}:7", "bad name"])
    assert [(p["Name"], p["Value"]) for p in out["Parameters"]] == [(a, "A"), (b, "B1")]
    assert out["Parameters"][1]["Selector"] == ":1"
    assert out["InvalidParameters"] == [a + "-nope", f"{b}:7", "bad name"]


# -- GetParametersByPath ------------------------------------------------------------------


def test_by_path_one_level_recursive_filters_and_pages(ssm: Any) -> None:
    root = path("tree")
    names = [f"{root}/a", f"{root}/b", f"{root}/c/d", f"{root}/c/e/f", f"{root}x"]
    for n in names:
        ssm.put_parameter(Name=n, Value=n[-1], Type="String")
    ssm.put_parameter(Name=f"{root}/s", Value="sv", Type="SecureString")
    one = ssm.get_parameters_by_path(Path=root)["Parameters"]
    assert [p["Name"] for p in one] == [f"{root}/a", f"{root}/b", f"{root}/s"]
    assert ssm.get_parameters_by_path(Path=root + "/")["Parameters"] == one
    deep = ssm.get_parameters_by_path(Path=root, Recursive=True, WithDecryption=True)
    by_name = {p["Name"]: p["Value"] for p in deep["Parameters"]}
    assert set(by_name) == {*names[:4], f"{root}/s"}
    assert by_name[f"{root}/s"] == "sv"
    # pages of 2 walk the same five
    seen: list[str] = []
    kwargs: dict[str, Any] = {"Path": root, "Recursive": True, "MaxResults": 2}
    while True:
        page = ssm.get_parameters_by_path(**kwargs)
        assert len(page["Parameters"]) <= 2
        seen += [p["Name"] for p in page["Parameters"]]
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert seen == sorted(by_name)
    # filters: Type, and Label (the labelled version)
    secure = ssm.get_parameters_by_path(
        Path=root,
        Recursive=True,
        ParameterFilters=[{"Key": "Type", "Option": "Equals", "Values": ["SecureString"]}],
    )["Parameters"]
    assert [p["Name"] for p in secure] == [f"{root}/s"]
    assert secure[0]["Value"] != "sv"  # no decryption asked: the ciphertext
    ssm.put_parameter(Name=f"{root}/a", Value="a2", Overwrite=True)
    ssm.label_parameter_version(Name=f"{root}/a", ParameterVersion=1, Labels=["stable"])
    labelled = ssm.get_parameters_by_path(
        Path=root, ParameterFilters=[{"Key": "Label", "Values": ["stable"]}]
    )["Parameters"]
    assert [(p["Name"], p["Value"], p["Version"]) for p in labelled] == [(f"{root}/a", "a", 1)]


def test_by_path_refuses_filters_of_describe_parameters(ssm: Any) -> None:
    with pytest.raises(ClientError) as exc:
        ssm.get_parameters_by_path(Path="/x", ParameterFilters=[{"Key": "Name", "Values": ["a"]}])
    assert error_of(exc) == (
        "InvalidFilterKey",
        "The following filter key is not valid: Name. Valid filter keys include: "
        "[Type, KeyId, Label].",
    )


# -- history, labels ------------------------------------------------------------------------


def test_history_pages_with_labels(ssm: Any) -> None:
    p = path()
    for i in range(5):
        ssm.put_parameter(Name=p, Value=f"v{i + 1}", Type="String", Overwrite=True)
    ssm.label_parameter_version(Name=p, ParameterVersion=3, Labels=["b", "a"])
    first = ssm.get_parameter_history(Name=p, MaxResults=2)
    assert [h["Version"] for h in first["Parameters"]] == [1, 2]
    rest = ssm.get_parameter_history(Name=p, NextToken=first["NextToken"])
    assert [h["Version"] for h in rest["Parameters"]] == [3, 4, 5]
    assert "NextToken" not in rest
    assert rest["Parameters"][0]["Labels"] == ["a", "b"]
    assert rest["Parameters"][0]["Value"] == "v3"
    with pytest.raises(ClientError) as exc:
        ssm.get_parameter_history(Name=p + "-none")
    assert error(exc) == ("ParameterNotFound", 400)


def test_labels_move_between_versions_and_are_limited(ssm: Any) -> None:
    p = path()
    ssm.put_parameter(Name=p, Value="1", Type="String")
    ssm.put_parameter(Name=p, Value="2", Type="String", Overwrite=True)
    out = ssm.label_parameter_version(Name=p, Labels=["prod", "1st", "awsx", "Ssm-y", "ok.b-c_d"])
    assert out["ParameterVersion"] == 2  # the latest when none is named
    assert out["InvalidLabels"] == ["1st", "awsx", "Ssm-y"]
    ssm.label_parameter_version(Name=p, ParameterVersion=1, Labels=["prod"])  # moves
    history = {h["Version"]: h["Labels"] for h in ssm.get_parameter_history(Name=p)["Parameters"]}
    assert history == {1: ["prod"], 2: ["ok.b-c_d"]}
    ssm.label_parameter_version(Name=p, ParameterVersion=2, Labels=[f"l{i}" for i in range(9)])
    with pytest.raises(ClientError) as exc:
        ssm.label_parameter_version(Name=p, ParameterVersion=2, Labels=["one-more"])
    assert error(exc) == ("ParameterVersionLabelLimitExceeded", 400)
    with pytest.raises(ClientError) as exc:
        ssm.label_parameter_version(Name=p, ParameterVersion=3, Labels=["x"])
    assert error(exc) == ("ParameterVersionNotFound", 400)
    out = ssm.unlabel_parameter_version(Name=p, ParameterVersion=1, Labels=["prod", "l0"])
    assert (out["RemovedLabels"], out["InvalidLabels"]) == (["prod"], ["l0"])
    with pytest.raises(ClientError) as exc:
        ssm.get_parameter(Name=f"{p}:prod")
    assert error(exc) == ("ParameterVersionNotFound", 400)


def test_the_100th_version_limit(ssm: Any) -> None:
    p = path()
    for i in range(100):
        ssm.put_parameter(Name=p, Value=str(i), Type="String", Overwrite=True)
    # at the limit the oldest version goes
    assert ssm.put_parameter(Name=p, Value="100", Overwrite=True)["Version"] == 101
    history = ssm.get_parameter_history(Name=p, MaxResults=50)["Parameters"]
    assert history[0]["Version"] == 2
    with pytest.raises(ClientError) as exc:
        ssm.get_parameter(Name=f"{p}:1")
    assert error(exc) == ("ParameterVersionNotFound", 400)
    # ... unless it has a label
    ssm.label_parameter_version(Name=p, ParameterVersion=2, Labels=["keep"])
    with pytest.raises(ClientError) as exc:
        ssm.put_parameter(Name=p, Value="101", Overwrite=True)
    assert error_of(exc) == (
        "ParameterMaxVersionLimitExceeded",
        f"You attempted to create a new version of {p} by calling the PutParameter API with "
        "the overwrite flag. Version 2, the oldest version, can't be deleted because it has a "
        "label associated with it. Move the label to another version of the parameter, and "
        "try again.",
    )
    assert ssm.get_parameter(Name=p)["Parameter"]["Version"] == 101  # nothing written


# -- tiers and policies -----------------------------------------------------------------------


def test_tiers_intelligent_tiering_and_no_downgrade(ssm: Any) -> None:
    small, big = path(), path()
    assert (
        ssm.put_parameter(Name=small, Value="x", Type="String", Tier="Intelligent-Tiering")["Tier"]
        == "Standard"
    )
    out = ssm.put_parameter(Name=big, Value="x" * 5000, Type="String", Tier="Intelligent-Tiering")
    assert out["Tier"] == "Advanced"
    with pytest.raises(ClientError) as exc:
        ssm.put_parameter(Name=small, Value="y" * 4097, Overwrite=True, Tier="Standard")
    assert error(exc) == ("ValidationException", 400)
    assert "maximum parameter value of 4096" in exc.value.response["Error"]["Message"]
    # Standard -> Advanced is allowed, never back
    assert ssm.put_parameter(Name=small, Value="y", Overwrite=True, Tier="Advanced")["Tier"] == (
        "Advanced"
    )
    with pytest.raises(ClientError) as exc:
        ssm.put_parameter(Name=small, Value="z", Overwrite=True, Tier="Standard")
    assert error(exc) == ("ValidationException", 400)
    assert "can't downgrade" in exc.value.response["Error"]["Message"]
    # left out, the tier stays Advanced
    assert ssm.put_parameter(Name=small, Value="z", Overwrite=True)["Tier"] == "Advanced"
    with pytest.raises(ClientError) as exc:
        ssm.put_parameter(Name=big, Value="x" * 8193, Overwrite=True)
    assert error(exc) == ("ValidationException", 400)


def test_parameter_policies_are_stored_per_version(ssm: Any, server: ServerProcess) -> None:
    p = path()
    policies = [
        {"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": future()}},
        {"Type": "ExpirationNotification", "Version": "1.0",
         "Attributes": {"Before": "5", "Unit": "Days"}},
        {"Type": "NoChangeNotification", "Version": "1.0",
         "Attributes": {"After": "20", "Unit": "Hours"}},
    ]  # fmt: skip
    out = ssm.put_parameter(
        Name=p, Value="x", Type="String", Tier="Intelligent-Tiering", Policies=json.dumps(policies)
    )
    assert out["Tier"] == "Advanced"  # policies need Advanced
    h = ssm.get_parameter_history(Name=p)["Parameters"][0]
    assert [x["PolicyType"] for x in h["Policies"]] == [
        "Expiration", "ExpirationNotification", "NoChangeNotification",
    ]  # fmt: skip
    assert {x["PolicyStatus"] for x in h["Policies"]} == {"Pending"}
    assert json.loads(h["Policies"][1]["PolicyText"])["Attributes"] == {
        "Before": "5", "Unit": "Days",
    }  # fmt: skip
    # a new version without Policies keeps them; "[]" removes them
    ssm.put_parameter(Name=p, Value="y", Overwrite=True)
    ssm.put_parameter(Name=p, Value="z", Overwrite=True, Policies="[]")
    history = ssm.get_parameter_history(Name=p)["Parameters"]
    assert [len(v["Policies"]) for v in history] == [3, 3, 0]


# -- delete ------------------------------------------------------------------------------------


def test_delete_removes_the_whole_history(ssm: Any) -> None:
    p = path()
    ssm.put_parameter(Name=p, Value="1", Type="String", Tags=[{"Key": "team", "Value": "a"}])
    ssm.put_parameter(Name=p, Value="2", Overwrite=True)
    ssm.label_parameter_version(Name=p, ParameterVersion=1, Labels=["old"])
    assert ssm.delete_parameter(Name=p)["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as exc:
        ssm.delete_parameter(Name=p)
    assert error(exc) == ("ParameterNotFound", 400)
    # created again, it starts over at version 1 with no labels
    assert ssm.put_parameter(Name=p, Value="new", Type="String")["Version"] == 1
    assert ssm.get_parameter_history(Name=p)["Parameters"][0]["Labels"] == []
    other = path()
    ssm.put_parameter(Name=other, Value="o", Type="String")
    out = ssm.delete_parameters(Names=[p, other, p + "-nope"])
    assert (out["DeletedParameters"], out["InvalidParameters"]) == ([p, other], [p + "-nope"])
    assert ssm.get_parameters(Names=[p, other])["InvalidParameters"] == [p, other]


# -- quotas -------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_quotas_per_tier_on_a_dedicated_server(fresh_server_factory: Any, backend: str) -> None:
    srv = fresh_server_factory(
        backend,
        env={
            "GARRISON_SSM_MAX_STANDARD_PARAMETERS": "2",
            "GARRISON_SSM_MAX_ADVANCED_PARAMETERS": "1",
        },
    ).start()
    ssm = srv.client("ssm")
    ssm.put_parameter(Name="/q/a", Value="a", Type="String")
    ssm.put_parameter(Name="/q/b", Value="b", Type="String")
    with pytest.raises(ClientError) as exc:
        ssm.put_parameter(Name="/q/c", Value="c", Type="String")
    assert error(exc) == ("ParameterLimitExceeded", 400)
    ssm.put_parameter(Name="/q/a", Value="a2", Type="String", Overwrite=True)  # not a new one
    ssm.put_parameter(Name="/q/b", Value="b2", Overwrite=True, Tier="Advanced")  # moves tier
    ssm.put_parameter(Name="/q/c", Value="c", Type="String")  # Standard has room again
    with pytest.raises(ClientError) as exc:
        ssm.put_parameter(Name="/q/d", Value="d", Type="String", Tier="Advanced")
    assert error(exc) == ("ParameterLimitExceeded", 400)
    with pytest.raises(ClientError) as exc:
        ssm.put_parameter(Name="/q/a", Value="a3", Overwrite=True, Tier="Advanced")
    assert error(exc) == ("ParameterLimitExceeded", 400)
    assert ssm.get_parameters(Names=["/q/d"])["InvalidParameters"] == ["/q/d"]
    assert ssm.get_parameter(Name="/q/a")["Parameter"]["Version"] == 2


# -- IAM and the trail ------------------------------------------------------------------------


def test_iam_policies_decide_on_the_parameter_arn(server: ServerProcess, ssm: Any) -> None:
    team = path("team")
    ssm.put_parameter(Name=f"{team}/ok", Value="1", Type="String")
    ssm.put_parameter(Name=f"{team}/no", Value="2", Type="String")
    ssm.put_parameter(
        Name=f"{team}/tagged", Value="3", Type="String", Tags=[{"Key": "env", "Value": "prod"}]
    )
    _, key = iam_user(
        server.client("iam"), "ssm-user",
        {"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:PutParameter"],
         "Resource": f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{team}/*"},
        {"Effect": "Deny", "Action": "ssm:GetParameter",
         "Resource": arn(f"{team}/no")},
        {"Effect": "Deny", "Action": "ssm:GetParameter", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/env": "prod"}}},
        {"Effect": "Deny", "Action": "ssm:PutParameter", "Resource": "*",
         "Condition": {"StringEquals": {"ssm:Overwrite": "true"}}},
    )  # fmt: skip
    client = session_client(server, "ssm", key)
    assert client.get_parameter(Name=f"{team}/ok")["Parameter"]["Value"] == "1"
    for denied in (f"{team}/no", f"{team}/tagged", path("elsewhere")):
        with pytest.raises(ClientError) as exc:
            client.get_parameter(Name=denied)
        code, message = error_of(exc)
        assert code == "AccessDeniedException"
        assert f"ssm:GetParameter on resource: {arn(denied)}" in message
    client.put_parameter(Name=f"{team}/new", Value="n", Type="String")
    with pytest.raises(ClientError) as exc:
        client.put_parameter(Name=f"{team}/new", Value="m", Overwrite=True)
    assert error(exc) == ("AccessDeniedException", 400)
    # tags on creation also need ssm:AddTagsToResource
    with pytest.raises(ClientError) as exc:
        client.put_parameter(
            Name=f"{team}/t2", Value="n", Type="String", Tags=[{"Key": "a", "Value": "b"}]
        )
    assert "ssm:AddTagsToResource" in error_of(exc)[1]
    assert ssm.get_parameter(Name=f"{team}/new")["Parameter"]["Value"] == "n"


def test_calls_are_audited_without_values(server: ServerProcess, ssm: Any) -> None:
    p = path()
    plaintext = "audit-" + secrets.token_hex(8)
    ssm.put_parameter(Name=p, Value=plaintext, Type="String")
    ssm.get_parameter(Name=p)
    trail = server.client("cloudtrail")
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": arn(p)}]
    )["Events"]
    names = {e["EventName"] for e in events}
    assert {"PutParameter", "GetParameter"} <= names
    for event in events:
        assert plaintext not in event["CloudTrailEvent"]
        record = json.loads(event["CloudTrailEvent"])
        assert record["eventSource"] == "ssm.amazonaws.com"
        assert record["readOnly"] == (record["eventName"] == "GetParameter")


def test_the_authorization_doc_lists_every_ssm_action() -> None:
    text = (Path(__file__).parents[2] / "docs" / "authorization.md").read_text()
    for row in ACTIONS.values():
        assert f"| {row.action} |" in text, row.action
        for key in row.condition_keys:
            assert key in text, (row.action, key)


def test_concurrent_writes_on_two_nodes_never_fail_half_way(pair: Pair) -> None:
    """Two nodes on one PostgreSQL: racing creates of one name make one parameter (the
    others ParameterAlreadyExists); racing overwrites give contiguous versions (a loser
    gets TooManyUpdates); never a 500."""
    p = path("race")
    clients = [pair.a.client("ssm"), pair.b.client("ssm")]

    def put(i: int, overwrite: bool) -> str:
        kwargs: dict[str, Any] = {"Name": p, "Value": str(i), "Type": "String"}
        if overwrite:
            kwargs["Overwrite"] = True
        try:
            clients[i % 2].put_parameter(**kwargs)
        except ClientError as err:
            return str(err.response["Error"]["Code"])
        return "ok"

    with ThreadPoolExecutor(8) as pool:
        created = list(pool.map(lambda i: put(i, False), range(8)))
    assert created.count("ok") == 1
    assert set(created) <= {"ok", "ParameterAlreadyExists"}
    with ThreadPoolExecutor(8) as pool:
        written = list(pool.map(lambda i: put(i, True), range(24)))
    assert set(written) <= {"ok", "TooManyUpdates"}
    history = clients[0].get_parameter_history(Name=p)["Parameters"]
    assert [h["Version"] for h in history] == list(range(1, written.count("ok") + 2))

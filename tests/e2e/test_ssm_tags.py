"""Parameter tags end to end with boto3 and the AWS CLI, on SQLite and PostgreSQL:
AddTagsToResource, ListTagsForResource, RemoveTagsFromResource with AWS's
rules (50 tags, reserved `aws:` keys, only the Parameter resource type), and the
tags as `aws:ResourceTag/*` / `aws:RequestTag/*` / `aws:TagKeys` conditions.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, REGION, ServerProcess
from tests.e2e.helpers import error, error_of, iam_user, session_client
from tests.e2e.test_ssm_cli import Aws
from tests.e2e.test_ssm_cli import aws as aws  # the AWS CLI fixture

PARAMETER = "Parameter"


@pytest.fixture
def ssm(server: ServerProcess) -> Any:
    return server.client("ssm")


def _param(ssm: Any, **extra: Any) -> str:
    p = f"/tg-{secrets.token_hex(4)}/x"
    ssm.put_parameter(Name=p, Value="v", Type="String", **extra)
    return p


def _tags(ssm: Any, p: str) -> dict[str, str]:
    got = ssm.list_tags_for_resource(ResourceType=PARAMETER, ResourceId=p)["TagList"]
    return {t["Key"]: t["Value"] for t in got}


def test_add_list_replace_and_remove(ssm: Any) -> None:
    p = _param(ssm, Tags=[{"Key": "team", "Value": "blue"}])
    assert _tags(ssm, p) == {"team": "blue"}
    ssm.add_tags_to_resource(
        ResourceType=PARAMETER,
        ResourceId=p,
        Tags=[{"Key": "team", "Value": "red"}, {"Key": "env", "Value": ""}],
    )
    assert _tags(ssm, p) == {"team": "red", "env": ""}  # a key given again: its value replaced
    ssm.remove_tags_from_resource(ResourceType=PARAMETER, ResourceId=p, TagKeys=["team", "nope"])
    assert _tags(ssm, p) == {"env": ""}
    # tags leave with the parameter; created again, it has none
    ssm.delete_parameter(Name=p)
    ssm.put_parameter(Name=p, Value="v", Type="String")
    assert _tags(ssm, p) == {}


def test_top_level_name_with_or_without_slash(ssm: Any) -> None:
    bare = f"tg{secrets.token_hex(4)}"
    ssm.put_parameter(Name=bare, Value="v", Type="String")
    ssm.add_tags_to_resource(
        ResourceType=PARAMETER, ResourceId=f"/{bare}", Tags=[{"Key": "k", "Value": "v"}]
    )
    assert _tags(ssm, bare) == {"k": "v"}


def test_fifty_tags_at_most(ssm: Any) -> None:
    p = _param(ssm)
    ssm.add_tags_to_resource(
        ResourceType=PARAMETER,
        ResourceId=p,
        Tags=[{"Key": f"k{n}", "Value": "v"} for n in range(49)],
    )
    with pytest.raises(ClientError) as exc:
        ssm.add_tags_to_resource(
            ResourceType=PARAMETER,
            ResourceId=p,
            Tags=[{"Key": "k50", "Value": "v"}, {"Key": "k51", "Value": "v"}],
        )
    assert error(exc) == ("TooManyTagsError", 400)
    assert len(_tags(ssm, p)) == 49  # nothing of the refused call was added
    # replacing existing keys does not count against the limit
    ssm.add_tags_to_resource(
        ResourceType=PARAMETER,
        ResourceId=p,
        Tags=[{"Key": "k0", "Value": "new"}, {"Key": "k50", "Value": "v"}],
    )
    tags = _tags(ssm, p)
    assert (len(tags), tags["k0"]) == (50, "new")


def test_unknown_parameter_and_other_resource_types(ssm: Any) -> None:
    missing = f"/tg-{secrets.token_hex(4)}/none"
    for call in (
        lambda: ssm.list_tags_for_resource(ResourceType=PARAMETER, ResourceId=missing),
        lambda: ssm.add_tags_to_resource(
            ResourceType=PARAMETER, ResourceId=missing, Tags=[{"Key": "k", "Value": "v"}]
        ),
        lambda: ssm.remove_tags_from_resource(
            ResourceType=PARAMETER, ResourceId=missing, TagKeys=["k"]
        ),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc) == ("InvalidResourceId", 400)
    with pytest.raises(ClientError) as exc:
        ssm.list_tags_for_resource(ResourceType="Document", ResourceId="AWS-RunShellScript")
    code, message = error_of(exc)
    assert code == "InvalidResourceType"
    assert "Document" in message and "Parameter" in message


def test_resource_tags_decide_iam_conditions(server: ServerProcess, ssm: Any) -> None:
    p = _param(ssm)
    resource = f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{p}"
    _, key = iam_user(
        server.client("iam"), "tagger",
        {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": resource,
         "Condition": {"StringEquals": {"aws:ResourceTag/stage": "open"}}},
        {"Effect": "Allow", "Action": "ssm:AddTagsToResource", "Resource": resource,
         "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["owner"]}}},
        {"Effect": "Allow", "Action": "ssm:ListTagsForResource", "Resource": resource},
    )  # fmt: skip
    client = session_client(server, "ssm", key)
    with pytest.raises(ClientError) as exc:
        client.get_parameter(Name=p)
    assert error(exc) == ("AccessDeniedException", 400)
    ssm.add_tags_to_resource(
        ResourceType=PARAMETER, ResourceId=p, Tags=[{"Key": "stage", "Value": "open"}]
    )
    assert client.get_parameter(Name=p)["Parameter"]["Value"] == "v"  # the tag now allows it
    client.add_tags_to_resource(
        ResourceType=PARAMETER, ResourceId=p, Tags=[{"Key": "owner", "Value": "me"}]
    )
    with pytest.raises(ClientError) as exc:  # aws:TagKeys: only "owner" may be set
        client.add_tags_to_resource(
            ResourceType=PARAMETER, ResourceId=p, Tags=[{"Key": "stage", "Value": "closed"}]
        )
    code, message = error_of(exc)
    assert code == "AccessDeniedException" and "ssm:AddTagsToResource" in message
    with pytest.raises(ClientError) as exc:  # no ssm:RemoveTagsFromResource
        client.remove_tags_from_resource(ResourceType=PARAMETER, ResourceId=p, TagKeys=["stage"])
    assert error(exc) == ("AccessDeniedException", 400)
    assert _tags(ssm, p) == {"stage": "open", "owner": "me"}
    ssm.remove_tags_from_resource(ResourceType=PARAMETER, ResourceId=p, TagKeys=["stage"])
    with pytest.raises(ClientError) as exc:
        client.get_parameter(Name=p)
    assert error(exc) == ("AccessDeniedException", 400)


def test_tag_calls_are_audited(server: ServerProcess, ssm: Any) -> None:
    p = _param(ssm)
    ssm.add_tags_to_resource(
        ResourceType=PARAMETER, ResourceId=p, Tags=[{"Key": "audit", "Value": "me"}]
    )
    trail = server.client("cloudtrail")
    arn = f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{p}"
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": arn}]
    )["Events"]
    names = {e["EventName"] for e in events}
    assert {"PutParameter", "AddTagsToResource"} <= names
    event = next(
        json.loads(e["CloudTrailEvent"]) for e in events if e["EventName"] == "AddTagsToResource"
    )
    assert event["eventSource"] == "ssm.amazonaws.com"
    assert event["readOnly"] is False


def test_cli_tags(aws: Aws, ssm: Any) -> None:
    p = _param(ssm)
    aws.json(
        "ssm", "add-tags-to-resource", "--resource-type", PARAMETER, "--resource-id", p,
        "--tags", "Key=cli,Value=yes",
    )  # fmt: skip
    out = aws.json(
        "ssm", "list-tags-for-resource", "--resource-type", PARAMETER, "--resource-id", p
    )
    assert out["TagList"] == [{"Key": "cli", "Value": "yes"}]
    aws.json(
        "ssm", "remove-tags-from-resource", "--resource-type", PARAMETER, "--resource-id", p,
        "--tag-keys", "cli",
    )  # fmt: skip
    assert _tags(ssm, p) == {}

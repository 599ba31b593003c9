"""Bad DescribeParameters, tag and resource-policy requests, table-driven: each gets
AWS's error code and HTTP status, and leaves nothing half-written (the tags of
`{p}` and the resource policies of `{adv}` are unchanged).

Each case runs against two fresh parameters: `{p}` (a Standard String tagged
``team=blue``) and `{adv}` (an Advanced String), and may name `{new}`, a name no
parameter has; `{arn:X}` is the ARN of X.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, REGION, ServerProcess

_P = "Parameter"
_SHARE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "444455556666"},
         "Action": "ssm:GetParameter", "Resource": "{arn:adv}"}
    ],
}  # fmt: skip


def _doc(**changes: Any) -> str:
    statement = {**_SHARE["Statement"][0], **changes}  # type: ignore[index]
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _f(key: str, values: list[str] | None = None, option: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"Key": key}
    if values is not None:
        out["Values"] = values
    if option is not None:
        out["Option"] = option
    return out


# (id, operation, request, error code, HTTP status)
CASES: list[tuple[str, str, dict[str, Any], str, int]] = [
    # DescribeParameters
    ("both-filter-forms", "describe_parameters",
     {"Filters": [{"Key": "Name", "Values": ["/a"]}], "ParameterFilters": [_f("Type", ["String"])]},
     "ValidationException", 400),
    ("label-is-not-a-describe-key", "describe_parameters",
     {"ParameterFilters": [_f("Label", ["prod"])]}, "InvalidFilterKey", 400),
    ("unknown-key", "describe_parameters",
     {"ParameterFilters": [_f("Colour", ["red"])]}, "ValidationException", 400),
    ("duplicated-key", "describe_parameters",
     {"ParameterFilters": [_f("Type", ["String"]), _f("Type", ["SecureString"])]},
     "InvalidFilterKey", 400),
    ("old-form-duplicated-key", "describe_parameters",
     {"Filters": [{"Key": "Name", "Values": ["/a"]}, {"Key": "Name", "Values": ["/b"]}]},
     "InvalidFilterKey", 400),
    ("name-option-recursive", "describe_parameters",
     {"ParameterFilters": [_f("Name", ["/a"], "Recursive")]}, "InvalidFilterOption", 400),
    ("path-option-equals", "describe_parameters",
     {"ParameterFilters": [_f("Path", ["/a"], "Equals")]}, "InvalidFilterOption", 400),
    ("type-option-contains", "describe_parameters",
     {"ParameterFilters": [_f("Type", ["String"], "Contains")]}, "InvalidFilterOption", 400),
    ("tag-option-contains", "describe_parameters",
     {"ParameterFilters": [_f("tag:team", ["b"], "Contains")]}, "InvalidFilterOption", 400),
    ("type-value", "describe_parameters",
     {"ParameterFilters": [_f("Type", ["Integer"])]}, "InvalidFilterValue", 400),
    ("old-form-type-value", "describe_parameters",
     {"Filters": [{"Key": "Type", "Values": ["Integer"]}]}, "InvalidFilterValue", 400),
    ("tier-value", "describe_parameters",
     {"ParameterFilters": [_f("Tier", ["Premium"])]}, "InvalidFilterValue", 400),
    ("data-type-value", "describe_parameters",
     {"ParameterFilters": [_f("DataType", ["number"])]}, "InvalidFilterValue", 400),
    ("name-without-values", "describe_parameters",
     {"ParameterFilters": [_f("Name")]}, "InvalidFilterValue", 400),
    ("path-under-aws", "describe_parameters",
     {"ParameterFilters": [_f("Path", ["/aws/service"])]}, "ValidationException", 400),
    ("path-without-slash", "describe_parameters",
     {"ParameterFilters": [_f("Path", ["app/db"])]}, "ValidationException", 400),
    ("path-too-deep", "describe_parameters",
     {"ParameterFilters": [_f("Path", ["/" + "/".join(f"l{i}" for i in range(16))])]},
     "HierarchyLevelLimitExceededException", 400),
    ("max-results-51", "describe_parameters", {"MaxResults": 51}, "ValidationException", 400),
    ("next-token", "describe_parameters", {"NextToken": "garbage!"}, "InvalidNextToken", 400),
    # tags
    ("tag-other-resource-type", "add_tags_to_resource",
     {"ResourceType": "Document", "ResourceId": "{p}", "Tags": [{"Key": "k", "Value": "v"}]},
     "InvalidResourceType", 400),
    ("tag-unknown-resource-type", "add_tags_to_resource",
     {"ResourceType": "Bucket", "ResourceId": "{p}", "Tags": [{"Key": "k", "Value": "v"}]},
     "ValidationException", 400),
    ("tag-missing-parameter", "add_tags_to_resource",
     {"ResourceType": _P, "ResourceId": "{new}", "Tags": [{"Key": "k", "Value": "v"}]},
     "InvalidResourceId", 400),
    ("tag-aws-prefix", "add_tags_to_resource",
     {"ResourceType": _P, "ResourceId": "{p}",
      "Tags": [{"Key": "ok", "Value": "v"}, {"Key": "AWS:thing", "Value": "v"}]},
     "ValidationException", 400),
    ("tag-duplicate-keys", "add_tags_to_resource",
     {"ResourceType": _P, "ResourceId": "{p}",
      "Tags": [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]},
     "ValidationException", 400),
    ("tag-key-too-long", "add_tags_to_resource",
     {"ResourceType": _P, "ResourceId": "{p}", "Tags": [{"Key": "k" * 129, "Value": "v"}]},
     "ValidationException", 400),
    ("tag-value-too-long", "add_tags_to_resource",
     {"ResourceType": _P, "ResourceId": "{p}", "Tags": [{"Key": "k", "Value": "v" * 257}]},
     "ValidationException", 400),
    ("tag-bad-character", "add_tags_to_resource",
     {"ResourceType": _P, "ResourceId": "{p}", "Tags": [{"Key": "a#b", "Value": "v"}]},
     "ValidationException", 400),
    ("tag-fifty-one", "add_tags_to_resource",
     {"ResourceType": _P, "ResourceId": "{p}",
      "Tags": [{"Key": f"k{n}", "Value": "v"} for n in range(50)]},
     "TooManyTagsError", 400),
    ("untag-aws-prefix", "remove_tags_from_resource",
     {"ResourceType": _P, "ResourceId": "{p}", "TagKeys": ["team", "aws:cloudformation:x"]},
     "ValidationException", 400),
    ("untag-missing-parameter", "remove_tags_from_resource",
     {"ResourceType": _P, "ResourceId": "{new}", "TagKeys": ["team"]},
     "InvalidResourceId", 400),
    ("list-tags-other-type", "list_tags_for_resource",
     {"ResourceType": "MaintenanceWindow", "ResourceId": "mw-0123456789abcdef0"},
     "InvalidResourceType", 400),
    # resource policies
    ("policy-on-standard", "put_resource_policy",
     {"ResourceArn": "{arn:p}", "Policy": _doc(Resource="{arn:p}")},
     "ResourcePolicyInvalidParameterException", 400),
    ("policy-not-json", "put_resource_policy",
     {"ResourceArn": "{arn:adv}", "Policy": "{not json"},
     "MalformedResourcePolicyDocumentException", 400),
    ("policy-write-action", "put_resource_policy",
     {"ResourceArn": "{arn:adv}", "Policy": _doc(Action="ssm:DeleteParameter")},
     "MalformedResourcePolicyDocumentException", 400),
    ("policy-not-action", "put_resource_policy",
     {"ResourceArn": "{arn:adv}",
      "Policy": json.dumps({"Version": "2012-10-17", "Statement": [
          {"Effect": "Allow", "Principal": {"AWS": "444455556666"},
           "NotAction": "ssm:PutParameter", "Resource": "{arn:adv}"}]})},
     "MalformedResourcePolicyDocumentException", 400),
    ("policy-service-principal", "put_resource_policy",
     {"ResourceArn": "{arn:adv}", "Policy": _doc(Principal={"Service": "ec2.amazonaws.com"})},
     "MalformedResourcePolicyDocumentException", 400),
    ("policy-user-principal", "put_resource_policy",
     {"ResourceArn": "{arn:adv}",
      "Policy": _doc(Principal={"AWS": "arn:aws:iam::444455556666:user/bob"})},
     "MalformedResourcePolicyDocumentException", 400),
    ("policy-too-large", "put_resource_policy",
     {"ResourceArn": "{arn:adv}", "Policy": _doc(Sid="s" * 1024)},
     "ResourcePolicyLimitExceededException", 400),
    ("policy-not-a-parameter-arn", "put_resource_policy",
     {"ResourceArn": "arn:aws:s3:::some-bucket/key", "Policy": _doc()},
     "ResourcePolicyInvalidParameterException", 400),
    ("policy-missing-parameter", "put_resource_policy",
     {"ResourceArn": "{arn:new}", "Policy": _doc(Resource="{arn:new}")},
     "ResourceNotFoundException", 400),
    ("policy-hash-without-id", "put_resource_policy",
     {"ResourceArn": "{arn:adv}", "Policy": _doc(), "PolicyHash": "abc"},
     "ResourcePolicyInvalidParameterException", 400),
    ("policy-update-unknown-id", "put_resource_policy",
     {"ResourceArn": "{arn:adv}", "Policy": _doc(), "PolicyId": "nope", "PolicyHash": "abc"},
     "ResourcePolicyNotFoundException", 400),
    ("policy-delete-unknown-id", "delete_resource_policy",
     {"ResourceArn": "{arn:adv}", "PolicyId": "nope", "PolicyHash": "abc"},
     "ResourcePolicyNotFoundException", 400),
    ("policies-of-missing-parameter", "get_resource_policies",
     {"ResourceArn": "{arn:new}"}, "ResourceNotFoundException", 400),
    ("policies-max-results-51", "get_resource_policies",
     {"ResourceArn": "{arn:adv}", "MaxResults": 51}, "ValidationException", 400),
]  # fmt: skip


def _arn(name: str) -> str:
    return f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{name}"


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, name in names.items():
            value = value.replace(f"{{arn:{key}}}", _arn(name)).replace(f"{{{key}}}", name)
        return value
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


def test_there_are_at_least_fifteen_cases() -> None:
    assert len(CASES) >= 15
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("operation", "request_", "code", "status"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bad_request(
    server: ServerProcess, operation: str, request_: dict[str, Any], code: str, status: int
) -> None:
    ssm = server.client("ssm")
    root = f"/bim-{secrets.token_hex(4)}"
    names = {"p": f"{root}/p", "adv": f"{root}/adv", "new": f"{root}/new"}
    ssm.put_parameter(
        Name=names["p"], Value="v", Type="String", Tags=[{"Key": "team", "Value": "blue"}]
    )
    ssm.put_parameter(Name=names["adv"], Value="v", Type="String", Tier="Advanced")
    with pytest.raises(ClientError) as exc:
        getattr(ssm, operation)(**_fill(request_, names))
    response = exc.value.response
    got = (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"])
    assert got == (code, status), response["Error"].get("Message")
    message = response["Error"].get("Message", "")
    assert "Traceback" not in message and "InternalFailure" not in got[0]
    # nothing half-written
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=names["p"])["TagList"]
    assert tags == [{"Key": "team", "Value": "blue"}]
    assert ssm.get_resource_policies(ResourceArn=_arn(names["adv"]))["Policies"] == []
    with pytest.raises(ClientError) as missing:
        ssm.get_parameter(Name=names["new"])
    assert missing.value.response["Error"]["Code"] == "ParameterNotFound"

"""Bad Parameter Store requests, table-driven: each gets AWS's error code and HTTP
status, and leaves nothing half-written (no new parameter, no new version).

Each case runs against three fresh parameters: `{p}` (a Standard String),
`{pat}` (a String with AllowedPattern ``^\\d+$``) and `{adv}` (an Advanced
String), and may name `{new}`, a name no parameter has.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ServerProcess


def _policy(kind: str, **attributes: str) -> dict[str, Any]:
    return {"Type": kind, "Version": "1.0", "Attributes": attributes}


_PAST = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
# far ahead: tests on the shared servers move their clocks by days
_FUTURE = (datetime.now(UTC) + timedelta(days=3650)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
_EXPIRE = _policy("Expiration", Timestamp=_FUTURE)
_DEEP = "/" + "/".join(f"l{i}" for i in range(16))

# (id, operation, request, error code, HTTP status)
CASES: list[tuple[str, str, dict[str, Any], str, int]] = [
    # names
    ("space-in-name", "put_parameter", {"Name": "/a b", "Value": "v", "Type": "String"},
     "ValidationException", 400),
    ("bad-character", "put_parameter", {"Name": "/bad#char", "Value": "v", "Type": "String"},
     "ValidationException", 400),
    ("aws-prefix", "put_parameter", {"Name": "awsThing", "Value": "v", "Type": "String"},
     "ValidationException", 400),
    ("ssm-prefix-any-case", "put_parameter", {"Name": "SSM-thing", "Value": "v", "Type": "String"},
     "ValidationException", 400),
    ("ssm-path-prefix", "put_parameter", {"Name": "/ssm/x", "Value": "v", "Type": "String"},
     "ValidationException", 400),
    ("reserved-aws-path", "put_parameter", {"Name": "/aws/x/y", "Value": "v", "Type": "String"},
     "AccessDeniedException", 400),
    ("not-fully-qualified", "put_parameter", {"Name": "a/b", "Value": "v", "Type": "String"},
     "ValidationException", 400),
    ("empty-level", "put_parameter", {"Name": "/a//b", "Value": "v", "Type": "String"},
     "ValidationException", 400),
    ("sixteen-levels", "put_parameter", {"Name": _DEEP, "Value": "v", "Type": "String"},
     "HierarchyLevelLimitExceededException", 400),
    ("name-too-long-with-arn", "put_parameter",
     {"Name": "/" + "n" * 980, "Value": "v", "Type": "String"}, "ValidationException", 400),
    ("name-over-model-max", "put_parameter",
     {"Name": "/" + "n" * 2048, "Value": "v", "Type": "String"}, "ValidationException", 400),
    ("arn-as-put-name", "put_parameter",
     {"Name": "arn:aws:ssm:us-east-1:111122223333:parameter/x", "Value": "v", "Type": "String"},
     "ValidationException", 400),
    # type, tier, value
    ("no-type-on-create", "put_parameter", {"Name": "{new}", "Value": "v"},
     "ValidationException", 400),
    ("unknown-type", "put_parameter", {"Name": "{new}", "Value": "v", "Type": "Integer"},
     "ValidationException", 400),
    ("unknown-tier", "put_parameter",
     {"Name": "{new}", "Value": "v", "Type": "String", "Tier": "Premium"},
     "ValidationException", 400),
    ("standard-over-4k", "put_parameter", {"Name": "{new}", "Value": "x" * 4097, "Type": "String"},
     "ValidationException", 400),
    ("advanced-over-8k", "put_parameter",
     {"Name": "{new}", "Value": "x" * 8193, "Type": "String", "Tier": "Advanced"},
     "ValidationException", 400),
    ("empty-value", "put_parameter", {"Name": "{new}", "Value": "", "Type": "String"},
     "ValidationException", 400),
    ("downgrade-advanced", "put_parameter",
     {"Name": "{adv}", "Value": "v", "Overwrite": True, "Tier": "Standard"},
     "ValidationException", 400),
    ("exists-without-overwrite", "put_parameter", {"Name": "{p}", "Value": "v", "Type": "String"},
     "ParameterAlreadyExists", 400),
    ("string-to-securestring", "put_parameter",
     {"Name": "{p}", "Value": "v", "Type": "SecureString", "Overwrite": True},
     "HierarchyTypeMismatchException", 400),
    ("keyid-on-string", "put_parameter",
     {"Name": "{new}", "Value": "v", "Type": "String", "KeyId": "alias/aws/ssm"},
     "ValidationException", 400),
    ("unknown-key", "put_parameter",
     {"Name": "{new}", "Value": "v", "Type": "SecureString", "KeyId": "alias/does-not-exist"},
     "InvalidKeyId", 400),
    ("data-type-case", "put_parameter",
     {"Name": "{new}", "Value": "v", "Type": "String", "DataType": "TEXT"},
     "ValidationException", 400),
    ("data-type-ec2-image", "put_parameter",
     {"Name": "{new}", "Value": "ami-12345678", "Type": "String", "DataType": "aws:ec2:image"},
     "UnsupportedOperationException", 400),
    # tags
    ("tags-with-overwrite", "put_parameter",
     {"Name": "{p}", "Value": "v", "Overwrite": True, "Tags": [{"Key": "a", "Value": "b"}]},
     "ValidationException", 400),
    ("duplicate-tag-keys", "put_parameter",
     {"Name": "{new}", "Value": "v", "Type": "String",
      "Tags": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]},
     "ValidationException", 400),
    # patterns
    ("invalid-allowed-pattern", "put_parameter",
     {"Name": "{new}", "Value": "v", "Type": "String", "AllowedPattern": "(["},
     "InvalidAllowedPatternException", 400),
    ("value-against-kept-pattern", "put_parameter",
     {"Name": "{pat}", "Value": "abc", "Overwrite": True},
     "ParameterPatternMismatchException", 400),
    # policies
    ("policies-on-standard", "put_parameter",
     {"Name": "{new}", "Value": "v", "Type": "String", "Tier": "Standard",
      "Policies": json.dumps([_EXPIRE])}, "ValidationException", 400),
    ("policy-type-unknown", "put_parameter",
     {"Name": "{new}", "Value": "v", "Type": "String", "Tier": "Advanced",
      "Policies": json.dumps([_policy("Rotation", After="1")])}, "InvalidPolicyTypeException", 400),
    ("policy-attribute-bad", "put_parameter",
     {"Name": "{new}", "Value": "v", "Type": "String", "Tier": "Advanced",
      "Policies": json.dumps([_policy("NoChangeNotification", After="x", Unit="Days")])},
     "InvalidPolicyAttributeException", 400),
    ("policy-unit-bad", "put_parameter",
     {"Name": "{new}", "Value": "v", "Type": "String", "Tier": "Advanced",
      "Policies": json.dumps([_policy("NoChangeNotification", After="2", Unit="Weeks")])},
     "InvalidPolicyAttributeException", 400),
    ("expiration-in-the-past", "put_parameter",
     {"Name": "{new}", "Value": "v", "Type": "String", "Tier": "Advanced",
      "Policies": json.dumps([_policy("Expiration", Timestamp=_PAST)])},
     "InvalidPolicyAttributeException", 400),
    ("two-expirations", "put_parameter",
     {"Name": "{new}", "Value": "v", "Type": "String", "Tier": "Advanced",
      "Policies": json.dumps([_EXPIRE, _EXPIRE])}, "IncompatiblePolicyException", 400),
    ("notification-without-expiration", "put_parameter",
     {"Name": "{new}", "Value": "v", "Type": "String", "Tier": "Advanced",
      "Policies": json.dumps([_policy("ExpirationNotification", Before="1", Unit="Days")])},
     "IncompatiblePolicyException", 400),
    ("eleven-policies", "put_parameter",
     {"Name": "{new}", "Value": "v", "Type": "String", "Tier": "Advanced",
      "Policies": json.dumps([_EXPIRE] * 11)}, "PoliciesLimitExceededException", 400),
    ("policies-not-json", "put_parameter",
     {"Name": "{new}", "Value": "v", "Type": "String", "Tier": "Advanced", "Policies": "{nope"},
     "InvalidPolicyAttributeException", 400),
    # reads
    ("unknown-parameter", "get_parameter", {"Name": "{new}"}, "ParameterNotFound", 400),
    ("unknown-version", "get_parameter", {"Name": "{p}:7"}, "ParameterVersionNotFound", 400),
    ("two-selectors", "get_parameter", {"Name": "{p}:1:2"}, "ParameterNotFound", 400),
    ("eleven-names", "get_parameters", {"Names": [f"/n{i}" for i in range(11)]},
     "ValidationException", 400),
    ("path-without-slash", "get_parameters_by_path", {"Path": "relative"},
     "ValidationException", 400),
    ("path-reserved", "get_parameters_by_path", {"Path": "/ssm/x"}, "ValidationException", 400),
    ("by-path-max-results", "get_parameters_by_path", {"Path": "/x", "MaxResults": 11},
     "ValidationException", 400),
    ("by-path-filter-option", "get_parameters_by_path",
     {"Path": "/x", "ParameterFilters": [{"Key": "Label", "Option": "BeginsWith",
                                           "Values": ["a"]}]}, "InvalidFilterOption", 400),
    ("by-path-filter-value", "get_parameters_by_path",
     {"Path": "/x", "ParameterFilters": [{"Key": "Type", "Values": ["Number"]}]},
     "InvalidFilterValue", 400),
    ("by-path-filter-twice", "get_parameters_by_path",
     {"Path": "/x", "ParameterFilters": [{"Key": "Type", "Values": ["String"]},
                                         {"Key": "Type", "Values": ["String"]}]},
     "InvalidFilterKey", 400),
    ("by-path-filter-tier", "get_parameters_by_path",
     {"Path": "/x", "ParameterFilters": [{"Key": "Tier", "Values": ["Standard"]}]},
     "InvalidFilterKey", 400),
    ("by-path-next-token", "get_parameters_by_path", {"Path": "/x", "NextToken": "garbage!"},
     "InvalidNextToken", 400),
    ("history-max-results", "get_parameter_history", {"Name": "{p}", "MaxResults": 51},
     "ValidationException", 400),
    ("history-next-token", "get_parameter_history", {"Name": "{p}", "NextToken": "bad"},
     "InvalidNextToken", 400),
    ("history-unknown", "get_parameter_history", {"Name": "{new}"}, "ParameterNotFound", 400),
    # deletes, labels
    ("delete-unknown", "delete_parameter", {"Name": "{new}"}, "ParameterNotFound", 400),
    ("delete-eleven", "delete_parameters", {"Names": [f"/n{i}" for i in range(11)]},
     "ValidationException", 400),
    ("label-unknown-version", "label_parameter_version",
     {"Name": "{p}", "ParameterVersion": 9, "Labels": ["a"]}, "ParameterVersionNotFound", 400),
    ("label-unknown-parameter", "label_parameter_version", {"Name": "{new}", "Labels": ["a"]},
     "ParameterNotFound", 400),
    ("eleven-labels", "label_parameter_version",
     {"Name": "{p}", "Labels": [f"l{i}" for i in range(11)]}, "ValidationException", 400),
    ("label-too-long", "label_parameter_version", {"Name": "{p}", "Labels": ["l" * 101]},
     "ValidationException", 400),
    ("unlabel-unknown-version", "unlabel_parameter_version",
     {"Name": "{p}", "ParameterVersion": 5, "Labels": ["a"]}, "ParameterVersionNotFound", 400),
]  # fmt: skip


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, name in names.items():
            value = value.replace("{" + key + "}", name)
        return value
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("operation", "request_", "code", "status"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bad_request(
    server: ServerProcess, operation: str, request_: dict[str, Any], code: str, status: int
) -> None:
    ssm = server.client("ssm")
    base = f"/bad-{secrets.token_hex(4)}"
    names = {"p": f"{base}/p", "pat": f"{base}/pat", "adv": f"{base}/adv", "new": f"{base}/new"}
    ssm.put_parameter(Name=names["p"], Value="v", Type="String")
    ssm.put_parameter(Name=names["pat"], Value="123", Type="String", AllowedPattern=r"^\d+$")
    ssm.put_parameter(Name=names["adv"], Value="v", Type="String", Tier="Advanced")
    with pytest.raises(ClientError) as exc:
        getattr(ssm, operation)(**_fill(request_, names))
    response = exc.value.response
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
        code,
        status,
    ), response["Error"]
    # nothing half-written: no new parameter, no new version, no label
    out = ssm.get_parameters(Names=[names["p"], names["pat"], names["adv"], names["new"]])
    assert out["InvalidParameters"] == [names["new"]]
    assert [p["Version"] for p in out["Parameters"]] == [1, 1, 1]
    for p in (names["p"], names["pat"], names["adv"]):
        assert ssm.get_parameter_history(Name=p)["Parameters"][0]["Labels"] == []
    assert (
        ssm.get_parameters_by_path(Path=base, Recursive=True)["Parameters"][0]["Name"]
        in (names["adv"])
    )

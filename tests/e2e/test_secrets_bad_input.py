"""Bad Secrets Manager requests, table-driven: each gets AWS's error code and HTTP status
and leaves nothing half-written (no new secret, version, label, tag, description or
policy).

Each case runs against a fresh secret `{s}` (value "v1", version `{v}`, tag
team=red, description "d") and may name `{new}`, a name no secret has. Requests
pass botocore's own validation (required members, types, minimums): what is
checked here is the server's. Lengths, enums and patterns of the model are
refused by the protocol layer with ValidationException, as AWS does ("1
validation error detected: ..."); the service's own rules with its own codes.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ServerProcess

_T = "t" * 65  # a ClientRequestToken / VersionId over 64 characters
_PUBLIC = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:*", "Resource": "*"}
        ],
    }
)
_TAGS_51 = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
_IPE = "InvalidParameterException"
_RNF = "ResourceNotFoundException"
_VE = "ValidationException"  # the model's constraints, checked by the protocol layer

# (id, operation, request, error code, HTTP status)
CASES: list[tuple[str, str, dict[str, Any], str, int]] = [
    # CreateSecret
    ("name-bad-character", "create_secret", {"Name": "bad#name", "SecretString": "x"}, _IPE, 400),
    ("name-space", "create_secret", {"Name": "a b", "SecretString": "x"}, _IPE, 400),
    ("name-over-512", "create_secret", {"Name": "n" * 513, "SecretString": "x"}, _VE, 400),
    ("both-values", "create_secret",
     {"Name": "{new}", "SecretString": "x", "SecretBinary": b"x"}, _IPE, 400),
    ("string-over-64k", "create_secret", {"Name": "{new}", "SecretString": "x" * 65537}, _VE, 400),
    ("binary-over-64k", "create_secret", {"Name": "{new}", "SecretBinary": b"x" * 65537}, _VE, 400),
    ("token-over-64", "create_secret",
     {"Name": "{new}", "SecretString": "x", "ClientRequestToken": _T}, _VE, 400),
    ("name-exists", "create_secret", {"Name": "{s}", "SecretString": "x"},
     "ResourceExistsException", 400),
    ("description-over-2048", "create_secret",
     {"Name": "{new}", "SecretString": "x", "Description": "d" * 2049}, _VE, 400),
    ("tag-aws-prefix", "create_secret",
     {"Name": "{new}", "SecretString": "x", "Tags": [{"Key": "aws:x", "Value": "v"}]}, _IPE, 400),
    ("tags-51", "create_secret", {"Name": "{new}", "SecretString": "x", "Tags": _TAGS_51},
     _IPE, 400),
    ("tags-duplicate-key", "create_secret",
     {"Name": "{new}", "SecretString": "x",
      "Tags": [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]}, _IPE, 400),
    ("tag-bad-character", "create_secret",
     {"Name": "{new}", "SecretString": "x", "Tags": [{"Key": "k#", "Value": "v"}]}, _IPE, 400),
    ("tag-value-over-256", "create_secret",
     {"Name": "{new}", "SecretString": "x", "Tags": [{"Key": "k", "Value": "v" * 257}]},
     _VE, 400),
    ("replica-region-is-the-primary-region", "create_secret",
     {"Name": "{new}", "SecretString": "x", "AddReplicaRegions": [{"Region": "us-east-1"}]},
     _IPE, 400),
    ("unknown-kms-key", "create_secret",
     {"Name": "{new}", "SecretString": "x", "KmsKeyId": "alias/not-a-key"},
     "EncryptionFailure", 400),
    # GetSecretValue
    ("get-missing", "get_secret_value", {"SecretId": "{new}"}, _RNF, 400),
    ("get-unknown-stage", "get_secret_value", {"SecretId": "{s}", "VersionStage": "nope"},
     _RNF, 400),
    ("get-unknown-version", "get_secret_value",
     {"SecretId": "{s}", "VersionId": "0" * 36}, _RNF, 400),
    ("get-version-over-64", "get_secret_value", {"SecretId": "{s}", "VersionId": _T}, _VE, 400),
    ("get-other-region-arn", "get_secret_value",
     {"SecretId": "arn:aws:secretsmanager:eu-west-3:111122223333:secret:{s}"}, _RNF, 400),
    # PutSecretValue
    ("put-no-value", "put_secret_value", {"SecretId": "{s}"}, _IPE, 400),
    ("put-both-values", "put_secret_value",
     {"SecretId": "{s}", "SecretString": "x", "SecretBinary": b"x"}, _IPE, 400),
    ("put-missing", "put_secret_value", {"SecretId": "{new}", "SecretString": "x"}, _RNF, 400),
    ("put-21-stages", "put_secret_value",
     {"SecretId": "{s}", "SecretString": "x", "VersionStages": [f"s{i}" for i in range(21)]},
     _VE, 400),
    ("put-stage-over-256", "put_secret_value",
     {"SecretId": "{s}", "SecretString": "x", "VersionStages": ["s" * 257]}, _VE, 400),
    ("put-token-other-value", "put_secret_value",
     {"SecretId": "{s}", "SecretString": "other", "ClientRequestToken": "{v}"},
     "ResourceExistsException", 400),
    ("put-too-many-labels", "put_secret_value",
     {"SecretId": "{s}", "SecretString": "x", "VersionStages": [f"s{i}" for i in range(20)]},
     "LimitExceededException", 400),
    # UpdateSecret
    ("update-missing", "update_secret", {"SecretId": "{new}", "Description": "x"}, _RNF, 400),
    ("update-both-values", "update_secret",
     {"SecretId": "{s}", "SecretString": "x", "SecretBinary": b"x"}, _IPE, 400),
    ("update-description-over-2048", "update_secret",
     {"SecretId": "{s}", "Description": "d" * 2049}, _VE, 400),
    ("update-unknown-key", "update_secret",
     {"SecretId": "{s}", "SecretString": "x", "KmsKeyId": "alias/not-a-key"},
     "EncryptionFailure", 400),
    # UpdateSecretVersionStage
    ("remove-awscurrent", "update_secret_version_stage",
     {"SecretId": "{s}", "VersionStage": "AWSCURRENT", "RemoveFromVersionId": "{v}"}, _IPE, 400),
    ("stage-neither-version", "update_secret_version_stage",
     {"SecretId": "{s}", "VersionStage": "green"}, _IPE, 400),
    ("stage-move-to-unknown", "update_secret_version_stage",
     {"SecretId": "{s}", "VersionStage": "green", "MoveToVersionId": "0" * 36}, _RNF, 400),
    ("stage-remove-not-attached", "update_secret_version_stage",
     {"SecretId": "{s}", "VersionStage": "green", "RemoveFromVersionId": "{v}"}, _IPE, 400),
    # DeleteSecret, RestoreSecret
    ("window-6", "delete_secret", {"SecretId": "{s}", "RecoveryWindowInDays": 6}, _IPE, 400),
    ("window-31", "delete_secret", {"SecretId": "{s}", "RecoveryWindowInDays": 31}, _IPE, 400),
    ("window-and-force", "delete_secret",
     {"SecretId": "{s}", "RecoveryWindowInDays": 7, "ForceDeleteWithoutRecovery": True},
     _IPE, 400),
    ("delete-missing", "delete_secret", {"SecretId": "{new}"}, _RNF, 400),
    ("restore-missing", "restore_secret", {"SecretId": "{new}"}, _RNF, 400),
    # ListSecrets, ListSecretVersionIds, BatchGetSecretValue
    ("filter-unknown-key", "list_secrets", {"Filters": [{"Key": "color", "Values": ["x"]}]},
     _VE, 400),
    ("filter-bad-value", "list_secrets", {"Filters": [{"Key": "name", "Values": ["a#b"]}]},
     _VE, 400),
    ("filter-11-values", "list_secrets",
     {"Filters": [{"Key": "name", "Values": [str(i) for i in range(11)]}]}, _VE, 400),
    ("list-max-101", "list_secrets", {"MaxResults": 101}, _VE, 400),
    ("list-bad-token", "list_secrets", {"NextToken": "not-a-token"},
     "InvalidNextTokenException", 400),
    ("list-bad-sort-order", "list_secrets", {"SortOrder": "up"}, _VE, 400),
    ("versions-max-101", "list_secret_version_ids", {"SecretId": "{s}", "MaxResults": 101},
     _VE, 400),
    ("versions-missing", "list_secret_version_ids", {"SecretId": "{new}"}, _RNF, 400),
    ("batch-ids-and-filters", "batch_get_secret_value",
     {"SecretIdList": ["{s}"], "Filters": [{"Key": "name", "Values": ["x"]}]}, _IPE, 400),
    ("batch-ids-with-max-results", "batch_get_secret_value",
     {"SecretIdList": ["{s}"], "MaxResults": 5}, _IPE, 400),
    ("batch-neither", "batch_get_secret_value", {}, _IPE, 400),
    ("batch-21-ids", "batch_get_secret_value",
     {"SecretIdList": [f"id{i}" for i in range(21)]}, _VE, 400),
    # GetRandomPassword
    ("password-over-4096", "get_random_password", {"PasswordLength": 4097}, _VE, 400),
    ("password-nothing-left", "get_random_password",
     {"ExcludeNumbers": True, "ExcludePunctuation": True, "ExcludeUppercase": True,
      "ExcludeLowercase": True}, _IPE, 400),
    ("password-too-short-for-types", "get_random_password", {"PasswordLength": 3}, _IPE, 400),
    # tags
    ("tag-resource-aws-key", "tag_resource",
     {"SecretId": "{s}", "Tags": [{"Key": "aws:k", "Value": "v"}]}, _IPE, 400),
    ("tag-resource-51", "tag_resource", {"SecretId": "{s}", "Tags": _TAGS_51}, _IPE, 400),
    ("untag-key-over-128", "untag_resource", {"SecretId": "{s}", "TagKeys": ["k" * 129]},
     _VE, 400),
    ("tag-missing", "tag_resource",
     {"SecretId": "{new}", "Tags": [{"Key": "k", "Value": "v"}]}, _RNF, 400),
    # resource policies
    ("policy-malformed", "put_resource_policy",
     {"SecretId": "{s}", "ResourcePolicy": "{not json"}, "MalformedPolicyDocumentException", 400),
    ("policy-no-principal", "put_resource_policy",
     {"SecretId": "{s}", "ResourcePolicy": json.dumps(
         {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*"}]})},
     "MalformedPolicyDocumentException", 400),
    ("policy-over-20480", "put_resource_policy",
     {"SecretId": "{s}", "ResourcePolicy": " " * 20481}, _VE, 400),
    ("policy-public-blocked", "put_resource_policy",
     {"SecretId": "{s}", "ResourcePolicy": _PUBLIC, "BlockPublicPolicy": True},
     "PublicPolicyException", 400),
    ("policy-missing-secret", "get_resource_policy", {"SecretId": "{new}"}, _RNF, 400),
    # members of later parts are refused by name
    ("create-type-member", "create_secret",
     {"Name": "{new}", "SecretString": "x", "Type": "aws-managed"},
     "UnsupportedOperationException", 400),
]  # fmt: skip


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, filled in names.items():
            value = value.replace("{" + key + "}", filled)
        return value
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
    assert len({c[0] for c in CASES}) == len(CASES)


def _state(sm: Any, name: str) -> dict[str, Any]:
    d = sm.describe_secret(SecretId=name)
    versions = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    return {
        "stages": d["VersionIdsToStages"],
        "tags": d.get("Tags"),
        "description": d.get("Description"),
        "kms": d.get("KmsKeyId"),
        "deleted": d.get("DeletedDate"),
        "versions": sorted(v["VersionId"] for v in versions),
        "policy": sm.get_resource_policy(SecretId=name).get("ResourcePolicy"),
        "value": sm.get_secret_value(SecretId=name)["SecretString"],
    }


@pytest.mark.parametrize(
    ("operation", "request_", "code", "status"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bad_request(
    server: ServerProcess, operation: str, request_: dict[str, Any], code: str, status: int
) -> None:
    sm = server.client("secretsmanager")
    base = f"bad/{secrets.token_hex(4)}"
    names = {"s": f"{base}/s", "new": f"{base}/new"}
    out = sm.create_secret(
        Name=names["s"], SecretString="v1", Description="d", Tags=[{"Key": "team", "Value": "red"}]
    )
    names["v"] = out["VersionId"]
    before = _state(sm, names["s"])
    with pytest.raises(ClientError) as exc:
        getattr(sm, operation)(**_fill(request_, names))
    response = exc.value.response
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
        code,
        status,
    ), response["Error"]
    assert response["Error"]["Message"]
    # nothing half-written
    assert _state(sm, names["s"]) == before
    with pytest.raises(ClientError) as exc:
        sm.describe_secret(SecretId=names["new"])
    assert exc.value.response["Error"]["Code"] == _RNF


def test_rotation_without_a_function_is_refused(server: ServerProcess) -> None:
    # rotation is served now (tests/e2e/test_secrets_rotation.py); its bad input is there
    sm = server.client("secretsmanager")
    name = f"bad/{secrets.token_hex(4)}"
    sm.create_secret(Name=name, SecretString="x")
    with pytest.raises(ClientError) as exc:
        sm.rotate_secret(SecretId=name)
    err = exc.value.response["Error"]
    assert (err["Code"], err["Message"]) == (
        "InvalidRequestException",
        "No Lambda rotation function ARN is associated with this secret.",
    )
    assert sm.describe_secret(SecretId=name)["RotationEnabled"] is False

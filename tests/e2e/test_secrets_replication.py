"""Multi-Region secrets over HTTP with one boto3 client per Region, on SQLite and
PostgreSQL: CreateSecret's AddReplicaRegions, ReplicateSecretToRegions, every change of
the primary propagated (values, staging labels, description, tags, policy), replicas
read-only, ReplicationStatus (InSync, Failed with KMS's reason, recovery),
RemoveRegionsFromReplication, StopReplicationToReplica, the primary-region filter, a
name already taken in the replica Region (ForceOverwriteReplicaSecret), IAM and the audit
trail of the replica Region's KMS calls, bad input, and the three operations through the
AWS CLI."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
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

WEST = "us-west-2"
EU = "eu-west-1"
NOT_ON_REPLICA = (
    "Operation not permitted on a replica secret. Call must be made in primary secret's region."
)


@pytest.fixture
def sm(server: ServerProcess) -> Any:
    return server.client("secretsmanager")


@pytest.fixture
def west(server: ServerProcess) -> Any:
    return make_client(server.endpoint, "secretsmanager", region=WEST)


@pytest.fixture
def eu(server: ServerProcess) -> Any:
    return make_client(server.endpoint, "secretsmanager", region=EU)


def new_name() -> str:
    return f"repl/{secrets.token_hex(4)}"


def in_region(arn: str, region: str) -> str:
    parts = arn.split(":")
    parts[3] = region
    return ":".join(parts)


def statuses(sm: Any, secret_id: str) -> dict[str, dict[str, Any]]:
    return {s["Region"]: s for s in sm.describe_secret(SecretId=secret_id)["ReplicationStatus"]}


def value(client: Any, secret_id: str, **kwargs: Any) -> str:
    return str(client.get_secret_value(SecretId=secret_id, **kwargs)["SecretString"])


def test_replicas_read_the_same_value_after_every_update(
    sm: Any, west: Any, eu: Any, server: ServerProcess
) -> None:
    n = new_name()
    out = sm.create_secret(
        Name=n,
        SecretString="v1",
        Description="first",
        Tags=[{"Key": "team", "Value": "red"}],
        AddReplicaRegions=[{"Region": WEST}, {"Region": EU}],
    )
    arn = out["ARN"]
    assert {s["Region"]: s["Status"] for s in out["ReplicationStatus"]} == {
        WEST: "InSync",
        EU: "InSync",
    }
    assert all(s["KmsKeyId"] == "alias/aws/secretsmanager" for s in out["ReplicationStatus"])
    # the replica's ARN is the primary's with its own Region, same suffix
    west_arn, eu_arn = in_region(arn, WEST), in_region(arn, EU)
    described = west.describe_secret(SecretId=n)
    assert described["ARN"] == west_arn
    assert described["PrimaryRegion"] == REGION
    assert described["Description"] == "first"
    assert described["Tags"] == [{"Key": "team", "Value": "red"}]
    assert "ReplicationStatus" not in described
    primary = sm.describe_secret(SecretId=n)
    assert primary["PrimaryRegion"] == REGION
    assert described["VersionIdsToStages"] == primary["VersionIdsToStages"]
    for client, secret_id in ((sm, arn), (west, west_arn), (eu, eu_arn)):
        got = client.get_secret_value(SecretId=secret_id)
        assert got["SecretString"] == "v1"
        assert got["VersionId"] == out["VersionId"]
    # each replica's version is encrypted under its own Region's key
    for client, region in ((west, WEST), (eu, EU)):
        versions = client.list_secret_version_ids(SecretId=n)["Versions"]
        assert versions[0]["KmsKeyIds"][0].startswith(f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/")
    kms_west = make_client(server.endpoint, "kms", region=WEST)
    aliases = {a["AliasName"] for a in kms_west.list_aliases()["Aliases"]}
    assert "alias/aws/secretsmanager" in aliases

    put = sm.put_secret_value(SecretId=n, SecretString="v2")
    assert value(west, n) == value(eu, n) == "v2"
    assert value(west, n, VersionStage="AWSPREVIOUS") == "v1"
    assert west.get_secret_value(SecretId=n)["VersionId"] == put["VersionId"]
    sm.update_secret(SecretId=n, SecretString="v3", Description="second")
    assert value(west, n) == value(eu, n) == "v3"
    assert west.describe_secret(SecretId=n)["Description"] == "second"
    sm.tag_resource(SecretId=n, Tags=[{"Key": "env", "Value": "prod"}])
    sm.untag_resource(SecretId=n, TagKeys=["team"])
    assert eu.describe_secret(SecretId=n)["Tags"] == [{"Key": "env", "Value": "prod"}]
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": "*",
                }
            ],
        }
    )
    sm.put_resource_policy(SecretId=n, ResourcePolicy=policy)
    assert json.loads(west.get_resource_policy(SecretId=n)["ResourcePolicy"]) == json.loads(policy)
    sm.delete_resource_policy(SecretId=n)
    assert "ResourcePolicy" not in west.get_resource_policy(SecretId=n)
    assert {s["Status"] for s in statuses(sm, n).values()} == {"InSync"}
    # binary values too
    sm.put_secret_value(SecretId=n, SecretBinary=b"\x00\x01bin")
    assert eu.get_secret_value(SecretId=n)["SecretBinary"] == b"\x00\x01bin"


def test_staging_labels_propagate(sm: Any, west: Any) -> None:
    n = new_name()
    first = sm.create_secret(Name=n, SecretString="one", AddReplicaRegions=[{"Region": WEST}])
    pending = sm.put_secret_value(SecretId=n, SecretString="two", VersionStages=["AWSPENDING"])
    assert value(west, n, VersionStage="AWSPENDING") == "two"
    assert value(west, n) == "one"
    sm.update_secret_version_stage(
        SecretId=n,
        VersionStage="AWSCURRENT",
        MoveToVersionId=pending["VersionId"],
        RemoveFromVersionId=first["VersionId"],
    )
    assert value(west, n) == "two"
    assert value(west, n, VersionStage="AWSPREVIOUS") == "one"
    sm.update_secret_version_stage(
        SecretId=n, VersionStage="AWSPENDING", RemoveFromVersionId=pending["VersionId"]
    )
    with pytest.raises(ClientError) as exc:
        west.get_secret_value(SecretId=n, VersionStage="AWSPENDING")
    assert error_of(exc)[0] == "ResourceNotFoundException"
    sm.update_secret_version_stage(
        SecretId=n, VersionStage="custom", MoveToVersionId=first["VersionId"]
    )
    assert value(west, n, VersionStage="custom") == "one"
    assert (
        west.describe_secret(SecretId=n)["VersionIdsToStages"]
        == sm.describe_secret(SecretId=n)["VersionIdsToStages"]
    )


def test_a_replica_refuses_writes(sm: Any, west: Any) -> None:
    n = new_name()
    out = sm.create_secret(Name=n, SecretString="keep", AddReplicaRegions=[{"Region": WEST}])
    version = out["VersionId"]
    writes = [
        lambda: west.put_secret_value(SecretId=n, SecretString="no"),
        lambda: west.update_secret(SecretId=n, SecretString="no"),
        lambda: west.update_secret(SecretId=n, Description="no"),
        lambda: west.update_secret_version_stage(
            SecretId=n, VersionStage="x", MoveToVersionId=version
        ),
        lambda: west.delete_secret(SecretId=n, ForceDeleteWithoutRecovery=True),
        lambda: west.restore_secret(SecretId=n),
        lambda: west.tag_resource(SecretId=n, Tags=[{"Key": "k", "Value": "v"}]),
        lambda: west.untag_resource(SecretId=n, TagKeys=["k"]),
        lambda: west.put_resource_policy(SecretId=n, ResourcePolicy="{}"),
        lambda: west.delete_resource_policy(SecretId=n),
        lambda: west.replicate_secret_to_regions(SecretId=n, AddReplicaRegions=[{"Region": EU}]),
        lambda: west.remove_regions_from_replication(SecretId=n, RemoveReplicaRegions=[EU]),
    ]
    for write in writes:
        with pytest.raises(ClientError) as exc:
            write()
        assert error_of(exc) == ("InvalidParameterException", NOT_ON_REPLICA)
    described = west.describe_secret(SecretId=n)
    assert value(west, n) == "keep"
    assert "Description" not in described and "Tags" not in described
    assert described["VersionIdsToStages"] == {version: ["AWSCURRENT"]}


def test_a_disabled_replica_key_fails_then_recovers(
    sm: Any, west: Any, eu: Any, server: ServerProcess
) -> None:
    kms_west = make_client(server.endpoint, "kms", region=WEST)
    key = kms_west.create_key(Description="west replica key")["KeyMetadata"]
    n = new_name()
    sm.create_secret(
        Name=n,
        SecretString="r1",
        AddReplicaRegions=[{"Region": WEST, "KmsKeyId": key["KeyId"]}, {"Region": EU}],
    )
    assert statuses(sm, n)[WEST]["KmsKeyId"] == key["KeyId"]
    versions = west.list_secret_version_ids(SecretId=n)["Versions"]
    assert versions[0]["KmsKeyIds"] == [key["Arn"]]
    kms_west.disable_key(KeyId=key["KeyId"])
    sm.put_secret_value(SecretId=n, SecretString="r2")  # the primary's write succeeds
    status = statuses(sm, n)
    assert status[WEST]["Status"] == "Failed"
    assert "DisabledException" in status[WEST]["StatusMessage"]
    assert key["Arn"] in status[WEST]["StatusMessage"]
    assert "r2" not in status[WEST]["StatusMessage"]
    assert status[EU]["Status"] == "InSync"
    assert value(sm, n) == value(eu, n) == "r2"
    with pytest.raises(ClientError) as exc:
        west.get_secret_value(SecretId=n)  # its key is disabled: can't be read either
    assert error_of(exc)[0] == "DecryptionFailure"
    kms_west.enable_key(KeyId=key["KeyId"])
    assert value(west, n) == "r1"  # the replica was left as it was
    assert statuses(sm, n)[WEST]["Status"] == "Failed"  # until the next change
    sm.put_secret_value(SecretId=n, SecretString="r3")
    status = statuses(sm, n)
    assert status[WEST]["Status"] == "InSync"
    assert value(west, n) == "r3"
    assert value(west, n, VersionStage="AWSPREVIOUS") == "r2"  # the missed version too
    assert (
        west.describe_secret(SecretId=n)["VersionIdsToStages"]
        == sm.describe_secret(SecretId=n)["VersionIdsToStages"]
    )


def test_remove_regions_deletes_the_replicas(sm: Any, west: Any, eu: Any) -> None:
    n = new_name()
    arn = sm.create_secret(
        Name=n, SecretString="x", AddReplicaRegions=[{"Region": WEST}, {"Region": EU}]
    )["ARN"]
    with pytest.raises(ClientError) as exc:
        sm.delete_secret(SecretId=n, ForceDeleteWithoutRecovery=True)
    code, message = error_of(exc)
    assert code == "InvalidParameterException" and "replica regions" in message
    out = sm.remove_regions_from_replication(SecretId=n, RemoveReplicaRegions=[WEST])
    assert out["ARN"] == arn
    assert [s["Region"] for s in out["ReplicationStatus"]] == [EU]
    with pytest.raises(ClientError) as exc:
        west.describe_secret(SecretId=n)
    assert error_of(exc)[0] == "ResourceNotFoundException"
    assert value(eu, n) == "x"
    # again: nothing to remove, no error
    sm.remove_regions_from_replication(SecretId=n, RemoveReplicaRegions=[WEST])
    sm.remove_regions_from_replication(SecretId=n, RemoveReplicaRegions=[EU])
    assert "ReplicationStatus" not in sm.describe_secret(SecretId=n)
    assert "PrimaryRegion" not in sm.describe_secret(SecretId=n)
    # the name is free again in the replica Region, and the primary can be deleted
    west.create_secret(Name=n, SecretString="local")
    sm.put_secret_value(SecretId=n, SecretString="y")
    assert value(west, n) == "local"
    sm.delete_secret(SecretId=n, ForceDeleteWithoutRecovery=True)
    west.delete_secret(SecretId=n, ForceDeleteWithoutRecovery=True)


def test_stop_replication_promotes_a_standalone_secret(sm: Any, west: Any, eu: Any) -> None:
    n = new_name()
    arn = sm.create_secret(
        Name=n, SecretString="p1", AddReplicaRegions=[{"Region": WEST}, {"Region": EU}]
    )["ARN"]
    with pytest.raises(ClientError) as exc:
        sm.stop_replication_to_replica(SecretId=n)  # the primary is no replica
    assert error_of(exc)[0] == "InvalidRequestException"
    promoted = west.stop_replication_to_replica(SecretId=n)
    assert promoted["ARN"] == in_region(arn, WEST)
    described = west.describe_secret(SecretId=n)
    assert "PrimaryRegion" not in described
    assert [s["Region"] for s in sm.describe_secret(SecretId=n)["ReplicationStatus"]] == [EU]
    # a standalone secret: writes accepted ...
    west.put_secret_value(SecretId=n, SecretString="own")
    west.tag_resource(SecretId=n, Tags=[{"Key": "k", "Value": "v"}])
    assert value(west, n) == "own"
    # ... and it no longer follows the primary
    sm.put_secret_value(SecretId=n, SecretString="p2")
    sm.update_secret(SecretId=n, Description="primary only")
    assert value(west, n) == "own"
    assert "Description" not in west.describe_secret(SecretId=n)
    assert value(eu, n) == "p2"
    west.delete_secret(SecretId=n, ForceDeleteWithoutRecovery=True)


def test_replicate_an_existing_secret_and_a_name_taken_in_the_region(
    sm: Any, west: Any, eu: Any
) -> None:
    n = new_name()
    sm.create_secret(Name=n, SecretString="mine", Tags=[{"Key": "a", "Value": "b"}])
    west.create_secret(Name=n, SecretString="theirs")
    out = sm.replicate_secret_to_regions(
        SecretId=n, AddReplicaRegions=[{"Region": WEST}, {"Region": EU}]
    )
    status = {s["Region"]: s for s in out["ReplicationStatus"]}
    assert status[WEST]["Status"] == "Failed"
    assert f"{n} already exists in region {WEST}" in status[WEST]["StatusMessage"]
    assert status[EU]["Status"] == "InSync"
    assert value(west, n) == "theirs"  # untouched
    assert "PrimaryRegion" not in west.describe_secret(SecretId=n)
    assert value(eu, n) == "mine"
    assert eu.describe_secret(SecretId=n)["Tags"] == [{"Key": "a", "Value": "b"}]
    with pytest.raises(ClientError) as exc:  # already a replica Region
        sm.replicate_secret_to_regions(SecretId=n, AddReplicaRegions=[{"Region": WEST}])
    assert error_of(exc)[0] == "InvalidParameterException"
    sm.remove_regions_from_replication(SecretId=n, RemoveReplicaRegions=[WEST])
    assert value(west, n) == "theirs"  # a failed replica never owned that secret
    out = sm.replicate_secret_to_regions(
        SecretId=n, AddReplicaRegions=[{"Region": WEST}], ForceOverwriteReplicaSecret=True
    )
    status = {s["Region"]: s for s in out["ReplicationStatus"]}
    assert status[WEST]["Status"] == "InSync"
    assert value(west, n) == "mine"
    assert west.describe_secret(SecretId=n)["PrimaryRegion"] == REGION
    assert len(west.list_secrets(Filters=[{"Key": "name", "Values": [n]}])["SecretList"]) == 1


def test_list_secrets_primary_region_filter(sm: Any, west: Any) -> None:
    n = new_name()
    local = new_name()
    sm.create_secret(Name=n, SecretString="x", AddReplicaRegions=[{"Region": WEST}])
    west.create_secret(Name=local, SecretString="y")
    listed = west.list_secrets(Filters=[{"Key": "primary-region", "Values": [REGION]}])
    names = {s["Name"] for s in listed["SecretList"]}
    assert n in names and local not in names
    entry = next(s for s in listed["SecretList"] if s["Name"] == n)
    assert entry["PrimaryRegion"] == REGION
    listed = west.list_secrets(Filters=[{"Key": "primary-region", "Values": [WEST]}])
    names = {s["Name"] for s in listed["SecretList"]}
    assert local in names and n not in names
    listed = sm.list_secrets(Filters=[{"Key": "primary-region", "Values": [REGION]}])
    assert n in {s["Name"] for s in listed["SecretList"]}


def test_a_missing_replica_key_is_a_failed_replica_not_an_error(sm: Any, west: Any) -> None:
    n = new_name()
    out = sm.create_secret(
        Name=n,
        SecretString="x",
        AddReplicaRegions=[{"Region": WEST, "KmsKeyId": "alias/no-such-key"}],
    )
    status = out["ReplicationStatus"][0]
    assert status["Status"] == "Failed"
    assert status["KmsKeyId"] == "alias/no-such-key"
    assert "NotFoundException" in status["StatusMessage"]
    assert value(sm, n) == "x"
    with pytest.raises(ClientError) as exc:
        west.describe_secret(SecretId=n)  # no replica was created
    assert error_of(exc)[0] == "ResourceNotFoundException"


BAD: list[tuple[str, str, dict[str, Any], str]] = [
    ("own-region", "replicate_secret_to_regions",
     {"AddReplicaRegions": [{"Region": REGION}]}, "InvalidParameterException"),
    ("duplicate-regions", "replicate_secret_to_regions",
     {"AddReplicaRegions": [{"Region": WEST}, {"Region": WEST}]}, "InvalidParameterException"),
    ("region-pattern", "replicate_secret_to_regions",
     {"AddReplicaRegions": [{"Region": "Not_A_Region"}]}, "ValidationException"),
    ("missing-secret", "replicate_secret_to_regions",
     {"SecretId": "repl/none-such", "AddReplicaRegions": [{"Region": WEST}]},
     "ResourceNotFoundException"),
    ("remove-region-pattern", "remove_regions_from_replication",
     {"RemoveReplicaRegions": ["WEST"]}, "ValidationException"),
    ("remove-missing-secret", "remove_regions_from_replication",
     {"SecretId": "repl/none-such", "RemoveReplicaRegions": [WEST]}, "ResourceNotFoundException"),
    ("stop-a-standalone-secret", "stop_replication_to_replica", {}, "InvalidRequestException"),
    ("stop-missing-secret", "stop_replication_to_replica",
     {"SecretId": "repl/none-such"}, "ResourceNotFoundException"),
    ("create-duplicate-regions", "create_secret",
     {"Name": "{new}", "SecretString": "x",
      "AddReplicaRegions": [{"Region": EU}, {"Region": EU}]}, "InvalidParameterException"),
]  # fmt: skip


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_replication_request(
    sm: Any, west: Any, eu: Any, case: tuple[str, str, dict[str, Any], str]
) -> None:
    _, operation, request, code = case
    n, new = new_name(), new_name()
    sm.create_secret(Name=n, SecretString="x")
    request = {k: (new if v == "{new}" else v) for k, v in request.items()}
    if operation != "create_secret":
        request.setdefault("SecretId", n)
    with pytest.raises(ClientError) as exc:
        getattr(sm, operation)(**request)
    assert error_of(exc)[0] == code
    assert error_of(exc)[1]
    # nothing half-written: no replica anywhere, no new secret
    assert "ReplicationStatus" not in sm.describe_secret(SecretId=n)
    for client in (west, eu):
        for secret_name in (n, new):
            with pytest.raises(ClientError) as exc:
                client.describe_secret(SecretId=secret_name)
            assert error_of(exc)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        sm.describe_secret(SecretId=new)
    assert error_of(exc)[0] == "ResourceNotFoundException"


def test_replicating_needs_replicate_secret_to_regions(server: ServerProcess, sm: Any) -> None:
    iam = server.client("iam")
    allow = ["secretsmanager:CreateSecret", "secretsmanager:DescribeSecret", "kms:*"]
    user, key = iam_user(iam, "repl", {"Effect": "Allow", "Action": allow, "Resource": "*"})
    client = session_client(server, "secretsmanager", key)
    n = new_name()
    with pytest.raises(ClientError) as exc:
        client.create_secret(Name=n, SecretString="x", AddReplicaRegions=[{"Region": WEST}])
    code, message = error_of(exc)
    assert code == "AccessDeniedException"
    assert "secretsmanager:ReplicateSecretToRegions" in message
    with pytest.raises(ClientError) as exc:
        sm.describe_secret(SecretId=n)  # nothing created
    assert error_of(exc)[0] == "ResourceNotFoundException"
    wider = [*allow, "secretsmanager:ReplicateSecretToRegions"]
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": wider, "Resource": "*"}],
    }
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(doc))
    out = client.create_secret(Name=n, SecretString="x", AddReplicaRegions=[{"Region": WEST}])
    assert out["ReplicationStatus"][0]["Status"] == "InSync"
    sm.remove_regions_from_replication(SecretId=n, RemoveReplicaRegions=[WEST])
    sm.delete_secret(SecretId=n, ForceDeleteWithoutRecovery=True)


def test_replica_kms_calls_are_the_callers_in_the_replica_region(
    server: ServerProcess, sm: Any
) -> None:
    n = new_name()
    out = sm.create_secret(Name=n, SecretString="audited-value", AddReplicaRegions=[{"Region": EU}])
    eu_arn = in_region(out["ARN"], EU)
    trail = server.client("cloudtrail")
    records = []
    for page in trail.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GenerateDataKey"}],
        PaginationConfig={"MaxItems": 500},
    ):
        for event in page["Events"]:
            record = json.loads(event["CloudTrailEvent"])
            context = (record.get("requestParameters") or {}).get("encryptionContext") or {}
            if context.get("SecretARN") == eu_arn:
                records.append(record)
    assert len(records) == 1
    record = records[0]
    assert record["requestParameters"]["encryptionContext"]["SecretVersionId"] == out["VersionId"]
    assert record["userIdentity"]["invokedBy"] == "secretsmanager.amazonaws.com"
    assert record["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
    assert any(r["ARN"].startswith(f"arn:aws:kms:{EU}:") for r in record.get("resources", [])), (
        record.get("resources")
    )
    assert "audited-value" not in json.dumps(record)


def test_cli_replicate_remove_and_promote(server: ServerProcess, sm: Any, tmp_path: Path) -> None:
    """The three operations through the real AWS CLI (v1), one --region per call."""
    (tmp_path / "config").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "config"),
        AWS_MAX_ATTEMPTS="1",
        AWS_EC2_METADATA_DISABLED="true",
    )

    def cli(region: str, *args: str) -> Any:
        command = [sys.executable, "-m", "awscli", "--endpoint-url", server.endpoint,
                   "--output", "json", "--region", region, "secretsmanager", *args]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    n = new_name()
    out = cli(REGION, "create-secret", "--name", n, "--secret-string", "cli-value",
              "--add-replica-regions", f"Region={WEST}")  # fmt: skip
    assert out["ReplicationStatus"][0]["Status"] == "InSync"
    assert cli(WEST, "get-secret-value", "--secret-id", n)["SecretString"] == "cli-value"
    out = cli(REGION, "replicate-secret-to-regions", "--secret-id", n,
              "--add-replica-regions", f"Region={EU}")  # fmt: skip
    assert {s["Region"] for s in out["ReplicationStatus"]} == {WEST, EU}
    out = cli(REGION, "remove-regions-from-replication", "--secret-id", n,
              "--remove-replica-regions", WEST)  # fmt: skip
    assert [s["Region"] for s in out["ReplicationStatus"]] == [EU]
    out = cli(EU, "stop-replication-to-replica", "--secret-id", n)
    assert out["ARN"] == in_region(sm.describe_secret(SecretId=n)["ARN"], EU)
    assert "PrimaryRegion" not in cli(EU, "describe-secret", "--secret-id", n)
    cli(EU, "put-secret-value", "--secret-id", n, "--secret-string", "promoted")
    assert cli(EU, "get-secret-value", "--secret-id", n)["SecretString"] == "promoted"
    assert value(sm, n) == "cli-value"


def test_force_overwrite_never_takes_another_replicated_secret(sm: Any, west: Any, eu: Any) -> None:
    n = new_name()
    west.create_secret(Name=n, SecretString="west-primary", AddReplicaRegions=[{"Region": EU}])
    sm.create_secret(Name=n, SecretString="east")
    out = sm.replicate_secret_to_regions(
        SecretId=n,
        AddReplicaRegions=[{"Region": WEST}, {"Region": EU}],
        ForceOverwriteReplicaSecret=True,
    )
    status = {s["Region"]: s for s in out["ReplicationStatus"]}
    assert status[WEST]["Status"] == status[EU]["Status"] == "Failed"
    assert "belongs to another replicated secret" in status[WEST]["StatusMessage"]
    assert value(west, n) == value(eu, n) == "west-primary"
    assert eu.describe_secret(SecretId=n)["PrimaryRegion"] == WEST

"""The audit trail: one event per call, LookupEvents, and tamper detection."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCESS_KEY_ID, ACCOUNT_ID, ServerProcess
from tests.e2e.helpers import error, iam_user, session_client


def lookup(cloudtrail: Any, key: str, value: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in cloudtrail.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}]
    ):
        events += page["Events"]
    return events


def test_every_call_is_audited_without_secrets(kms: Any, cloudtrail: Any) -> None:
    key = kms.create_key(Description="audited")["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"TOP-SECRET-PLAINTEXT")["CiphertextBlob"]
    kms.decrypt(CiphertextBlob=blob)
    with pytest.raises(ClientError):
        kms.describe_key(KeyId="alias/does-not-exist")
    events = lookup(cloudtrail, "ResourceName", key["Arn"])
    names = sorted(e["EventName"] for e in events)
    assert names == ["CreateKey", "Decrypt", "Encrypt"]
    for e in events:
        body = json.loads(e["CloudTrailEvent"])
        assert body["userIdentity"]["type"] == "Root"
        assert body["userIdentity"]["accessKeyId"] == ACCESS_KEY_ID
        assert body["eventSource"] == "kms.amazonaws.com"
        assert body["eventID"] == e["EventId"]
        assert "TOP-SECRET" not in e["CloudTrailEvent"]
        assert e["Resources"] == [{"ResourceType": "AWS::KMS::Key", "ResourceName": key["Arn"]}]
    encrypt = next(e for e in events if e["EventName"] == "Encrypt")
    assert encrypt["ReadOnly"] == "true"
    failed = lookup(cloudtrail, "EventName", "DescribeKey")
    assert any(
        json.loads(e["CloudTrailEvent"]).get("errorCode") == "NotFoundException" for e in failed
    )


def test_lookup_by_resource_is_exact_and_pages(kms: Any, cloudtrail: Any) -> None:
    """Resources are matched in the event body: exactly (not the caller's own "arn" or
    "type", not another case), and page by page past events that only look alike."""
    from datetime import UTC, datetime, timedelta

    start = datetime.now(UTC) - timedelta(seconds=5)
    key = kms.create_key(Description="resource lookups")["KeyMetadata"]
    for _ in range(3):
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    other = kms.create_key()["KeyMetadata"]
    kms.encrypt(KeyId=other["KeyId"], Plaintext=b"x")

    pages = list(
        cloudtrail.get_paginator("lookup_events").paginate(
            LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key["Arn"]}],
            PaginationConfig={"PageSize": 1},
        )
    )
    names = [e["EventName"] for page in pages for e in page["Events"]]
    assert names == ["Encrypt", "Encrypt", "Encrypt", "CreateKey"]
    assert sum(1 for page in pages if page["Events"]) == 4
    assert lookup(cloudtrail, "ResourceName", key["Arn"].upper()) == []

    by_type = cloudtrail.lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceType", "AttributeValue": "AWS::KMS::Key"}],
        StartTime=start,
    )["Events"]
    arns = {r["ResourceName"] for e in by_type for r in e["Resources"]}
    assert {key["Arn"], other["Arn"]} <= arns
    assert all(any(r["ResourceType"] == "AWS::KMS::Key" for r in e["Resources"]) for e in by_type)
    # the caller's userIdentity has {"type": "Root", "arn": ...}: not a resource
    for attribute, value in [
        ("ResourceType", "Root"),
        ("ResourceName", f"arn:aws:iam::{ACCOUNT_ID}:root"),
    ]:
        out = cloudtrail.lookup_events(
            LookupAttributes=[{"AttributeKey": attribute, "AttributeValue": value}],
            StartTime=start,
        )
        assert out["Events"] == []


def test_lookup_by_access_key_and_time(kms: Any, cloudtrail: Any) -> None:
    from datetime import UTC, datetime, timedelta

    start = datetime.now(UTC) - timedelta(seconds=5)
    kms.generate_random(NumberOfBytes=8)
    out = cloudtrail.lookup_events(
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": ACCESS_KEY_ID}],
        StartTime=start,
        MaxResults=5,
    )
    assert any(e["EventName"] == "GenerateRandom" for e in out["Events"])
    with pytest.raises(ClientError) as exc:
        cloudtrail.lookup_events(StartTime=start, EndTime=start - timedelta(hours=1))
    assert exc.value.response["Error"]["Code"] == "InvalidTimeRangeException"


def _populated(factory: Any, backend: str) -> ServerProcess:
    server: ServerProcess = factory(backend).start()
    kms = server.client()
    for _ in range(5):
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    server.stop()
    result = server.cli("audit", "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK:" in result.stdout
    return server


def _sql(server: ServerProcess, statement: str) -> None:
    if server.database_url:
        import psycopg

        with psycopg.connect(server.database_url, autocommit=True) as conn:
            conn.execute(statement)
    else:
        conn = sqlite3.connect(server.data_dir / "garrison.db")
        conn.execute(statement)
        conn.commit()
        conn.close()


def _event(server: ServerProcess, seq: int) -> tuple[str, str]:
    query = f"SELECT event_id, body FROM audit_events WHERE seq = {seq}"
    if server.database_url:
        import psycopg

        with psycopg.connect(server.database_url) as conn:
            row = conn.execute(query).fetchone()
    else:
        conn = sqlite3.connect(server.data_dir / "garrison.db")
        row = conn.execute(query).fetchone()
        conn.close()
    assert row is not None
    return str(row[0]), str(row[1])


def test_an_iam_user_reads_the_trail_only_when_a_policy_allows_it(server: ServerProcess) -> None:
    iam = server.client("iam")
    user, key = iam_user(iam, "auditor")
    trail = session_client(server, "cloudtrail", key)
    with pytest.raises(ClientError) as exc:
        trail.lookup_events(MaxResults=1)
    assert error(exc) == ("AccessDeniedException", 400)
    assert "cloudtrail:LookupEvents" in exc.value.response["Error"]["Message"]
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"}],
    }
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps(allow))
    events = trail.lookup_events(MaxResults=5)["Events"]
    assert any(e["EventName"] == "PutUserPolicy" for e in events)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_altered_event_is_named(fresh_server_factory: Any, backend: str) -> None:
    server = _populated(fresh_server_factory, backend)
    event_id, body = _event(server, 4)
    forged = body.replace('"readOnly":false', '"readOnly":true').replace(
        '"readOnly":true', '"readOnly":false', 0
    )
    forged = (
        forged.replace("Encrypt", "Decrypt")
        if "Encrypt" in forged
        else forged.replace("CreateKey", "DeleteAlias")
    )
    _sql(server, f"UPDATE audit_events SET body = '{forged}' WHERE seq = 4")
    result = server.cli("audit", "verify")
    assert result.returncode != 0
    assert "seq 4" in result.stdout and event_id in result.stdout and "altered" in result.stdout


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_removed_event_is_named(fresh_server_factory: Any, backend: str) -> None:
    server = _populated(fresh_server_factory, backend)
    _sql(server, "DELETE FROM audit_events WHERE seq = 3")
    result = server.cli("audit", "verify")
    assert result.returncode != 0
    assert "seq 3" in result.stdout and "removed" in result.stdout


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_reordered_events_are_named(fresh_server_factory: Any, backend: str) -> None:
    server = _populated(fresh_server_factory, backend)
    event_id, _ = _event(server, 5)
    _sql(server, "UPDATE audit_events SET seq = -5 WHERE seq = 5")
    _sql(server, "UPDATE audit_events SET seq = 5 WHERE seq = 6")
    _sql(server, "UPDATE audit_events SET seq = 6 WHERE seq = -5")
    result = server.cli("audit", "verify")
    assert result.returncode != 0
    assert "seq 5" in result.stdout and "reordered" in result.stdout


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_truncated_tail_is_detected(fresh_server_factory: Any, backend: str) -> None:
    server = _populated(fresh_server_factory, backend)
    _sql(server, "DELETE FROM audit_events WHERE seq >= 9")
    result = server.cli("audit", "verify")
    assert result.returncode != 0
    assert "missing tail" in result.stdout and "seq 9" in result.stdout


def test_public_key_export_verifies(fresh_server_factory: Any, tmp_path: Any) -> None:
    server = _populated(fresh_server_factory, "sqlite")
    pem = server.cli("audit", "public-key").stdout
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    path = tmp_path / "audit.pem"
    path.write_text(pem)
    ok = server.cli("audit", "verify", "--public-key", str(path))
    assert ok.returncode == 0, ok.stdout
    _ = time


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_scheduled_digest_catches_truncation_even_without_heads(
    fresh_server_factory: Any, backend: str
) -> None:
    server: ServerProcess = fresh_server_factory(backend).start()
    kms = server.client()
    for _ in range(3):
        kms.create_key()
    server.advance(3600)
    assert server.run_scheduler()["audit-digest"] == 1
    assert server.run_scheduler()["audit-digest"] == 0  # not due again yet
    server.stop()
    assert server.cli("audit", "verify").returncode == 0
    _sql(server, "DELETE FROM audit_events WHERE seq >= 2")
    _sql(server, "DELETE FROM audit_heads")
    result = server.cli("audit", "verify")
    assert result.returncode != 0
    assert "missing tail" in result.stdout and "digest" in result.stdout

"""Secret values through KMS as the caller, the audit trail and the store, on both backends.

Each version's value is envelope-encrypted under a data key from KMS
GenerateDataKey (AES_256) with the encryption context {"SecretARN": <arn>,
"SecretVersionId": <id>}; reading it is a KMS Decrypt with the same context.
Both are made for the caller and audited as their own KMS events (invokedBy
secretsmanager.amazonaws.com). Without kms:Decrypt GetSecretValue is
AccessDeniedException with KMS's text. No value is in the audit trail or in the
database files.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, BACKENDS, ServerProcess
from tests.e2e.helpers import error, error_of, events_by_name, iam_user, session_client
from tests.e2e.test_at_rest import Needle, assert_absent, pg_rows, sqlite_bytes


@pytest.fixture
def sm(server: ServerProcess) -> Any:
    return server.client("secretsmanager")


def kms_events_for(server: ServerProcess, arn: str) -> list[dict[str, Any]]:
    trail = server.client("cloudtrail")
    out = []
    for event in trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "kms.amazonaws.com"}],
        MaxResults=50,
    )["Events"]:
        record = json.loads(event["CloudTrailEvent"])
        context = (record.get("requestParameters") or {}).get("encryptionContext") or {}
        if context.get("SecretARN") == arn:
            out.append(record)
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_aws_managed_key_is_created_on_first_use(
    fresh_server_factory: Any, backend: str
) -> None:
    srv = fresh_server_factory(backend).start()
    sm, kms = srv.client("secretsmanager"), srv.client("kms")
    assert "alias/aws/secretsmanager" not in {a["AliasName"] for a in kms.list_aliases()["Aliases"]}
    sm.create_secret(Name="no-value-yet")  # no value: no key needed
    assert "alias/aws/secretsmanager" not in {a["AliasName"] for a in kms.list_aliases()["Aliases"]}
    sm.create_secret(Name="first", SecretString="s1")
    sm.create_secret(Name="second", SecretString="s2")
    aliases = [
        a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/aws/secretsmanager"
    ]
    assert len(aliases) == 1
    key = kms.describe_key(KeyId=aliases[0]["TargetKeyId"])["KeyMetadata"]
    assert key["KeyManager"] == "AWS"
    versions = sm.list_secret_version_ids(SecretId="first")["Versions"]
    assert versions[0]["KmsKeyIds"] == [key["Arn"]]


def test_inner_kms_events_carry_the_context_and_no_value(server: ServerProcess, sm: Any) -> None:
    value = "inner-" + secrets.token_hex(8)
    n = f"kms/{secrets.token_hex(4)}"
    out = sm.create_secret(Name=n, SecretString=value)
    sm.get_secret_value(SecretId=n)
    records = kms_events_for(server, out["ARN"])
    by_name = {r["eventName"]: r for r in records}
    assert set(by_name) == {"GenerateDataKey", "Decrypt"}
    for record in records:
        assert record["requestParameters"]["encryptionContext"] == {
            "SecretARN": out["ARN"],
            "SecretVersionId": out["VersionId"],
        }
        assert record["userIdentity"]["invokedBy"] == "secretsmanager.amazonaws.com"
        assert record["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
        keys = [r for r in record["resources"] if r["type"] == "AWS::KMS::Key"]
        assert len(keys) == 1, record["resources"]  # the key, once
        assert value not in json.dumps(record)
    generate = by_name["GenerateDataKey"]["requestParameters"]
    assert generate["keyId"] == "alias/aws/secretsmanager"
    assert generate["keySpec"] == "AES_256"
    # the Secrets Manager events themselves hold no value
    trail = server.client("cloudtrail")
    events = trail.lookup_events(
        LookupAttributes=[
            {"AttributeKey": "EventSource", "AttributeValue": "secretsmanager.amazonaws.com"}
        ],
        MaxResults=50,
    )["Events"]
    names = {e["EventName"] for e in events}
    assert {"CreateSecret", "GetSecretValue"} <= names
    for event in events:
        assert value not in event["CloudTrailEvent"]
    password = sm.get_random_password(PasswordLength=40)["RandomPassword"]
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetRandomPassword"}],
        MaxResults=5,
    )["Events"]
    assert events and all(password not in e["CloudTrailEvent"] for e in events)


def test_read_only_calls_are_audited_without_response_elements(
    server: ServerProcess, sm: Any
) -> None:
    """CloudTrail records responseElements for calls that change something only."""
    n = f"ro/{secrets.token_hex(4)}"
    arn = sm.create_secret(Name=n, SecretString="v")["ARN"]
    sm.get_secret_value(SecretId=n)
    sm.describe_secret(SecretId=n)
    sm.update_secret(SecretId=n, Description="changed")
    bodies = events_by_name(server, arn)
    for read in ("GetSecretValue", "DescribeSecret"):
        assert bodies[read]["readOnly"] is True
        assert bodies[read]["responseElements"] is None
    for change in ("CreateSecret", "UpdateSecret"):
        assert bodies[change]["readOnly"] is False
        assert bodies[change]["responseElements"]["arn"] == arn


def test_no_kms_decrypt_means_access_denied(server: ServerProcess, sm: Any, kms: Any) -> None:
    key = kms.create_key(Description="sm guarded")["KeyMetadata"]
    n = f"guarded/{secrets.token_hex(4)}"
    sm.create_secret(Name=n, SecretString="guarded-value", KmsKeyId=key["Arn"])
    read = {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
    user, access_key = iam_user(server.client("iam"), "sm-reader", read)
    client = session_client(server, "secretsmanager", access_key)
    with pytest.raises(ClientError) as exc:
        client.get_secret_value(SecretId=n)
    code, message = error_of(exc)
    assert code == "AccessDeniedException"
    assert f"is not authorized to perform: kms:Decrypt on resource: {key['Arn']}" in message
    assert "(Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException" in message
    assert "guarded-value" not in message
    # a grant on the customer key decides too
    arn = f"arn:aws:iam::{ACCOUNT_ID}:user/{user}"
    kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn, Operations=["Decrypt"])
    assert client.get_secret_value(SecretId=n)["SecretString"] == "guarded-value"
    # and without secretsmanager:GetSecretValue nothing is read at all
    with pytest.raises(ClientError) as exc:
        client.describe_secret(SecretId=n)
    assert error(exc) == ("AccessDeniedException", 400)


def test_a_disabled_key_refuses_both_ways(sm: Any, kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]
    n = f"disabled/{secrets.token_hex(4)}"
    sm.create_secret(Name=n, SecretString="v1", KmsKeyId=key["KeyId"])
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as exc:
        sm.get_secret_value(SecretId=n)
    assert error(exc) == ("DecryptionFailure", 400)
    with pytest.raises(ClientError) as exc:
        sm.put_secret_value(SecretId=n, SecretString="v2")
    assert error(exc) == ("EncryptionFailure", 400)
    assert len(sm.list_secret_version_ids(SecretId=n, IncludeDeprecated=True)["Versions"]) == 1
    kms.enable_key(KeyId=key["KeyId"])
    assert sm.get_secret_value(SecretId=n)["SecretString"] == "v1"
    with pytest.raises(ClientError) as exc:
        sm.create_secret(
            Name=f"nokey/{secrets.token_hex(4)}", SecretString="x", KmsKeyId="alias/does-not-exist"
        )
    assert error(exc) == ("EncryptionFailure", 400)


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_secret_value_in_the_database(fresh_server_factory: Any, backend: str) -> None:
    srv: ServerProcess = fresh_server_factory(backend).start()
    sm = srv.client("secretsmanager")
    text = "text-" + secrets.token_hex(12)
    binary = b"binary-" + secrets.token_hex(12).encode()
    sm.create_secret(Name="rest/text", SecretString=text)
    sm.put_secret_value(SecretId="rest/text", SecretString=text + "-v2")
    sm.create_secret(Name="rest/binary", SecretBinary=binary)
    assert sm.get_secret_value(SecretId="rest/text")["SecretString"] == text + "-v2"
    assert sm.get_secret_value(SecretId="rest/binary")["SecretBinary"] == binary
    needles = [Needle("SecretString", text.encode()), Needle("SecretBinary", binary)]
    if backend == "sqlite":
        srv.stop()
        assert_absent(sqlite_bytes(srv.data_dir), needles, "the SQLite store")
    else:
        haystack, tables = pg_rows(srv.database_url)
        assert len(tables["sm_secret_versions"]) == 3
        assert_absent(haystack, needles, "PostgreSQL rows")

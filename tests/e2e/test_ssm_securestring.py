"""SecureString parameters end to end: KMS encryption as the caller, on both backends.

The value is encrypted by KMS under the parameter's key (the AWS managed
``alias/aws/ssm`` key, created on first use, or a customer key) with the
encryption context ``PARAMETER_ARN``; reading it with decryption is a KMS
Decrypt made for the caller, audited as its own KMS event (``invokedBy``
ssm.amazonaws.com) and refused without kms:Decrypt on the key. Neither the
plaintext of a String nor that of a SecureString is ever in the database.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, BACKENDS, REGION, ServerProcess
from tests.e2e.helpers import error, error_of, iam_user, session_client
from tests.e2e.test_at_rest import Needle, assert_absent, pg_rows, sqlite_bytes


@pytest.fixture
def ssm(server: ServerProcess) -> Any:
    return server.client("ssm")


def path() -> str:
    return f"/sec-{secrets.token_hex(4)}"


def arn(param: str) -> str:
    return f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/{param.removeprefix('/')}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_aws_managed_key_is_created_on_first_use(
    fresh_server_factory: Any, backend: str
) -> None:
    srv = fresh_server_factory(backend).start()
    ssm, kms = srv.client("ssm"), srv.client("kms")
    aliases = {a["AliasName"] for a in kms.list_aliases()["Aliases"]}
    assert "alias/aws/ssm" not in aliases
    ssm.put_parameter(Name="/db/password", Value="hunter2", Type="SecureString")
    aliases = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
    key_id = aliases["alias/aws/ssm"]["TargetKeyId"]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyManager"] == "AWS"
    ssm.put_parameter(Name="/db/other", Value="x", Type="SecureString")  # the same key again
    assert sum(a["AliasName"] == "alias/aws/ssm" for a in kms.list_aliases()["Aliases"]) == 1
    got = ssm.get_parameter(Name="/db/password", WithDecryption=True)["Parameter"]
    assert got["Value"] == "hunter2"
    history = ssm.get_parameter_history(Name="/db/password")["Parameters"]
    assert history[0]["KeyId"] == "alias/aws/ssm"
    # a customer cannot use the AWS managed key directly: only through SSM
    blob = base64.b64decode(ssm.get_parameter(Name="/db/password")["Parameter"]["Value"])
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"PARAMETER_ARN": arn("/db/password")})
    assert error(exc) == ("AccessDeniedException", 400)


def test_customer_key_and_the_encryption_context(ssm: Any, kms: Any) -> None:
    key = kms.create_key(Description="ssm customer key")["KeyMetadata"]
    p = path()
    ssm.put_parameter(Name=p, Value="s3cret", Type="SecureString", KeyId=key["KeyId"])
    raw = ssm.get_parameter(Name=p)["Parameter"]
    assert raw["Type"] == "SecureString"
    blob = base64.b64decode(raw["Value"])  # the KMS ciphertext, base64
    opened = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"PARAMETER_ARN": arn(p)})
    assert opened["Plaintext"] == b"s3cret"
    assert opened["KeyId"] == key["Arn"]
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob)  # bound to the parameter's ARN
    assert error(exc) == ("InvalidCiphertextException", 400)
    assert ssm.get_parameter(Name=p, WithDecryption=True)["Parameter"]["Value"] == "s3cret"
    # overwrite keeps the key; a disabled key refuses both ways
    ssm.put_parameter(Name=p, Value="v2", Overwrite=True)
    assert ssm.get_parameter_history(Name=p)["Parameters"][1]["KeyId"] == key["KeyId"]
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as exc:
        ssm.get_parameter(Name=p, WithDecryption=True)
    assert error(exc) == ("InvalidKeyId", 400)
    with pytest.raises(ClientError) as exc:
        ssm.put_parameter(Name=p, Value="v3", Overwrite=True)
    assert error(exc) == ("InvalidKeyId", 400)
    assert ssm.get_parameter(Name=p)["Parameter"]["Version"] == 2  # nothing written
    with pytest.raises(ClientError) as exc:
        ssm.put_parameter(Name=path(), Value="x", Type="SecureString", KeyId="alias/nope")
    assert error(exc) == ("InvalidKeyId", 400)


def test_decryption_is_a_kms_event_invoked_by_ssm(server: ServerProcess, ssm: Any) -> None:
    p = path()
    secret = "ct-" + secrets.token_hex(8)
    ssm.put_parameter(Name=p, Value=secret, Type="SecureString")
    ssm.get_parameter(Name=p, WithDecryption=True)
    trail = server.client("cloudtrail")
    kms_events = []
    for event in trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "kms.amazonaws.com"}],
        MaxResults=50,
    )["Events"]:
        record = json.loads(event["CloudTrailEvent"])
        params = record.get("requestParameters") or {}
        if params.get("encryptionContext") == {"PARAMETER_ARN": arn(p)}:
            kms_events.append(record)
        assert secret not in event["CloudTrailEvent"]
    by_name = {r["eventName"]: r for r in kms_events}
    assert set(by_name) == {"Encrypt", "Decrypt"}
    decrypt = by_name["Decrypt"]
    assert decrypt["userIdentity"]["invokedBy"] == "ssm.amazonaws.com"
    assert decrypt["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
    assert decrypt["sourceIPAddress"] == "ssm.amazonaws.com"
    assert decrypt["requestParameters"]["encryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert by_name["Encrypt"]["requestParameters"]["keyId"] == "alias/aws/ssm"
    assert decrypt["readOnly"] is True
    # the key, once (as AWS's event names it), for both calls
    for record in kms_events:
        keys = [r for r in record["resources"] if r["type"] == "AWS::KMS::Key"]
        assert len(keys) == 1, record["resources"]
        assert keys[0]["ARN"].startswith(f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/")


def test_no_kms_decrypt_means_access_denied(server: ServerProcess, ssm: Any, kms: Any) -> None:
    key = kms.create_key(Description="guarded")["KeyMetadata"]
    p = path()
    ssm.put_parameter(Name=p, Value="guarded-value", Type="SecureString", KeyId=key["KeyId"])
    read = {"Effect": "Allow", "Action": "ssm:GetParameter*", "Resource": "*"}
    iam = server.client("iam")
    user, access_key = iam_user(iam, "ssm-reader", read)
    client = session_client(server, "ssm", access_key)
    assert client.get_parameter(Name=p)["Parameter"]["Value"] != "guarded-value"
    with pytest.raises(ClientError) as exc:
        client.get_parameter(Name=p, WithDecryption=True)
    code, message = error_of(exc)
    assert code == "AccessDeniedException"
    assert f"is not authorized to perform: kms:Decrypt on resource: {key['Arn']}" in message
    assert "(Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException" in message
    assert "guarded-value" not in message
    with pytest.raises(ClientError) as exc:
        client.get_parameters(Names=[p], WithDecryption=True)
    assert error(exc) == ("AccessDeniedException", 400)
    # with kms:Decrypt on the key (the key policy delegates to IAM), it reads
    decrypt = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key["Arn"]}
    doc = {"Version": "2012-10-17", "Statement": [read, decrypt]}
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(doc))
    got = client.get_parameter(Name=p, WithDecryption=True)["Parameter"]
    assert got["Value"] == "guarded-value"


def test_changing_to_or_from_secure_string_is_refused(ssm: Any) -> None:
    p = path()
    ssm.put_parameter(Name=p, Value="plain", Type="String")
    with pytest.raises(ClientError) as exc:
        ssm.put_parameter(Name=p, Value="x", Type="SecureString", Overwrite=True)
    assert error(exc) == ("HierarchyTypeMismatchException", 400)
    s = path()
    ssm.put_parameter(Name=s, Value="hidden", Type="SecureString")
    with pytest.raises(ClientError) as exc:
        ssm.put_parameter(Name=s, Value="x", Type="String", Overwrite=True)
    assert error(exc) == ("HierarchyTypeMismatchException", 400)


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_plaintext_in_the_database(fresh_server_factory: Any, backend: str) -> None:
    srv: ServerProcess = fresh_server_factory(backend).start()
    ssm = srv.client("ssm")
    plain = "plain-" + secrets.token_hex(12)
    hidden = "hidden-" + secrets.token_hex(12)
    ssm.put_parameter(Name="/rest/plain", Value=plain, Type="String")
    ssm.put_parameter(Name="/rest/plain", Value=plain + "-v2", Type="String", Overwrite=True)
    ssm.put_parameter(Name="/rest/hidden", Value=hidden, Type="SecureString")
    assert ssm.get_parameter(Name="/rest/hidden", WithDecryption=True)["Parameter"]["Value"] == (
        hidden
    )
    needles = [Needle("String value", plain.encode()), Needle("SecureString", hidden.encode())]
    if backend == "sqlite":
        srv.stop()
        assert_absent(sqlite_bytes(srv.data_dir), needles, "the SQLite store")
    else:
        haystack, tables = pg_rows(srv.database_url)
        assert len(tables["ssm_parameter_versions"]) == 3
        assert_absent(haystack, needles, "PostgreSQL rows")

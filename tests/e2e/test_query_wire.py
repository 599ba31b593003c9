"""The query protocol on the wire: STS and IAM requests to a real server, both backends.

boto3 is the client where it can be (its errors are what users see: the
ClientError code and HTTP status); raw requests signed by botocore's SigV4
signers cover what boto3 never sends (no signature, an unknown Action, a GET
with the parameters in a presigned query string). Every XML answer is read back
with botocore's own query parser.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import requests
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.parsers import create_parser

from garrison.protocol.specs import load_service
from tests.conftest import ACCESS_KEY_ID, ACCOUNT_ID, REGION, SECRET_ACCESS_KEY, ServerProcess

FORM = "application/x-www-form-urlencoded; charset=utf-8"
STS_VERSION = "Action=GetCallerIdentity&Version=2011-06-15"


def send(
    server: ServerProcess,
    body: str,
    *,
    service: str = "sts",
    secret: str = SECRET_ACCESS_KEY,
    sign: str = "header",
) -> requests.Response:
    """POST `body` as a form (or GET it, presigned), signed for `service` as botocore signs."""
    method = "GET" if sign == "query" else "POST"
    url = server.endpoint + "/" + ("?" + body if sign == "query" else "")
    request = AWSRequest(
        method=method,
        url=url,
        data=body.encode() if method == "POST" else b"",
        headers={"Content-Type": FORM},
    )
    creds = Credentials(ACCESS_KEY_ID, secret)
    if sign == "header":
        SigV4Auth(creds, service, REGION).add_auth(request)
    elif sign == "query":
        SigV4QueryAuth(creds, service, REGION, expires=300).add_auth(request)
    prepared = request.prepare()
    return requests.request(
        method, prepared.url, headers=dict(prepared.headers), data=prepared.body, timeout=30
    )


def read(service: str, action: str, response: requests.Response) -> dict[str, Any]:
    """What botocore's query parser makes of `response`."""
    op = load_service(service).operation(action)
    assert op is not None
    parsed: dict[str, Any] = create_parser("query").parse(
        {"body": response.content, "headers": {}, "status_code": response.status_code},
        op.output_shape,
    )
    return parsed


def client_error(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response: dict[str, Any] = caught.value.response
    return response


def test_get_caller_identity_with_boto3(server: ServerProcess) -> None:
    identity = server.client("sts").get_caller_identity()
    assert identity["Account"] == ACCOUNT_ID
    assert identity["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
    assert identity["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert identity["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "text/xml"


def test_get_caller_identity_with_the_aws_cli(server: ServerProcess) -> None:
    env = {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-m", "awscli", "--endpoint-url", server.endpoint, "--output", "text",
         "sts", "get-caller-identity", "--query", "Account"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ACCOUNT_ID


@pytest.mark.parametrize("service", ["sts", "iam"])
def test_a_bad_signature_is_signature_does_not_match(server: ServerProcess, service: str) -> None:
    client = server.client(service, secret_key="wrong" + SECRET_ACCESS_KEY[5:])
    call = client.get_caller_identity if service == "sts" else client.get_user
    response = client_error(call)
    assert response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert response["Error"]["Type"] == "Sender"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize("service", ["sts", "iam"])
def test_an_unknown_key_is_invalid_client_token_id(server: ServerProcess, service: str) -> None:
    client = server.client(service, access_key="AKIAUNKNOWNQUERY0001")
    call = client.get_caller_identity if service == "sts" else client.list_users
    response = client_error(call)
    assert response["Error"]["Code"] == "InvalidClientTokenId"
    assert response["Error"]["Message"] == "The security token included in the request is invalid."
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize(
    ("service", "body"),
    [("sts", STS_VERSION), ("iam", "Action=ListUsers&Version=2010-05-08")],
)
def test_an_unsigned_request_is_missing_authentication_token(
    server: ServerProcess, service: str, body: str
) -> None:
    response = send(server, body, service=service, sign="none")
    assert response.status_code == 403
    assert response.headers["content-type"] == "text/xml"
    error = read(service, "GetCallerIdentity" if service == "sts" else "ListUsers", response)
    assert error["Error"]["Code"] == "MissingAuthenticationToken"


def test_an_unknown_or_missing_action(server: ServerProcess) -> None:
    unknown = send(server, "Action=GetCallerIdentities&Version=2011-06-15")
    assert unknown.status_code == 400
    assert read("sts", "GetCallerIdentity", unknown)["Error"] == {
        "Type": "Sender",
        "Code": "InvalidAction",
        "Message": "Could not find operation GetCallerIdentities for version 2011-06-15",
    }
    missing = send(server, "Version=2010-05-08", service="iam")
    assert missing.status_code == 400
    assert read("iam", "ListUsers", missing)["Error"]["Code"] == "MissingAction"


def test_a_presigned_get_is_answered(server: ServerProcess) -> None:
    response = send(server, STS_VERSION, sign="query")
    assert response.status_code == 200, response.text
    parsed = read("sts", "GetCallerIdentity", response)
    assert parsed["Account"] == ACCOUNT_ID
    assert parsed["ResponseMetadata"]["RequestId"] == response.headers["x-amzn-requestid"]


def test_model_validation_is_validation_error(server: ServerProcess) -> None:
    response = client_error(server.client("iam").get_role, RoleName="not a valid name!")
    assert response["Error"]["Code"] == "ValidationError"
    assert response["Error"]["Message"].startswith(
        "1 validation error detected: Value 'not a valid name!' at 'roleName' failed to satisfy"
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_model_error_is_raised_as_its_modeled_exception(server: ServerProcess) -> None:
    iam = server.client("iam")
    with pytest.raises(iam.exceptions.NoSuchEntityException) as caught:
        iam.get_role(RoleName="no-such-role-for-query-wire")
    assert caught.value.response["Error"]["Code"] == "NoSuchEntity"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_json_services_are_unaffected(server: ServerProcess) -> None:
    keys = server.client("kms").list_keys(Limit=1)
    assert keys["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"
    # a query-style request for a json service is refused as json, as before
    response = send(server, "Action=ListKeys&Version=2014-11-01", service="kms")
    assert response.status_code == 400
    assert response.json()["__type"] == "UnknownOperationException"

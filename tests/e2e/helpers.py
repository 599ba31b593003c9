"""Small helpers the IAM, STS and Organizations end-to-end tests share.

- `name(prefix)`: a name no other test (or earlier run on the shared server) uses;
- `error(exc)`: a ClientError's (code, HTTP status); `error_of(exc)`: its (code, message);
- `TRUST_ROOT`: a trust policy that lets this account's root assume the role;
- `session_client`: a boto3 client signing with AssumeRole's (or any) credentials;
- the `iam` fixture: a boto3 IAM client for the `server` under test.
"""

from __future__ import annotations

import secrets
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, REGION, ServerProcess

TRUST_ROOT = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def name(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def session_client(server: ServerProcess, service: str, creds: dict[str, Any]) -> Any:
    """A client for `server` signing with `creds` (a session token if they carry one)."""
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def iam(server: ServerProcess) -> Any:
    return server.client("iam")

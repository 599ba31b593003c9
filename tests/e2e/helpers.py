"""Small helpers the IAM, STS and Organizations end-to-end tests share.

- `name(prefix)`: a name no other test (or earlier run on the shared server) uses;
- `error(exc)`: a ClientError's (code, HTTP status); `error_of(exc)`: its (code, message);
- `TRUST_ROOT`: a trust policy that lets this account's root assume the role;
- `session_client`: a boto3 client signing with AssumeRole's (or any) credentials;
- `iam_user`: a new IAM user with an access key and (optionally) an inline policy;
- the `iam` fixture: a boto3 IAM client for the `server` under test.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import ACCESS_KEY_ID, ACCOUNT_ID, REGION, SECRET_ACCESS_KEY, ServerProcess
from tests.e2e.policies import policy

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


def iam_user(
    iam: Any, prefix: str, *statements: dict[str, Any], policy_name: str = "p"
) -> tuple[str, dict[str, Any]]:
    """A new user of `iam`'s account named after `prefix`, holding an inline policy of
    `statements` (none at all when there are none): its name and its access key."""
    user = name(prefix)
    iam.create_user(UserName=user)
    if statements:
        iam.put_user_policy(
            UserName=user, PolicyName=policy_name, PolicyDocument=policy(*statements)
        )
    return user, dict(iam.create_access_key(UserName=user)["AccessKey"])


@pytest.fixture
def iam(server: ServerProcess) -> Any:
    return server.client("iam")


@dataclass
class Aws:
    """The real AWS CLI (v1, `python -m awscli`) against one server, in a clean environment."""

    endpoint: str
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "awscli", "--endpoint-url", self.endpoint,
                   "--output", "json", *args]  # fmt: skip
        return subprocess.run(command, capture_output=True, text=True, env=self.env, timeout=60)

    def json(self, *args: str) -> Any:
        done = self.run(*args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None


@pytest.fixture
def aws(server: ServerProcess, tmp_path: Path) -> Aws:
    """The CLI as the root user, with empty config files and no AWS_* variables inherited."""
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    config.write_text("")
    credentials.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(credentials),
        AWS_MAX_ATTEMPTS="1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    return Aws(server.endpoint, env)


def events_by_name(server: ServerProcess, arn: str) -> dict[str, dict[str, Any]]:
    """The trail's latest events naming `arn` as a resource: event name -> its parsed body
    (the newest of each name, as LookupEvents answers newest first)."""
    events = server.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": arn}],
        MaxResults=50,
    )["Events"]
    bodies: dict[str, dict[str, Any]] = {}
    for event in events:
        bodies.setdefault(event["EventName"], json.loads(event["CloudTrailEvent"]))
    return bodies


def within(seconds: float, read: Any, expected: Any) -> float:
    """Read until it returns `expected`; how long that took (fails past `seconds`)."""
    start = time.monotonic()
    while True:
        got = read()
        elapsed = time.monotonic() - start
        if got == expected:
            return elapsed
        if elapsed > seconds:
            pytest.fail(f"still {got!r} rather than {expected!r} after {elapsed:.2f} s")
        time.sleep(0.02)


def wait_for(condition: Any, what: str, timeout: float = 20.0) -> Any:
    """Call `condition` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def member_account(server: ServerProcess, label: str) -> tuple[str, dict[str, Any]]:
    """A new member account of the caller's organization (which must exist): its id
    and the credentials of its administrator (OrganizationAccountAccessRole)."""
    orgs = server.client("organizations")
    made = orgs.create_account(Email=f"{label}@example.com", AccountName=label)
    status = orgs.describe_create_account_status(
        CreateAccountRequestId=made["CreateAccountStatus"]["Id"]
    )["CreateAccountStatus"]
    assert status["State"] == "SUCCEEDED", status
    account = str(status["AccountId"])
    creds = server.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
        RoleSessionName="admin",
    )["Credentials"]
    return account, dict(creds)

"""STS with the real AWS CLI (v1, `python -m awscli`), and the STS compatibility matrix.

The CLI's own role mechanism: a config file with a source profile holding static
keys and a profile with ``role_arn`` + ``source_profile``; the CLI calls
AssumeRole itself and signs every later call with the session credentials.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from garrison.services.sts.provider import HANDLED
from tests.conftest import ACCESS_KEY_ID, ACCOUNT_ID, REGION, SECRET_ACCESS_KEY, ServerProcess
from tests.e2e.compat import check_matrix
from tests.e2e.policies import ALLOW_ROOT, policy
from tests.e2e.test_aws_cli import AwsCli

ROOT_ARN = f"arn:aws:iam::{ACCOUNT_ID}:root"


def _trust(*actions: str) -> str:
    statement = {"Effect": "Allow", "Principal": {"AWS": ROOT_ARN}, "Action": list(actions)}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture
def cli_env(sqlite_server: ServerProcess, tmp_path: Path) -> tuple[AwsCli, str]:
    """The CLI in a clean environment whose config has a `source` and an `assumed` profile."""
    iam = sqlite_server.client("iam")
    name = "cli-" + uuid.uuid4().hex[:10]
    role_arn = iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=_trust("sts:AssumeRole", "sts:TagSession")
    )["Role"]["Arn"]
    config = tmp_path / "config"
    # endpoint_url in the profile: the CLI's own AssumeRole call goes to Garrison too
    config.write_text(
        f"[profile source]\nregion = {REGION}\n"
        f"aws_access_key_id = {ACCESS_KEY_ID}\naws_secret_access_key = {SECRET_ACCESS_KEY}\n\n"
        f"[profile assumed]\nregion = {REGION}\nrole_arn = {role_arn}\n"
        f"source_profile = source\nrole_session_name = cli-session\n"
        f"endpoint_url = {sqlite_server.endpoint}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path),  # the CLI caches assumed-role credentials under ~/.aws/cli
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
        AWS_MAX_ATTEMPTS="1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    return AwsCli(sqlite_server.endpoint, env, tmp_path), role_arn


def test_cli_profile_with_role_arn_assumes_the_role(
    sqlite_server: ServerProcess, cli_env: tuple[AwsCli, str], tmp_path: Path
) -> None:
    cli, role_arn = cli_env
    name = role_arn.rsplit("/", 1)[1]
    done = cli.run("sts", "get-caller-identity", "--profile", "assumed")
    assert done.returncode == 0, done.stderr
    who = json.loads(done.stdout)
    assert who["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{name}/cli-session"
    assert who["Account"] == ACCOUNT_ID and who["UserId"].endswith(":cli-session")

    # a KMS call signed with the session credentials, on a key whose policy names the role
    kms = sqlite_server.client("kms")
    allow_role = {
        "Effect": "Allow",
        "Principal": {"AWS": role_arn},
        "Action": ["kms:Encrypt", "kms:DescribeKey"],
        "Resource": "*",
    }
    key_id = kms.create_key(Policy=policy(ALLOW_ROOT, allow_role))["KeyMetadata"]["KeyId"]
    plaintext = tmp_path / "plain.bin"
    plaintext.write_bytes(b"hello")
    done = cli.run(
        "kms", "encrypt", "--profile", "assumed", "--key-id", key_id,
        "--plaintext", f"fileb://{plaintext}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    blob = json.loads(done.stdout)["CiphertextBlob"]
    plain = kms.decrypt(CiphertextBlob=base64.b64decode(blob))["Plaintext"]
    assert plain == b"hello"


def test_cli_assume_role_with_tags(
    sqlite_server: ServerProcess, cli_env: tuple[AwsCli, str]
) -> None:
    cli, role_arn = cli_env
    done = cli.run(
        "sts", "assume-role", "--profile", "source",
        "--role-arn", role_arn, "--role-session-name", "tagged",
        "--tags", "Key=Project,Value=apollo", "--transitive-tag-keys", "Project",
        "--duration-seconds", "900",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert out["AssumedRoleUser"]["Arn"].endswith("/tagged")
    assert 0 < out["PackedPolicySize"] <= 100
    done = cli.run(
        "sts", "assume-role", "--profile", "source",
        "--role-arn", role_arn, "--role-session-name", "tagged", "--duration-seconds", "7200",
    )  # fmt: skip
    assert done.returncode == 255
    assert "ValidationError" in done.stderr and "MaxSessionDuration" in done.stderr


def test_sts_compatibility_matrix_matches_the_model_and_the_tests() -> None:
    """docs/compatibility/sts.md lists every operation once, truthfully, with real tests."""
    check_matrix("sts", HANDLED)


def test_planned_sts_operations_are_refused_by_name(sqlite_server: ServerProcess) -> None:
    sts: Any = sqlite_server.client("sts")
    with pytest.raises(ClientError) as exc:
        sts.get_session_token()
    error = exc.value.response["Error"]
    assert "GetSessionToken is not supported" in error["Message"], error

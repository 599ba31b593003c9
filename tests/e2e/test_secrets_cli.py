"""Secrets Manager through the real AWS CLI (v1, `python -m awscli`), on both backends,
and the check of docs/compatibility/secretsmanager.md.

create-secret, get-secret-value, put-secret-value, describe-secret,
list-secrets (the CLI's own paginator over NextToken), list-secret-version-ids,
get-random-password, tag-resource and delete-secret, each checked against
boto3; an error the service answers reaches the CLI with its code.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

from garrison.services.secretsmanager.provider import HANDLED
from tests.conftest import ServerProcess
from tests.e2e.compat import check_matrix
from tests.e2e.helpers import Aws
from tests.e2e.helpers import aws as aws  # the fixture

CLI_EXIT_SERVICE_ERROR = 255


def test_cli_create_get_put_and_describe(aws: Aws, server: ServerProcess) -> None:
    n = f"cli/{secrets.token_hex(4)}"
    out = aws.json("secretsmanager", "create-secret", "--name", n, "--secret-string",
                   '{"user":"admin","password":"cli-secret"}', "--description", "from the cli",
                   "--tags", "Key=team,Value=red")  # fmt: skip
    assert out["Name"] == n and out["ARN"].endswith(out["ARN"][-7:])
    got = aws.json("secretsmanager", "get-secret-value", "--secret-id", n)
    assert json.loads(got["SecretString"]) == {"user": "admin", "password": "cli-secret"}
    assert got["VersionStages"] == ["AWSCURRENT"]
    put = aws.json("secretsmanager", "put-secret-value", "--secret-id", out["ARN"],
                   "--secret-string", "second")  # fmt: skip
    assert put["VersionStages"] == ["AWSCURRENT"]
    sm = server.client("secretsmanager")
    assert sm.get_secret_value(SecretId=n)["SecretString"] == "second"
    text = aws.run("secretsmanager", "get-secret-value", "--secret-id", n,
                   "--version-stage", "AWSPREVIOUS", "--query", "SecretString",
                   "--output", "text")  # fmt: skip
    assert json.loads(text.stdout) == {"user": "admin", "password": "cli-secret"}
    d = aws.json("secretsmanager", "describe-secret", "--secret-id", n)
    assert d["Description"] == "from the cli"
    assert d["Tags"] == [{"Key": "team", "Value": "red"}]
    assert sorted(v for stages in d["VersionIdsToStages"].values() for v in stages) == [
        "AWSCURRENT",
        "AWSPREVIOUS",
    ]
    versions = aws.json("secretsmanager", "list-secret-version-ids", "--secret-id", n)
    assert len(versions["Versions"]) == 2


def test_cli_list_paginates_and_binary(aws: Aws, tmp_path: Path) -> None:
    p = f"clilist{secrets.token_hex(3)}"
    for i in range(5):
        aws.json("secretsmanager", "create-secret", "--name", f"{p}/s{i}", "--secret-string", "v")
    every = aws.json("secretsmanager", "list-secrets", "--filters", f"Key=name,Values={p}",
                     "--page-size", "2")  # fmt: skip
    assert sorted(s["Name"] for s in every["SecretList"]) == [f"{p}/s{i}" for i in range(5)]
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\x00\xffcli-binary")
    aws.json("secretsmanager", "create-secret", "--name", f"{p}/bin",
             "--secret-binary", f"fileb://{blob}")  # fmt: skip
    got = aws.json("secretsmanager", "get-secret-value", "--secret-id", f"{p}/bin")
    assert base64.b64decode(got["SecretBinary"]) == b"\x00\xffcli-binary"


def test_cli_password_delete_and_errors(aws: Aws, server: ServerProcess) -> None:
    pw = aws.json("secretsmanager", "get-random-password", "--password-length", "20",
                  "--exclude-punctuation")  # fmt: skip
    assert len(pw["RandomPassword"]) == 20 and pw["RandomPassword"].isalnum()
    n = f"cli/{secrets.token_hex(4)}"
    aws.json("secretsmanager", "create-secret", "--name", n, "--secret-string", "x")
    done = aws.run("secretsmanager", "create-secret", "--name", n, "--secret-string", "y")
    assert done.returncode == CLI_EXIT_SERVICE_ERROR
    assert "ResourceExistsException" in done.stderr
    out = aws.json("secretsmanager", "delete-secret", "--secret-id", n,
                   "--force-delete-without-recovery")  # fmt: skip
    assert out["Name"] == n and "DeletionDate" in out
    done = aws.run("secretsmanager", "get-secret-value", "--secret-id", n)
    assert done.returncode == CLI_EXIT_SERVICE_ERROR
    assert "ResourceNotFoundException" in done.stderr


# -- docs/compatibility/secretsmanager.md ---------------------------------------------------

PLANNED: set[str] = set()  # rotation and replication are served (issue 6)


def test_compatibility_matrix_matches_the_provider_and_the_tests() -> None:
    rows = check_matrix("secretsmanager", HANDLED, supported_proof="tests/e2e/test_secrets_")
    planned = {name: proof for name, status, proof in rows if status == "planned"}
    assert set(planned) == PLANNED
    assert all("issue 6" in proof for proof in planned.values())

"""Parameter Store through the real AWS CLI (v1, `python -m awscli`), on both backends.

put-parameter, get-parameter (with --with-decryption and selectors),
get-parameters-by-path (the CLI's own paginator over NextToken),
label-parameter-version, get-parameter-history and delete-parameter, each
checked against boto3; and an error the service answers reaches the CLI with
its code.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from garrison.services.ssm.provider import HANDLED
from tests.conftest import ServerProcess
from tests.e2e.helpers import Aws
from tests.e2e.helpers import aws as aws  # the fixture

CLI_EXIT_SERVICE_ERROR = 255


def test_cli_put_get_and_secure_strings(aws: Aws, server: ServerProcess) -> None:
    base = f"/cli-{secrets.token_hex(4)}"
    out = aws.json("ssm", "put-parameter", "--name", f"{base}/url", "--value", "db.example:5432",
                   "--type", "String", "--description", "from the cli")  # fmt: skip
    assert out == {"Version": 1, "Tier": "Standard"}
    aws.json("ssm", "put-parameter", "--name", f"{base}/pw", "--value", "cli-secret",
             "--type", "SecureString")  # fmt: skip
    got = aws.json("ssm", "get-parameter", "--name", f"{base}/pw", "--with-decryption")
    assert got["Parameter"]["Value"] == "cli-secret"
    hidden = aws.json("ssm", "get-parameter", "--name", f"{base}/pw")["Parameter"]["Value"]
    assert hidden != "cli-secret"
    ssm = server.client("ssm")
    assert ssm.get_parameter(Name=f"{base}/url")["Parameter"]["Value"] == "db.example:5432"
    text = aws.run("ssm", "get-parameter", "--name", f"{base}/url",
                   "--query", "Parameter.Value", "--output", "text")  # fmt: skip
    assert text.stdout.strip() == "db.example:5432"


def test_cli_by_path_paginates(aws: Aws) -> None:
    base = f"/cli-tree-{secrets.token_hex(4)}"
    names = [f"{base}/n{i}" for i in range(5)] + [f"{base}/deep/x"]
    for n in names:
        aws.json("ssm", "put-parameter", "--name", n, "--value", n, "--type", "String")
    # the CLI pages with NextToken itself (--page-size sets MaxResults)
    every = aws.json("ssm", "get-parameters-by-path", "--path", base, "--recursive",
                     "--page-size", "2")  # fmt: skip
    assert sorted(p["Name"] for p in every["Parameters"]) == sorted(names)
    one = aws.json("ssm", "get-parameters-by-path", "--path", base)
    assert sorted(p["Name"] for p in one["Parameters"]) == sorted(names[:5])


def test_cli_labels_history_and_errors(aws: Aws, server: ServerProcess) -> None:
    p = f"/cli-label-{secrets.token_hex(4)}"
    aws.json("ssm", "put-parameter", "--name", p, "--value", "1", "--type", "String")
    aws.json("ssm", "put-parameter", "--name", p, "--value", "2", "--overwrite")
    out = aws.json("ssm", "label-parameter-version", "--name", p, "--parameter-version", "1",
                   "--labels", "stable", "9bad")  # fmt: skip
    assert out == {"InvalidLabels": ["9bad"], "ParameterVersion": 1}
    got = aws.json("ssm", "get-parameter", "--name", f"{p}:stable")["Parameter"]
    assert (got["Value"], got["Selector"]) == ("1", ":stable")
    history = aws.json("ssm", "get-parameter-history", "--name", p)["Parameters"]
    assert [(h["Version"], h["Labels"]) for h in history] == [(1, ["stable"]), (2, [])]
    done = aws.run("ssm", "put-parameter", "--name", p, "--value", "3", "--type", "String")
    assert done.returncode == CLI_EXIT_SERVICE_ERROR
    assert "ParameterAlreadyExists" in done.stderr
    aws.json("ssm", "delete-parameter", "--name", p)
    assert server.client("ssm").get_parameters(Names=[p])["InvalidParameters"] == [p]


# -- docs/compatibility/ssm.md ------------------------------------------------------------

MATRIX = Path(__file__).resolve().parents[2] / "docs" / "compatibility" / "ssm.md"
_ROW = re.compile(r"^\| (\w+) \| (supported|planned) \| ([^|]*) \|", re.MULTILINE)
_TEST_REF = re.compile(r"(tests/[\w/]+\.py)::(test_\w+)")
PARAMETER_STORE = {
    "AddTagsToResource", "DeleteParameter", "DeleteParameters", "DeleteResourcePolicy",
    "DescribeParameters", "GetParameter", "GetParameterHistory", "GetParameters",
    "GetParametersByPath", "GetResourcePolicies", "LabelParameterVersion",
    "ListTagsForResource", "PutParameter", "PutResourcePolicy", "RemoveTagsFromResource",
    "UnlabelParameterVersion",
}  # fmt: skip


def test_compatibility_matrix_matches_the_provider_and_the_tests() -> None:
    text = MATRIX.read_text()
    rows = _ROW.findall(text)
    names = [n for n, _, _ in rows]
    model = botocore.session.get_session().get_service_model("ssm")
    assert set(model.operation_names) >= PARAMETER_STORE
    assert sorted(names) == sorted(PARAMETER_STORE)
    assert {n for n, status, _ in rows if status == "supported"} == set(HANDLED)
    root = MATRIX.parents[2]
    for path, test in set(_TEST_REF.findall(text)):
        source = (root / path).read_text()
        assert re.search(rf"^def {test}\(", source, re.MULTILINE), f"{path}::{test}"


def test_planned_operations_are_refused_by_name(server: ServerProcess) -> None:
    ssm = server.client("ssm")
    # every Parameter Store operation is served: the rest of Systems Manager is refused
    for op, request in (
        ("ListDocuments", {}),
        ("DescribeInstanceInformation", {}),
        ("GetOpsItem", {"OpsItemId": "oi-0123456789ab"}),
    ):
        with pytest.raises(ClientError) as exc:
            getattr(ssm, xform_name(op))(**request)
        error = exc.value.response["Error"]
        assert (error["Code"], error["Message"]) == (
            "UnsupportedOperationException",
            f"{op} is not supported by this Garrison release yet.",
        )

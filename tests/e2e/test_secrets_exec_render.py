"""`garrison exec` and `garrison render` with Secrets Manager references (issue 6).

Secrets are made with boto3; the commands run as `python -m garrison ...` child
processes that find the server as any AWS client does, exactly as in
test_ssm_exec_render.py (whose environment and child helpers are reused). Values must
reach the child's environment or stdout and nothing else: not stderr, not a file.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess
from tests.e2e.helpers import iam_user, name
from tests.e2e.test_ssm_exec_render import CHECK, base_env, garrison

PASSWORD = "pw-never-printed-7f3a"
OLD_PASSWORD = "old-pw-never-printed-91c2"
CREDENTIALS = {
    "engine": "postgres",
    "host": "db.internal",
    "port": 5432,
    "username": "app",
    "password": PASSWORD,
    "ssl": True,
    "options": {"a": 1, "ü": "é"},
}


@pytest.fixture
def sm(server: ServerProcess) -> Any:
    return server.client("secretsmanager")


@pytest.fixture
def env(server: ServerProcess, tmp_path: Path) -> dict[str, str]:
    return base_env(server, tmp_path)


def fill(text: str, **names: str) -> str:
    """`text` with each `{NAME}` replaced (not str.format: `{{...}}` must stay as written)."""
    for key, value in names.items():
        text = text.replace("{" + key + "}", value)
    return text


def make_db_secret(sm: Any) -> tuple[str, str, str, str]:
    """A JSON secret whose previous version holds OLD_PASSWORD: (name, arn, old, new id)."""
    secret = "apps/" + name("db")
    old_id, new_id = str(uuid.uuid4()), str(uuid.uuid4())
    old = {**CREDENTIALS, "password": OLD_PASSWORD}
    arn = sm.create_secret(Name=secret, SecretString=json.dumps(old), ClientRequestToken=old_id)[
        "ARN"
    ]
    sm.put_secret_value(
        SecretId=secret, SecretString=json.dumps(CREDENTIALS), ClientRequestToken=new_id
    )
    return secret, arn, old_id, new_id


def test_exec_sets_variables_from_secrets_and_their_json_keys(
    sm: Any, server: ServerProcess, env: dict[str, str], tmp_path: Path
) -> None:
    secret, arn, old_id, _ = make_db_secret(sm)
    plain = "plain/" + name("token")
    sm.create_secret(Name=plain, SecretString="tok:with:colons")
    ssm = server.client("ssm")
    parameter = "/" + name("mixed") + "/host"
    ssm.put_parameter(Name=parameter, Value="from-ssm", Type="String")
    expected = {
        "DB_USER": "app",
        "DB_PASSWORD": PASSWORD,
        "DB_PORT": "5432",  # a JSON number as its JSON text
        "DB_SSL": "true",
        "DB_OPTIONS": '{"a":1,"ü":"é"}',  # compact JSON, not ASCII-escaped
        "DB_OLD_PASSWORD": OLD_PASSWORD,
        "DB_FIRST": json.dumps({**CREDENTIALS, "password": OLD_PASSWORD}),
        "WHOLE": json.dumps(CREDENTIALS),
        "BY_ARN": "app",
        "BY_PARTIAL_ARN": PASSWORD,
        "TOKEN": "tok:with:colons",
        "HOST": "from-ssm",
    }
    env["EXPECTED"] = json.dumps(expected)
    done = garrison(
        env,
        "exec",
        "--env", f"DB_USER=secretsmanager:{secret}:username",
        "--env", f"DB_PASSWORD=secretsmanager:{secret}:password",
        "--env", f"DB_PORT=secretsmanager:{secret}:port",
        "--env", f"DB_SSL=secretsmanager:{secret}:ssl",
        "--env", f"DB_OPTIONS=secretsmanager:{secret}:options",
        "--env", f"DB_OLD_PASSWORD=secretsmanager:{secret}:password:AWSPREVIOUS",
        "--env", f"DB_FIRST=secretsmanager:{secret}:::{old_id}",
        "--env", f"WHOLE=secretsmanager:{secret}",
        "--env", f"BY_ARN=secretsmanager:{arn}:username",
        "--env", f"BY_PARTIAL_ARN=secretsmanager:{arn[:-7]}:password",
        "--env", f"TOKEN=secretsmanager:{plain}",
        "--env", f"HOST=ssm:{parameter}",
        *CHECK,
    )  # fmt: skip
    assert (done.returncode, done.stdout.strip()) == (0, "child ok"), done.stderr
    assert PASSWORD not in done.stderr and OLD_PASSWORD not in done.stderr
    assert list((tmp_path / "tmp").iterdir()) == []  # nothing written to a temporary file


@pytest.mark.parametrize(
    ("binding", "complaint"),
    [
        ("secretsmanager:{plain}:password", "is not a JSON object, so it has no key 'password'"),
        ("secretsmanager:{array}:password", "is not a JSON object, so it has no key 'password'"),
        ("secretsmanager:{secret}:passwd", "the secret's JSON has no key 'passwd'"),
        ("secretsmanager:{binary}", "is a SecretBinary; only SecretString"),
        ("secretsmanager:apps/absent-{plain}", "ResourceNotFoundException"),
        ("secretsmanager:{secret}:password:NOSUCHSTAGE", "ResourceNotFoundException"),
        ("secretsmanager:{secret}:::" + "0" * 32, "ResourceNotFoundException"),
        ("secretsmanager:{deleted}", "InvalidRequestException"),
    ],
)
def test_exec_refuses_an_unreadable_secret_and_runs_nothing(
    sm: Any, env: dict[str, str], tmp_path: Path, binding: str, complaint: str
) -> None:
    secret, _, _, _ = make_db_secret(sm)
    plain = "plain/" + name("notjson")
    sm.create_secret(Name=plain, SecretString=PASSWORD)
    array = "plain/" + name("array")
    sm.create_secret(Name=array, SecretString=json.dumps([PASSWORD]))
    binary = "bin/" + name("blob")
    sm.create_secret(Name=binary, SecretBinary=PASSWORD.encode())
    deleted = "gone/" + name("pending")
    sm.create_secret(Name=deleted, SecretString=PASSWORD)
    sm.delete_secret(SecretId=deleted, RecoveryWindowInDays=7)
    reference = fill(
        binding, secret=secret, plain=plain, array=array, binary=binary, deleted=deleted
    )
    marker = tmp_path / "ran"
    done = garrison(
        env,
        "exec",
        "--env", f"GOOD=secretsmanager:{secret}:password",  # read first, then dropped
        "--env", f"BAD={reference}",
        "--", "sh", "-c", f"touch {marker}",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert not marker.exists()  # the command never started
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith(f"garrison exec: {reference}: ")
    assert complaint in line
    assert PASSWORD not in done.stderr and OLD_PASSWORD not in done.stderr
    assert "Traceback" not in done.stderr


def test_exec_refuses_a_malformed_secret_reference_before_any_call(
    env: dict[str, str],
) -> None:
    env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"  # nothing listens: no call may be made
    done = garrison(
        env, "exec", "--env", "X=secretsmanager:a:k:AWSCURRENT:" + "1" * 32, "--", "true"
    )
    assert done.returncode == 1
    assert "not both" in done.stderr and "Could not connect" not in done.stderr


def test_the_endpoint_comes_from_the_secrets_manager_variable_first(
    sm: Any, server: ServerProcess, env: dict[str, str]
) -> None:
    secret = "ep/" + name("endpoint")
    sm.create_secret(Name=secret, SecretString="from-sm-endpoint")
    env.update(
        AWS_ENDPOINT_URL="http://127.0.0.1:9",  # nothing listens: must not be used
        AWS_ENDPOINT_URL_SECRETS_MANAGER=server.endpoint,
        EXPECTED=json.dumps({"X": "from-sm-endpoint"}),
    )
    done = garrison(env, "exec", "--env", f"X=secretsmanager:{secret}", *CHECK)
    assert (done.returncode, done.stdout.strip()) == (0, "child ok"), done.stderr


def test_render_resolves_every_cloudformation_secretsmanager_form(
    sm: Any, server: ServerProcess, env: dict[str, str], tmp_path: Path
) -> None:
    secret, arn, old_id, new_id = make_db_secret(sm)
    ssm = server.client("ssm")
    parameter = "/" + name("render") + "/host"
    ssm.put_parameter(Name=parameter, Value="db.example", Type="String")
    template = tmp_path / "template.yaml"
    template.write_text(
        "# ünïcode stays\n"
        f"user: {{{{resolve:secretsmanager:{secret}:SecretString:username}}}}\n"
        f"pass: {{{{resolve:secretsmanager:{secret}::password}}}}\n"
        f"port: {{{{resolve:secretsmanager:{secret}:SecretString:port}}}}\n"
        f"old: {{{{resolve:secretsmanager:{secret}:SecretString:password:AWSPREVIOUS}}}}\n"
        f"v1: {{{{resolve:secretsmanager:{secret}:SecretString:password::{old_id}}}}}\n"
        f"v2: {{{{resolve:secretsmanager:{secret}::password::{new_id}}}}}\n"
        f"arn: {{{{resolve:secretsmanager:{arn}:SecretString:username}}}}\n"
        f"whole: {{{{resolve:secretsmanager:{secret}}}}}\n"
        f"whole-prev: {{{{resolve:secretsmanager:{secret}:SecretString::AWSPREVIOUS}}}}\n"
        f"again: {{{{resolve:secretsmanager:{secret}::password}}}}\n"
        f"host: {{{{resolve:ssm:{parameter}}}}}\n",
        encoding="utf-8",
    )
    done = garrison(env, "render", str(template))
    assert done.returncode == 0, done.stderr
    old_whole = json.dumps({**CREDENTIALS, "password": OLD_PASSWORD})
    assert done.stdout == (
        "# ünïcode stays\n"
        "user: app\n"
        f"pass: {PASSWORD}\n"
        "port: 5432\n"
        f"old: {OLD_PASSWORD}\n"
        f"v1: {OLD_PASSWORD}\n"
        f"v2: {PASSWORD}\n"
        "arn: app\n"
        f"whole: {json.dumps(CREDENTIALS)}\n"
        f"whole-prev: {old_whole}\n"
        f"again: {PASSWORD}\n"
        "host: db.example\n"
    )
    assert done.stderr == ""
    piped = garrison(env, "render", "-", input=template.read_text(encoding="utf-8"))
    assert (piped.returncode, piped.stdout) == (0, done.stdout)


@pytest.mark.parametrize(
    ("bad", "complaint"),
    [
        ("{{resolve:secretsmanager:{plain}:SecretString:password}}", "is not a JSON object"),
        ("{{resolve:secretsmanager:{secret}:SecretString:nokey}}", "has no key 'nokey'"),
        ("{{resolve:secretsmanager:{binary}}}", "is a SecretBinary"),
        ("{{resolve:secretsmanager:{secret}:SecretBinary}}", "SecretBinary is not supported"),
        ("{{resolve:secretsmanager:{secret}:SecretString::AWSPENDING}}", "ResourceNotFound"),
        (
            "{{resolve:secretsmanager:{secret}:SecretString::AWSCURRENT:" + "a" * 32 + "}}",
            "not both",
        ),
        ("{{resolve:secretsmanager:{deleted}}}", "InvalidRequestException"),
    ],
)
def test_render_fails_on_a_bad_secret_reference_with_no_partial_output(
    sm: Any, env: dict[str, str], tmp_path: Path, bad: str, complaint: str
) -> None:
    secret, _, _, _ = make_db_secret(sm)
    plain = "plain/" + name("notjson")
    sm.create_secret(Name=plain, SecretString=PASSWORD)
    binary = "bin/" + name("blob")
    sm.create_secret(Name=binary, SecretBinary=PASSWORD.encode())
    deleted = "gone/" + name("pending")
    sm.create_secret(Name=deleted, SecretString=PASSWORD)
    sm.delete_secret(SecretId=deleted, RecoveryWindowInDays=7)
    reference = fill(bad, secret=secret, plain=plain, binary=binary, deleted=deleted)
    template = tmp_path / "bad.txt"
    # a good reference first: its value must not be written either
    template.write_text(f"a: {{{{resolve:secretsmanager:{secret}::password}}}}\nb: {reference}\n")
    done = garrison(env, "render", str(template))
    assert done.returncode == 1
    assert done.stdout == ""
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith(f"garrison render: {reference}: ")
    assert complaint in line
    assert PASSWORD not in done.stderr and "Traceback" not in done.stderr


def test_a_user_without_get_secret_value_is_refused_cleanly(
    sm: Any, server: ServerProcess, env: dict[str, str], tmp_path: Path
) -> None:
    secret, _, _, _ = make_db_secret(sm)
    only_describe = {"Effect": "Allow", "Action": "secretsmanager:DescribeSecret", "Resource": "*"}
    _, key = iam_user(server.client("iam"), "no-sm-read", only_describe)
    env.update(AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"])
    template = tmp_path / "t.txt"
    reference = f"{{{{resolve:secretsmanager:{secret}::password}}}}"
    template.write_text(f"pw={reference}\n")
    done = garrison(env, "render", str(template))
    assert done.returncode == 1 and done.stdout == ""
    assert f"{reference}: AccessDeniedException" in done.stderr
    done = garrison(env, "exec", "--env", f"PW=secretsmanager:{secret}:password", "--", "true")
    assert done.returncode == 1
    assert f"secretsmanager:{secret}:password: AccessDeniedException" in done.stderr
    assert PASSWORD not in done.stderr and "Traceback" not in done.stderr

"""`garrison exec` and `garrison render` against a real server, as a user runs them.

Parameters are put with boto3; the commands run as `python -m garrison ...` child
processes that find the server the way any AWS client does (environment variables or
a profile in the AWS config files). `exec`'s child is a small Python script that checks
its own environment and exits 0 only when every variable is as expected.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, ServerProcess
from tests.e2e.helpers import iam_user, name

# The child: compares its environment with EXPECTED (JSON) and UNSET (JSON list).
CHECK_ENV = """
import json, os, sys
expected = json.loads(os.environ["EXPECTED"])
wrong = sorted(k for k, v in expected.items() if os.environ.get(k) != v)
present = sorted(k for k in json.loads(os.environ.get("UNSET", "[]")) if k in os.environ)
if wrong or present:
    print("wrong:", wrong, "present:", present)
    sys.exit(3)
print("child ok")
"""

SECRET = "s3cr3t-value-never-printed"


def base_env(server: ServerProcess, tmp_path: Path) -> dict[str, str]:
    """A clean environment: the server and root credentials, no stray AWS settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GARRISON_"))}
    env.update(
        AWS_ENDPOINT_URL=server.endpoint,
        AWS_ACCESS_KEY_ID=ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
        AWS_REGION=REGION,
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_MAX_ATTEMPTS="1",
        TMPDIR=str(tmp_path / "tmp"),
    )
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return env


def garrison(
    env: dict[str, str], *args: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "garrison", *args],
        capture_output=True,
        text=True,
        env=env,
        input=input,
        timeout=60,
    )


# `-- CMD`: the child that checks the environment EXPECTED and UNSET describe
CHECK = ["--", sys.executable, "-c", CHECK_ENV]


@pytest.fixture
def ssm(server: ServerProcess) -> Any:
    return server.client("ssm")


@pytest.fixture
def env(server: ServerProcess, tmp_path: Path) -> dict[str, str]:
    return base_env(server, tmp_path)


def test_exec_gives_the_child_every_parameter_under_the_path(
    ssm: Any, env: dict[str, str], tmp_path: Path
) -> None:
    root = "/" + name("exec") + "/prod/app"
    ssm.put_parameter(Name=f"{root}/db/password", Value=SECRET, Type="SecureString")
    ssm.put_parameter(Name=f"{root}/db/host", Value="db.internal", Type="String")
    ssm.put_parameter(Name=f"{root}/allowed.hosts", Value="a,b,c", Type="StringList")
    ssm.put_parameter(Name=f"{root}/deep/er/still-deeper/key", Value="deep", Type="String")
    ssm.put_parameter(Name=f"{root}-sibling/not_mine", Value="no", Type="String")
    expected = {
        "DB_PASSWORD": SECRET,
        "DB_HOST": "db.internal",
        "ALLOWED_HOSTS": "a,b,c",
        "DEEP_ER_STILL_DEEPER_KEY": "deep",
        "INHERITED": "kept",
    }
    # more than one page of GetParametersByPath (10 per page by default)
    for n in range(12):
        ssm.put_parameter(Name=f"{root}/many/p{n:02}", Value=f"v{n}", Type="String")
        expected[f"MANY_P{n:02}"] = f"v{n}"
    env.update(EXPECTED=json.dumps(expected), UNSET=json.dumps(["NOT_MINE"]), INHERITED="kept")
    done = garrison(env, "exec", "--path", f"{root}/", *CHECK)
    assert (done.returncode, done.stdout.strip()) == (0, "child ok"), done.stderr
    assert SECRET not in done.stderr
    assert list((tmp_path / "tmp").iterdir()) == []  # nothing written to a temporary file


def test_exec_explicit_variables_take_versions_and_labels(ssm: Any, env: dict[str, str]) -> None:
    prefix = "/" + name("explicit")
    ssm.put_parameter(Name=f"{prefix}/colour", Value="red", Type="String")
    ssm.put_parameter(Name=f"{prefix}/colour", Value="green", Type="String", Overwrite=True)
    ssm.label_parameter_version(Name=f"{prefix}/colour", ParameterVersion=1, Labels=["old"])
    ssm.put_parameter(Name=f"{prefix}/pw", Value=SECRET, Type="SecureString")
    expected = {
        "NOW": "green",
        "FIRST": "red",
        "LABELLED": "red",
        "PW": SECRET,
        "pw_too": SECRET,
    }
    env["EXPECTED"] = json.dumps(expected)
    done = garrison(
        env,
        "exec",
        "--env", f"NOW=ssm:{prefix}/colour",
        "--env", f"FIRST=ssm:{prefix}/colour:1",
        "--env", f"LABELLED=ssm:{prefix}/colour:old",
        "--env", f"PW=ssm:{prefix}/pw",
        "--env", f"pw_too=ssm-secure:{prefix}/pw",
        *CHECK,
    )  # fmt: skip
    assert (done.returncode, done.stdout.strip()) == (0, "child ok"), done.stderr


def test_exec_replaces_itself_with_the_child_and_keeps_its_exit_code(
    ssm: Any, env: dict[str, str]
) -> None:
    prefix = "/" + name("code")
    ssm.put_parameter(Name=f"{prefix}/x", Value="1", Type="String")
    script = (
        "import os, resource, sys; print(os.getpid(), resource.getrlimit(resource.RLIMIT_CORE)); "
        "sys.exit(42)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "garrison", "exec", "--path", prefix, "--"]
        + [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 42, err
    pid, limit = out.split(" ", 1)
    assert int(pid) == proc.pid  # the same process: exec, not a grandchild
    # the child gets the core-dump limit garrison was given, not the 0 it used itself
    assert limit.strip() == str(resource.getrlimit(resource.RLIMIT_CORE))


@pytest.mark.parametrize(
    ("names", "complaint"),
    [
        (["db-host", "db/host"], "both set DB_HOST"),
        (["db.host", "DB_HOST"], "both set DB_HOST"),
        (["1st/key"], "becomes '1ST_KEY', which is not a valid environment variable name"),
    ],
)
def test_exec_refuses_ambiguous_or_invalid_names_before_running_anything(
    ssm: Any, env: dict[str, str], names: list[str], complaint: str
) -> None:
    prefix = "/" + name("clash")
    for leaf in names:
        ssm.put_parameter(Name=f"{prefix}/{leaf}", Value=SECRET, Type="SecureString")
    done = garrison(env, "exec", "--path", prefix, "--", sys.executable, "-c", "print('ran')")
    assert done.returncode == 1
    assert done.stdout == ""  # the command never started
    assert complaint in done.stderr and done.stderr.startswith("garrison exec: ")
    assert len(done.stderr.strip().splitlines()) == 1
    assert SECRET not in done.stderr


def test_exec_refuses_an_explicit_variable_that_a_path_also_sets(
    ssm: Any, env: dict[str, str]
) -> None:
    prefix = "/" + name("both")
    ssm.put_parameter(Name=f"{prefix}/token", Value="a", Type="String")
    done = garrison(
        env, "exec", "--path", prefix, "--env", f"TOKEN=ssm:{prefix}/token", "--", "true"
    )
    assert done.returncode == 1 and "both set TOKEN" in done.stderr
    assert f"{prefix}/token" in done.stderr


@pytest.mark.parametrize(
    ("args", "code", "complaint"),
    [
        (["--env", "X=ssm:/exec-missing/nope", "--", "true"], 1, "ParameterNotFound"),
        (["--env", "X=ssm:/exec-missing/nope"], 1, "no command given"),
        (["--", "true"], 1, "nothing to set"),
        (["--env", "1X=ssm:/a", "--", "true"], 1, "not a valid environment variable name"),
        (["--env", "X=vault:/a", "--", "true"], 1, "unsupported reference scheme 'vault'"),
        (["--path", "relative/path", "--", "true"], 1, "a path starts with '/'"),
    ],
)
def test_exec_bad_input_fails_with_one_clear_line(
    env: dict[str, str], args: list[str], code: int, complaint: str
) -> None:
    done = garrison(env, "exec", *args)
    assert done.returncode == code
    assert complaint in done.stderr and done.stdout == ""
    assert "Traceback" not in done.stderr


def test_exec_of_a_missing_command_exits_127(ssm: Any, env: dict[str, str]) -> None:
    prefix = "/" + name("nocmd")
    ssm.put_parameter(Name=f"{prefix}/x", Value="1", Type="String")
    done = garrison(env, "exec", "--path", prefix, "--", "no-such-command-garrison")
    assert done.returncode == 127
    assert "no-such-command-garrison: command not found" in done.stderr


def test_the_endpoint_comes_from_the_service_specific_variable_first(
    ssm: Any, server: ServerProcess, env: dict[str, str]
) -> None:
    prefix = "/" + name("endpoint")
    ssm.put_parameter(Name=f"{prefix}/x", Value="from-ssm-endpoint", Type="String")
    env.update(
        AWS_ENDPOINT_URL="http://127.0.0.1:9",  # nothing listens: must not be used
        AWS_ENDPOINT_URL_SSM=server.endpoint,
        EXPECTED=json.dumps({"X": "from-ssm-endpoint"}),
    )
    done = garrison(env, "exec", "--path", prefix, *CHECK)
    assert (done.returncode, done.stdout.strip()) == (0, "child ok"), done.stderr
    # and without it, the dead global endpoint is a clear error, not a traceback
    del env["AWS_ENDPOINT_URL_SSM"]
    done = garrison(env, "exec", "--path", prefix, "--", "true")
    assert done.returncode == 1 and "Could not connect" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_profile_gives_endpoint_region_and_credentials(
    ssm: Any, server: ServerProcess, env: dict[str, str], tmp_path: Path
) -> None:
    prefix = "/" + name("profile")
    ssm.put_parameter(Name=f"{prefix}/x", Value="via-profile", Type="String")
    config = tmp_path / "config"
    config.write_text(f"[profile garrison]\nregion = {REGION}\nendpoint_url = {server.endpoint}\n")
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[garrison]\naws_access_key_id = {ACCESS_KEY_ID}\n"
        f"aws_secret_access_key = {SECRET_ACCESS_KEY}\n"
    )
    for var in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        del env[var]
    env.update(
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(credentials),
        EXPECTED=json.dumps({"X": "via-profile"}),
    )
    done = garrison(env, "exec", "--profile", "garrison", "--path", prefix, *CHECK)
    assert (done.returncode, done.stdout.strip()) == (0, "child ok"), done.stderr
    env["AWS_PROFILE"] = "garrison"
    template = tmp_path / "t.txt"
    template.write_text(f"x={{{{resolve:ssm:{prefix}/x}}}}")
    done = garrison(env, "render", str(template))
    assert (done.returncode, done.stdout) == (0, "x=via-profile"), done.stderr
    done = garrison(env, "render", "--profile", "no-such-profile", str(template))
    assert done.returncode == 1 and "no-such-profile" in done.stderr and done.stdout == ""


def test_render_resolves_all_three_forms(ssm: Any, env: dict[str, str], tmp_path: Path) -> None:
    prefix = "/" + name("render")
    ssm.put_parameter(Name=f"{prefix}/host", Value="old.example", Type="String")
    ssm.put_parameter(Name=f"{prefix}/host", Value="db.example", Type="String", Overwrite=True)
    ssm.put_parameter(Name=f"{prefix}/zones", Value="a,b", Type="StringList")
    ssm.put_parameter(Name=f"{prefix}/pw", Value="first-secret", Type="SecureString")
    ssm.put_parameter(Name=f"{prefix}/pw", Value=SECRET, Type="SecureString", Overwrite=True)
    template = tmp_path / "app.yaml"
    template.write_text(
        "# rendered: ünïcode stays\n"
        f"host: {{{{resolve:ssm:{prefix}/host}}}}\n"
        f"first_host: {{{{resolve:ssm:{prefix}/host:1}}}}\n"
        f"zones: {{{{resolve:ssm:{prefix}/zones}}}}\n"
        f"password: {{{{resolve:ssm-secure:{prefix}/pw:2}}}}\n"
        f"old_password: {{{{resolve:ssm-secure:{prefix}/pw:1}}}}\n"
        f"latest: {{{{resolve:ssm-secure:{prefix}/pw}}}} and {{{{resolve:ssm:{prefix}/host}}}}\n"
        "untouched: {{ not.a.reference }}\n",
        encoding="utf-8",
    )
    done = garrison(env, "render", str(template))
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "# rendered: ünïcode stays\n"
        "host: db.example\n"
        "first_host: old.example\n"
        "zones: a,b\n"
        f"password: {SECRET}\n"
        "old_password: first-secret\n"
        f"latest: {SECRET} and db.example\n"
        "untouched: {{ not.a.reference }}\n"
    )
    assert done.stderr == ""
    piped = garrison(env, "render", "-", input=template.read_text(encoding="utf-8"))
    assert piped.stdout == done.stdout


@pytest.mark.parametrize(
    ("bad", "complaint"),
    [
        ("{{resolve:ssm:/render-missing/nope}}", "ParameterNotFound"),
        ("{{resolve:ssm:{prefix}/host:9}}", "ParameterVersionNotFound"),
        ("{{resolve:ssm:{prefix}/pw}}", "is a SecureString; reference it with ssm-secure:"),
        ("{{resolve:ssm-secure:{prefix}/host}}", "is a String, not a SecureString"),
        ("{{resolve:ssm:{prefix}/host:old}}", "malformed ssm reference"),
        ("{{resolve:vault:db}}", "unsupported reference scheme 'vault'"),
        ("{{resolve:ssm:/bad name}}", "malformed ssm reference"),
    ],
)
def test_render_fails_on_an_unknown_or_forbidden_reference_with_no_partial_output(
    ssm: Any, env: dict[str, str], tmp_path: Path, bad: str, complaint: str
) -> None:
    prefix = "/" + name("renderbad")
    ssm.put_parameter(Name=f"{prefix}/host", Value="db.example", Type="String")
    ssm.put_parameter(Name=f"{prefix}/pw", Value=SECRET, Type="SecureString")
    reference = bad.replace("{prefix}", prefix)
    template = tmp_path / "bad.txt"
    # good references first: their values must not be written either
    template.write_text(
        f"a: {{{{resolve:ssm:{prefix}/host}}}}\n"
        f"b: {{{{resolve:ssm-secure:{prefix}/pw}}}}\n"
        f"c: {reference}\n"
    )
    done = garrison(env, "render", str(template))
    assert done.returncode == 1
    assert done.stdout == ""
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith("garrison render: ")
    assert complaint in line
    if not complaint.startswith(("malformed", "unsupported")):
        assert reference in line  # the failing reference is named
    assert SECRET not in done.stderr


def test_render_of_a_missing_file_is_a_clear_error(env: dict[str, str], tmp_path: Path) -> None:
    done = garrison(env, "render", str(tmp_path / "absent.yaml"))
    assert done.returncode == 1 and done.stdout == ""
    assert "absent.yaml: No such file or directory" in done.stderr


def test_a_user_without_get_parameter_is_refused_cleanly(
    ssm: Any, server: ServerProcess, env: dict[str, str], tmp_path: Path
) -> None:
    prefix = "/" + name("denied")
    ssm.put_parameter(Name=f"{prefix}/pw", Value=SECRET, Type="SecureString")
    only_describe = {"Effect": "Allow", "Action": "ssm:DescribeParameters", "Resource": "*"}
    _, key = iam_user(server.client("iam"), "no-ssm-read", only_describe)
    env.update(AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"])
    template = tmp_path / "t.txt"
    reference = f"{{{{resolve:ssm-secure:{prefix}/pw}}}}"
    template.write_text(f"pw={reference}\n")
    done = garrison(env, "render", str(template))
    assert done.returncode == 1 and done.stdout == ""
    assert f"{reference}: AccessDeniedException" in done.stderr
    assert SECRET not in done.stderr and "Traceback" not in done.stderr
    done = garrison(env, "exec", "--env", f"PW=ssm:{prefix}/pw", "--", "true")
    assert done.returncode == 1 and f"ssm:{prefix}/pw: AccessDeniedException" in done.stderr
    done = garrison(env, "exec", "--path", prefix, "--", "true")
    assert done.returncode == 1 and f"--path {prefix}: AccessDeniedException" in done.stderr


def test_the_same_path_given_twice_is_read_once(ssm: Any, env: dict[str, str]) -> None:
    prefix = "/" + name("twice")
    ssm.put_parameter(Name=f"{prefix}/only", Value="once", Type="String")
    env["EXPECTED"] = json.dumps({"ONLY": "once"})
    done = garrison(env, "exec", "--path", prefix, "--path", f"{prefix}/", *CHECK)
    assert (done.returncode, done.stdout.strip()) == (0, "child ok"), done.stderr

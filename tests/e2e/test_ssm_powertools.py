"""A real client: aws-lambda-powertools' parameters utility against Garrison.

`SSMProvider` is given a boto3 client (or a session and a botocore config, the
other ways its API takes) pointed at the test server, on SQLite and PostgreSQL,
and reads what a Lambda function reads: single parameters, paths (one level and
recursive, across GetParametersByPath pages), SecureStrings decrypted under the
AWS managed key and under a customer key, StringLists, its `json`, `binary` and
`auto` transforms, and `get_parameters_by_name` (GetParameters in batches of
ten, GetParameter for the ones to decrypt, InvalidParameters as `_errors`).
Its cache is checked by counting the HTTP requests the client sends: a cached
read sends none, `force_fetch` and an expired `max_age` send one. The module
functions (`parameters.get_parameter`) are driven the way a function running in
Lambda drives them, with the endpoint and credentials from the environment.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import (
    GetParameterError,
    TransformParameterError,
)
from botocore.config import Config

from tests.conftest import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, ServerProcess


class Counted:
    """A boto3 SSM client for `server` that counts the requests it sends, by operation."""

    def __init__(self, server: ServerProcess) -> None:
        self.client = server.client("ssm")
        self.sent: list[str] = []
        self.client.meta.events.register("before-send.ssm.*", self._count)

    def _count(self, request: Any, **_: Any) -> None:
        self.sent.append(request.headers["X-Amz-Target"].decode().rsplit(".", 1)[1])

    def take(self) -> list[str]:
        sent, self.sent = self.sent, []
        return sent


@pytest.fixture
def counted(server: ServerProcess) -> Counted:
    return Counted(server)


@pytest.fixture
def provider(counted: Counted) -> SSMProvider:
    return SSMProvider(boto3_client=counted.client)


@pytest.fixture
def ssm(server: ServerProcess) -> Any:
    return server.client("ssm")


def root() -> str:
    return f"/pt-{secrets.token_hex(4)}"


# -- single parameters --------------------------------------------------------------------


def test_get_reads_a_string_and_a_selected_version(provider: SSMProvider, ssm: Any) -> None:
    name = root() + "/service/url"
    ssm.put_parameter(Name=name, Value="https://one.example", Type="String")
    ssm.put_parameter(Name=name, Value="https://two.example", Type="String", Overwrite=True)
    assert provider.get(name) == "https://two.example"
    # sdk_options reach GetParameter: a `name:version` selector
    assert provider.get(f"{name}:1") == "https://one.example"


def test_get_decrypts_a_securestring_under_the_aws_managed_key(
    provider: SSMProvider, ssm: Any
) -> None:
    name = root() + "/db/password"
    ssm.put_parameter(Name=name, Value="correct horse battery", Type="SecureString")
    assert provider.get(name, decrypt=True) == "correct horse battery"
    # without decryption the client gets the ciphertext, as from AWS (base64, not the value)
    blob = provider.get(name, force_fetch=True)
    assert isinstance(blob, str) and "correct horse" not in blob
    assert len(base64.b64decode(blob)) > len("correct horse battery")


def test_get_decrypts_a_securestring_under_a_customer_key(
    provider: SSMProvider, ssm: Any, server: ServerProcess
) -> None:
    key_id = server.client("kms").create_key(Description="powertools")["KeyMetadata"]["KeyId"]
    name = root() + "/api/token"
    ssm.put_parameter(Name=name, Value="tok-" + "x" * 40, Type="SecureString", KeyId=key_id)
    assert provider.get(name, decrypt=True) == "tok-" + "x" * 40


def test_set_writes_through_put_parameter(provider: SSMProvider, ssm: Any) -> None:
    name = root() + "/feature/flag"
    out = provider.set(name, "on", parameter_type="String", description="a flag")
    assert out["Version"] == 1
    out = provider.set(name, "off", overwrite=True)
    assert out["Version"] == 2
    got = ssm.get_parameter(Name=name)["Parameter"]
    assert (got["Value"], got["Version"]) == ("off", 2)
    secret = root() + "/secret"
    provider.set(secret, "s3cr3t", parameter_type="SecureString")
    assert provider.get(secret, decrypt=True) == "s3cr3t"


def test_transforms_parse_json_and_base64_values(provider: SSMProvider, ssm: Any) -> None:
    base = root()
    config = {"retries": 3, "hosts": ["a", "b"], "tls": True}
    ssm.put_parameter(Name=base + "/config", Value=json.dumps(config), Type="String")
    ssm.put_parameter(
        Name=base + "/blob",
        Value=base64.b64encode(b"\x00\x01binary\xff").decode(),
        Type="SecureString",
    )
    ssm.put_parameter(Name=base + "/broken", Value="{not json", Type="String")
    assert provider.get(base + "/config", transform="json") == config
    assert provider.get(base + "/blob", transform="binary", decrypt=True) == b"\x00\x01binary\xff"
    with pytest.raises(TransformParameterError):
        provider.get(base + "/broken", transform="json")


def test_a_missing_parameter_is_a_get_parameter_error(provider: SSMProvider) -> None:
    with pytest.raises(GetParameterError, match="ParameterNotFound"):
        provider.get(root() + "/nowhere")


# -- paths --------------------------------------------------------------------------------


def test_get_multiple_reads_one_level_and_recursively_across_pages(
    provider: SSMProvider, counted: Counted, ssm: Any
) -> None:
    base = root() + "/app"
    flat = {f"k{n:02d}": f"v{n}" for n in range(13)}  # more than one page of 10
    for key, value in flat.items():
        ssm.put_parameter(Name=f"{base}/{key}", Value=value, Type="String")
    ssm.put_parameter(Name=f"{base}/db/host", Value="db.internal", Type="String")
    ssm.put_parameter(Name=f"{base}/db/password", Value="pa55", Type="SecureString")
    ssm.put_parameter(Name=f"{base}/db/replica/host", Value="ro.internal", Type="String")
    ssm.put_parameter(Name=base + "-sibling/x", Value="not under the path", Type="String")
    counted.take()

    assert provider.get_multiple(base) == flat
    assert counted.take() == ["GetParametersByPath"] * 2  # the paginator followed NextToken

    # powertools' cache key is the path (and transform), not `recursive`: force a fetch
    everything = provider.get_multiple(base, recursive=True, decrypt=True, force_fetch=True)
    assert everything == {
        **flat,
        "db/host": "db.internal",
        "db/password": "pa55",
        "db/replica/host": "ro.internal",
    }
    # the SecureString without decryption is its ciphertext; the path's trailing "/" is allowed
    encrypted = provider.get_multiple(base + "/db/", recursive=True, force_fetch=True)
    assert set(encrypted) == {"host", "password", "replica/host"}
    assert encrypted["password"] != "pa55"


def test_get_multiple_transforms_by_suffix_with_auto(provider: SSMProvider, ssm: Any) -> None:
    base = root() + "/auto"
    ssm.put_parameter(Name=base + "/limits.json", Value='{"rps": 100}', Type="String")
    ssm.put_parameter(
        Name=base + "/cert.binary", Value=base64.b64encode(b"DER").decode(), Type="String"
    )
    ssm.put_parameter(Name=base + "/plain", Value="as is", Type="String")
    assert provider.get_multiple(base, transform="auto") == {
        "limits.json": {"rps": 100},
        "cert.binary": b"DER",
        "plain": "as is",
    }


def test_a_string_list_comes_back_comma_separated(provider: SSMProvider, ssm: Any) -> None:
    base = root()
    ssm.put_parameter(Name=base + "/zones", Value="a,b,c", Type="StringList")
    assert provider.get(base + "/zones") == "a,b,c"
    assert provider.get_multiple(base) == {"zones": "a,b,c"}


# -- get_parameters_by_name ---------------------------------------------------------------


def test_get_parameters_by_name_batches_and_decrypts(
    provider: SSMProvider, counted: Counted, ssm: Any
) -> None:
    base = root()
    plain = {f"{base}/p{n:02d}": f"value-{n}" for n in range(12)}  # two GetParameters batches
    for key, value in plain.items():
        ssm.put_parameter(Name=key, Value=value, Type="String")
    ssm.put_parameter(Name=base + "/json", Value='{"a": [1, 2]}', Type="String")
    ssm.put_parameter(Name=base + "/secret", Value="hidden", Type="SecureString")
    counted.take()

    wanted: dict[str, dict[str, Any]] = {key: {} for key in plain}
    wanted[base + "/json"] = {"transform": "json"}
    wanted[base + "/secret"] = {"decrypt": True}
    got = provider.get_parameters_by_name(wanted)
    assert got == {**plain, base + "/json": {"a": [1, 2]}, base + "/secret": "hidden"}
    sent = counted.take()
    assert sorted(sent) == ["GetParameter", "GetParameters", "GetParameters"]

    # all decrypted: GetParameters WithDecryption in batches
    everything = provider.get_parameters_by_name(
        {base + "/secret": {}, base + "/p00": {}}, decrypt=True, max_age=0
    )
    assert everything == {base + "/secret": "hidden", base + "/p00": "value-0"}


def test_get_parameters_by_name_reports_invalid_names_as_errors(
    provider: SSMProvider, ssm: Any
) -> None:
    base = root()
    ssm.put_parameter(Name=base + "/here", Value="present", Type="String")
    missing = base + "/missing"
    got = provider.get_parameters_by_name({base + "/here": {}, missing: {}}, raise_on_error=False)
    assert got == {base + "/here": "present", "_errors": [missing]}
    with pytest.raises(GetParameterError, match="missing"):
        provider.get_parameters_by_name({base + "/here": {}, missing: {}}, max_age=0)


# -- caching ------------------------------------------------------------------------------


def test_cached_values_send_no_request_until_forced_or_expired(
    provider: SSMProvider, counted: Counted, ssm: Any
) -> None:
    name = root() + "/cached"
    ssm.put_parameter(Name=name, Value="first", Type="SecureString")
    counted.take()
    assert provider.get(name, decrypt=True, max_age=60) == "first"
    assert counted.take() == ["GetParameter"]

    ssm.put_parameter(Name=name, Value="second", Type="SecureString", Overwrite=True)
    assert provider.get(name, decrypt=True, max_age=60) == "first"  # from the cache
    assert counted.take() == []
    # max_age is fixed when a value is stored: this one is kept for 1 s
    assert provider.get(name, decrypt=True, force_fetch=True, max_age=1) == "second"
    assert counted.take() == ["GetParameter"]

    ssm.put_parameter(Name=name, Value="third", Type="SecureString", Overwrite=True)
    assert provider.get(name, decrypt=True, max_age=1) == "second"  # still cached
    assert counted.take() == []
    time.sleep(1.2)
    assert provider.get(name, decrypt=True, max_age=1) == "third"  # expired: fetched again
    assert counted.take() == ["GetParameter"]


def test_get_multiple_is_cached_per_path(provider: SSMProvider, counted: Counted, ssm: Any) -> None:
    base = root()
    ssm.put_parameter(Name=base + "/a", Value="1", Type="String")
    counted.take()
    assert provider.get_multiple(base, max_age=60) == {"a": "1"}
    ssm.put_parameter(Name=base + "/b", Value="2", Type="String")
    assert provider.get_multiple(base, max_age=60) == {"a": "1"}
    assert counted.take() == ["GetParametersByPath"]
    provider.clear_cache()
    assert provider.get_multiple(base, max_age=60) == {"a": "1", "b": "2"}
    assert counted.take() == ["GetParametersByPath"]


# -- the other ways to configure it -------------------------------------------------------


def test_a_session_and_a_botocore_config_reach_the_server(
    server: ServerProcess, ssm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = root() + "/via/session"
    ssm.put_parameter(Name=name, Value="from a session", Type="SecureString")
    # the endpoint from the environment, as AWS_ENDPOINT_URL_SSM is read by botocore
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", server.endpoint)
    session = boto3.session.Session(
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        region_name=REGION,
    )
    config = Config(retries={"total_max_attempts": 1}, user_agent_extra="garrison-test")
    provider = SSMProvider(boto3_session=session, boto_config=config)
    assert provider.get(name, decrypt=True) == "from a session"


@pytest.fixture
def lambda_environment(server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The environment a function in Lambda has, with Garrison as the SSM endpoint."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_PARAMETERS_SSM_DECRYPT", "true")
    parameters.clear_caches()
    parameters.base.DEFAULT_PROVIDERS.clear()  # a new provider, from this environment
    yield
    parameters.base.DEFAULT_PROVIDERS.clear()


@pytest.mark.usefixtures("lambda_environment")
def test_module_functions_use_the_environment_as_in_lambda(ssm: Any) -> None:
    base = root() + "/fn"
    ssm.put_parameter(Name=base + "/db/password", Value="env-secret", Type="SecureString")
    ssm.put_parameter(Name=base + "/db/user", Value="app", Type="String")
    # POWERTOOLS_PARAMETERS_SSM_DECRYPT=true: decrypted without asking
    assert parameters.get_parameter(base + "/db/password") == "env-secret"
    assert parameters.get_parameters(base, recursive=True) == {
        "db/password": "env-secret",
        "db/user": "app",
    }
    got = parameters.get_parameters_by_name({base + "/db/user": {}, base + "/db/password": {}})
    assert got == {base + "/db/user": "app", base + "/db/password": "env-secret"}
    parameters.set_parameter(base + "/db/user", "app2", overwrite=True)
    assert parameters.get_parameter(base + "/db/user", force_fetch=True) == "app2"

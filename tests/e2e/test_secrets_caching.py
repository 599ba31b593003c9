"""AWS's Python caching client, aws-secretsmanager-caching, against Garrison.

`SecretCache` keeps DescribeSecret's VersionIdsToStages for a refresh interval and
each version's GetSecretValue answer for as long as the version exists: a read
while cached makes no request, and a changed AWSCURRENT is seen once the interval
has passed. Requests are counted with a botocore event hook on the client the cache
is given (every call the cache makes goes through it). The library's timer is
wall-clock (`randint(interval / 2, interval)` seconds), so these tests sleep a little
over `REFRESH` seconds where they wait for it.

A rotation is stood in for by what its steps do to the version stages (createSecret:
PutSecretValue with AWSPENDING; finishSecret: UpdateSecretVersionStage moving
AWSCURRENT) and by a plain PutSecretValue; one test also runs a real rotation, the
built-in `garrison-postgresql-single-user` rotator on a user of the machine's
PostgreSQL (which trusts loopback: password checks are test_secrets_rotation.py's
business; here it is the cache that must follow the rotation).
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections import Counter
from typing import Any

import boto3
import pytest
from aws_secretsmanager_caching import (
    InjectKeywordedSecretString,
    InjectSecretString,
    SecretCache,
    SecretCacheConfig,
)
from botocore.config import Config

from tests.conftest import (
    ACCESS_KEY_ID,
    ACCOUNT_ID,
    PG_ADMIN_URL,
    REGION,
    SECRET_ACCESS_KEY,
    ServerProcess,
    pg_available,
)

REFRESH = 2  # seconds: SecretCacheConfig(secret_refresh_interval=REFRESH)
PAST_REFRESH = REFRESH + 0.3


class CountingClient:
    """A boto3 Secrets Manager client for `server` and the requests it made, by operation."""

    def __init__(self, server: ServerProcess) -> None:
        self.client = boto3.client(
            "secretsmanager",
            endpoint_url=server.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            config=Config(retries={"total_max_attempts": 1}),
        )
        self.calls: Counter[str] = Counter()
        self.client.meta.events.register("before-send.secrets-manager.*", self._count)

    def _count(self, request: Any, **_: Any) -> None:
        self.calls[request.headers["X-Amz-Target"].decode().split(".", 1)[1]] += 1

    def taken(self) -> dict[str, int]:
        """The requests made since the last call, by operation; the count restarts."""
        out = dict(self.calls)
        self.calls.clear()
        return out


@pytest.fixture
def counting(server: ServerProcess) -> CountingClient:
    return CountingClient(server)


@pytest.fixture
def sm(server: ServerProcess) -> Any:
    return server.client("secretsmanager")


def cache_for(counting: CountingClient, **config: Any) -> SecretCache:
    return SecretCache(
        config=SecretCacheConfig(secret_refresh_interval=REFRESH, **config),
        client=counting.client,
    )


def sname(prefix: str) -> str:
    return f"cache/{prefix}-{secrets.token_hex(4)}"


def test_reads_come_from_the_cache_until_the_refresh_interval(
    sm: Any, counting: CountingClient
) -> None:
    secret = sname("reads")
    sm.create_secret(Name=secret, SecretString="first")
    cache = cache_for(counting)
    assert cache.get_secret_string(secret) == "first"
    assert counting.taken() == {"DescribeSecret": 1, "GetSecretValue": 1}
    for _ in range(20):
        assert cache.get_secret_string(secret) == "first"
    assert counting.taken() == {}  # no request while cached

    # a new value: the cache keeps the old one until its interval has passed
    sm.put_secret_value(SecretId=secret, SecretString="second")
    assert cache.get_secret_string(secret) == "first"
    assert counting.taken() == {}
    time.sleep(PAST_REFRESH)
    assert cache.get_secret_string(secret) == "second"
    assert counting.taken() == {"DescribeSecret": 1, "GetSecretValue": 1}
    assert cache.get_secret_string(secret) == "second"
    assert counting.taken() == {}

    # AWSPREVIOUS is the first version: still cached under its version id, no request
    assert cache.get_secret_string(secret, "AWSPREVIOUS") == "first"
    assert counting.taken() == {}

    # a stage the cache has not read yet: one GetSecretValue by version id, then cached
    sm.put_secret_value(SecretId=secret, SecretString="third", VersionStages=["beta"])
    time.sleep(PAST_REFRESH)
    assert cache.get_secret_string(secret, "beta") == "third"
    assert counting.taken() == {"DescribeSecret": 1, "GetSecretValue": 1}
    assert cache.get_secret_string(secret, "beta") == "third"
    assert cache.get_secret_string(secret) == "second"
    assert counting.taken() == {}


def test_a_rotation_is_seen_after_the_refresh_interval(sm: Any, counting: CountingClient) -> None:
    secret = sname("rotation")
    before = {"username": "app", "password": secrets.token_urlsafe(16)}
    first_id = sm.create_secret(Name=secret, SecretString=json.dumps(before))["VersionId"]
    cache = cache_for(counting)
    assert json.loads(cache.get_secret_string(secret)) == before
    counting.taken()

    # createSecret: the new password as AWSPENDING; readers still get AWSCURRENT
    after = {"username": "app", "password": secrets.token_urlsafe(16)}
    pending_id = str(uuid.uuid4())
    sm.put_secret_value(
        SecretId=secret,
        ClientRequestToken=pending_id,
        SecretString=json.dumps(after),
        VersionStages=["AWSPENDING"],
    )
    time.sleep(PAST_REFRESH)
    assert json.loads(cache.get_secret_string(secret)) == before
    assert counting.taken() == {"DescribeSecret": 1}  # same current version: still cached
    assert json.loads(cache.get_secret_string(secret, "AWSPENDING")) == after
    assert counting.taken() == {"GetSecretValue": 1}

    # finishSecret: AWSCURRENT moves to the pending version, AWSPREVIOUS to the old one
    sm.update_secret_version_stage(
        SecretId=secret,
        VersionStage="AWSCURRENT",
        MoveToVersionId=pending_id,
        RemoveFromVersionId=first_id,
    )
    sm.update_secret_version_stage(
        SecretId=secret, VersionStage="AWSPENDING", RemoveFromVersionId=pending_id
    )
    assert json.loads(cache.get_secret_string(secret)) == before  # still cached
    assert counting.taken() == {}
    time.sleep(PAST_REFRESH)
    assert json.loads(cache.get_secret_string(secret)) == after
    # the new current version was already cached under its id (read as AWSPENDING)
    assert counting.taken() == {"DescribeSecret": 1}
    assert json.loads(cache.get_secret_string(secret, "AWSPREVIOUS")) == before
    assert counting.taken() == {}  # the first version, still cached by its id
    assert cache.get_secret_string(secret, "AWSPENDING") is None  # no version has it now


def test_binary_secrets_and_custom_stages(sm: Any, counting: CountingClient) -> None:
    secret = sname("binary")
    blob = secrets.token_bytes(48)
    sm.create_secret(Name=secret, SecretBinary=blob)
    cache = cache_for(counting)
    assert cache.get_secret_binary(secret) == blob
    assert cache.get_secret_string(secret) is None  # the version has no SecretString
    assert counting.taken() == {"DescribeSecret": 1, "GetSecretValue": 1}

    newer = secrets.token_bytes(48)
    labelled = sm.put_secret_value(SecretId=secret, SecretBinary=newer, VersionStages=["canary"])[
        "VersionId"
    ]
    assert cache.get_secret_binary(secret, "canary") is None  # not yet described
    time.sleep(PAST_REFRESH)
    assert cache.get_secret_binary(secret, "canary") == newer
    assert cache.get_secret_binary(secret) == blob  # AWSCURRENT did not move
    assert counting.taken() == {"DescribeSecret": 1, "GetSecretValue": 1}
    stages = sm.describe_secret(SecretId=secret)["VersionIdsToStages"]
    assert stages[labelled] == ["canary"]


def test_a_secret_id_may_be_an_arn_and_missing_secrets_raise(
    sm: Any, counting: CountingClient
) -> None:
    secret = sname("arn")
    arn = sm.create_secret(Name=secret, SecretString="by-arn")["ARN"]
    cache = cache_for(counting)
    assert cache.get_secret_string(arn) == "by-arn"
    with pytest.raises(counting.client.exceptions.ResourceNotFoundException):
        cache.get_secret_string(sname("absent"))


def test_the_decorators_inject_cached_values(sm: Any, counting: CountingClient) -> None:
    secret = sname("decorated")
    credentials = {"username": "svc", "password": secrets.token_urlsafe(12)}
    sm.create_secret(Name=secret, SecretString=json.dumps(credentials))
    cache = cache_for(counting)

    @InjectKeywordedSecretString(secret_id=secret, cache=cache, user="username", pw="password")
    def connect(user: str, pw: str) -> tuple[str, str]:
        return user, pw

    @InjectSecretString(secret, cache)
    def whole(value: str) -> str:
        return value

    for _ in range(5):
        assert connect() == ("svc", credentials["password"])
        assert json.loads(whole()) == credentials
    assert counting.taken() == {"DescribeSecret": 1, "GetSecretValue": 1}


def test_a_real_rotation_is_seen_after_the_refresh_interval(
    sm: Any, counting: CountingClient
) -> None:
    if not pg_available():
        pytest.skip("no PostgreSQL at " + PG_ADMIN_URL)
    import psycopg
    from psycopg import sql

    role = f"cache_rot_{secrets.token_hex(4)}"
    old = secrets.token_urlsafe(16)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(old)
            )
        )
    try:
        host, port = PG_ADMIN_URL.split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)
        creds = {
            "engine": "postgres",
            "host": host,
            "port": int(port),
            "username": role,
            "password": old,
            "dbname": "postgres",
        }
        arn = sm.create_secret(Name=sname("rotated"), SecretString=json.dumps(creds))["ARN"]
        cache = cache_for(counting)
        assert json.loads(cache.get_secret_string(arn))["password"] == old
        counting.taken()

        function = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:garrison-postgresql-single-user"
        token = sm.rotate_secret(SecretId=arn, RotationLambdaARN=function)["VersionId"]
        deadline = time.monotonic() + 40
        while sm.describe_secret(SecretId=arn)["VersionIdsToStages"].get(token) != ["AWSCURRENT"]:
            assert time.monotonic() < deadline, "the rotation did not finish"
            time.sleep(0.2)
        rotated = json.loads(sm.get_secret_value(SecretId=arn)["SecretString"])
        assert rotated["username"] == role and rotated["password"] != old

        time.sleep(PAST_REFRESH)
        assert json.loads(cache.get_secret_string(arn)) == rotated
        assert json.loads(cache.get_secret_string(arn, "AWSPREVIOUS"))["password"] == old
        # the new version read once, by its id; the old one still cached
        assert counting.taken() == {"DescribeSecret": 1, "GetSecretValue": 1}
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))

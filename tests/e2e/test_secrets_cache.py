"""Secrets Manager's read cache (services/secretsmanager/cache.py) never serves a stale secret.

Every test first reads a secret through GetSecretValue (by name, full ARN and
partial ARN) and BatchGetSecretValue, twice so that the second read is a hit,
then changes it through another operation and reads again at once: PutSecretValue,
UpdateSecret, UpdateSecretVersionStage, tags deciding an ``aws:ResourceTag``
condition, a resource policy deciding a read, DeleteSecret/RestoreSecret and the
deletion job, every rotation step, replication to another Region, and
LastAccessedDate (written once a day). On SQLite and PostgreSQL; then across two
nodes sharing one PostgreSQL database, where a change made through one node is
seen by the other within one second (the state-version poll clears the other
node's cache).
"""

from __future__ import annotations

import json
import secrets
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    ACCOUNT_ID,
    BACKENDS,
    REGION,
    ServerProcess,
    create_pg_database,
    drop_pg_database,
    make_client,
    pg_available,
    two_nodes,
)
from tests.e2e.helpers import error, iam_user, session_client, within

DAY = 86_400
WEST = "us-west-2"
PROPAGATION_SECONDS = 1.0
FN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:"
ROTATOR = textwrap.dedent(
    '''
    """A database-free rotator for tests/e2e/test_secrets_cache.py: n -> n + 1, noting what
    GetSecretValue answered after each step."""
    import json
    import os


    def _note(client, arn, step):
        seen = {"step": step, "arn": arn}
        for stage in ("AWSCURRENT", "AWSPENDING"):
            try:
                got = client.get_secret_value(SecretId=arn, VersionStage=stage)
                seen[stage] = json.loads(got["SecretString"])["n"]
            except client.exceptions.ResourceNotFoundException:
                seen[stage] = None
        with open(os.environ["CACHE_ROTATION_LOG"], "a") as log:
            log.write(json.dumps(seen) + "\\n")


    def plus_one(event, client):
        arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
        if step == "createSecret":
            n = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])["n"]
            client.put_secret_value(SecretId=arn, ClientRequestToken=token,
                                    SecretString=json.dumps({"n": n + 1}),
                                    VersionStages=["AWSPENDING"])
        elif step == "finishSecret":
            stages = client.describe_secret(SecretId=arn)["VersionIdsToStages"]
            current = next(v for v, s in stages.items() if "AWSCURRENT" in s)
            client.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT",
                                               MoveToVersionId=token,
                                               RemoveFromVersionId=current)
        _note(client, arn, step)
    '''
)
LOGS: dict[str, Path] = {}  # server endpoint -> what its rotator noted


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_root: Path) -> Iterator[ServerProcess]:
    """A server of its own per backend (its clock is moved), with the test rotator."""
    modules = tmp_root / f"sm-cache-rotator-{request.param}"
    modules.mkdir()
    (modules / "cache_rotator_for_tests.py").write_text(ROTATOR)
    url = ""
    if request.param == "postgresql":
        if not pg_available():
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is required for the storage tests")
        url = create_pg_database()
    srv = ServerProcess(
        tmp_root / f"sm-cache-{request.param}",
        database_url=url,
        env={
            "PYTHONPATH": str(modules),
            "CACHE_ROTATION_LOG": str(modules / "seen.jsonl"),
            "GARRISON_SECRETSMANAGER_ROTATION_FUNCTIONS": (
                "plus-one=cache_rotator_for_tests:plus_one"
            ),
        },
    ).start()
    LOGS[srv.endpoint] = modules / "seen.jsonl"
    yield srv
    srv.stop()
    if url:
        drop_pg_database(url)


@pytest.fixture
def sm(server: ServerProcess) -> Any:
    return server.client("secretsmanager")


def new_name() -> str:
    return f"cache/{secrets.token_hex(4)}"


def reads(sm: Any, name: str, **kwargs: Any) -> list[str | None]:
    """The value as GetSecretValue by name, by full ARN, by partial ARN and
    BatchGetSecretValue answer it (None: not found / marked deleted)."""
    out: list[str | None] = []
    arn = None
    for secret_id in (name, "arn", "partial"):
        if secret_id == "arn":
            if arn is None:
                out.append(None)
                continue
            secret_id = arn
        elif secret_id == "partial":
            if arn is None:
                out.append(None)
                continue
            secret_id = arn[:-7]
        try:
            got = sm.get_secret_value(SecretId=secret_id, **kwargs)
        except ClientError as err:
            assert err.response["Error"]["Code"] in (
                "ResourceNotFoundException",
                "InvalidRequestException",
            ), err.response
            out.append(None)
            continue
        arn = got["ARN"]
        out.append(got.get("SecretString"))
    if not kwargs:
        batch = sm.batch_get_secret_value(SecretIdList=[name])
        values = batch["SecretValues"]
        out.append(values[0].get("SecretString") if values else None)
    return out


def warm(sm: Any, name: str, **kwargs: Any) -> list[str | None]:
    """Read through every path twice (a miss, then a hit) and return what was read."""
    first = reads(sm, name, **kwargs)
    assert reads(sm, name, **kwargs) == first
    return first


def test_put_secret_value_and_update_secret_are_read_at_once(sm: Any) -> None:
    name = new_name()
    sm.create_secret(Name=name, SecretString="one")
    assert warm(sm, name) == ["one"] * 4
    put = sm.put_secret_value(SecretId=name, SecretString="two")
    assert reads(sm, name) == ["two"] * 4
    assert sm.get_secret_value(SecretId=name)["VersionId"] == put["VersionId"]
    assert warm(sm, name, VersionStage="AWSPREVIOUS") == ["one"] * 3
    sm.update_secret(SecretId=name, SecretString="three")
    assert reads(sm, name) == ["three"] * 4
    assert reads(sm, name, VersionStage="AWSPREVIOUS") == ["two"] * 3
    # a value under another key: the cached view's key and envelope change together
    key_id = make_client(sm.meta.endpoint_url, "kms").create_key()["KeyMetadata"]["KeyId"]
    sm.update_secret(SecretId=name, KmsKeyId=key_id, SecretString="four")
    assert reads(sm, name) == ["four"] * 4
    # a custom stage put by PutSecretValue's VersionStages
    staged = sm.put_secret_value(SecretId=name, SecretString="five", VersionStages=["BLUE"])
    assert reads(sm, name) == ["four"] * 4
    assert warm(sm, name, VersionStage="BLUE") == ["five"] * 3
    got = sm.get_secret_value(SecretId=name, VersionId=staged["VersionId"])
    assert got["SecretString"] == "five" and got["VersionStages"] == ["BLUE"]


def test_update_secret_version_stage_is_read_at_once(sm: Any) -> None:
    name = new_name()
    first = sm.create_secret(Name=name, SecretString="v1")["VersionId"]
    second = sm.put_secret_value(SecretId=name, SecretString="v2")["VersionId"]
    assert warm(sm, name) == ["v2"] * 4
    assert warm(sm, name, VersionStage="AWSPREVIOUS") == ["v1"] * 3
    sm.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=first, RemoveFromVersionId=second
    )
    assert reads(sm, name) == ["v1"] * 4
    assert reads(sm, name, VersionStage="AWSPREVIOUS") == ["v2"] * 3
    got = sm.get_secret_value(SecretId=name)
    assert got["VersionId"] == first and got["VersionStages"] == ["AWSCURRENT"]
    sm.update_secret_version_stage(SecretId=name, VersionStage="GREEN", MoveToVersionId=second)
    assert warm(sm, name, VersionStage="GREEN") == ["v2"] * 3
    sm.update_secret_version_stage(SecretId=name, VersionStage="GREEN", RemoveFromVersionId=second)
    assert reads(sm, name, VersionStage="GREEN") == [None] * 3
    # a version without labels is read by VersionId (from the store)
    sm.update_secret_version_stage(
        SecretId=name, VersionStage="AWSPREVIOUS", RemoveFromVersionId=second
    )
    assert sm.get_secret_value(SecretId=name, VersionId=second)["SecretString"] == "v2"


def _reader(server: ServerProcess, *statements: dict[str, Any]) -> Any:
    user, key = iam_user(server.client("iam"), "sm-cache", *statements)
    return user, session_client(server, "secretsmanager", key)


def _readable(client: Any, name: str) -> bool:
    try:
        client.get_secret_value(SecretId=name)
    except ClientError as err:
        assert err.response["Error"]["Code"] == "AccessDeniedException", err.response
        return False
    return True


def test_tags_decide_a_cached_read(server: ServerProcess, sm: Any) -> None:
    name = new_name()
    sm.create_secret(Name=name, SecretString="v")
    _, client = _reader(
        server,
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/stage": "open"}}},
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"},
    )  # fmt: skip
    assert not _readable(client, name) and not _readable(client, name)
    assert warm(sm, name) == ["v"] * 4  # the cache now holds the secret, no tags
    sm.tag_resource(SecretId=name, Tags=[{"Key": "stage", "Value": "open"}])
    assert _readable(client, name) and _readable(client, name)
    sm.tag_resource(SecretId=name, Tags=[{"Key": "stage", "Value": "closed"}])
    assert not _readable(client, name)
    sm.tag_resource(SecretId=name, Tags=[{"Key": "stage", "Value": "open"}])
    assert _readable(client, name)
    sm.untag_resource(SecretId=name, TagKeys=["stage"])
    assert not _readable(client, name)
    # tags given at creation count too (a secret re-created under the name)
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    sm.create_secret(Name=name, SecretString="w", Tags=[{"Key": "stage", "Value": "open"}])
    assert client.get_secret_value(SecretId=name)["SecretString"] == "w"


def test_resource_policy_decides_a_cached_read(server: ServerProcess, sm: Any) -> None:
    name = new_name()
    arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
    allow_all = {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "kms:Decrypt"],
                 "Resource": "*"}  # fmt: skip
    user, client = _reader(server, allow_all)
    assert _readable(client, name) and _readable(client, name)
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:user/{user}"},
             "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
        ],
    }  # fmt: skip
    sm.put_resource_policy(SecretId=arn, ResourcePolicy=json.dumps(deny))
    assert not _readable(client, name) and not _readable(client, name)
    assert warm(sm, name) == ["v"] * 4  # the root is not denied
    sm.delete_resource_policy(SecretId=arn)
    assert _readable(client, name)
    sm.put_resource_policy(SecretId=arn, ResourcePolicy=json.dumps(deny))
    assert not _readable(client, name)


def test_delete_restore_and_recreate(sm: Any) -> None:
    name = new_name()
    sm.create_secret(Name=name, SecretString="old")
    assert warm(sm, name) == ["old"] * 4
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    with pytest.raises(ClientError) as exc:
        sm.get_secret_value(SecretId=name)
    assert error(exc) == ("InvalidRequestException", 400)
    sm.restore_secret(SecretId=name)
    assert warm(sm, name) == ["old"] * 4
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    with pytest.raises(ClientError) as exc:
        sm.get_secret_value(SecretId=name)
    assert error(exc) == ("ResourceNotFoundException", 400)
    assert reads(sm, name) == [None] * 4
    sm.create_secret(Name=name, SecretString="new")
    assert warm(sm, name) == ["new"] * 4


def _log(server: ServerProcess, arn: str) -> list[dict[str, Any]]:
    path = LOGS[server.endpoint]
    lines = path.read_text().splitlines() if path.exists() else []
    return [e for e in map(json.loads, lines) if e.get("arn") == arn]


def test_every_rotation_step_is_read_at_once(server: ServerProcess, sm: Any) -> None:
    name = new_name()
    arn = sm.create_secret(Name=name, SecretString=json.dumps({"n": 1}))["ARN"]
    assert warm(sm, name) == [json.dumps({"n": 1})] * 4
    token = sm.rotate_secret(
        SecretId=arn,
        RotationLambdaARN=FN + "plus-one",
        RotationRules={"AutomaticallyAfterDays": 30},
    )["VersionId"]
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        stages = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
        if stages.get(token) == ["AWSCURRENT"]:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the rotation did not finish")
    assert reads(sm, name) == [json.dumps({"n": 2})] * 4
    assert reads(sm, name, VersionStage="AWSPREVIOUS") == [json.dumps({"n": 1})] * 3
    # what the rotator read (through the cache) right after each of its steps
    seen = {e["step"]: e for e in _log(server, arn)}
    assert seen["createSecret"]["AWSPENDING"] == 2 and seen["createSecret"]["AWSCURRENT"] == 1
    assert seen["setSecret"]["AWSPENDING"] == 2
    assert seen["finishSecret"]["AWSCURRENT"] == 2
    # the engine takes AWSPENDING off after finishSecret
    assert reads(sm, name, VersionStage="AWSPENDING") == [None] * 3


def test_replication_propagates_through_the_cache(server: ServerProcess, sm: Any) -> None:
    west = make_client(server.endpoint, "secretsmanager", region=WEST)
    name = new_name()
    sm.create_secret(Name=name, SecretString="r1", AddReplicaRegions=[{"Region": WEST}])
    assert warm(west, name) == ["r1"] * 4
    sm.put_secret_value(SecretId=name, SecretString="r2")
    assert reads(west, name) == ["r2"] * 4
    assert reads(west, name, VersionStage="AWSPREVIOUS") == ["r1"] * 3
    sm.update_secret(SecretId=name, SecretString="r3")
    assert reads(west, name) == ["r3"] * 4
    sm.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=[WEST])
    assert reads(west, name) == [None] * 4


def test_last_accessed_date_and_the_deletion_job(server: ServerProcess, sm: Any) -> None:
    name = new_name()
    sm.create_secret(Name=name, SecretString="v")
    assert warm(sm, name) == ["v"] * 4
    first = sm.describe_secret(SecretId=name)["LastAccessedDate"]
    server.advance(DAY + 60)
    assert reads(sm, name) == ["v"] * 4
    second = sm.describe_secret(SecretId=name)["LastAccessedDate"]
    assert (second - first).total_seconds() in (DAY, 2 * DAY)
    assert reads(sm, name) == ["v"] * 4  # the day is written once: read from the cache again
    assert sm.describe_secret(SecretId=name)["LastAccessedDate"] == second
    (version,) = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert version["LastAccessedDate"] == second  # the version's too
    # the deletion job drops the cached secret
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    sm.restore_secret(SecretId=name)
    assert warm(sm, name) == ["v"] * 4
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    server.advance(8 * DAY)
    assert server.run_scheduler()["secretsmanager-deletion"] >= 1
    assert reads(sm, name) == [None] * 4
    sm.create_secret(Name=name, SecretString="again")
    assert warm(sm, name) == ["again"] * 4


# -- two nodes sharing PostgreSQL ------------------------------------------------------------
@pytest.fixture(scope="module")
def pair(tmp_root: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    yield from two_nodes(tmp_root, "sm-cache-pair")


def within_a_second(read: Callable[[], Any], expected: Any) -> float:
    return within(PROPAGATION_SECONDS, read, expected)


def test_a_change_on_one_node_reaches_the_other(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    sm_a, sm_b = a.client("secretsmanager"), b.client("secretsmanager")
    name = new_name()
    sm_a.create_secret(Name=name, SecretString="one")
    within_a_second(lambda: reads(sm_b, name), ["one"] * 4)
    assert warm(sm_b, name) == ["one"] * 4  # B caches it
    sm_a.put_secret_value(SecretId=name, SecretString="two")
    within_a_second(lambda: reads(sm_b, name), ["two"] * 4)
    assert warm(sm_a, name) == ["two"] * 4  # A caches it
    sm_b.update_secret(SecretId=name, SecretString="three")
    within_a_second(lambda: reads(sm_a, name), ["three"] * 4)
    sm_b.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    within_a_second(lambda: reads(sm_a, name), [None] * 4)


def test_tags_changed_on_one_node_decide_reads_on_the_other(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    sm_a = a.client("secretsmanager")
    name = new_name()
    sm_a.create_secret(Name=name, SecretString="v")
    _, key = iam_user(
        a.client("iam"), "sm-cache-pair",
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/stage": "open"}}},
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"},
    )  # fmt: skip
    on_b = session_client(b, "secretsmanager", key)

    def readable() -> bool:
        try:
            on_b.get_secret_value(SecretId=name)
        except ClientError as err:
            if err.response["Error"]["Code"] in (
                "AccessDeniedException",
                "UnrecognizedClientException",
                "InvalidClientTokenId",
            ):
                return False
            raise
        return True

    within_a_second(readable, False)
    sm_b = b.client("secretsmanager")
    assert warm(sm_b, name) == ["v"] * 4  # B caches it
    sm_a.tag_resource(SecretId=name, Tags=[{"Key": "stage", "Value": "open"}])
    within_a_second(readable, True)
    sm_a.untag_resource(SecretId=name, TagKeys=["stage"])
    within_a_second(readable, False)

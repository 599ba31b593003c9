"""Parameter Store's read cache (services/ssm/cache.py) never serves a stale parameter.

Every test first reads a parameter through GetParameter, GetParameters and
GetParametersByPath (which fills the node's cache, twice so that the second
read is a hit), changes it through another operation, and reads again through
every path: PutParameter with Overwrite, DeleteParameter(s) and re-creation,
Label/UnlabelParameterVersion, tags deciding an ``aws:ResourceTag`` condition,
resource policies deciding a cross-account read, and the scheduler's
Expiration policy. On SQLite and PostgreSQL; then across two nodes sharing one
PostgreSQL database, where a change made through one node is seen by the other
within one second (the state-version poll clears the other node's cache).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    ACCOUNT_ID,
    BACKENDS,
    REGION,
    ServerProcess,
    backend_server,
    two_nodes,
)
from tests.e2e.helpers import error, iam_user, session_client, within

PARAMETER = "Parameter"
PROPAGATION_SECONDS = 1.0


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_root: Path) -> Iterator[ServerProcess]:
    """A server of its own per backend: the Expiration test moves its clock."""
    yield from backend_server(tmp_root / f"ssm-cache-{request.param}", request.param)


@pytest.fixture
def ssm(server: ServerProcess) -> Any:
    return server.client("ssm")


def new_path() -> str:
    return f"/cache/{secrets.token_hex(4)}"


def values(ssm: Any, name: str, *, decrypt: bool = False) -> list[str | None]:
    """The value as GetParameter, GetParameters and GetParametersByPath answer it
    (None where the parameter is not found)."""
    out: list[str | None] = []
    try:
        out.append(ssm.get_parameter(Name=name, WithDecryption=decrypt)["Parameter"]["Value"])
    except ClientError as err:
        assert err.response["Error"]["Code"] == "ParameterNotFound", err.response
        out.append(None)
    got = ssm.get_parameters(Names=[name], WithDecryption=decrypt)
    out.append(got["Parameters"][0]["Value"] if got["Parameters"] else None)
    parent = name.rsplit("/", 1)[0] or "/"
    listed = ssm.get_parameters_by_path(Path=parent, WithDecryption=decrypt)["Parameters"]
    out.append(next((p["Value"] for p in listed if p["Name"] == name), None))
    return out


def warm(ssm: Any, name: str, *, decrypt: bool = False) -> list[str | None]:
    """Read through every path twice (a miss, then a hit) and return what was read."""
    first = values(ssm, name, decrypt=decrypt)
    assert values(ssm, name, decrypt=decrypt) == first
    return first


def test_overwrite_is_read_at_once(ssm: Any) -> None:
    name = f"{new_path()}/db/url"
    ssm.put_parameter(Name=name, Value="one", Type="String")
    assert warm(ssm, name) == ["one"] * 3
    assert ssm.put_parameter(Name=name, Value="two", Overwrite=True)["Version"] == 2
    assert values(ssm, name) == ["two"] * 3
    got = ssm.get_parameter(Name=name)["Parameter"]
    assert got["Version"] == 2
    # the version selectors read the right version, cached or not
    assert ssm.get_parameter(Name=f"{name}:1")["Parameter"]["Value"] == "one"
    assert ssm.get_parameter(Name=f"{name}:2")["Parameter"]["Value"] == "two"
    with pytest.raises(ClientError) as exc:
        ssm.get_parameter(Name=f"{name}:3")
    assert error(exc) == ("ParameterVersionNotFound", 400)


def test_secure_string_overwrite_and_its_key(ssm: Any, server: ServerProcess) -> None:
    name = f"{new_path()}/secret"
    ssm.put_parameter(Name=name, Value="s3cret-1", Type="SecureString")
    assert warm(ssm, name, decrypt=True) == ["s3cret-1"] * 3
    sealed = warm(ssm, name)
    assert all(v is not None and v != "s3cret-1" for v in sealed)  # ciphertext, not the value
    key_id = server.client("kms").create_key()["KeyMetadata"]["KeyId"]
    ssm.put_parameter(Name=name, Value="s3cret-2", KeyId=key_id, Overwrite=True)
    assert values(ssm, name, decrypt=True) == ["s3cret-2"] * 3
    got = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert got["Version"] == 2
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])[
        "Parameters"
    ]
    assert described[0]["KeyId"] == key_id


def test_top_level_name_with_and_without_slash(ssm: Any) -> None:
    bare = f"cache-top-{secrets.token_hex(4)}"
    ssm.put_parameter(Name=bare, Value="a", Type="String")
    for spelling in (bare, "/" + bare):
        assert ssm.get_parameter(Name=spelling)["Parameter"]["Value"] == "a"
        assert ssm.get_parameter(Name=spelling)["Parameter"]["Value"] == "a"
    ssm.put_parameter(Name="/" + bare, Value="b", Overwrite=True)
    for spelling in (bare, "/" + bare):
        assert ssm.get_parameter(Name=spelling)["Parameter"]["Value"] == "b"
    ssm.delete_parameter(Name=bare)
    for spelling in (bare, "/" + bare):
        with pytest.raises(ClientError) as exc:
            ssm.get_parameter(Name=spelling)
        assert error(exc) == ("ParameterNotFound", 400)


def test_delete_and_recreate(ssm: Any) -> None:
    name = f"{new_path()}/gone"
    ssm.put_parameter(Name=name, Value="old", Type="String")
    assert warm(ssm, name) == ["old"] * 3
    ssm.delete_parameter(Name=name)
    assert values(ssm, name) == [None] * 3
    ssm.put_parameter(Name=name, Value="new", Type="String")
    assert warm(ssm, name) == ["new"] * 3
    assert ssm.get_parameter(Name=name)["Parameter"]["Version"] == 1
    result = ssm.delete_parameters(Names=[name])
    assert result["DeletedParameters"] == [name]
    assert values(ssm, name) == [None] * 3


def test_labels_and_unlabel(ssm: Any) -> None:
    name = f"{new_path()}/labelled"
    ssm.put_parameter(Name=name, Value="v1", Type="String")
    ssm.put_parameter(Name=name, Value="v2", Overwrite=True)
    assert warm(ssm, name) == ["v2"] * 3
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["stable"])
    assert ssm.get_parameter(Name=f"{name}:stable")["Parameter"]["Value"] == "v1"
    listed = ssm.get_parameters_by_path(
        Path=name.rsplit("/", 1)[0],
        ParameterFilters=[{"Key": "Label", "Option": "Equals", "Values": ["stable"]}],
    )["Parameters"]
    assert [(p["Name"], p["Value"]) for p in listed] == [(name, "v1")]
    ssm.label_parameter_version(Name=name, Labels=["stable"])  # moved to the latest
    assert ssm.get_parameter(Name=f"{name}:stable")["Parameter"]["Value"] == "v2"
    assert values(ssm, name) == ["v2"] * 3
    ssm.unlabel_parameter_version(Name=name, ParameterVersion=2, Labels=["stable"])
    with pytest.raises(ClientError) as exc:
        ssm.get_parameter(Name=f"{name}:stable")
    assert error(exc) == ("ParameterVersionNotFound", 400)
    history = ssm.get_parameter_history(Name=name)["Parameters"]
    assert [h.get("Labels", []) for h in history] == [[], []]


def test_tags_decide_a_cached_read(server: ServerProcess, ssm: Any) -> None:
    name = f"{new_path()}/tagged"
    ssm.put_parameter(Name=name, Value="v", Type="String")
    resource = f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{name}"
    _, key = iam_user(
        server.client("iam"), "cache-reader",
        {"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters"],
         "Resource": resource,
         "Condition": {"StringEquals": {"aws:ResourceTag/stage": "open"}}},
    )  # fmt: skip
    client = session_client(server, "ssm", key)

    def readable() -> bool:
        try:
            client.get_parameter(Name=name)
        except ClientError as err:
            assert err.response["Error"]["Code"] == "AccessDeniedException"
            return False
        return True

    assert not readable() and not readable()
    assert warm(ssm, name) == ["v"] * 3  # the cache now holds the parameter, no tags
    ssm.add_tags_to_resource(
        ResourceType=PARAMETER, ResourceId=name, Tags=[{"Key": "stage", "Value": "open"}]
    )
    assert readable() and readable()
    ssm.add_tags_to_resource(
        ResourceType=PARAMETER, ResourceId=name, Tags=[{"Key": "stage", "Value": "closed"}]
    )
    assert not readable()
    ssm.add_tags_to_resource(
        ResourceType=PARAMETER, ResourceId=name, Tags=[{"Key": "stage", "Value": "open"}]
    )
    assert readable()
    ssm.remove_tags_from_resource(ResourceType=PARAMETER, ResourceId=name, TagKeys=["stage"])
    assert not readable()
    # tags given at creation count too (a parameter re-created under the name)
    ssm.delete_parameter(Name=name)
    ssm.put_parameter(Name=name, Value="w", Type="String", Tags=[{"Key": "stage", "Value": "open"}])
    assert readable()
    assert client.get_parameter(Name=name)["Parameter"]["Value"] == "w"


def _server_now(server: ServerProcess) -> float:
    r = server.post("/_garrison/clock", {"advance_seconds": 0})
    assert r.status_code == 200, r.text
    return float(r.json()["now"])


def test_expiration_job_drops_the_cached_parameter(server: ServerProcess, ssm: Any) -> None:
    name = f"{new_path()}/expires"
    at = datetime.fromtimestamp(_server_now(server) + 3600, UTC)
    policy = {
        "Type": "Expiration",
        "Version": "1.0",
        "Attributes": {"Timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.000Z")},
    }
    ssm.put_parameter(
        Name=name,
        Value="short-lived",
        Type="String",
        Tier="Advanced",
        Policies=json.dumps([policy]),
    )
    assert warm(ssm, name) == ["short-lived"] * 3
    server.advance(3600 + 60)
    assert server.run_scheduler()["ssm-parameter-policies"] >= 1
    assert values(ssm, name) == [None] * 3


# -- resource policies: another account's read ---------------------------------------------
@pytest.fixture(scope="module")
def account_b(server: ServerProcess) -> dict[str, Any]:
    """A member account B with a reader allowed ssm:GetParameter* on any resource."""
    orgs = server.client("organizations")
    try:
        orgs.create_organization(FeatureSet="ALL")
    except ClientError as err:
        assert err.response["Error"]["Code"] == "AlreadyInOrganizationException"
    created = orgs.create_account(Email="cache-b@example.com", AccountName="cache-consumer")
    status = orgs.describe_create_account_status(
        CreateAccountRequestId=created["CreateAccountStatus"]["Id"]
    )["CreateAccountStatus"]
    assert status["State"] == "SUCCEEDED", status
    b = str(status["AccountId"])
    admin = server.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{b}:role/OrganizationAccountAccessRole", RoleSessionName="admin"
    )["Credentials"]
    b_iam = session_client(server, "iam", admin)
    read = {"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters"], "Resource": "*"}
    _, key = iam_user(b_iam, "reader", read)
    return {"account": b, "reader": session_client(server, "ssm", key)}


def test_resource_policy_decides_a_cached_cross_account_read(
    ssm: Any, account_b: dict[str, Any]
) -> None:
    name = f"{new_path()}/shared"
    ssm.put_parameter(Name=name, Value="for-b", Type="String", Tier="Advanced")
    arn = f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{name}"
    reader = account_b["reader"]

    def readable() -> bool:
        try:
            got = reader.get_parameter(Name=arn)["Parameter"]["Value"]
        except ClientError as err:
            assert err.response["Error"]["Code"] in ("AccessDeniedException", "ParameterNotFound")
            return False
        assert got == "for-b"
        return True

    assert not readable() and not readable()
    assert warm(ssm, name) == ["for-b"] * 3
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": account_b["account"]},
             "Action": ["ssm:GetParameter", "ssm:GetParameters"], "Resource": arn},
        ],
    }  # fmt: skip
    put = ssm.put_resource_policy(ResourceArn=arn, Policy=json.dumps(document))
    assert readable() and readable()
    ssm.delete_resource_policy(
        ResourceArn=arn, PolicyId=put["PolicyId"], PolicyHash=put["PolicyHash"]
    )
    assert not readable()


# -- two nodes sharing PostgreSQL ------------------------------------------------------------
@pytest.fixture(scope="module")
def pair(tmp_root: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    yield from two_nodes(tmp_root, "ssm-cache-pair")


def within_a_second(read: Callable[[], Any], expected: Any) -> float:
    return within(PROPAGATION_SECONDS, read, expected)


def test_a_change_on_one_node_reaches_the_other(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    ssm_a, ssm_b = a.client("ssm"), b.client("ssm")
    name = f"{new_path()}/multi"
    ssm_a.put_parameter(Name=name, Value="one", Type="SecureString")
    assert warm(ssm_b, name, decrypt=True) == ["one"] * 3  # B caches it
    ssm_a.put_parameter(Name=name, Value="two", Overwrite=True)
    within_a_second(lambda: values(ssm_b, name, decrypt=True), ["two"] * 3)
    assert warm(ssm_a, name, decrypt=True) == ["two"] * 3  # A caches it
    ssm_b.put_parameter(Name=name, Value="three", Overwrite=True)
    within_a_second(lambda: values(ssm_a, name, decrypt=True), ["three"] * 3)
    ssm_b.delete_parameter(Name=name)
    within_a_second(lambda: values(ssm_a, name), [None] * 3)


def test_tags_changed_on_one_node_decide_reads_on_the_other(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    ssm_a = a.client("ssm")
    name = f"{new_path()}/multi-tagged"
    ssm_a.put_parameter(Name=name, Value="v", Type="String")
    _, key = iam_user(
        a.client("iam"), "cache-pair",
        {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/stage": "open"}}},
    )  # fmt: skip
    on_b = session_client(b, "ssm", key)

    def readable() -> bool:
        try:
            on_b.get_parameter(Name=name)
        except ClientError as err:
            if err.response["Error"]["Code"] in (
                "AccessDeniedException",
                "UnrecognizedClientException",
                "InvalidClientTokenId",
            ):
                return False
            raise
        return True

    within_a_second(readable, False)  # the user (made on A) is known to B, the tag is not there
    assert b.client("ssm").get_parameter(Name=name)["Parameter"]["Value"] == "v"  # B caches it
    ssm_a.add_tags_to_resource(
        ResourceType=PARAMETER, ResourceId=name, Tags=[{"Key": "stage", "Value": "open"}]
    )
    within_a_second(readable, True)
    ssm_a.remove_tags_from_resource(ResourceType=PARAMETER, ResourceId=name, TagKeys=["stage"])
    within_a_second(readable, False)

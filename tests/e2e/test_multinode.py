"""Scale-out: two server processes share one PostgreSQL database.

Each node caches keys, aliases and policies; a change made through one node
reaches the other's caches through the state-version poll (every
`cache_poll_seconds`, 0.25 s by default), so within one second. Each node
writes its own audit chain, and `garrison audit verify` checks them all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    ServerProcess,
    two_nodes,
)
from tests.e2e.policies import ALLOW_ROOT, deny, policy

PROPAGATION_SECONDS = 1.0


class Pair:
    def __init__(self, a: ServerProcess, b: ServerProcess) -> None:
        self.a, self.b = a, b
        self.kms_a = a.client("kms")
        self.kms_b = b.client("kms")


@pytest.fixture(scope="module")
def pair(tmp_root: Path) -> Iterator[Pair]:
    for a, b in two_nodes(tmp_root, "multinode"):
        yield Pair(a, b)


def error_code(err: ClientError) -> str:
    return str(err.response["Error"]["Code"])


def seconds_until(call: Callable[[], Any], expected_code: str) -> float:
    """Call until it fails with `expected_code`; how long that took (fails past 1 s)."""
    start = time.monotonic()
    while True:
        try:
            call()
        except ClientError as err:
            if error_code(err) == expected_code:
                return time.monotonic() - start
            raise
        elapsed = time.monotonic() - start
        if elapsed > PROPAGATION_SECONDS:
            pytest.fail(f"still no {expected_code} after {elapsed:.2f} s")
        time.sleep(0.02)


def test_key_created_on_a_is_usable_on_b(pair: Pair) -> None:
    key_id = pair.kms_a.create_key(Description="made on A")["KeyMetadata"]["KeyId"]
    meta = pair.kms_b.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["Description"] == "made on A"
    blob = pair.kms_b.encrypt(KeyId=key_id, Plaintext=b"across nodes")["CiphertextBlob"]
    assert pair.kms_a.decrypt(CiphertextBlob=blob)["Plaintext"] == b"across nodes"
    blob_a = pair.kms_a.encrypt(KeyId=key_id, Plaintext=b"and back")["CiphertextBlob"]
    assert pair.kms_b.decrypt(CiphertextBlob=blob_a)["Plaintext"] == b"and back"


def test_key_disabled_on_a_is_refused_by_b_within_one_second(pair: Pair) -> None:
    key_id = pair.kms_a.create_key()["KeyMetadata"]["KeyId"]
    # B has the key and its material cached
    for _ in range(3):
        pair.kms_b.encrypt(KeyId=key_id, Plaintext=b"warm")
    pair.kms_a.disable_key(KeyId=key_id)
    took = seconds_until(
        lambda: pair.kms_b.encrypt(KeyId=key_id, Plaintext=b"x"), "DisabledException"
    )
    assert took < PROPAGATION_SECONDS
    # and enabling again on B is seen by A
    pair.kms_b.enable_key(KeyId=key_id)
    deadline = time.monotonic() + PROPAGATION_SECONDS
    while True:
        try:
            pair.kms_a.encrypt(KeyId=key_id, Plaintext=b"x")
            break
        except ClientError as err:
            assert error_code(err) == "DisabledException"
            assert time.monotonic() < deadline, "A still refuses the key re-enabled on B"
            time.sleep(0.02)


def test_alias_created_on_a_resolves_on_b(pair: Pair) -> None:
    key_id = pair.kms_a.create_key()["KeyMetadata"]["KeyId"]
    alias = f"alias/multinode-{key_id[:8]}"
    # B has looked the alias up (and may remember that it did not exist)
    with pytest.raises(ClientError) as exc:
        pair.kms_b.describe_key(KeyId=alias)
    assert error_code(exc.value) == "NotFoundException"
    pair.kms_a.create_alias(AliasName=alias, TargetKeyId=key_id)
    start = time.monotonic()
    while True:
        try:
            meta = pair.kms_b.describe_key(KeyId=alias)["KeyMetadata"]
            break
        except ClientError as err:
            assert error_code(err) == "NotFoundException"
            assert time.monotonic() - start < PROPAGATION_SECONDS, "alias not visible on B"
            time.sleep(0.02)
    assert meta["KeyId"] == key_id
    blob = pair.kms_b.encrypt(KeyId=alias, Plaintext=b"via alias")["CiphertextBlob"]
    assert pair.kms_a.decrypt(CiphertextBlob=blob)["Plaintext"] == b"via alias"
    # retargeting on A moves B too
    other = pair.kms_a.create_key()["KeyMetadata"]["KeyId"]
    pair.kms_b.describe_key(KeyId=alias)
    pair.kms_a.update_alias(AliasName=alias, TargetKeyId=other)
    start = time.monotonic()
    while pair.kms_b.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] != other:
        assert time.monotonic() - start < PROPAGATION_SECONDS, "alias retarget not seen on B"
        time.sleep(0.02)


def test_policy_changed_on_a_is_enforced_on_b_within_one_second(pair: Pair) -> None:
    key_id = pair.kms_a.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(3):
        pair.kms_b.encrypt(KeyId=key_id, Plaintext=b"allowed")
    document = policy(ALLOW_ROOT, deny("kms:Encrypt"))
    pair.kms_a.put_key_policy(KeyId=key_id, PolicyName="default", Policy=document)
    took = seconds_until(
        lambda: pair.kms_b.encrypt(KeyId=key_id, Plaintext=b"x"), "AccessDeniedException"
    )
    assert took < PROPAGATION_SECONDS
    # what the policy still allows goes on working on B
    assert pair.kms_b.generate_data_key(KeyId=key_id, KeySpec="AES_256")["KeyId"].endswith(key_id)


def _chains(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT node_id, count(*) FROM audit_events GROUP BY node_id"
        ).fetchall()
    return {str(node): int(n) for node, n in rows}


def _events_with_request_id(url: str, request_id: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT node_id FROM audit_events WHERE body LIKE %s", (f'%"{request_id}"%',)
        ).fetchall()
    return [str(r[0]) for r in rows]


def test_each_node_writes_its_own_chain_and_verify_passes(pair: Pair) -> None:
    on_a = pair.kms_a.generate_random(NumberOfBytes=8)["ResponseMetadata"]["RequestId"]
    on_b = pair.kms_b.generate_random(NumberOfBytes=8)["ResponseMetadata"]["RequestId"]
    nodes_a = _events_with_request_id(pair.a.database_url, on_a)
    nodes_b = _events_with_request_id(pair.b.database_url, on_b)
    assert len(nodes_a) == 1 and len(nodes_b) == 1
    assert nodes_a[0] != nodes_b[0]
    chains = _chains(pair.a.database_url)
    assert set(chains) >= {nodes_a[0], nodes_b[0]}
    result = pair.a.cli("audit", "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"in {len(chains)} chain(s) verified" in result.stdout
    assert len(chains) == 2

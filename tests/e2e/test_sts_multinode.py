"""Role sessions across nodes: credentials issued by one node authenticate on another
that shares its PostgreSQL database (sessions live in the store, not in a node)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import (
    ServerProcess,
    two_nodes,
)
from tests.e2e.helpers import TRUST_ROOT, session_client


@pytest.fixture(scope="module")
def nodes(tmp_root: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    yield from two_nodes(tmp_root, "sts-multinode")


def test_a_session_issued_by_one_node_is_accepted_by_the_other(
    nodes: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = nodes
    name = "mn-" + uuid.uuid4().hex[:10]
    arn = a.client("iam").create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_ROOT)
    )["Role"]["Arn"]
    out = b.client("sts").assume_role(RoleArn=arn, RoleSessionName="across")
    creds = out["Credentials"]
    for node in (a, b):
        who = session_client(node, "sts", creds).get_caller_identity()
        assert who["Arn"] == out["AssumedRoleUser"]["Arn"]

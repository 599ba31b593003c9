"""The node's own endpoints: health, and the dev-mode reset, clock and scheduler."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.conftest import ServerProcess


def test_health_is_public(server: ServerProcess) -> None:
    r = requests.get(server.endpoint + "/_garrison/health", timeout=5)
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "sealed": False}


def test_reset_wipes_state_but_keeps_root_credentials(fresh_server_factory: Any) -> None:
    server: ServerProcess = fresh_server_factory().start()
    kms = server.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    assert server.post("/_garrison/reset").status_code == 200
    with pytest.raises(ClientError) as exc:
        kms.describe_key(KeyId=key_id)
    assert exc.value.response["Error"]["Code"] == "NotFoundException"
    assert kms.list_keys()["Keys"] == []
    # the trail starts a new chain: only the calls made since the reset are in it
    events = server.client("cloudtrail").lookup_events()["Events"]
    assert sorted(e["EventName"] for e in events) == ["DescribeKey", "ListKeys"]
    server.stop()
    result = server.cli("audit", "verify")
    assert result.returncode == 0, result.stdout


def test_clock_moves_forward_only(sqlite_server: ServerProcess) -> None:
    r = sqlite_server.post("/_garrison/clock", {"advance_seconds": -1})
    assert r.status_code == 400
    r = sqlite_server.post("/_garrison/clock", {"advance_seconds": "soon"})
    assert r.status_code == 400


def test_dev_endpoints_are_404_outside_dev_mode(fresh_server_factory: Any) -> None:
    server: ServerProcess = fresh_server_factory(dev=False).start()
    for path in ("/_garrison/reset", "/_garrison/clock", "/_garrison/scheduler/run"):
        assert requests.post(server.endpoint + path, json={}, timeout=5).status_code == 404
    assert requests.get(server.endpoint + "/_garrison/health", timeout=5).status_code == 200

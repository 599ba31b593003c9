"""Migration 0010 (audit rows: fewer B-trees per event) on data, on SQLite and PostgreSQL.

A store at 0009 holds audit events with zero, one and two resources, and their
`audit_resources` rows. Upgraded to 0010, the events are untouched, the table and
the `event_time` index are gone, and LookupEvents' query finds each resource in
the events' bodies; downgraded again, `audit_resources` is rebuilt from the bodies
as it was.

The migrations run to explicit revisions, so later ones do not change what is checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Engine, inspect, text

from garrison.services.cloudtrail import store
from garrison.storage.writer import Tx
from tests.conftest import BACKENDS
from tests.storage.stores_at import migrate, store_at

BEFORE, AFTER = "0009", "0010"
ACCOUNT, REGION = "111122223333", "us-east-1"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k1"
PARAM = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/p1"
# seq -> the event's resources, as (type, ARN)
RESOURCES: dict[int, list[tuple[str, str]]] = {
    1: [],
    2: [("AWS::KMS::Key", KEY)],
    3: [("AWS::SSM::Parameter", PARAM), ("AWS::KMS::Key", KEY)],
}


def _body(seq: int) -> str:
    event: dict[str, Any] = {
        "eventID": f"e{seq}",
        "eventName": "Decrypt",
        "userIdentity": {"type": "Root", "arn": f"arn:aws:iam::{ACCOUNT}:root"},
    }
    if RESOURCES[seq]:
        event["resources"] = [
            {"ARN": arn, "accountId": ACCOUNT, "type": kind} for kind, arn in RESOURCES[seq]
        ]
    return json.dumps(event, sort_keys=True, separators=(",", ":"))


def _seed(engine: Engine) -> None:
    with engine.begin() as conn:
        for seq, resources in RESOURCES.items():
            conn.execute(
                text(
                    "INSERT INTO audit_events (node_id, seq, event_id, event_time, account_id,"
                    " region, event_name, event_source, read_only, username, access_key_id,"
                    " body, prev_hash, hash) VALUES ('n', :seq, :id, :t, :a, :r, 'Decrypt',"
                    " 'kms.amazonaws.com', :ro, 'root', 'AKIA', :body, :prev, :hash)"
                ),
                {
                    "seq": seq,
                    "id": f"e{seq}",
                    "t": 1000.0 + seq,
                    "a": ACCOUNT,
                    "r": REGION,
                    "ro": True,
                    "body": _body(seq),
                    "prev": "0" * 64,
                    "hash": f"{seq:064d}",
                },
            )
            for ordinal, (kind, arn) in enumerate(resources):
                conn.execute(
                    text(
                        "INSERT INTO audit_resources (node_id, seq, ordinal, resource_type,"
                        " resource_name) VALUES ('n', :seq, :o, :kind, :arn)"
                    ),
                    {"seq": seq, "o": ordinal, "kind": kind, "arn": arn},
                )


def _tables(engine: Engine) -> tuple[set[str], set[str]]:
    """The store's tables, and the names of the audit events' indexes."""
    with engine.connect() as conn:
        inspector = inspect(conn)
        names = {i["name"] for i in inspector.get_indexes("audit_events") if i["name"]}
        return set(inspector.get_table_names()), names


def _resource_rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT node_id, seq, ordinal, resource_type, resource_name FROM audit_resources")
        )
        return sorted(tuple(r) for r in rows)


def _events(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(text("SELECT * FROM audit_events")))


def _lookup(engine: Engine, key: str, value: str) -> list[tuple[int, tuple[tuple[str, str], ...]]]:
    with engine.connect() as conn:
        rows = store.lookup(
            Tx(conn, cast(Any, None)),
            account_id=ACCOUNT,
            region=REGION,
            attribute=(key, value),
            start=None,
            end=None,
            after=None,
            limit=10,
        )
    return [(r.seq, r.resources) for r in rows]


@pytest.fixture(params=BACKENDS)
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A new database of this test's own, at 0009, holding events and their resources."""
    with store_at(request.param, tmp_path, BEFORE) as engine:
        _seed(engine)
        yield engine


def test_upgrade_keeps_the_events_and_finds_resources_in_their_bodies(old_store: Engine) -> None:
    events = _events(old_store)
    migrate(old_store, "upgrade", AFTER)
    tables, indexes = _tables(old_store)
    assert "audit_resources" not in tables
    assert "ix_audit_events_event_time" not in indexes
    assert "ix_audit_events_account_time" in indexes
    assert _events(old_store) == events
    two, three = tuple(RESOURCES[2]), tuple(RESOURCES[3])
    assert _lookup(old_store, "ResourceName", KEY) == [(3, three), (2, two)]
    assert _lookup(old_store, "ResourceType", "AWS::SSM::Parameter") == [(3, three)]
    assert _lookup(old_store, "ResourceType", "Root") == []  # the caller, not a resource


def test_downgrade_rebuilds_the_resources_from_the_bodies(old_store: Engine) -> None:
    seeded = _resource_rows(old_store)
    assert len(seeded) == 3
    migrate(old_store, "upgrade", AFTER)
    migrate(old_store, "downgrade", BEFORE)
    tables, indexes = _tables(old_store)
    assert "audit_resources" in tables
    assert "ix_audit_events_event_time" in indexes
    assert _resource_rows(old_store) == seeded

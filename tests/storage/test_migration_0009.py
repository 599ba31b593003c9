"""Migration 0009 (ssm policy status) on data, on SQLite and PostgreSQL.

A store migrated to 0008 is filled with parameters in the old format (each
version's `policies` a JSON array of policy texts, `ssm_policy_actions` keyed by
policy type), then migrated to 0009 and back:

- upgrade: every policy becomes ``{"text", "status"}``; on a parameter's latest
  version a policy with no pending action had acted (Finished), every other
  policy is Pending; actions are re-keyed by the policy's place in its version's
  list, and an action whose version holds no policy of its type is dropped;
- downgrade: the texts come back as they were, and of several actions of one
  type the first due is kept (the old key holds one per type);
- upgrade after downgrade gives the first upgrade's result again.

Each test gets an empty database of its own; the migrations run to explicit
revisions (0008, 0009), so later migrations do not change what is checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text

from tests.conftest import BACKENDS
from tests.storage.stores_at import migrate, store_at

BEFORE, AFTER = "0008", "0009"


def _policy(kind: str, **attributes: str) -> str:
    return json.dumps(
        {"Type": kind, "Version": "1.0", "Attributes": attributes}, separators=(",", ":")
    )


EXPIRE = _policy("Expiration", Timestamp="2030-01-01T00:00:00.000Z")
EXPIRE_LATER = _policy("Expiration", Timestamp="2031-01-01T00:00:00.000Z")
NOTIFY = _policy("ExpirationNotification", Before="1", Unit="Days")
NOTIFY_EARLIER = _policy("ExpirationNotification", Before="2", Unit="Days")
NO_CHANGE = _policy("NoChangeNotification", After="1", Unit="Days")

# The old-format store: parameter -> latest version, and each version's policies.
PARAMETERS = {"p1": 2, "p2": 1, "p3": 2}
OLD_POLICIES: dict[tuple[str, int], list[str] | None] = {
    ("p1", 1): [EXPIRE, NOTIFY, NO_CHANGE],  # superseded: all Pending, acted or not
    ("p1", 2): [NO_CHANGE, EXPIRE, NOTIFY],  # another order: the actions' indexes follow it
    ("p2", 1): [EXPIRE_LATER],  # latest, no action: expired (p1's Expiration is not p2's)
    ("p3", 1): [EXPIRE],
    ("p3", 2): None,  # latest, no policies: its Expiration action is stale
}
# (parameter_id, policy_type, version, due_at); p1's notification was sent (no row).
OLD_ACTIONS = [
    ("p1", "Expiration", 2, 100.0),
    ("p1", "NoChangeNotification", 2, 50.0),
    ("p3", "Expiration", 2, 70.0),
]


def _entries(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"text": policy, "status": status} for policy, status in pairs]


UPGRADED_POLICIES: dict[tuple[str, int], Any] = {
    ("p1", 1): _entries((EXPIRE, "Pending"), (NOTIFY, "Pending"), (NO_CHANGE, "Pending")),
    ("p1", 2): _entries((NO_CHANGE, "Pending"), (EXPIRE, "Pending"), (NOTIFY, "Finished")),
    ("p2", 1): _entries((EXPIRE_LATER, "Finished")),
    ("p3", 1): _entries((EXPIRE, "Pending")),
    ("p3", 2): None,
}
# (parameter_id, policy_index, policy_type, version, due_at)
UPGRADED_ACTIONS = [
    ("p1", 0, "NoChangeNotification", 2, 50.0),
    ("p1", 1, "Expiration", 2, 100.0),
]


def _policies(engine: Engine) -> dict[tuple[str, int], Any]:
    """Every version's `policies`, parsed (None where there are none)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT parameter_id, version, policies FROM ssm_parameter_versions")
        )
        return {
            (r.parameter_id, int(r.version)): None if r.policies is None else json.loads(r.policies)
            for r in rows
        }


def _actions(engine: Engine, *columns: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT {', '.join(columns)} FROM ssm_policy_actions"))
        return sorted(tuple(r) for r in rows)


def _actions_table(engine: Engine) -> dict[str, Any]:
    """The shape of `ssm_policy_actions`: columns, primary key, indexes."""
    with engine.connect() as conn:
        inspector = inspect(conn)
        table = "ssm_policy_actions"
        return {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
        }


def _seed_old_format(engine: Engine) -> None:
    with engine.begin() as conn:
        for n, (parameter_id, latest) in enumerate(PARAMETERS.items()):
            conn.execute(
                text(
                    "INSERT INTO ssm_parameters (parameter_id, account_id, region, name,"
                    " version, tier, last_modified)"
                    " VALUES (:p, '123456789012', 'us-east-1', :name, :v, 'Advanced', 1.0)"
                ),
                {"p": parameter_id, "name": f"/app/{n}", "v": latest},
            )
        for (parameter_id, version), policies in OLD_POLICIES.items():
            conn.execute(
                text(
                    "INSERT INTO ssm_parameter_versions (parameter_id, version, type, data_type,"
                    " tier, policies, value, last_modified, last_modified_user)"
                    " VALUES (:p, :v, 'String', 'text', 'Advanced', :policies, :value, 1.0, 'u')"
                ),
                {
                    "p": parameter_id,
                    "v": version,
                    "policies": None if policies is None else json.dumps(policies),
                    "value": b"x",
                },
            )
        conn.execute(
            text(
                "INSERT INTO ssm_policy_actions (parameter_id, policy_type, version, due_at)"
                " VALUES (:p, :t, :v, :due)"
            ),
            [{"p": p, "t": t, "v": v, "due": due} for p, t, v, due in OLD_ACTIONS],
        )


@pytest.fixture(params=BACKENDS)
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A new database of this test's own, at 0008, holding the old-format rows."""
    with store_at(request.param, tmp_path, BEFORE) as engine:
        _seed_old_format(engine)
        yield engine


def test_upgrade_gives_each_policy_its_status_and_keys_actions_by_index(
    old_store: Engine,
) -> None:
    migrate(old_store, "upgrade", AFTER)

    assert _policies(old_store) == UPGRADED_POLICIES
    columns = ("parameter_id", "policy_index", "policy_type", "version", "due_at")
    assert _actions(old_store, *columns) == UPGRADED_ACTIONS
    assert _actions_table(old_store)["primary_key"] == ["parameter_id", "policy_index"]


def test_downgrade_restores_the_texts_and_keeps_the_first_due_action_of_each_type(
    old_store: Engine,
) -> None:
    old_table = _actions_table(old_store)
    migrate(old_store, "upgrade", AFTER)
    # What the new format allows and the old did not: p1's version 3 with two
    # notifications, each with its action (the later-due one stored first).
    with old_store.begin() as conn:
        pending = _entries((EXPIRE, "Pending"), (NOTIFY, "Pending"), (NOTIFY_EARLIER, "Pending"))
        conn.execute(
            text(
                "INSERT INTO ssm_parameter_versions (parameter_id, version, type, data_type,"
                " tier, policies, value, last_modified, last_modified_user)"
                " VALUES ('p1', 3, 'String', 'text', 'Advanced', :policies, :value, 2.0, 'u')"
            ),
            {"policies": json.dumps(pending), "value": b"y"},
        )
        conn.execute(text("UPDATE ssm_parameters SET version = 3 WHERE parameter_id = 'p1'"))
        conn.execute(text("DELETE FROM ssm_policy_actions WHERE parameter_id = 'p1'"))
        for index, kind, due in (
            (0, "Expiration", 100.0),
            (1, "ExpirationNotification", 20.0),
            (2, "ExpirationNotification", 10.0),
        ):
            conn.execute(
                text(
                    "INSERT INTO ssm_policy_actions"
                    " (parameter_id, policy_index, policy_type, version, due_at)"
                    " VALUES ('p1', :i, :t, 3, :due)"
                ),
                {"i": index, "t": kind, "due": due},
            )

    migrate(old_store, "downgrade", BEFORE)

    assert _policies(old_store) == {**OLD_POLICIES, ("p1", 3): [EXPIRE, NOTIFY, NOTIFY_EARLIER]}
    assert _actions(old_store, "parameter_id", "policy_type", "version", "due_at") == [
        ("p1", "Expiration", 3, 100.0),
        ("p1", "ExpirationNotification", 3, 10.0),
    ]
    assert _actions_table(old_store) == old_table


def test_upgrade_after_downgrade_gives_the_same_statuses_and_actions(old_store: Engine) -> None:
    migrate(old_store, "upgrade", AFTER)
    upgraded_table = _actions_table(old_store)
    migrate(old_store, "downgrade", BEFORE)
    migrate(old_store, "upgrade", AFTER)

    assert _policies(old_store) == UPGRADED_POLICIES
    columns = ("parameter_id", "policy_index", "policy_type", "version", "due_at")
    assert _actions(old_store, *columns) == UPGRADED_ACTIONS
    assert _actions_table(old_store) == upgraded_table

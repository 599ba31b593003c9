"""ssm policy status

Parameter policies get AWS's PolicyStatus, and a parameter may hold several
policies of one type (ExpirationNotification policies with different Before):

- `ssm_parameter_versions.policies`, a JSON array of policy texts, becomes a JSON
  array of ``{"text", "status"}``. The latest version's policies whose action row
  is gone had acted (or, an ExpirationNotification, had been sent for the same
  Expiration by an earlier version): Finished; every other policy: Pending.
- `ssm_policy_actions` is keyed by the policy's place in its version's list
  (`policy_index`) instead of by its type.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 07:40:00.000000
"""

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_versions = sa.table(
    "ssm_parameter_versions",
    sa.column("parameter_id", sa.String),
    sa.column("version", sa.Integer),
    sa.column("policies", sa.Text),
)
_parameters = sa.table(
    "ssm_parameters", sa.column("parameter_id", sa.String), sa.column("version", sa.Integer)
)
_old_actions = sa.table(
    "ssm_policy_actions",
    sa.column("parameter_id", sa.String),
    sa.column("policy_type", sa.String),
    sa.column("version", sa.Integer),
    sa.column("due_at", sa.Float),
)
_new_actions = sa.table(
    "ssm_policy_actions",
    sa.column("parameter_id", sa.String),
    sa.column("policy_index", sa.Integer),
    sa.column("policy_type", sa.String),
    sa.column("version", sa.Integer),
    sa.column("due_at", sa.Float),
)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _kind(text: str) -> str:
    return str(json.loads(text)["Type"])


def _versions_with_policies(conn: Any) -> list[Any]:
    return list(
        conn.execute(
            sa.select(_versions.c.parameter_id, _versions.c.version, _versions.c.policies).where(
                _versions.c.policies.is_not(None)
            )
        )
    )


def _set_policies(conn: Any, parameter_id: str, version: int, policies: str) -> None:
    conn.execute(
        _versions.update()
        .where(_versions.c.parameter_id == parameter_id, _versions.c.version == version)
        .values(policies=policies)
    )


def _recreate_actions(key: str, key_type: Any) -> None:
    with op.batch_alter_table("ssm_policy_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_ssm_policy_actions_due")
    op.drop_table("ssm_policy_actions")
    columns = [
        sa.Column("parameter_id", sa.String(length=36), nullable=False),
        sa.Column(key, key_type, nullable=False, autoincrement=False),
    ]
    if key != "policy_type":
        columns.append(sa.Column("policy_type", sa.String(length=32), nullable=False))
    op.create_table(
        "ssm_policy_actions",
        *columns,
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("parameter_id", key),
    )
    with op.batch_alter_table("ssm_policy_actions", schema=None) as batch_op:
        batch_op.create_index("ix_ssm_policy_actions_due", ["due_at"], unique=False)


def upgrade() -> None:
    conn = op.get_bind()
    actions = list(conn.execute(sa.select(_old_actions)))
    pending = {(r.parameter_id, r.policy_type) for r in actions}
    latest = {r.parameter_id: int(r.version) for r in conn.execute(sa.select(_parameters))}
    kinds: dict[tuple[str, int], list[str]] = {}
    for row in _versions_with_policies(conn):
        texts = json.loads(row.policies)
        kinds[(row.parameter_id, int(row.version))] = [_kind(t) for t in texts]
        is_latest = latest.get(row.parameter_id) == int(row.version)
        entries = [
            {
                "text": text,
                "status": "Finished"
                if is_latest and (row.parameter_id, _kind(text)) not in pending
                else "Pending",
            }
            for text in texts
        ]
        _set_policies(conn, row.parameter_id, int(row.version), _dumps(entries))

    _recreate_actions("policy_index", sa.Integer())
    rows = []
    for action in actions:
        types = kinds.get((action.parameter_id, int(action.version)), [])
        if action.policy_type in types:  # else stale: its version's policies are gone
            rows.append(
                {
                    "parameter_id": action.parameter_id,
                    "policy_index": types.index(action.policy_type),
                    "policy_type": action.policy_type,
                    "version": action.version,
                    "due_at": action.due_at,
                }
            )
    if rows:
        conn.execute(_new_actions.insert(), rows)


def downgrade() -> None:
    conn = op.get_bind()
    # one action per policy type, the first due (the schema before this one held no more)
    first: dict[tuple[str, str], Any] = {}
    for action in conn.execute(sa.select(_new_actions).order_by(_new_actions.c.due_at)):
        first.setdefault((action.parameter_id, action.policy_type), action)
    for row in _versions_with_policies(conn):
        texts = [entry["text"] for entry in json.loads(row.policies)]
        _set_policies(conn, row.parameter_id, int(row.version), _dumps(texts))

    _recreate_actions("policy_type", sa.String(length=32))
    rows = [
        {
            "parameter_id": a.parameter_id,
            "policy_type": a.policy_type,
            "version": a.version,
            "due_at": a.due_at,
        }
        for a in first.values()
    ]
    if rows:
        conn.execute(_old_actions.insert(), rows)

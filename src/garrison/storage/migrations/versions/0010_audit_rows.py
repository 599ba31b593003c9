"""audit rows: fewer B-trees per event

Every audited call inserted its event into five B-trees and each of its resources
into three more. LookupEvents filters by account and time through
``ix_audit_events_account_time``; no query read ``ix_audit_events_event_time``, and
an event's resources are in its body (the canonical CloudTrail event), where
LookupEvents now finds them. Dropped: that index and the ``audit_resources`` table
with its index. A commit of 16 events wrote 27 WAL pages, now 18, and cost SQLite
~80 us less (docs/performance.md, sixth pass).

The downgrade rebuilds ``audit_resources`` from the bodies.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 12:30:00.000000
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_event_time")
    with op.batch_alter_table("audit_resources", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_resources_resource_type")
    op.drop_table("audit_resources")


def downgrade() -> None:
    resources = op.create_table(
        "audit_resources",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ordinal", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("resource_type", sa.String(length=128), nullable=False),
        sa.Column("resource_name", sa.String(length=2048), nullable=False),
        sa.PrimaryKeyConstraint("node_id", "seq", "ordinal"),
    )
    with op.batch_alter_table("audit_resources", schema=None) as batch_op:
        batch_op.create_index("ix_audit_resources_resource_type", ["resource_type"], unique=False)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_event_time", ["event_time"], unique=False)
    events = sa.table("audit_events", sa.column("node_id"), sa.column("seq"), sa.column("body"))
    conn = op.get_bind()
    rows = []
    for node_id, seq, body in conn.execute(
        sa.select(events.c.node_id, events.c.seq, events.c.body)
    ):
        for i, res in enumerate(json.loads(body).get("resources") or ()):
            rows.append(
                {
                    "node_id": node_id,
                    "seq": seq,
                    "ordinal": i,
                    "resource_type": res["type"],
                    "resource_name": res["ARN"],
                }
            )
            if len(rows) >= 1000:
                op.bulk_insert(resources, rows)
                rows = []
    if rows:
        op.bulk_insert(resources, rows)

"""kms multi-Region keys

One row per set of related multi-Region keys, naming the Region of its primary key.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 03:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kms_multi_region_keys",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("primary_region", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("key_id"),
    )


def downgrade() -> None:
    op.drop_table("kms_multi_region_keys")

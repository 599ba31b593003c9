"""ssm parameter store

Parameters, their versions (values sealed by the barrier), labels, tags, resource
policies and the scheduled actions of parameter policies.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 04:38:24.121871
"""

from alembic import op
import sqlalchemy as sa


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ssm_parameter_labels",
        sa.Column("parameter_id", sa.String(length=36), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("parameter_id", "label"),
    )
    with op.batch_alter_table("ssm_parameter_labels", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ssm_parameter_labels_version", ["parameter_id", "version"], unique=False
        )

    op.create_table(
        "ssm_parameter_tags",
        sa.Column("parameter_id", sa.String(length=36), nullable=False),
        sa.Column("tag_key", sa.String(length=128), nullable=False),
        sa.Column("tag_value", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("parameter_id", "tag_key"),
    )
    op.create_table(
        "ssm_parameter_versions",
        sa.Column("parameter_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("data_type", sa.String(length=128), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=256), nullable=True),
        sa.Column("description", sa.String(length=1024), nullable=True),
        sa.Column("allowed_pattern", sa.String(length=1024), nullable=True),
        sa.Column("policies", sa.Text(), nullable=True),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("last_modified", sa.Float(), nullable=False),
        sa.Column("last_modified_user", sa.String(length=2048), nullable=False),
        sa.PrimaryKeyConstraint("parameter_id", "version"),
    )
    op.create_table(
        "ssm_parameters",
        sa.Column("parameter_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=2048), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("last_modified", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("parameter_id"),
    )
    with op.batch_alter_table("ssm_parameters", schema=None) as batch_op:
        batch_op.create_index(
            "ux_ssm_parameters_name", ["account_id", "region", "name"], unique=True
        )

    op.create_table(
        "ssm_policy_actions",
        sa.Column("parameter_id", sa.String(length=36), nullable=False),
        sa.Column("policy_type", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("parameter_id", "policy_type"),
    )
    with op.batch_alter_table("ssm_policy_actions", schema=None) as batch_op:
        batch_op.create_index("ix_ssm_policy_actions_due", ["due_at"], unique=False)

    op.create_table(
        "ssm_resource_policies",
        sa.Column("parameter_id", sa.String(length=36), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("policy_hash", sa.String(length=64), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("parameter_id", "policy_id"),
    )


def downgrade() -> None:
    op.drop_table("ssm_resource_policies")
    with op.batch_alter_table("ssm_policy_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_ssm_policy_actions_due")

    op.drop_table("ssm_policy_actions")
    with op.batch_alter_table("ssm_parameters", schema=None) as batch_op:
        batch_op.drop_index("ux_ssm_parameters_name")

    op.drop_table("ssm_parameters")
    op.drop_table("ssm_parameter_versions")
    op.drop_table("ssm_parameter_tags")
    with op.batch_alter_table("ssm_parameter_labels", schema=None) as batch_op:
        batch_op.drop_index("ix_ssm_parameter_labels_version")

    op.drop_table("ssm_parameter_labels")

"""secrets manager

Secrets, their versions (values: KMS ciphertext sealed by the barrier), staging
labels, tags, resource policies, replicas and rotations in progress.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 05:23:11.828009
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sm_replicas',
    sa.Column('secret_id', sa.String(length=36), nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('kms_key_id', sa.String(length=2048), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_message', sa.String(length=1024), nullable=True),
    sa.Column('last_accessed', sa.Float(), nullable=True),
    sa.Column('replica_secret_id', sa.String(length=36), nullable=True),
    sa.PrimaryKeyConstraint('secret_id', 'region')
    )
    op.create_table('sm_resource_policies',
    sa.Column('secret_id', sa.String(length=36), nullable=False),
    sa.Column('policy', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('secret_id')
    )
    op.create_table('sm_rotations',
    sa.Column('secret_id', sa.String(length=36), nullable=False),
    sa.Column('version_id', sa.String(length=64), nullable=False),
    sa.Column('step', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.Float(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.Float(), nullable=False),
    sa.Column('last_error', sa.String(length=1024), nullable=True),
    sa.PrimaryKeyConstraint('secret_id')
    )
    with op.batch_alter_table('sm_rotations', schema=None) as batch_op:
        batch_op.create_index('ix_sm_rotations_due', ['next_attempt_at'], unique=False)

    op.create_table('sm_secret_versions',
    sa.Column('secret_id', sa.String(length=36), nullable=False),
    sa.Column('version_id', sa.String(length=64), nullable=False),
    sa.Column('value_type', sa.String(length=8), nullable=True),
    sa.Column('value', sa.LargeBinary(), nullable=True),
    sa.Column('value_digest', sa.LargeBinary(), nullable=True),
    sa.Column('kms_key_arn', sa.String(length=2048), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('last_accessed', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('secret_id', 'version_id')
    )
    with op.batch_alter_table('sm_secret_versions', schema=None) as batch_op:
        batch_op.create_index('ix_sm_secret_versions_created', ['secret_id', 'created_at'], unique=False)

    op.create_table('sm_secrets',
    sa.Column('secret_id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=12), nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('arn', sa.String(length=2048), nullable=False),
    sa.Column('description', sa.String(length=2048), nullable=True),
    sa.Column('kms_key_id', sa.String(length=2048), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('last_changed', sa.Float(), nullable=False),
    sa.Column('last_accessed', sa.Float(), nullable=True),
    sa.Column('deleted_at', sa.Float(), nullable=True),
    sa.Column('deletion_date', sa.Float(), nullable=True),
    sa.Column('rotation_enabled', sa.Boolean(), nullable=False),
    sa.Column('rotation_lambda_arn', sa.String(length=2048), nullable=True),
    sa.Column('rotation_rules', sa.Text(), nullable=True),
    sa.Column('last_rotated', sa.Float(), nullable=True),
    sa.Column('next_rotation', sa.Float(), nullable=True),
    sa.Column('owning_service', sa.String(length=128), nullable=True),
    sa.Column('primary_arn', sa.String(length=2048), nullable=True),
    sa.PrimaryKeyConstraint('secret_id')
    )
    with op.batch_alter_table('sm_secrets', schema=None) as batch_op:
        batch_op.create_index('ix_sm_secrets_deletion', ['deletion_date'], unique=False)
        batch_op.create_index('ix_sm_secrets_next_rotation', ['next_rotation'], unique=False)
        batch_op.create_index('ux_sm_secrets_arn', ['arn'], unique=True)
        batch_op.create_index('ux_sm_secrets_name', ['account_id', 'region', 'name'], unique=True)

    op.create_table('sm_tags',
    sa.Column('secret_id', sa.String(length=36), nullable=False),
    sa.Column('tag_key', sa.String(length=128), nullable=False),
    sa.Column('tag_value', sa.String(length=256), nullable=False),
    sa.PrimaryKeyConstraint('secret_id', 'tag_key')
    )
    op.create_table('sm_version_stages',
    sa.Column('secret_id', sa.String(length=36), nullable=False),
    sa.Column('stage', sa.String(length=256), nullable=False),
    sa.Column('version_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('secret_id', 'stage')
    )
    with op.batch_alter_table('sm_version_stages', schema=None) as batch_op:
        batch_op.create_index('ix_sm_version_stages_version', ['secret_id', 'version_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sm_version_stages', schema=None) as batch_op:
        batch_op.drop_index('ix_sm_version_stages_version')

    op.drop_table('sm_version_stages')
    op.drop_table('sm_tags')
    with op.batch_alter_table('sm_secrets', schema=None) as batch_op:
        batch_op.drop_index('ux_sm_secrets_name')
        batch_op.drop_index('ux_sm_secrets_arn')
        batch_op.drop_index('ix_sm_secrets_next_rotation')
        batch_op.drop_index('ix_sm_secrets_deletion')

    op.drop_table('sm_secrets')
    with op.batch_alter_table('sm_secret_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_sm_secret_versions_created')

    op.drop_table('sm_secret_versions')
    with op.batch_alter_table('sm_rotations', schema=None) as batch_op:
        batch_op.drop_index('ix_sm_rotations_due')

    op.drop_table('sm_rotations')
    op.drop_table('sm_resource_policies')
    op.drop_table('sm_replicas')

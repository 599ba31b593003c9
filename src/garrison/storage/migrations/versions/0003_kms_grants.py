"""kms grants

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 03:20:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('kms_grants',
    sa.Column('grant_id', sa.String(length=64), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('issuing_account', sa.String(length=12), nullable=False),
    sa.Column('grantee_principal', sa.String(length=256), nullable=False),
    sa.Column('retiring_principal', sa.String(length=256), nullable=True),
    sa.Column('operations', sa.Text(), nullable=False),
    sa.Column('constraint_type', sa.String(length=32), nullable=True),
    sa.Column('constraint_context', sa.Text(), nullable=True),
    sa.Column('name', sa.String(length=256), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('grant_id')
    )
    with op.batch_alter_table('kms_grants', schema=None) as batch_op:
        batch_op.create_index('ix_kms_grants_key', ['key_id', 'grant_id'], unique=False)
        batch_op.create_index('ix_kms_grants_retiring', ['retiring_principal'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('kms_grants', schema=None) as batch_op:
        batch_op.drop_index('ix_kms_grants_retiring')
        batch_op.drop_index('ix_kms_grants_key')

    op.drop_table('kms_grants')

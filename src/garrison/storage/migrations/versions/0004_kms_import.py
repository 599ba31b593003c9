"""kms imported key material (Origin EXTERNAL)

Import tokens with their sealed RSA wrapping keys, and per-version facts of
imported material: expiration model, ValidTo, description, import state and a
keyed digest that recognises the same material when it is imported again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 03:35:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('kms_import_tokens',
    sa.Column('token_id', sa.String(length=64), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('wrapping_algorithm', sa.String(length=32), nullable=False),
    sa.Column('wrapping_key_spec', sa.String(length=16), nullable=False),
    sa.Column('private_key', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('token_id')
    )
    with op.batch_alter_table('kms_import_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_kms_import_tokens_key', ['key_id'], unique=False)
        batch_op.create_index('ix_kms_import_tokens_expiry', ['expires_at'], unique=False)

    with op.batch_alter_table('kms_key_versions', schema=None) as batch_op:
        batch_op.alter_column('material', existing_type=sa.LargeBinary(), nullable=True)
        batch_op.add_column(sa.Column('import_state', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('expiration_model', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('valid_to', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('material_description', sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column('material_digest', sa.LargeBinary(), nullable=True))
        batch_op.create_index('ix_kms_key_versions_valid_to', ['valid_to'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('kms_key_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_kms_key_versions_valid_to')
        batch_op.drop_column('material_digest')
        batch_op.drop_column('material_description')
        batch_op.drop_column('valid_to')
        batch_op.drop_column('expiration_model')
        batch_op.drop_column('import_state')
        batch_op.alter_column('material', existing_type=sa.LargeBinary(), nullable=False)

    with op.batch_alter_table('kms_import_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_kms_import_tokens_expiry')
        batch_op.drop_index('ix_kms_import_tokens_key')

    op.drop_table('kms_import_tokens')

"""event bus

EventBridge's rules, their tags and targets, connections, API destinations, the
delivery outbox and the dead-letter record.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 04:45:54.063877
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('events_api_destinations',
    sa.Column('account_id', sa.String(length=12), nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('destination_id', sa.String(length=36), nullable=False),
    sa.Column('connection_arn', sa.String(length=1600), nullable=False),
    sa.Column('endpoint', sa.String(length=2048), nullable=False),
    sa.Column('http_method', sa.String(length=16), nullable=False),
    sa.Column('rate_limit', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('description', sa.String(length=512), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('last_modified_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('account_id', 'region', 'name')
    )
    op.create_table('events_connections',
    sa.Column('account_id', sa.String(length=12), nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('connection_id', sa.String(length=36), nullable=False),
    sa.Column('authorization_type', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('state_reason', sa.String(length=512), nullable=True),
    sa.Column('description', sa.String(length=512), nullable=True),
    sa.Column('parameters', sa.Text(), nullable=False),
    sa.Column('secrets', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('last_modified_at', sa.Float(), nullable=False),
    sa.Column('last_authorized_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('account_id', 'region', 'name')
    )
    op.create_table('events_dead_letters',
    sa.Column('delivery_id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=12), nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('event_bus', sa.String(length=256), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('target_id', sa.String(length=64), nullable=False),
    sa.Column('target_arn', sa.String(length=1600), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('failed_at', sa.Float(), nullable=False),
    sa.Column('error', sa.String(length=1024), nullable=False),
    sa.PrimaryKeyConstraint('delivery_id')
    )
    with op.batch_alter_table('events_dead_letters', schema=None) as batch_op:
        batch_op.create_index('ix_events_dead_letters_account', ['account_id', 'region', 'failed_at'], unique=False)

    op.create_table('events_outbox',
    sa.Column('delivery_id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=12), nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('event_bus', sa.String(length=256), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('target_id', sa.String(length=64), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.Float(), nullable=False),
    sa.Column('lease_until', sa.Float(), nullable=True),
    sa.Column('lease_holder', sa.String(length=128), nullable=True),
    sa.Column('last_error', sa.String(length=1024), nullable=True),
    sa.PrimaryKeyConstraint('delivery_id')
    )
    with op.batch_alter_table('events_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_events_outbox_due', ['next_attempt_at'], unique=False)

    op.create_table('events_rule_tags',
    sa.Column('account_id', sa.String(length=12), nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('event_bus', sa.String(length=256), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('tag_key', sa.String(length=128), nullable=False),
    sa.Column('tag_value', sa.String(length=256), nullable=False),
    sa.PrimaryKeyConstraint('account_id', 'region', 'event_bus', 'rule', 'tag_key')
    )
    op.create_table('events_rules',
    sa.Column('account_id', sa.String(length=12), nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('event_bus', sa.String(length=256), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('event_pattern', sa.Text(), nullable=True),
    sa.Column('schedule_expression', sa.String(length=256), nullable=True),
    sa.Column('state', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=512), nullable=True),
    sa.Column('role_arn', sa.String(length=1600), nullable=True),
    sa.Column('managed_by', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('account_id', 'region', 'event_bus', 'name')
    )
    op.create_table('events_targets',
    sa.Column('account_id', sa.String(length=12), nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.Column('event_bus', sa.String(length=256), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('target_id', sa.String(length=64), nullable=False),
    sa.Column('arn', sa.String(length=1600), nullable=False),
    sa.Column('target', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('account_id', 'region', 'event_bus', 'rule', 'target_id')
    )


def downgrade() -> None:
    op.drop_table('events_targets')
    op.drop_table('events_rules')
    op.drop_table('events_rule_tags')
    with op.batch_alter_table('events_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_events_outbox_due')

    op.drop_table('events_outbox')
    with op.batch_alter_table('events_dead_letters', schema=None) as batch_op:
        batch_op.drop_index('ix_events_dead_letters_account')

    op.drop_table('events_dead_letters')
    op.drop_table('events_connections')
    op.drop_table('events_api_destinations')

"""web sessions shared by every gateway process

Revision ID: 7c1e0b9d2f44
Revises: 505ae107775c
Create Date: 2026-12-01 02:05:00
"""
import sqlalchemy as sa
from alembic import op

revision = '7c1e0b9d2f44'
down_revision = '505ae107775c'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('web_sessions',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.Column('touched_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key'),
    schema='gateway'
    )
    op.create_index(op.f('ix_gateway_web_sessions_touched_at'), 'web_sessions', ['touched_at'], unique=False,
                    schema='gateway')


def downgrade() -> None:
    op.drop_index(op.f('ix_gateway_web_sessions_touched_at'), table_name='web_sessions', schema='gateway')
    op.drop_table('web_sessions', schema='gateway')

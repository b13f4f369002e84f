"""national pushes: FHIR resources to PUT to the national ROR, written with each publication

Revision ID: d78e7229869c
Revises: 0db94c6dd7f8
Create Date: 2026-11-30 21:19:00.194731
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = 'd78e7229869c'
down_revision = '0db94c6dd7f8'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ### reviewed: the national push outbox (FHIR resources to PUT to the national ROR) ###
    op.create_table('national_pushes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('region', sa.String(length=8), nullable=False),
    sa.Column('resource_type', sa.String(length=40), nullable=False),
    sa.Column('resource_id', sa.String(length=64), nullable=False),
    sa.Column('body', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('cause', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=12), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('pushed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=1000), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'pushed', 'failed', 'superseded')", name='ck_national_pushes_status'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('request_id'),
    schema='offers'
    )
    op.create_index('ix_national_pushes_due', 'national_pushes', ['status', 'next_attempt_at'], unique=False, schema='offers')
    op.create_index('ix_national_pushes_resource', 'national_pushes', ['resource_type', 'resource_id'], unique=False, schema='offers')
    # ### end Alembic commands ###


def downgrade() -> None:
    # ### reviewed: the national push outbox (FHIR resources to PUT to the national ROR) ###
    op.drop_index('ix_national_pushes_resource', table_name='national_pushes', schema='offers')
    op.drop_index('ix_national_pushes_due', table_name='national_pushes', schema='offers')
    op.drop_table('national_pushes', schema='offers')
    # ### end Alembic commands ###

"""structure edits: structure version and director name, capacity history, persons without RPPS

Revision ID: b7e1d2c3a4f5
Revises: a9c4e1f0b2d7
Create Date: 2026-11-30 21:30:00
"""
from alembic import op
import sqlalchemy as sa

revision = 'b7e1d2c3a4f5'
down_revision = 'a9c4e1f0b2d7'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('structures', sa.Column('director_name', sa.String(length=255), nullable=True), schema='offers')
    op.add_column('structures', sa.Column('version', sa.Integer(), server_default='1', nullable=False),
                  schema='offers')
    op.alter_column('professionals', 'rpps', existing_type=sa.String(length=11), nullable=True, schema='offers')
    op.create_table('capacity_observations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region', sa.String(length=8), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('capacity_type', sa.String(length=40), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['unit_id'], ['offers.structures.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    schema='offers'
    )
    op.create_index('ix_capacity_observations_unit_time', 'capacity_observations', ['unit_id', 'observed_at'],
                    unique=False, schema='offers')


def downgrade() -> None:
    op.drop_index('ix_capacity_observations_unit_time', table_name='capacity_observations', schema='offers')
    op.drop_table('capacity_observations', schema='offers')
    op.alter_column('professionals', 'rpps', existing_type=sa.String(length=11), nullable=False, schema='offers')
    op.drop_column('structures', 'version', schema='offers')
    op.drop_column('structures', 'director_name', schema='offers')

"""initial: structures, professionals, offers, outbox

Revision ID: 0db94c6dd7f8
Revises: 
Create Date: 2026-11-22 02:23:49.562541
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0db94c6dd7f8'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ### reviewed: JSONB on PostgreSQL, server defaults so importers can bulk-insert with Core ###
    op.create_table('outbox',
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('event_id'),
    schema='offers'
    )
    op.create_index(op.f('ix_offers_outbox_event_type'), 'outbox', ['event_type'], unique=False, schema='offers')
    op.create_index(op.f('ix_offers_outbox_published_at'), 'outbox', ['published_at'], unique=False, schema='offers')
    op.create_table('processed_events',
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('handler', sa.String(length=128), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id', 'handler'),
    schema='offers'
    )
    op.create_table('professionals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region', sa.String(length=8), nullable=False),
    sa.Column('rpps', sa.String(length=11), nullable=False),
    sa.Column('id_type', sa.String(length=1), server_default='8', nullable=False),
    sa.Column('civility_code', sa.String(length=10), nullable=True),
    sa.Column('civility', sa.String(length=40), nullable=True),
    sa.Column('last_name', sa.String(length=255), nullable=False),
    sa.Column('first_name', sa.String(length=255), nullable=True),
    sa.Column('profession_code', sa.String(length=10), nullable=True),
    sa.Column('profession_label', sa.String(length=255), nullable=True),
    sa.Column('category_code', sa.String(length=10), nullable=True),
    sa.Column('specialty_code', sa.String(length=20), nullable=True),
    sa.Column('specialty_label', sa.String(length=255), nullable=True),
    sa.Column('practice_mode_code', sa.String(length=10), nullable=True),
    sa.Column('practice_mode_label', sa.String(length=100), nullable=True),
    sa.Column('convention_sector', sa.String(length=40), nullable=True),
    sa.Column('accepts_vitale', sa.Boolean(), nullable=True),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('region', 'rpps', name='uq_professionals_region_rpps'),
    schema='offers'
    )
    op.create_index('ix_professionals_region_profession', 'professionals', ['region', 'profession_code'], unique=False, schema='offers')
    op.create_table('structures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=10), server_default='ror', nullable=False),
    sa.Column('source_key', sa.String(length=128), nullable=True),
    sa.Column('finess', sa.String(length=9), nullable=True),
    sa.Column('siret', sa.String(length=14), nullable=True),
    sa.Column('siren', sa.String(length=9), nullable=True),
    sa.Column('rpps', sa.String(length=11), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('long_name', sa.String(length=255), nullable=True),
    sa.Column('discipline', sa.String(length=3), nullable=True),
    sa.Column('category_code', sa.String(length=10), nullable=True),
    sa.Column('category_label', sa.String(length=255), nullable=True),
    sa.Column('legal_status_code', sa.String(length=10), nullable=True),
    sa.Column('legal_status_label', sa.String(length=255), nullable=True),
    sa.Column('type_label', sa.String(length=255), nullable=True),
    sa.Column('address_line', sa.String(length=255), nullable=True),
    sa.Column('address_complement', sa.String(length=255), nullable=True),
    sa.Column('postal_code', sa.String(length=5), nullable=True),
    sa.Column('commune_insee', sa.String(length=5), nullable=True),
    sa.Column('departement', sa.String(length=3), nullable=True),
    sa.Column('city', sa.String(length=255), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('fax', sa.String(length=20), nullable=True),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('mssante', sa.String(length=255), nullable=True),
    sa.Column('website', sa.String(length=500), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('opened_on', sa.String(length=10), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('legal_entity', 'site', 'pole', 'service', 'functional_unit', 'unit')", name='ck_structures_kind'),
    sa.CheckConstraint("source IN ('finess', 'rpps', 'ror')", name='ck_structures_source'),
    sa.ForeignKeyConstraint(['parent_id'], ['offers.structures.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('region', 'kind', 'finess', name='uq_structures_region_kind_finess'),
    sa.UniqueConstraint('region', 'kind', 'source_key', name='uq_structures_region_kind_source_key'),
    schema='offers'
    )
    op.create_index(op.f('ix_offers_structures_rpps'), 'structures', ['rpps'], unique=False, schema='offers')
    op.create_index('ix_structures_parent', 'structures', ['parent_id'], unique=False, schema='offers')
    op.create_index('ix_structures_region_commune', 'structures', ['region', 'commune_insee'], unique=False, schema='offers')
    op.create_index('ix_structures_region_departement_discipline', 'structures', ['region', 'departement', 'discipline'], unique=False, schema='offers')
    op.create_index('ix_structures_region_kind', 'structures', ['region', 'kind'], unique=False, schema='offers')
    op.create_table('capacities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region', sa.String(length=8), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('capacity_type', sa.String(length=40), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['offers.structures.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('unit_id', 'capacity_type', name='uq_capacities_unit_type'),
    schema='offers'
    )
    op.create_table('offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region', sa.String(length=8), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('unit_type', sa.String(length=20), nullable=False),
    sa.Column('care_mode', sa.String(length=20), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('owner_rpps', sa.String(length=11), nullable=True),
    sa.Column('owner_subject', sa.String(length=64), nullable=True),
    sa.Column('owner_username', sa.String(length=255), nullable=True),
    sa.Column('commune_insee', sa.String(length=5), nullable=True),
    sa.Column('departement', sa.String(length=3), nullable=True),
    sa.Column('national', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('draft', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('published', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('unpublished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=12), server_default='draft', nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'published', 'unpublished')", name='ck_offers_status'),
    sa.ForeignKeyConstraint(['unit_id'], ['offers.structures.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('unit_id'),
    schema='offers'
    )
    op.create_index('ix_offers_owner_subject', 'offers', ['owner_subject'], unique=False, schema='offers')
    op.create_index('ix_offers_region_commune', 'offers', ['region', 'commune_insee'], unique=False, schema='offers')
    op.create_index('ix_offers_region_departement', 'offers', ['region', 'departement'], unique=False, schema='offers')
    op.create_index('ix_offers_region_owner_rpps', 'offers', ['region', 'owner_rpps'], unique=False, schema='offers')
    op.create_index('ix_offers_region_status', 'offers', ['region', 'status'], unique=False, schema='offers')
    op.create_index('ix_offers_region_unit_type', 'offers', ['region', 'unit_type'], unique=False, schema='offers')
    op.create_table('practitioner_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region', sa.String(length=8), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('professional_id', sa.Integer(), nullable=False),
    sa.Column('profession_code', sa.String(length=10), nullable=True),
    sa.Column('profession_label', sa.String(length=255), nullable=True),
    sa.Column('specialty_code', sa.String(length=20), nullable=True),
    sa.Column('specialty_label', sa.String(length=255), nullable=True),
    sa.Column('convention_sector', sa.String(length=40), nullable=True),
    sa.Column('source', sa.String(length=10), server_default='ror', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['professional_id'], ['offers.professionals.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['offers.structures.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('unit_id', 'professional_id', name='uq_attachments_unit_professional'),
    schema='offers'
    )
    op.create_index('ix_attachments_professional', 'practitioner_attachments', ['professional_id'], unique=False, schema='offers')
    # ### end Alembic commands ###


def downgrade() -> None:
    # ### reviewed: JSONB on PostgreSQL, server defaults so importers can bulk-insert with Core ###
    op.drop_index('ix_attachments_professional', table_name='practitioner_attachments', schema='offers')
    op.drop_table('practitioner_attachments', schema='offers')
    op.drop_index('ix_offers_region_unit_type', table_name='offers', schema='offers')
    op.drop_index('ix_offers_region_status', table_name='offers', schema='offers')
    op.drop_index('ix_offers_region_owner_rpps', table_name='offers', schema='offers')
    op.drop_index('ix_offers_region_departement', table_name='offers', schema='offers')
    op.drop_index('ix_offers_region_commune', table_name='offers', schema='offers')
    op.drop_index('ix_offers_owner_subject', table_name='offers', schema='offers')
    op.drop_table('offers', schema='offers')
    op.drop_table('capacities', schema='offers')
    op.drop_index('ix_structures_region_kind', table_name='structures', schema='offers')
    op.drop_index('ix_structures_region_departement_discipline', table_name='structures', schema='offers')
    op.drop_index('ix_structures_region_commune', table_name='structures', schema='offers')
    op.drop_index('ix_structures_parent', table_name='structures', schema='offers')
    op.drop_index(op.f('ix_offers_structures_rpps'), table_name='structures', schema='offers')
    op.drop_table('structures', schema='offers')
    op.drop_index('ix_professionals_region_profession', table_name='professionals', schema='offers')
    op.drop_table('professionals', schema='offers')
    op.drop_table('processed_events', schema='offers')
    op.drop_index(op.f('ix_offers_outbox_published_at'), table_name='outbox', schema='offers')
    op.drop_index(op.f('ix_offers_outbox_event_type'), table_name='outbox', schema='offers')
    op.drop_table('outbox', schema='offers')
    # ### end Alembic commands ###

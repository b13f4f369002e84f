"""search: unaccent / pg_trgm, French unaccented text search configurations, the search index
(entries, vocabulary, reference copies of the nomenclatures and communes) and favourites

Revision ID: a9c4e1f0b2d7
Revises: d78e7229869c
Create Date: 2026-11-30 21:40:00
"""
from alembic import op

revision = 'a9c4e1f0b2d7'
down_revision = 'd78e7229869c'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # unaccent and pg_trgm are trusted extensions (PostgreSQL >= 13): the database owner (ror) may
    # create them; deploy/postgres.sh also creates them as superuser in case the owner differs.
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
    # French stemming after accent folding; and the same without stemming (prefixes of raw words).
    op.execute("CREATE TEXT SEARCH CONFIGURATION offers.ror_fr (COPY = pg_catalog.french)")
    op.execute("ALTER TEXT SEARCH CONFIGURATION offers.ror_fr ALTER MAPPING FOR hword, hword_part, word "
               "WITH public.unaccent, french_stem")
    op.execute("CREATE TEXT SEARCH CONFIGURATION offers.ror_simple (COPY = pg_catalog.simple)")
    op.execute("ALTER TEXT SEARCH CONFIGURATION offers.ror_simple ALTER MAPPING FOR hword, hword_part, word "
               "WITH public.unaccent, simple")

    op.execute("""
    CREATE TABLE offers.search_entries (
        id bigserial PRIMARY KEY,
        region varchar(8) NOT NULL,
        entry_kind varchar(10) NOT NULL CHECK (entry_kind IN ('offer', 'structure')),
        structure_id integer NOT NULL REFERENCES offers.structures(id) ON DELETE CASCADE,
        offer_id integer REFERENCES offers.offers(id) ON DELETE CASCADE,
        structure_kind varchar(20) NOT NULL,
        name varchar(255) NOT NULL,
        parent_id integer,
        parent_name varchar(255),
        legal_entity_id integer,
        legal_entity_name varchar(255),
        finess varchar(9),
        finess_ej varchar(9),
        offer_type varchar(13),
        unit_type varchar(20),
        care_mode varchar(20),
        professions text[] NOT NULL DEFAULT '{}',
        specialties text[] NOT NULL DEFAULT '{}',
        activities text[] NOT NULL DEFAULT '{}',
        acts text[] NOT NULL DEFAULT '{}',
        equipments text[] NOT NULL DEFAULT '{}',
        competences text[] NOT NULL DEFAULT '{}',
        reception_modalities text[] NOT NULL DEFAULT '{}',
        age_min integer,
        age_max integer,
        address_line varchar(255),
        postal_code varchar(5),
        city varchar(255),
        commune_insee varchar(5),
        departement varchar(3),
        latitude double precision,
        longitude double precision,
        geo point,
        served_communes text[] NOT NULL DEFAULT '{}',
        phone varchar(20),
        contacts jsonb NOT NULL DEFAULT '[]',
        hours jsonb,
        labels jsonb NOT NULL DEFAULT '{}',
        document tsvector NOT NULL,
        published_at timestamptz,
        indexed_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT uq_search_entries_kind_structure UNIQUE (entry_kind, structure_id)
    )""")
    op.execute("CREATE UNIQUE INDEX ix_search_entries_offer ON offers.search_entries (offer_id)")
    op.execute("CREATE INDEX ix_search_entries_document ON offers.search_entries USING gin (document)")
    op.execute("CREATE INDEX ix_search_entries_geo ON offers.search_entries USING gist (geo)")
    op.execute("CREATE INDEX ix_search_entries_served ON offers.search_entries USING gin (served_communes)")
    op.execute("CREATE INDEX ix_search_entries_codes ON offers.search_entries "
               "USING gin (activities, acts, equipments, competences)")
    op.execute("CREATE INDEX ix_search_entries_region_kind ON offers.search_entries (region, entry_kind, unit_type)")
    op.execute("CREATE INDEX ix_search_entries_finess ON offers.search_entries (finess)")

    # Words of the indexed documents (accent-folded, lower case): typo correction by trigram similarity.
    op.execute("CREATE TABLE offers.search_words (word varchar(80) PRIMARY KEY)")
    op.execute("CREATE INDEX ix_search_words_trgm ON offers.search_words USING gin (word public.gin_trgm_ops)")

    # Copies of the reference files (services/offers/data) that the index SQL joins; synced from the
    # files by services.offers.search.reference_tables (content hash in search_meta).
    op.execute("""
    CREATE TABLE offers.search_concepts (
        category varchar(30) NOT NULL,
        code varchar(20) NOT NULL,
        label varchar(500) NOT NULL,
        status varchar(12) NOT NULL,
        synonyms text NOT NULL DEFAULT '',
        document tsvector NOT NULL,
        PRIMARY KEY (category, code)
    )""")
    op.execute("CREATE INDEX ix_search_concepts_document ON offers.search_concepts USING gin (document)")
    op.execute("""
    CREATE TABLE offers.search_communes (
        code varchar(5) PRIMARY KEY,
        name varchar(255) NOT NULL,
        departement varchar(3) NOT NULL,
        postal_codes text[] NOT NULL,
        latitude double precision,
        longitude double precision
    )""")
    op.execute("CREATE TABLE offers.search_meta (key varchar(40) PRIMARY KEY, value text NOT NULL)")

    op.execute("""
    CREATE TABLE offers.favourites (
        region varchar(8) NOT NULL,
        subject varchar(64) NOT NULL,
        structure_id integer NOT NULL REFERENCES offers.structures(id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (region, subject, structure_id)
    )""")


def downgrade() -> None:
    for table in ("favourites", "search_meta", "search_communes", "search_concepts", "search_words",
                  "search_entries"):
        op.execute(f"DROP TABLE IF EXISTS offers.{table}")
    op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS offers.ror_simple")
    op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS offers.ror_fr")

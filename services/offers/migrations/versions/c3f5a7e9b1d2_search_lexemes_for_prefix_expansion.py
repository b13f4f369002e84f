"""search: every lexeme of the indexed documents (3 characters or more, byte order), so that a prefix
of the query is expanded into the exact lexemes it starts (services/offers/search/text.py); the squares
(cells) and the filter values of each entry in the text and code GIN indexes (services/offers/search/index.py, query.py)

A prefix in a tsquery (`'post':*`) makes the GIN index collect the whole posting list of every lexeme
it starts before any intersection; exact lexemes are intersected while skipping through the posting
lists: 'suivi post-natal' at national scale takes 65 ms in the index with prefixes, 6 ms with the
exact lexemes of the same prefixes. With the cells of the place (and the kind of offer sought) in the same GIN scan, "this need
around here" reads the nearby matches only, not every match in France nor every entry nearby.

Revision ID: c3f5a7e9b1d2
Revises: bb049cbb11af
Create Date: 2026-12-01 00:40:00
"""
from alembic import op

revision = 'c3f5a7e9b1d2'
down_revision = 'bb049cbb11af'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # COLLATE "C": a prefix is a range of the primary key (lexeme >= p AND lexeme < p || U+10FFFF).
    op.execute('CREATE TABLE offers.search_lexemes (lexeme text COLLATE "C" PRIMARY KEY)')
    op.execute("INSERT INTO offers.search_lexemes (lexeme) SELECT DISTINCT lexeme FROM offers.search_entries, "
               "unnest(document) WHERE length(lexeme) >= 3 ON CONFLICT DO NOTHING")
    # Keys of the entries (services/offers/search/index.py): the squares of 4, 16 and 64 km of the
    # projected plane holding the entry (x = longitude × 76.6276313662287, y = latitude × 110.57, as `geo`),
    # its kind, UO type, type of offer and patientèles (the conditions of the facet filters).
    x, y = "longitude * 76.6276313662287", "latitude * 110.57"
    cells = ", ".join(
        f"CASE WHEN latitude IS NOT NULL AND longitude IS NOT NULL THEN 'c{size}:' || floor(({x}) / {size})::int::text "
        f"|| ':' || floor(({y}) / {size})::int::text END" for size in (4, 16, 64))
    keys = (f"array_remove(ARRAY[{cells}, 'k:' || entry_kind, 'u:' || unit_type, 'o:' || offer_type, "
            "CASE WHEN age_min < 18 THEN 'p:E' END, CASE WHEN coalesce(age_max, 150) >= 18 THEN 'p:A' END], NULL)")
    # One GIN index for every condition of a search but the distance, so that the planner puts them all
    # in one scan (with separate indexes it ANDs bitmaps of whole neighbourhoods or whole UO types).
    # Dropped while every row is rewritten, then built once.
    for name in ("document", "codes", "served", "region_kind"):
        op.execute(f"DROP INDEX IF EXISTS offers.ix_search_entries_{name}")
    op.execute(f"ALTER TABLE offers.search_entries ADD COLUMN keys text[] GENERATED ALWAYS AS ({keys}) STORED")
    op.execute("CREATE INDEX ix_search_entries_match ON offers.search_entries "
               "USING gin (document, activities, acts, equipments, competences, served_communes, keys)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS offers.ix_search_entries_match")
    op.execute("ALTER TABLE offers.search_entries DROP COLUMN IF EXISTS keys")
    op.execute("CREATE INDEX ix_search_entries_served ON offers.search_entries USING gin (served_communes)")
    op.execute("CREATE INDEX ix_search_entries_region_kind ON offers.search_entries (region, entry_kind, unit_type)")
    op.execute("CREATE INDEX ix_search_entries_document ON offers.search_entries USING gin (document)")
    op.execute("CREATE INDEX ix_search_entries_codes ON offers.search_entries "
               "USING gin (activities, acts, equipments, competences)")
    op.execute("DROP TABLE IF EXISTS offers.search_lexemes")

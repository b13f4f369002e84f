"""repertoire change notifications: a committed change to what the répertoire tree shows sends NOTIFY
offers_repertoire (the offers service's tree cache listens: services.offers.tree_cache)

Revision ID: c4d5e6f7a8b9
Revises: c3f5a7e9b1d2
Create Date: 2026-12-01 00:45:00
"""
from alembic import op


revision = 'c4d5e6f7a8b9'
down_revision = 'c3f5a7e9b1d2'
branch_labels = None
depends_on = None

# table -> the statement that fires the notification (offers: only the columns a tree node shows, so that
# saving a draft step does not empty the cache)
TRIGGERS = {
    "structures": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
    "professionals": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
    "practitioner_attachments": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
    "capacities": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
    "offers": "INSERT OR UPDATE OF unit_id, name, status, published_at OR DELETE OR TRUNCATE",
}


def upgrade() -> None:
    # NOTIFY is transactional: listeners hear it when the change is committed, from whichever process
    # made it (the service, an import, a migration); notifications of one transaction are merged.
    op.execute("""
        CREATE OR REPLACE FUNCTION offers.notify_repertoire() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('offers_repertoire', '');
            RETURN NULL;
        END $$
    """)
    for table, events in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {table}_notify_repertoire AFTER {events} ON offers.{table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION offers.notify_repertoire()")


def downgrade() -> None:
    for table in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify_repertoire ON offers.{table}")
    op.execute("DROP FUNCTION IF EXISTS offers.notify_repertoire()")

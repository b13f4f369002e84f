"""Alembic wiring shared by the services: one schema per service, its version table inside it."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from services.common.db import get_engine

SERVICES = ("accounts", "offers", "dossiers", "anomalies", "notifications")
SERVICES_DIR = Path(__file__).resolve().parents[1]
# Schemas with migrations: the services', and the gateway's (rate limits, idempotency keys), whose
# migrations live in gateway/migrations.
SCHEMAS = (*SERVICES, "gateway")


def migrations_dir(schema: str) -> Path:
    return SERVICES_DIR.parent / "gateway" / "migrations" if schema == "gateway" else SERVICES_DIR / schema / "migrations"


def alembic_config(service: str, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir(service)))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["service"] = service
    return cfg


def upgrade(service: str, url: str, revision: str = "head") -> None:
    with get_engine(url).begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{service}"'))
    command.upgrade(alembic_config(service, url), revision)


def pending(service: str, url: str) -> str | None:
    """None when `service`'s schema is at head, else its current revision ("none" if never migrated)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(alembic_config(service, url)).get_heads())
    with get_engine(url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table_schema": service})
        current = set(context.get_current_heads())
    return None if current == heads else (",".join(sorted(current)) or "none")


def upgrade_all(url: str) -> None:
    for service in SCHEMAS:
        upgrade(service, url)


def run_env(context, target_metadata, schema: str) -> None:
    """Body of each service's migrations/env.py (online mode only: we always have a database)."""
    url = context.config.get_main_option("sqlalchemy.url")
    engine = get_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=lambda name, type_, parent: type_ != "schema" or name == schema,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()

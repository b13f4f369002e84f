"""`ror`: the project's command line. Each service adds its own group in services/<svc>/cli.py."""

from __future__ import annotations

import importlib

import click

from services.common.db import database_url


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """ROR suite command line (imports, activation codes, test PKI, demo data, migrations)."""


@main.group()
def db() -> None:
    """Database schema (Alembic migrations, one schema per service)."""


@db.command()
@click.option("--url", default=None, help="SQLAlchemy URL (default: ROR_DATABASE_URL).")
def upgrade(url: str | None) -> None:
    """Apply every service's migrations up to head."""
    from services.common.migrations import SCHEMAS
    from services.common.migrations import upgrade as upgrade_one

    for service in SCHEMAS:
        upgrade_one(service, url or database_url())
        click.echo(f"{service}: up to date")


@db.command()
@click.argument("service")
@click.option("-m", "--message", required=True, help="What the revision changes.")
@click.option("--url", default=None, help="SQLAlchemy URL of a database at head (default: ROR_DATABASE_URL).")
def revision(service: str, message: str, url: str | None) -> None:
    """Autogenerate a migration of SERVICE from its models (review it before committing)."""
    from alembic import command

    from services.common.migrations import alembic_config
    from services.common.migrations import upgrade as upgrade_one

    upgrade_one(service, url or database_url())
    command.revision(alembic_config(service, url or database_url()), message=message, autogenerate=True)


# Service groups: (module, attribute). A service that adds commands registers here.
_GROUPS = (
    ("services.accounts.cli", "accounts"),
    ("services.accounts.cli", "pki"),
    ("services.offers.cli", "import_group"),
    ("services.common.demo", "demo"),
    ("services.common.outbox_cli", "outbox_group"),
)

for _module, _attr in _GROUPS:
    main.add_command(getattr(importlib.import_module(_module), _attr))

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
@click.option("--url", default=None, help="SQLAlchemy URL (default: ROR_DATABASE_URL).")
def check(url: str | None) -> None:
    """Exit 1 unless every service's schema is at its head revision (pods wait on it before starting)."""
    from services.common.migrations import SERVICES, pending

    late = {service: rev for service in SERVICES if (rev := pending(service, url or database_url()))}
    for service in SERVICES:
        click.echo(f"{service}: {'behind, at ' + str(late[service]) if service in late else 'at head'}")
    raise SystemExit(1 if late else 0)


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


@main.command()
@click.option("--file", "path", envvar="ROR_HEARTBEAT_FILE", required=True, type=click.Path(dir_okay=False),
              help="Heartbeat file of the process (default: ROR_HEARTBEAT_FILE).")
@click.option("--max-age", default=30.0, show_default=True, help="Seconds after which the process is dead.")
@click.option("--ready", is_flag=True, help="Readiness: also require its database and broker to answer.")
def probe(path: str, max_age: float, ready: bool) -> None:
    """Kubernetes probe of one service process (liveness, or readiness with --ready); exit 1 when unhealthy."""
    from pathlib import Path

    from services.common.heartbeat import probe as read_probe

    healthy, why = read_probe(Path(path), max_age, ready)
    click.echo(why)
    raise SystemExit(0 if healthy else 1)


# Service groups: (module, attribute). A service that adds commands registers here.
_GROUPS = (
    ("services.accounts.cli", "accounts"),
    ("services.accounts.cli", "pki"),
    ("services.offers.cli", "import_group"),
    ("services.offers.cli", "search_group"),
    ("services.common.demo", "demo"),
    ("services.anomalies.cli", "anomalies"),
    ("services.common.outbox_cli", "outbox_group"),
)

for _module, _attr in _GROUPS:
    main.add_command(getattr(importlib.import_module(_module), _attr))

"""`ror outbox`: the state of every service's outbox (pending, parked, oldest, last error)."""

from __future__ import annotations

import importlib

import click

from services.common import outbox
from services.common.db import database_url, session_scope
from services.common.migrations import SERVICES


def _outboxes():
    for name in SERVICES:
        yield name, importlib.import_module(f"services.{name}.models").Outbox


@click.group("outbox")
def outbox_group() -> None:
    """Events waiting to be published (transactional outbox of each service)."""


@outbox_group.command("status")
@click.option("--url", default=None, help="SQLAlchemy URL (default: ROR_DATABASE_URL).")
def status(url: str | None) -> None:
    """Per service: pending events, parked events (failing for long), the oldest unpublished, the last error."""
    click.echo(f"{'service':<14} {'pending':>7} {'parked':>6}  {'oldest unpublished':<32} last error")
    with session_scope(url or database_url()) as session:
        for name, model in _outboxes():
            state = outbox.status(session, model)
            click.echo(f"{name:<14} {state['pending']:>7} {state['parked']:>6}  {state['oldest'] or '-':<32} "
                       f"{(state['last_error'] or '-')[:120]}")


@outbox_group.command("retry-parked")
@click.option("--url", default=None, help="SQLAlchemy URL (default: ROR_DATABASE_URL).")
def retry_parked(url: str | None) -> None:
    """Put the parked events back in line (once the cause is fixed)."""
    with session_scope(url or database_url()) as session:
        for name, model in _outboxes():
            click.echo(f"{name}: {outbox.unpark(session, model)} event(s) back in line")

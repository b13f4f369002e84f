"""`ror demo load`: demo data for both regions, each service loading its own part."""

from __future__ import annotations

import importlib

import click

from services.common.regions import REGIONS

# Order matters: accounts issues activation codes for professionals the offers import created.
LOADERS = ("services.offers.demo", "services.accounts.demo")


@click.group()
def demo() -> None:
    """Demo data (both regions)."""


@demo.command()
@click.option("--region", "regions", multiple=True, type=click.Choice(sorted(REGIONS)),
              help="Only this region (repeatable). Default: all.")
def load(regions: tuple[str, ...]) -> None:
    """Load (or refresh: it is idempotent) the demo data of every service."""
    for module_name in LOADERS:
        module = importlib.import_module(module_name)
        for region in regions or tuple(REGIONS):
            summary = module.load(region)
            click.echo(f"{module_name.split('.')[1]} [{region}]: {summary}")

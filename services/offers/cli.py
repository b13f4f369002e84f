"""`ror import rpps|finess FILE --region R`: national repository imports (streaming, idempotent)."""

from __future__ import annotations

import sys

import click

from services.common.regions import REGIONS

REGION = click.option("--region", required=True, type=click.Choice(sorted(REGIONS)),
                      help="Region whose répertoire receives the data (lines elsewhere are skipped).")
OPTIONS = (
    click.option("--report", "report_path", type=click.Path(dir_okay=False, writable=True), default=None,
                 help="Write every rejected line (number, reason, content) and the summary to this file."),
    click.option("--show", "keep_first", type=click.IntRange(0), default=20, show_default=True,
                 help="How many rejected lines to print."),
    click.option("--batch-size", type=click.IntRange(1), default=2000, show_default=True,
                 help="Rows per database batch (one commit each)."),
    click.option("--url", default=None, help="SQLAlchemy URL (default: ROR_DATABASE_URL)."),
    click.option("--quiet", is_flag=True, help="No progress display."),
)


def _options(func):
    for option in reversed(OPTIONS):
        func = option(func)
    return REGION(func)


@click.group(name="import")
def import_group() -> None:
    """Import national repositories (RPPS, FINESS) into a region's répertoire."""


def _run(importer, path: str, region: str, report_path, keep_first: int, batch_size: int, url, quiet: bool):
    from services.offers.importers.report import ImportFileError

    try:
        report = importer(path, region, url, batch_size=batch_size, report_path=report_path,
                          keep_first=keep_first, progress=not quiet)
    except ImportFileError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in report.summary_lines():
        click.echo(line)
    _reindex(region, url)
    if report.rejected:
        click.echo(f"  lignes rejetées ({min(report.rejected, keep_first)} premières sur {report.rejected}) :")
        for rejection in report.first_rejections:
            click.echo(f"    {rejection}")
        if report_path:
            click.echo(f"  toutes les lignes rejetées : {report_path}")
    sys.stdout.flush()


@import_group.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@_options
def rpps(path: str, region: str, report_path, keep_first: int, batch_size: int, url, quiet: bool) -> None:
    """Import the RPPS extract PS_LibreAcces_Personne_activite_*.txt (UTF-8, `|`-separated, header row).

    Creates or updates, for each liberal professional of a profession the region describes, the
    professional, the practice site and a draft offer pre-filled from the national data.
    """
    from services.offers.importers.rpps import import_rpps

    _run(import_rpps, path, region, report_path, keep_first, batch_size, url, quiet)


@import_group.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@_options
def finess(path: str, region: str, report_path, keep_first: int, batch_size: int, url, quiet: bool) -> None:
    """Import the FINESS etalab extract etalab-cs1100507-stock-*.csv (`;`-separated, UTF-8 or Windows-1252),
    or the decoded CSV with a header line (nofinesset;nofinessej;rs;…;coordx;coordy;…), told from its first line.

    Creates or updates the legal entities (EJ) and sites (EG) of the region, with coordinates
    converted from Lambert-93 to WGS84.
    """
    from services.offers.importers.finess import import_finess

    _run(import_finess, path, region, report_path, keep_first, batch_size, url, quiet)


def _reindex(region: str, url) -> None:
    """The search index follows an import (structures and their offers changed in bulk)."""
    from sqlalchemy import text

    from services.common.db import database_url, get_engine, session_scope
    from services.offers.search import index

    with session_scope(url) as session:
        counts = index.rebuild(session, region)
    # The planner's statistics and the visibility map (index-only scans of the GiST index) for the rows
    # just written, and their predecessors' room made reusable; outside a transaction.
    with get_engine(url or database_url()).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE offers.search_entries"))
    click.echo(f"  index de recherche [{region}] : {counts['structures']} établissements, "
               f"{counts['offers']} offres publiées")


@click.group(name="search")
def search_group() -> None:
    """Search index of the répertoire."""


@search_group.command()
@REGION
@click.option("--url", default=None, help="SQLAlchemy URL (default: ROR_DATABASE_URL).")
def reindex(region: str, url) -> None:
    """Rebuild the search index of a region from the répertoire (published offers, EJ and EG)."""
    _reindex(region, url)

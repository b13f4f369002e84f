"""`ror accounts ...`: activation codes for the URPS letters.

The CLI root (services.common.cli) also looks here for a `pki` group (test PKI, CPS certificates),
written beside this one by the Keycloak side.
"""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

import click

from services.common.regions import REGIONS

CSV_FIELDS = ("rpps", "nom", "prenom", "code", "expires_at")


def write_codes_csv(codes: Iterable[dict], stream: TextIO) -> None:
    """`rpps;nom;prenom;code;expires_at`, ready for a mail merge."""
    writer = csv.writer(stream, delimiter=";", lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for c in codes:
        writer.writerow((c["rpps"], c["last_name"], c["first_name"], c["code"], c["expires_at"]))


def read_codes_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return [{"rpps": r["rpps"], "last_name": r["nom"], "first_name": r["prenom"], "code": r["code"],
                 "expires_at": r["expires_at"]} for r in csv.DictReader(f, delimiter=";")]


def write_private(path: Path, codes: Iterable[dict]) -> None:
    """Clear codes are secrets: the file is readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        write_codes_csv(codes, f)


@click.group()
def accounts() -> None:
    """Accounts: activation codes."""


@accounts.command("issue-codes")
@click.option("--region", required=True, type=click.Choice(sorted(REGIONS)))
@click.option("--rpps", default=None, help="Only this professional (11 digits).")
@click.option("--profession", "profession_code", default=None,
              help="Only this profession code of the RPPS data (e.g. 70 masseur-kinésithérapeute).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the CSV to FILE (mode 600) instead of stdout.")
@click.option("--days", type=click.IntRange(1, 3650), default=None,
              help="Validity in days (default: ROR_ACTIVATION_CODE_DAYS, 90).")
def issue_codes(region: str, rpps: str | None, profession_code: str | None, out: Path | None,
                days: int | None) -> None:
    """Issue one-time activation codes for professionals of the national data not yet activated.

    Prints `rpps;nom;prenom;code;expires_at`. A new code replaces (revokes) an unused older one.
    Needs the running suite (the professionals come from the offers service) and Keycloak.
    """
    from services.accounts.activation import rpps_error
    from services.accounts.directory import directory_for
    from services.accounts.offers_client import SuiteNotRunning, national_professionals
    from services.accounts.operations import codes
    from services.common.config import setting
    from services.common.db import session_scope
    from services.common.errors import RorError

    if rpps and rpps_error(rpps):
        raise click.BadParameter(rpps_error(rpps), param_hint="--rpps")
    try:
        professionals = national_professionals(region, rpps=rpps, profession_code=profession_code)
    except SuiteNotRunning as exc:
        raise click.ClickException(str(exc)) from exc
    if not professionals:
        raise click.ClickException("Aucun professionnel ne correspond dans les données nationales de la région.")
    try:
        with session_scope() as session:
            result = codes.issue_codes(
                session, region, professionals, "cli", directory_for(region),
                days=days or int(setting("ROR_ACTIVATION_CODE_DAYS")))
    except RorError as exc:
        raise click.ClickException(f"{exc.message} {exc.fields or ''}") from exc
    if out:
        write_private(out, result.issued)
    else:
        write_codes_csv(result.issued, sys.stdout)
    reasons: dict[str, int] = {}
    for s in result.skipped:
        reasons[s["reason"]] = reasons.get(s["reason"], 0) + 1
    skipped = ", ".join(f"{n} {reason}" for reason, n in reasons.items()) or "aucun"
    click.echo(f"{len(result.issued)} code(s) émis{f' dans {out}' if out else ''} ; ignorés : {skipped}.",
               err=True)


# `ror pki init|server|issue-cps`: test PKI (CA "TEST AC IGC-SANTE", CPS card certificates). The group
# lives in services/accounts/pki.py, a plain module that deploy/keycloak/start.sh also runs.
from services.accounts.pki import pki_group as pki  # noqa: E402, F401

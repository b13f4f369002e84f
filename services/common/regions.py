"""Region registry: regions are tenants, and their settings are data, not code."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import datetime, time


@dataclass(frozen=True)
class Region:
    code: str  # path segment: /api/{code}/...
    label: str
    realm: str  # Keycloak realm
    insee_region: str  # region code of the COG (communes.csv "region" column)
    departements: tuple[str, ...]
    support_days: tuple[int, ...]  # ISO weekdays (1 = Monday)
    support_open: time
    support_close: time
    support_phone: str
    support_email: str
    update_reminder_months: int
    validation_chain: tuple[str, ...] = field(default=("directeur", "regional_validator"))


REGIONS: dict[str, Region] = {
    "idf": Region(
        code="idf",
        label="ROR Île-de-France (ROR-IF)",
        realm="ror-idf",
        insee_region="11",
        departements=("75", "77", "78", "91", "92", "93", "94", "95"),
        support_days=(1, 2, 3, 4, 5),
        support_open=time(8, 0),
        support_close=time(20, 0),
        support_phone="01 83 76 30 31",
        support_email="support.portailpro@sante-idf.fr",
        update_reminder_months=6,
    ),
    "pdl": Region(
        code="pdl",
        label="ROR Pays de la Loire",
        realm="ror-pdl",
        insee_region="52",
        departements=("44", "49", "53", "72", "85"),
        support_days=(1, 2, 3, 4, 5),
        support_open=time(9, 0),
        support_close=time(17, 0),
        support_phone="02 44 76 13 90",
        support_email="ror.pdl@esante-paysdelaloire.fr",
        # "L'offre de votre établissement doit être mise à jour a minima 2 fois par an."
        update_reminder_months=6,
    ),
}

REALM_TO_REGION = {r.realm: r.code for r in REGIONS.values()}


def months_before(moment: datetime, months: int) -> datetime:
    """Same day `months` calendar months earlier (the last day of a shorter month)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def update_cutoff(code: str, now: datetime) -> datetime:
    """What was last updated before this is due for an update in region `code` (PDL: 6 months)."""
    return months_before(now, get_region(code).update_reminder_months)


def get_region(code: str) -> Region:
    from services.common.errors import NotFound

    try:
        return REGIONS[code]
    except KeyError:
        raise NotFound(f"Région inconnue : {code}", {"region": f"unknown region '{code}'"}) from None


def region_of_departement(departement: str) -> str | None:
    for region in REGIONS.values():
        if departement in region.departements:
            return region.code
    return None

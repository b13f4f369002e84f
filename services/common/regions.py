"""Region registry: regions are tenants, and their settings are data, not code.

Each region is one TOML file in `ROR_REGIONS_DIR` (default `deploy/regions/`): code, label, Keycloak
realm, départements, support hours, update period, validation chain, and sections read by the services
that need them (`settings`, e.g. the anomalies' routing). Adding a region is adding its file (and
generating its realm with deploy/keycloak/gen_realms.py): no code names a region.
"""

from __future__ import annotations

import calendar
import os
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, time
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "deploy" / "regions"


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
    realm_display: str = ""
    # demo professionals of the dev run: ({username, first, last, rpps, profession, civilite}, ...)
    demo_professionals: tuple[dict, ...] = field(default=(), compare=False)
    # the whole file, read-only: sections that only one service reads stay out of this class
    settings: MappingProxyType = field(default_factory=lambda: MappingProxyType({}), compare=False, repr=False)


def _time(value: str, where: str) -> time:
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: expected HH:MM, got {value!r}") from exc


def parse_region(data: dict[str, Any], where: str = "region") -> Region:
    """A Region from the content of its file; a missing or malformed setting names itself."""
    try:
        support = data["support"]
        region = Region(
            code=str(data["code"]), label=str(data["label"]), realm=str(data["realm"]),
            insee_region=str(data["insee_region"]),
            departements=tuple(str(d) for d in data["departements"]),
            support_days=tuple(int(d) for d in support["days"]),
            support_open=_time(support["open"], f"{where}: support.open"),
            support_close=_time(support["close"], f"{where}: support.close"),
            support_phone=str(support["phone"]), support_email=str(support["email"]),
            update_reminder_months=int(data["update_reminder_months"]),
            validation_chain=tuple(data.get("validation_chain", ("directeur", "regional_validator"))),
            realm_display=str(data.get("realm_display") or data["label"]),
            demo_professionals=tuple(dict(p) for p in data.get("demo", {}).get("professionals", ())),
            settings=MappingProxyType(data),
        )
    except KeyError as exc:
        raise ValueError(f"{where}: missing setting {exc.args[0]!r}") from None
    if not region.code.isascii() or not region.code.isalnum() or region.code != region.code.lower():
        raise ValueError(f"{where}: code must be lowercase letters and digits (an URL segment)")
    if not set(region.support_days) <= set(range(1, 8)):
        raise ValueError(f"{where}: support.days are ISO weekdays 1..7")
    return region


def regions_dir() -> Path:
    return Path(os.environ.get("ROR_REGIONS_DIR") or DEFAULT_DIR)


def load_regions(folder: Path | None = None) -> dict[str, Region]:
    """Every `<code>.toml` of `folder`, by code (the file name must be its code)."""
    folder = Path(folder or regions_dir())
    found: dict[str, Region] = {}
    for path in sorted(folder.glob("*.toml")):
        region = parse_region(tomllib.loads(path.read_text(encoding="utf-8")), str(path))
        if region.code != path.stem:
            raise ValueError(f"{path}: code {region.code!r} does not match the file name")
        found[region.code] = region
    if not found:
        raise ValueError(f"no region file (*.toml) in {folder}")
    return found


REGIONS: dict[str, Region] = load_regions()

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


# ------------------------------------------------------------------ support desk and anomalies

SUPPORT_DESK_DEFAULTS = Path(__file__).resolve().parent / "regions_data" / "support_desk.toml"


def _merged(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@cache
def _desk_defaults() -> dict:
    with SUPPORT_DESK_DEFAULTS.open("rb") as handle:
        return tomllib.load(handle)


@cache
def support_desk(code: str) -> dict:
    """The region's support desk and anomaly settings (ROR cell, routing table, SLA per category, ticket
    categories, expert groups, rate limits): the national defaults of `regions_data/support_desk.toml`
    overridden by the `[support_desk]` section of the region's file."""
    region = get_region(code)
    desk = _merged(_desk_defaults(), _plain(region.settings.get("support_desk", {})))
    desk.setdefault("ror_cell", f"Cellule ROR — {region.label}")
    return desk


def _plain(value):
    """The region file's read-only mapping as plain dicts (merged and handed to callers)."""
    if isinstance(value, (dict, MappingProxyType)):
        return {k: _plain(v) for k, v in value.items()}
    return value

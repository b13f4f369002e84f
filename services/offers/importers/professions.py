"""Which professions the RPPS import turns into liberal offers, per region (data, not code).

The professions live in `professions.csv` next to this module; a region describes those listed in
`described_professions` of its file (deploy/regions/<code>.toml). Codes of the unit type, care mode and operational
activities refer to the NOS nomenclatures shipped in services/offers/data/nomenclatures.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROFESSIONS_CSV = Path(__file__).with_name("professions.csv")


@dataclass(frozen=True)
class DescribedProfession:
    profession_code: str  # RPPS "Code profession" (TRE_G15): 10 médecin, 50 sage-femme, 70 kiné…
    profession_label: str
    specialty_codes: frozenset[str]  # savoir-faire kept (empty = any, including none)
    offer_label: str  # "Consultation kinésithérapie" → "Consultation kinésithérapie NOM Prénom"
    unit_type: str  # types d'UO code
    care_mode: str | None  # TRE_R213 mode de prise en charge
    operational_activities: tuple[str, ...]  # TRE_R211 codes pre-filled in the description step

    def accepts_specialty(self, code: str) -> bool:
        return not self.specialty_codes or code in self.specialty_codes

    def offer_name(self, last_name: str, first_name: str) -> str:
        return " ".join(part for part in (self.offer_label, last_name, first_name) if part)


@cache
def load_professions(path: Path = PROFESSIONS_CSV) -> tuple[DescribedProfession, ...]:
    rows = []
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader((line for line in handle if not line.startswith("#")), delimiter=";"):
            rows.append(DescribedProfession(
                profession_code=row["profession_code"].strip(),
                profession_label=row["profession_label"].strip(),
                specialty_codes=frozenset(row["specialty_codes"].split()),
                offer_label=row["offer_label"].strip(),
                unit_type=row["unit_type"].strip(),
                care_mode=row["care_mode"].strip() or None,
                operational_activities=tuple(row["operational_activities"].split()),
            ))
    return tuple(rows)


def professions_for(region: str) -> dict[str, DescribedProfession]:
    """Profession code → description, for the professions `region` describes."""
    from services.common.regions import get_region

    described = set(get_region(region).settings.get("described_professions", ()))
    return {p.profession_code: p for p in load_professions() if p.profession_code in described}

"""Reference data of the offers service: NOS nomenclatures and communes, loaded from the CSV files in
`services/offers/data/` once (lazily) and kept in memory. Plain module: no nameko, no database.

Searches are accent-, case- and hyphen-insensitive (Unicode NFKD, combining marks dropped, casefold).
"""

from __future__ import annotations

import bisect
import csv
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path

from services.common.errors import NotFound

DATA_DIR = Path(__file__).resolve().parent / "data"
NOMENCLATURE_DIR = DATA_DIR / "nomenclatures"
COMMUNES_FILE = DATA_DIR / "communes" / "communes.csv"

# API name -> file (see data/nomenclatures/README.md)
NOMENCLATURE_FILES: dict[str, str] = {
    "operational_activities": "TRE_R211-ActiviteOperationnelle.csv",
    "specific_acts": "TRE_R210-ActeSpecifique.csv",
    "equipments": "TRE_R212-Equipement.csv",
    "specific_competences": "TRE_R243-CompetenceSpecifique.csv",
    "reception_modalities": "TRE_R338-ModaliteAccueil.csv",
    "care_modes": "TRE_R213-ModePriseEnCharge.csv",
    "unit_types": "ROR_TypeUniteOperationnelle.csv",
    "place_accessibility": "ROR_AccessibiliteLieu.csv",
}

ACTIVE, DEPRECATED, FUTURE = "active", "deprecated", "future"

# Codes the rules refer to (the values themselves live in the files).
HOME_VISIT = "05"  # TRE_R338 Visite à domicile
TELECONSULTATION = "04"  # TRE_R338 Téléconsultation


def normalize(text: str) -> str:
    """'Mantes-la-Jolie' -> 'mantes la jolie'; 'Rééducation' -> 'reeducation'."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = stripped.casefold().replace("œ", "oe").replace("æ", "ae")
    return re.sub(r"[\s\-'’_]+", " ", folded).strip()


def _parse_date(value: str | None) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(value[:10], fmt).date()
        except ValueError:
            continue
    raise ValueError(f"unreadable date {value!r}")


@dataclass(frozen=True)
class Concept:
    code: str
    label: str
    short_label: str
    valid_from: date | None
    valid_until: date | None
    description: str

    def status(self, today: date | None = None) -> str:
        today = today or date.today()
        if self.valid_until is not None and self.valid_until <= today:
            return DEPRECATED
        if self.valid_from is not None and self.valid_from > today:
            return FUTURE
        return ACTIVE

    def to_dict(self, today: date | None = None) -> dict:
        return {"code": self.code, "label": self.label, "status": self.status(today)}


def _column(row: dict, *names: str) -> str:
    for name in names:
        if name in row and row[name] is not None:
            return row[name].strip()
    return ""


@cache
def nomenclature(name: str) -> dict[str, Concept]:
    """Concepts of nomenclature `name` by code, in file order. NotFound for an unknown name."""
    filename = NOMENCLATURE_FILES.get(name)
    if filename is None:
        raise NotFound(f"Nomenclature inconnue : {name}",
                       {"name": f"unknown nomenclature; one of {sorted(NOMENCLATURE_FILES)}"})
    concepts: dict[str, Concept] = {}
    with open(NOMENCLATURE_DIR / filename, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            code = _column(row, "Code")
            if not code:
                continue
            label = _column(row, "Libellé", "Libelle")
            concepts[code] = Concept(
                code=code,
                label=label,
                short_label=_column(row, "Libellé court") or label,
                valid_from=_parse_date(_column(row, "Date de début de validité")),
                valid_until=_parse_date(_column(row, "Date de fin de validité")),
                description=_column(row, "Description métier"),
            )
    return concepts


@cache
def _normalized_labels(name: str) -> dict[str, str]:
    return {code: normalize(c.label) for code, c in nomenclature(name).items()}


def list_concepts(name: str, q: str | None = None, limit: int | None = None,
                  today: date | None = None) -> list[dict]:
    """`{code, label, status}` of nomenclature `name`, filtered on `q` (in the label, or a code prefix)."""
    concepts = nomenclature(name)
    if q and q.strip():
        needle = normalize(q)
        labels = _normalized_labels(name)
        # A search made only of punctuation ("____", "%") normalises to nothing: it matches no label.
        selected = [c for code, c in concepts.items()
                    if (needle and needle in labels[code]) or code.casefold().startswith(q.strip().casefold())]
    else:
        selected = list(concepts.values())
    if limit is not None:
        selected = selected[:limit]
    return [c.to_dict(today) for c in selected]


def get_concept(name: str, code: str) -> Concept | None:
    return nomenclature(name).get(code)


def label_of(name: str, code: str) -> str:
    concept = get_concept(name, code)
    return concept.label if concept else code


def is_selectable(name: str, code: str, today: date | None = None) -> bool:
    """True when `code` exists in `name` and may be newly chosen (not deprecated, not future)."""
    concept = get_concept(name, code)
    return concept is not None and concept.status(today) == ACTIVE


def code_errors(name: str, codes: Iterable[str], allowed_existing: Iterable[str] = (),
                today: date | None = None) -> list[str]:
    """French messages for the codes of `codes` that cannot be chosen.

    `allowed_existing`: codes already on the offer; a deprecated one may stay (it was valid when chosen)
    but cannot be added anew.
    """
    keep = set(allowed_existing)
    errors = []
    for code in codes:
        concept = get_concept(name, code)
        if concept is None:
            errors.append(f"Code inconnu : {code}")
        elif concept.status(today) == DEPRECATED and code not in keep:
            errors.append(f"Code obsolète, il ne peut plus être choisi : {code} ({concept.label})")
        elif concept.status(today) == FUTURE:
            errors.append(f"Code pas encore en vigueur : {code} ({concept.label})")
    return errors


# ---------------------------------------------------------------- communes

@dataclass(frozen=True)
class Commune:
    code: str  # INSEE (COG)
    name: str
    departement: str
    region: str  # INSEE region code
    postal_codes: tuple[str, ...]
    population: int
    latitude: float | None
    longitude: float | None

    def to_dict(self) -> dict:
        first = self.postal_codes[0] if self.postal_codes else ""
        return {
            "code": self.code, "name": self.name, "departement": self.departement,
            "postal_codes": list(self.postal_codes),
            "label": f"{self.name} ({first})" if first else self.name,
            "latitude": self.latitude, "longitude": self.longitude,
        }


def _float(value: str) -> float | None:
    return float(value) if value.strip() else None


@cache
def communes() -> dict[str, Commune]:
    result: dict[str, Commune] = {}
    with open(COMMUNES_FILE, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            result[row["code_insee"]] = Commune(
                code=row["code_insee"], name=row["nom"], departement=row["departement"],
                region=row["region"], postal_codes=tuple(row["codes_postaux"].split()),
                population=int(row["population"] or 0), latitude=_float(row["latitude"]),
                longitude=_float(row["longitude"]),
            )
    return result


@cache
def _name_index() -> tuple[list[str], list[tuple[str, Commune]]]:
    """Sorted (normalized name, commune) pairs, and sorted (normalized name from its 2nd, 3rd… word,
    commune) pairs: a prefix search is a bisection instead of a scan of the 35,000 communes."""
    names, words = [], []
    for commune in communes().values():
        norm = normalize(commune.name)
        names.append((norm, commune))
        for i, char in enumerate(norm):
            if char == " ":
                words.append((norm[i + 1:], commune))
    names.sort(key=lambda pair: pair[0])
    words.sort(key=lambda pair: pair[0])
    return names, words


@cache
def _postal_index() -> list[tuple[str, Commune]]:
    """Sorted (postal code, commune) pairs."""
    return sorted(((p, c) for c in communes().values() for p in c.postal_codes), key=lambda pair: pair[0])


def _prefixed(pairs: list[tuple[str, Commune]], prefix: str) -> list[Commune]:
    """Communes of `pairs` (sorted by key) whose key starts with `prefix`, each once."""
    found: dict[str, Commune] = {}
    i = bisect.bisect_left(pairs, prefix, key=lambda pair: pair[0])
    while i < len(pairs) and pairs[i][0].startswith(prefix):
        found.setdefault(pairs[i][1].code, pairs[i][1])
        i += 1
    return list(found.values())


def get_commune(code: str) -> Commune | None:
    return communes().get(code)


def departement_of(insee_code: str | None) -> str | None:
    """Département of a commune code: '78361' -> '78', '97105' -> '971', '2A004' -> '2A'."""
    if not insee_code:
        return None
    commune = get_commune(insee_code)
    if commune is not None:
        return commune.departement
    return insee_code[:3] if insee_code.startswith("97") else insee_code[:2]


def search_communes(q: str, limit: int = 20, region: str | None = None,
                    departement: str | None = None) -> list[dict]:
    """Communes by name ("mantes", "mantes-la", "MANTES LA JOLIE") or postal code ("78200", "782").

    Name: communes whose name starts with `q` first, then those with a word starting with `q`; larger
    communes first. Postal code: every commune served by a matching code, alphabetically (as the
    guide's list). `region` (INSEE code) puts that region's communes first.
    """
    text = (q or "").strip()
    if not text:
        return []
    if text.isdigit():
        found = _prefixed(_postal_index(), text)
        exact = get_commune(text)  # an INSEE code
        if exact is not None and exact not in found:
            found.append(exact)
        found.sort(key=lambda c: (c.region != region if region else False, normalize(c.name)))
    else:
        needle = normalize(text)
        if not needle:  # only punctuation or wildcards ("____", "%"): no commune is named so
            return []
        names, words = _name_index()
        starts = _prefixed(names, needle)
        seen = {c.code for c in starts}
        others = [c for c in _prefixed(words, needle) if c.code not in seen]

        def rank(c: Commune):
            return (c.region != region if region else False, -c.population, c.name)

        found = sorted(starts, key=rank) + sorted(others, key=rank)
    if departement:
        found = [c for c in found if c.departement == departement]
    return [c.to_dict() for c in found[:limit]]

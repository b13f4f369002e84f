"""RPPS open extract `PS_LibreAcces_Personne_activite_*.txt` → professionals, practice sites, draft offers.

File layout (annuaire.sante.fr "extraction en libre accès", one line per activity of a professional):
UTF-8, `|`-separated, a header row, every line ends with `|`. Columns are found BY HEADER NAME, so a
reordered or extended extract still imports. Header names as published:

  Type d'identifiant PP | Identifiant PP | Identification nationale PP | Code civilité d'exercice |
  Libellé civilité d'exercice | Code civilité | Libellé civilité | Nom d'exercice | Prénom d'exercice |
  Code profession | Libellé profession | Code catégorie professionnelle | Libellé catégorie
  professionnelle | Code type savoir-faire | Libellé type savoir-faire | Code savoir-faire | Libellé
  savoir-faire | Code mode exercice | Libellé mode exercice | Numéro SIRET site | Numéro SIREN site |
  Numéro FINESS site | Numéro FINESS établissement juridique | Identifiant technique de la structure |
  Raison sociale site | Enseigne commerciale site | Complément destinataire (coord. structure) |
  Complément point géographique (coord. structure) | Numéro Voie (coord. structure) | Indice
  répétition voie (coord. structure) | Code type de voie (coord. structure) | Libellé type de voie
  (coord. structure) | Libellé Voie (coord. structure) | Mention distribution (coord. structure) |
  Bureau cedex (coord. structure) | Code postal (coord. structure) | Code commune (coord. structure) |
  Libellé commune (coord. structure) | Code pays (coord. structure) | Libellé pays (coord. structure) |
  Téléphone (coord. structure) | Téléphone 2 (coord. structure) | Télécopie (coord. structure) |
  Adresse e-mail (coord. structure) | Code Département (structure) | Libellé Département (structure) |
  Ancien identifiant de la structure | Autorité d'enregistrement | Code secteur d'activité | Libellé
  secteur d'activité | Code section tableau pharmaciens | Libellé section tableau pharmaciens |
  Code rôle | Libellé rôle | Code genre activité | Libellé genre activité |

"Type d'identifiant PP": 8 = RPPS, 0 = ADELI; "Identification nationale PP" = type + identifier.
"Code mode exercice": L libéral, S salarié, B bénévole. "Code Département (structure)" is often
empty in real extracts: the departement then comes from the commune code, then the postal code.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from services.common.regions import get_region
from services.offers.importers.professions import DescribedProfession, professions_for
from services.offers.importers.report import (
    DatabaseRefusal,
    ImportFileError,
    ImportReport,
    Progress,
    RejectedLine,
    closing_import,
    iter_decoded_lines,
    open_report_file,
)
from services.offers.importers.validation import (
    ADELI_RE,
    COMMUNE_RE,
    DEPARTEMENT_RE,
    FINESS_RE,
    ID_TYPE_ADELI,
    ID_TYPE_RPPS,
    POSTCODE_RE,
    SIREN_RE,
    SIRET_RE,
    departement_of_commune,
    departement_of_postcode,
    normalise_phone,
    rpps_error,
)

if TYPE_CHECKING:  # the parsers stay importable without the database layer
    from services.offers.importers.store import Outcome

# our name -> header of the official extract
COLUMNS: dict[str, str] = {
    "id_type": "Type d'identifiant PP",
    "pp_id": "Identifiant PP",
    "national_id": "Identification nationale PP",
    "civility_code": "Code civilité d'exercice",
    "civility": "Libellé civilité d'exercice",
    "last_name": "Nom d'exercice",
    "first_name": "Prénom d'exercice",
    "profession_code": "Code profession",
    "profession_label": "Libellé profession",
    "category_code": "Code catégorie professionnelle",
    "specialty_code": "Code savoir-faire",
    "specialty_label": "Libellé savoir-faire",
    "mode_code": "Code mode exercice",
    "mode_label": "Libellé mode exercice",
    "siret": "Numéro SIRET site",
    "siren": "Numéro SIREN site",
    "finess_site": "Numéro FINESS site",
    "finess_ej": "Numéro FINESS établissement juridique",
    "structure_id": "Identifiant technique de la structure",
    "company_name": "Raison sociale site",
    "trade_name": "Enseigne commerciale site",
    "addr_recipient": "Complément destinataire (coord. structure)",
    "addr_place": "Complément point géographique (coord. structure)",
    "street_number": "Numéro Voie (coord. structure)",
    "street_repeat": "Indice répétition voie (coord. structure)",
    "street_type_code": "Code type de voie (coord. structure)",
    "street_type": "Libellé type de voie (coord. structure)",
    "street": "Libellé Voie (coord. structure)",
    "distribution": "Mention distribution (coord. structure)",
    "postcode": "Code postal (coord. structure)",
    "commune_code": "Code commune (coord. structure)",
    "commune_label": "Libellé commune (coord. structure)",
    "phone": "Téléphone (coord. structure)",
    "phone2": "Téléphone 2 (coord. structure)",
    "fax": "Télécopie (coord. structure)",
    "email": "Adresse e-mail (coord. structure)",
    "departement": "Code Département (structure)",
}
# The columns of the published extract, in order (to write sample files: demo, tests, benchmark).
OFFICIAL_HEADER: tuple[str, ...] = (
    "Type d'identifiant PP", "Identifiant PP", "Identification nationale PP", "Code civilité d'exercice",
    "Libellé civilité d'exercice", "Code civilité", "Libellé civilité", "Nom d'exercice", "Prénom d'exercice",
    "Code profession", "Libellé profession", "Code catégorie professionnelle",
    "Libellé catégorie professionnelle", "Code type savoir-faire", "Libellé type savoir-faire",
    "Code savoir-faire", "Libellé savoir-faire", "Code mode exercice", "Libellé mode exercice",
    "Numéro SIRET site", "Numéro SIREN site", "Numéro FINESS site", "Numéro FINESS établissement juridique",
    "Identifiant technique de la structure", "Raison sociale site", "Enseigne commerciale site",
    "Complément destinataire (coord. structure)", "Complément point géographique (coord. structure)",
    "Numéro Voie (coord. structure)", "Indice répétition voie (coord. structure)",
    "Code type de voie (coord. structure)", "Libellé type de voie (coord. structure)",
    "Libellé Voie (coord. structure)", "Mention distribution (coord. structure)",
    "Bureau cedex (coord. structure)", "Code postal (coord. structure)", "Code commune (coord. structure)",
    "Libellé commune (coord. structure)", "Code pays (coord. structure)", "Libellé pays (coord. structure)",
    "Téléphone (coord. structure)", "Téléphone 2 (coord. structure)", "Télécopie (coord. structure)",
    "Adresse e-mail (coord. structure)", "Code Département (structure)", "Libellé Département (structure)",
    "Ancien identifiant de la structure", "Autorité d'enregistrement", "Code secteur d'activité",
    "Libellé secteur d'activité", "Code section tableau pharmaciens", "Libellé section tableau pharmaciens",
    "Code rôle", "Libellé rôle", "Code genre activité", "Libellé genre activité",
)


def format_line(values: dict[str, str], header: tuple[str, ...] = OFFICIAL_HEADER) -> str:
    """One extract line (trailing "|" included) from {header name: value}; other cells empty."""
    return "|".join(values.get(name, "") for name in header) + "|"


def format_header(header: tuple[str, ...] = OFFICIAL_HEADER) -> str:
    return "|".join(header) + "|"


REQUIRED = ("id_type", "pp_id", "last_name", "first_name", "profession_code", "mode_code")
LIBERAL = "L"
SITE_TYPE_LABEL = "Cabinet libéral"
SITE_DISCIPLINE = "VIL"  # médecine de ville

# skip reasons (report keys)
SKIP_NOT_LIBERAL = "exercice non libéral"
SKIP_PROFESSION = "profession non décrite par la région"
SKIP_SPECIALTY = "savoir-faire non décrit par la région"
SKIP_NO_ADDRESS = "sans adresse de structure"
SKIP_OTHER_REGION = "structure hors région"


def normalise_header(name: str) -> str:
    """Header comparison key: case, spacing and typographic apostrophes do not matter."""
    return " ".join(name.replace("\u2019", "'").casefold().split())


@dataclass(frozen=True)
class Layout:
    """Where each column is in this file. A missing optional column points at an extra empty cell."""

    width: int
    index: dict[str, int]

    @classmethod
    def from_header(cls, header: str) -> Layout:
        names = header.split("|")
        if names and names[-1].strip() == "":
            names.pop()  # the trailing "|"
        if len(names) < 2:
            raise ImportFileError("en-tête RPPS introuvable : la première ligne n'est pas séparée par « | »")
        position = {normalise_header(n): i for i, n in enumerate(names)}
        index: dict[str, int] = {}
        missing = []
        for key, header_name in COLUMNS.items():
            i = position.get(normalise_header(header_name))
            if i is None:
                if key in REQUIRED:
                    missing.append(header_name)
                i = len(names)  # the empty cell appended by split_line
            index[key] = i
        if missing:
            raise ImportFileError("colonnes RPPS absentes de l'en-tête : " + ", ".join(missing))
        if index["departement"] == len(names) and index["commune_code"] == len(names) \
                and index["postcode"] == len(names):
            raise ImportFileError("aucune colonne de localisation (département, commune, code postal)")
        return cls(width=len(names), index=index)

    def split_line(self, text: str) -> list[str]:
        fields = text.split("|")
        # Lines end with "|": the empty cell after it is the one missing columns point at.
        if len(fields) == self.width:
            fields.append("")
        elif len(fields) != self.width + 1 or fields[-1] != "":
            raise RejectedLine(f"{len(fields) - 1 if text.endswith('|') else len(fields)} colonnes "
                               f"au lieu de {self.width}")
        return fields


@dataclass(slots=True)
class Activity:
    """One kept line: a liberal activity of a described profession in the region."""

    line: int
    id_type: str
    rpps: str  # RPPS (11 digits) or ADELI (9 characters) identifier
    civility_code: str | None
    civility: str | None
    last_name: str
    first_name: str | None
    profession: DescribedProfession
    profession_label: str | None
    category_code: str | None
    specialty_code: str | None
    specialty_label: str | None
    mode_label: str | None
    siret: str | None
    siren: str | None
    finess_site: str | None
    structure_id: str | None
    site_name: str | None
    address_line: str | None
    address_complement: str | None
    postal_code: str | None
    commune_insee: str | None
    city: str | None
    departement: str
    phone: str | None
    fax: str | None
    email: str | None

    # -- derived keys and rows -------------------------------------------------------------
    @property
    def site_key(self) -> str:
        """Stable key of the practice: RPPS structure id, else SIRET, else a hash of the address."""
        if self.structure_id:
            return f"rpps:st:{self.structure_id}"
        if self.siret:
            return f"rpps:siret:{self.siret}"
        address = "|".join(x or "" for x in (self.address_line, self.address_complement, self.postal_code,
                                              self.commune_insee)).upper()
        return "rpps:adr:" + hashlib.sha1(address.encode()).hexdigest()[:20]

    @property
    def unit_key(self) -> str:
        key = f"rpps:{self.rpps}:{self.profession.unit_type}:{self.site_key[5:]}"
        if len(key) > 128:  # source_key is 128 characters
            key = f"rpps:{self.rpps}:{hashlib.sha1(key.encode()).hexdigest()}"
        return key

    @property
    def offer_name(self) -> str:
        return self.profession.offer_name(self.last_name, self.first_name or "")[:255]

    def professional_row(self) -> dict:
        return {"rpps": self.rpps, "id_type": self.id_type, "civility_code": self.civility_code,
                "civility": self.civility, "last_name": self.last_name, "first_name": self.first_name,
                "profession_code": self.profession.profession_code, "profession_label": self.profession_label,
                "category_code": self.category_code, "specialty_code": self.specialty_code,
                "specialty_label": self.specialty_label, "practice_mode_code": LIBERAL,
                "practice_mode_label": self.mode_label}

    def site_row(self) -> dict:
        return {"source_key": self.site_key, "rpps": self.rpps, "siret": self.siret, "siren": self.siren,
                "name": self.site_name or SITE_TYPE_LABEL, "type_label": SITE_TYPE_LABEL,
                "discipline": SITE_DISCIPLINE, "address_line": self.address_line,
                "address_complement": self.address_complement, "postal_code": self.postal_code,
                "commune_insee": self.commune_insee, "departement": self.departement, "city": self.city,
                "phone": self.phone, "fax": self.fax, "email": self.email}

    def unit_row(self, site_id: int) -> dict:
        return {"source_key": self.unit_key, "rpps": self.rpps, "parent_id": site_id, "name": self.offer_name,
                "type_label": self.profession.offer_label, "discipline": SITE_DISCIPLINE,
                "postal_code": self.postal_code, "commune_insee": self.commune_insee,
                "departement": self.departement, "city": self.city}

    def national(self) -> dict:
        """The read-only snapshot shown in step 1 ("Informations issues des répertoires RPPS…")."""
        return {
            "source": "RPPS",
            "id_type": self.id_type,
            "rpps": self.rpps,
            "national_id": self.id_type + self.rpps,
            "civility": self.civility,
            "last_name": self.last_name,
            "first_name": self.first_name,
            "profession": {"code": self.profession.profession_code, "label": self.profession_label},
            "specialty": ({"code": self.specialty_code, "label": self.specialty_label}
                          if self.specialty_code else None),
            "practice_mode": {"code": LIBERAL, "label": self.mode_label},
            "structure": {"id": self.structure_id, "siret": self.siret, "finess": self.finess_site,
                          "name": self.site_name},
            "address": {"line": self.address_line, "complement": self.address_complement,
                        "postal_code": self.postal_code, "commune_insee": self.commune_insee,
                        "city": self.city},
            "phone": self.phone,
            "email": self.email,
        }

    def draft(self) -> dict:
        """The pre-filled draft (set at creation only): what the national data tells of the
        description step. Nothing is validated: the professional goes through the six steps."""
        steps = {}
        if self.profession.operational_activities:
            steps["description"] = {"operational_activities": list(self.profession.operational_activities)}
        return {"steps": steps, "validated": []}

    def offer_row(self, unit_id: int, dumps) -> dict:
        return {"unit_id": unit_id, "unit_type": self.profession.unit_type,
                "care_mode": self.profession.care_mode, "name": self.offer_name, "owner_rpps": self.rpps,
                "commune_insee": self.commune_insee, "departement": self.departement,
                "national": dumps(self.national()), "draft": dumps(self.draft())}


def _clean(value: str, size: int = 255) -> str | None:
    """Stripped text, None when empty, cut to the column's size (a long value must not fail a batch)."""
    value = value.strip()
    return value[:size] or None


def _code(value: str, pattern) -> str | None:
    """An identifier kept only when well-formed (a malformed SIRET is dropped, not the line)."""
    value = value.strip()
    return value if value and pattern.match(value) else None


def _street_line(number: str, repeat: str, type_code: str, type_label: str, street: str) -> str | None:
    # "9 R DE METZ": number + repetition index, then the street type as the extract abbreviates it
    head = (number.strip() + repeat.strip()).strip()
    parts = [p for p in (head, type_code.strip() or type_label.strip(), street.strip()) if p]
    return " ".join(parts)[:255] or None


class LineParser:
    """Turns one line into an Activity, a skip reason, or raises RejectedLine."""

    def __init__(self, layout: Layout, region: str, professions: dict[str, DescribedProfession]):
        self.layout = layout
        self.departements = frozenset(get_region(region).departements)
        self.professions = professions
        self.ix = ix = layout.index
        # the columns every line needs, as plain attributes (the loop runs millions of times)
        self._id_type, self._pp_id, self._national_id = ix["id_type"], ix["pp_id"], ix["national_id"]
        self._last_name, self._mode, self._profession = ix["last_name"], ix["mode_code"], ix["profession_code"]

    def parse(self, line_no: int, text: str) -> Activity | str:
        f = self.layout.split_line(text)
        # -- malformed lines are rejected whatever their region ---------------------------
        id_type = f[self._id_type].strip()
        pp_id = f[self._pp_id].strip()
        if id_type == ID_TYPE_RPPS:
            error = rpps_error(pp_id)
            if error:
                raise RejectedLine(error)
        elif id_type == ID_TYPE_ADELI:
            if not ADELI_RE.match(pp_id):
                raise RejectedLine(f"ADELI invalide « {pp_id} » : 9 caractères attendus")
        else:
            raise RejectedLine(f"type d'identifiant inconnu « {id_type} » (8 = RPPS, 0 = ADELI)")
        national_id = f[self._national_id].strip()
        if national_id and national_id != id_type + pp_id:
            raise RejectedLine(f"identification nationale « {national_id} » incohérente avec "
                               f"l'identifiant {id_type} {pp_id}")
        last_name = f[self._last_name].strip()
        if not last_name:
            raise RejectedLine("nom d'exercice manquant")
        # -- then the filters, cheapest first ---------------------------------------------
        if f[self._mode].strip() != LIBERAL:
            return SKIP_NOT_LIBERAL
        profession = self.professions.get(f[self._profession].strip())
        if profession is None:
            return SKIP_PROFESSION
        ix = self.ix
        specialty_code = f[ix["specialty_code"]].strip()
        if not profession.accepts_specialty(specialty_code):
            return SKIP_SPECIALTY
        commune = _code(f[ix["commune_code"]], COMMUNE_RE)
        postcode = _code(f[ix["postcode"]], POSTCODE_RE)
        departement = (_code(f[ix["departement"]], DEPARTEMENT_RE) or departement_of_commune(commune or "")
                       or departement_of_postcode(postcode or ""))
        if not departement:
            return SKIP_NO_ADDRESS
        if departement not in self.departements:
            return SKIP_OTHER_REGION
        return Activity(
            line=line_no,
            id_type=id_type,
            rpps=pp_id,
            civility_code=_clean(f[ix["civility_code"]], 10),
            civility=_clean(f[ix["civility"]], 40),
            last_name=last_name[:255],
            first_name=_clean(f[ix["first_name"]], 50),
            profession=profession,
            profession_label=_clean(f[ix["profession_label"]]) or profession.profession_label,
            category_code=_clean(f[ix["category_code"]], 10),
            specialty_code=(specialty_code or None) and specialty_code[:20],
            specialty_label=_clean(f[ix["specialty_label"]]),
            mode_label=_clean(f[ix["mode_label"]], 100),
            siret=_code(f[ix["siret"]], SIRET_RE),
            siren=_code(f[ix["siren"]], SIREN_RE),
            finess_site=_code(f[ix["finess_site"]], FINESS_RE),
            structure_id=_clean(f[ix["structure_id"]], 64),
            site_name=_clean(f[ix["company_name"]]) or _clean(f[ix["trade_name"]]),
            address_line=_street_line(f[ix["street_number"]], f[ix["street_repeat"]],
                                      f[ix["street_type_code"]], f[ix["street_type"]], f[ix["street"]]),
            address_complement=", ".join(
                p for p in (f[ix["addr_place"]].strip(), f[ix["distribution"]].strip()) if p)[:255] or None,
            postal_code=postcode,
            commune_insee=commune,
            city=_clean(f[ix["commune_label"]]),
            departement=departement,
            phone=normalise_phone(f[ix["phone"]]) or normalise_phone(f[ix["phone2"]]),
            fax=normalise_phone(f[ix["fax"]]),
            email=_clean(f[ix["email"]]),
        )


# -- the import loop -----------------------------------------------------------------------------


def write_batch(store, activities: list[Activity], report: ImportReport) -> None:
    """The import's unit of work (the entrypoint of the command: one commit per batch). If the
    database refuses the batch, write its lines one by one and reject the lines it refuses (with
    their number and the database's reason) instead of stopping."""
    try:
        _commit_batch(store, activities, report)
    except DatabaseRefusal:
        store.rollback()
        for activity in activities:
            try:
                _commit_batch(store, [activity], report)
            except DatabaseRefusal as exc:
                store.rollback()
                report.reject(activity.line, f"refusée par la base : {str(exc).splitlines()[0]}", kept=True)


def _commit_batch(store, activities: list[Activity], report: ImportReport) -> None:
    written = upsert_batch(store, activities)
    store.commit()
    written.count(report)  # counted once committed: a refused batch counts nothing


@dataclass
class WrittenBatch:
    """What one batch's upserts did, by natural key (see services.offers.importers.store.Outcome)."""

    professionals: dict[str, Activity]
    sites: dict[str, Activity]
    units: dict[str, Activity]
    pro: Outcome
    site: Outcome
    unit: Outcome
    offer: Outcome

    def count(self, report: ImportReport) -> None:
        units = self.units
        for name, outcome, total in (("professionnels", self.pro, len(self.professionals)),
                                     ("sites", self.site, len(self.sites)), ("unités", self.unit, len(units)),
                                     ("offres", self.offer, len(units))):
            for key, n in outcome.counts(total).items():
                report.entity(name, key, n)
        # headline: one outcome per offer (what the professional will see)
        for key, a in units.items():
            unit_id = self.unit.ids[key]
            if key in self.unit.created or unit_id in self.offer.created:
                report.outcome("created")
            elif (unit_id in self.offer.updated or key in self.unit.updated or a.site_key in self.site.updated
                  or a.rpps in self.pro.updated):
                report.outcome("updated")
            else:
                report.outcome("unchanged")


def upsert_batch(store, activities: list[Activity]) -> WrittenBatch:
    """Upsert professionals, sites, units and offers of one batch (the caller commits)."""
    from services.offers.importers.store import dumps

    # one row per natural key (a later line of the same batch wins)
    professionals = {a.rpps: a for a in activities}
    sites = {a.site_key: a for a in activities}
    units = {a.unit_key: a for a in activities}

    pro = store.upsert_professionals([a.professional_row() for a in professionals.values()])
    site = store.upsert_rpps_sites([a.site_row() for a in sites.values()])
    unit = store.upsert_rpps_units([a.unit_row(site.ids[a.site_key]) for a in units.values()])
    offer = store.upsert_offers([a.offer_row(unit.ids[k], dumps) for k, a in units.items()])
    return WrittenBatch(professionals, sites, units, pro, site, unit, offer)


def import_rpps(path: str | Path, region: str, url: str | None = None, *, batch_size: int = 2000,
                report_path: str | Path | None = None, keep_first: int = 20, progress: bool = True,
                stream: IO[str] | None = None) -> ImportReport:
    """Stream `path` into the offers schema of `region`; returns the report (never raises for a bad line)."""
    from services.offers.importers.store import Store

    professions = professions_for(region)
    get_region(region)
    path = Path(path)
    report = ImportReport("rpps", region, str(path), keep_first=keep_first,
                          report_file=open_report_file(report_path))
    meter = Progress(f"rpps {region}", path.stat().st_size, stream=stream or sys.stderr, enabled=progress)
    store = Store(region, url)
    with closing_import(report, meter, store):
        _run(path, region, professions, store, report, meter, batch_size)
    return report


def _run(path: Path, region: str, professions, store, report: ImportReport, meter: Progress,
         batch_size: int) -> None:
    from services.offers.importers.pipeline import BackgroundWriter

    lines = iter_decoded_lines(path, report)
    try:
        _, header, done = next(lines)
    except StopIteration:
        raise ImportFileError(f"{path} est vide") from None
    parser = LineParser(Layout.from_header(header), region, professions)
    writer: BackgroundWriter[list[Activity]] = BackgroundWriter(lambda b: write_batch(store, b, report))
    batch: list[Activity] = []
    try:
        for line_no, text, nbytes in lines:
            done += nbytes
            if not text:
                continue  # blank line (e.g. at the end of the file): nothing to report
            report.read += 1
            if report.read & 4095 == 0:
                meter.update(done, report.read)
            try:
                result = parser.parse(line_no, text)
            except RejectedLine as exc:
                report.reject(line_no, exc.reason, text)
                continue
            if isinstance(result, str):
                report.skip(result)
                continue
            report.kept += 1
            batch.append(result)
            if len(batch) >= batch_size:
                writer.submit(batch)
                batch = []
        if batch:
            writer.submit(batch)
    finally:
        writer.close()
    meter.update(done, report.read)


def parse_lines(lines: Iterable[str], region: str) -> list[Activity | str | RejectedLine]:
    """Parse an in-memory extract (header first): for tests and tools, not for real files."""
    iterator = iter(lines)
    parser = LineParser(Layout.from_header(next(iterator)), region, professions_for(region))
    results: list[Activity | str | RejectedLine] = []
    for number, text in enumerate(iterator, start=2):
        try:
            results.append(parser.parse(number, text))
        except RejectedLine as exc:
            results.append(exc)
    return results

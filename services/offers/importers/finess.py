"""FINESS etalab extract `etalab-cs1100507-stock-*.csv` → legal entities (EJ) and sites (EG).

Also reads the widely used decoded CSV (a header line `nofinesset;nofinessej;rs;…;coordx;coordy;…`,
one line per establishment with its coordinates), told apart from its first line: `finess_decoded.py`.

File layout (data.gouv.fr "FINESS Extraction du Fichier des établissements", géolocalisés):
`;`-separated, no header; first line `finess;etalab;<version>;<date>`; then one `structureet` line
per establishment (ET), then one `geolocalisation` line per ET. Historically Windows-1252: each line
is decoded as UTF-8, falling back to Windows-1252.

structureet (by position): structureet; nofinesset; nofinessej; rs; rslongue; complrs; compldistrib;
numvoie; typvoie; voie; compvoie; lieuditbp; commune (3 digits); departement (2A/2B, 9A..9F overseas);
libdepartement; ligneacheminement ("78201 MANTES LA JOLIE CEDEX"); telephone; telecopie; categetab;
libcategetab; categagretab; libcategagretab; siret; codeape; codemft; libmft; codesph; libsph;
dateouv; dateautor; datemaj; numuai (absent from older extracts)

geolocalisation: geolocalisation; nofinesset; coordxet; coordyet; sourcecoordet
("1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93", the last item naming the projection); datemaj.
Metropolitan coordinates are Lambert-93 (EPSG:2154), converted here to WGS84 (EPSG:4326).

The ET extract names no EJ: an EJ created here gets its first ET's name as a stand-in, set once.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO

from services.common.regions import get_region
from services.offers.importers.report import (
    DatabaseRefusal,
    ImportReport,
    Progress,
    RejectedLine,
    closing_import,
    iter_decoded_lines,
    open_report_file,
)
from services.offers.importers.validation import (
    FINESS_RE,
    POSTCODE_RE,
    SIRET_RE,
    finess_commune_insee,
    finess_departement,
    luhn_ok,
    normalise_phone,
)

STRUCTUREET_FIELDS = (
    "section", "nofinesset", "nofinessej", "rs", "rslongue", "complrs", "compldistrib", "numvoie",
    "typvoie", "voie", "compvoie", "lieuditbp", "commune", "departement", "libdepartement",
    "ligneacheminement", "telephone", "telecopie", "categetab", "libcategetab", "categagretab",
    "libcategagretab", "siret", "codeape", "codemft", "libmft", "codesph", "libsph", "dateouv",
    "dateautor", "datemaj", "numuai",
)
_I = {name: i for i, name in enumerate(STRUCTUREET_FIELDS)}
MIN_STRUCTUREET = len(STRUCTUREET_FIELDS) - 1  # older extracts have no numuai
LAMBERT_93 = "LAMBERT_93"
# Lambert-93 covers metropolitan France: anything outside is a wrong coordinate, not a place.
L93_X = (0.0, 1_300_000.0)
L93_Y = (6_000_000.0, 7_200_000.0)
DATE_FR = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")

SKIP_OTHER_REGION = "établissement hors région"
SKIP_GEO_OTHER_REGION = "géolocalisation d'un établissement hors région"
SKIP_GEO_PROJECTION = "géolocalisation dans une autre projection que Lambert-93"
SKIP_HEADER = "ligne d'en-tête finess;etalab"


@cache
def lambert93_to_wgs84():
    """One Transformer for the whole run (building one costs milliseconds, using it microseconds)."""
    from pyproj import Transformer

    return Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)


def to_wgs84(x: float, y: float) -> tuple[float, float]:
    """(latitude, longitude) in degrees of a Lambert-93 point, rounded to 7 decimals (1 cm) so that
    re-importing the same coordinates compares equal."""
    lon, lat = lambert93_to_wgs84().transform(x, y)
    return round(lat, 7), round(lon, 7)


def check_finess(value: str, what: str) -> str:
    value = value.strip()
    if not FINESS_RE.match(value):
        raise RejectedLine(f"numéro FINESS {what} invalide « {value} » : 9 caractères attendus")
    if value.isdigit() and not luhn_ok(value):
        raise RejectedLine(f"numéro FINESS {what} invalide « {value} » : clé de contrôle incorrecte")
    return value


def commune_name(insee: str | None) -> str | None:
    """The commune's official name ("Mantes-la-Jolie"), better than the routing line's
    "MANTES LA JOLIE CEDEX" for display and search."""
    if not insee:
        return None
    from services.offers.reference import get_commune

    commune = get_commune(insee)
    return commune.name if commune else None


def iso_date(value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    match = DATE_FR.match(value)
    if match:
        return f"{match.group(3)}-{match.group(2)}-{match.group(1)}"
    return value[:10]


def _clean(value: str, size: int = 255) -> str | None:
    """Stripped text, None when empty, cut to the column's size (a long value must not fail a batch)."""
    value = value.strip()
    return value[:size] or None


@dataclass(slots=True)
class Establishment:
    """A `structureet` line: one ET (our `site`) and its EJ."""

    line: int
    finess_et: str
    finess_ej: str
    name: str
    long_name: str | None
    siret: str | None
    category_code: str | None
    category_label: str | None
    address_line: str | None
    address_complement: str | None
    postal_code: str | None
    commune_insee: str | None
    departement: str
    city: str | None
    phone: str | None
    fax: str | None
    opened_on: str | None

    def legal_entity_row(self) -> dict:
        return {"finess": self.finess_ej, "name": self.long_name or self.name, "departement": self.departement}

    def site_row(self, legal_entity_id: int) -> dict:
        return {"finess": self.finess_et, "parent_id": legal_entity_id, "siret": self.siret, "name": self.name,
                "long_name": self.long_name, "category_code": self.category_code,
                "category_label": self.category_label, "address_line": self.address_line,
                "address_complement": self.address_complement, "postal_code": self.postal_code,
                "commune_insee": self.commune_insee, "departement": self.departement, "city": self.city,
                "phone": self.phone, "fax": self.fax, "opened_on": self.opened_on}


@dataclass(slots=True, frozen=True)
class Geolocation:
    line: int
    finess_et: str
    x: float
    y: float
    projection: str


def parse_structureet(line_no: int, fields: list[str]) -> Establishment:
    if len(fields) < MIN_STRUCTUREET or len(fields) > len(STRUCTUREET_FIELDS) + 1:
        raise RejectedLine(f"{len(fields)} colonnes au lieu de {len(STRUCTUREET_FIELDS)}")

    def get(name: str) -> str:
        i = _I[name]
        return fields[i].strip() if i < len(fields) else ""

    finess_et = check_finess(get("nofinesset"), "ET")
    finess_ej = check_finess(get("nofinessej"), "EJ")
    name = get("rs")
    if not name:
        raise RejectedLine("raison sociale manquante")
    departement_raw = get("departement")
    if not departement_raw:
        raise RejectedLine("département manquant")
    routing = get("ligneacheminement")
    postal_code, _, city = routing.partition(" ")
    if not POSTCODE_RE.match(postal_code):
        postal_code, city = "", routing
    commune_insee = finess_commune_insee(departement_raw, get("commune"))
    number = (get("numvoie") + get("compvoie")).strip()
    street = " ".join(p for p in (number, get("typvoie"), get("voie")) if p)
    complement = ", ".join(p for p in (get("complrs"), get("compldistrib"), get("lieuditbp")) if p)
    return Establishment(
        line=line_no,
        finess_et=finess_et,
        finess_ej=finess_ej,
        name=name[:255],
        long_name=_clean(get("rslongue")),
        siret=get("siret") if SIRET_RE.match(get("siret")) else None,
        category_code=_clean(get("categetab"), 10),
        category_label=_clean(get("libcategetab")),
        address_line=_clean(street),
        address_complement=_clean(complement),
        postal_code=postal_code or None,
        commune_insee=commune_insee,
        departement=finess_departement(departement_raw),
        city=commune_name(commune_insee) or _clean(city),
        phone=normalise_phone(get("telephone")),
        fax=normalise_phone(get("telecopie")),
        opened_on=iso_date(get("dateouv")),
    )


def parse_geolocalisation(line_no: int, fields: list[str]) -> Geolocation:
    # sourcecoordet is one comma-separated field in the published file; some re-exports split it
    # on ";" too, so everything between the coordinates and the final date is the source.
    if len(fields) < 4:
        raise RejectedLine(f"{len(fields)} colonnes au lieu de 6")
    finess_et = check_finess(fields[1], "ET")
    try:
        x = float(fields[2].strip().replace(",", "."))
        y = float(fields[3].strip().replace(",", "."))
    except ValueError:
        raise RejectedLine(f"coordonnées illisibles « {fields[2]} ; {fields[3]} »") from None
    source = ",".join(fields[4:-1]) if len(fields) > 5 else ",".join(fields[4:5])
    projection = source.rsplit(",", 1)[-1].strip().upper() if source.strip() else LAMBERT_93
    if projection == LAMBERT_93 and not (L93_X[0] <= x <= L93_X[1] and L93_Y[0] <= y <= L93_Y[1]):
        raise RejectedLine(f"coordonnées hors de la France métropolitaine en Lambert-93 « {x} ; {y} »")
    return Geolocation(line_no, finess_et, x, y, projection)


class LineParser:
    def __init__(self, region: str):
        self.departements = frozenset(get_region(region).departements)
        self.decoded = None  # the decoded CSV's column layout, when its header was the first line

    def parse(self, line_no: int, text: str):
        """Establishment | Geolocation | (Establishment, Geolocation | None) for a decoded CSV line | a
        skip reason."""
        from services.offers.importers import finess_decoded

        if self.decoded is not None:
            et, geo = self.decoded.parse(line_no, text)
            return (et, geo) if et.departement in self.departements else SKIP_OTHER_REGION
        if line_no == 1 and finess_decoded.is_header(text):
            self.decoded = finess_decoded.DecodedLayout(text)
            return SKIP_HEADER
        fields = text.split(";")
        section = fields[0].strip().lower()
        if section == "structureet":
            et = parse_structureet(line_no, fields)
            return et if et.departement in self.departements else SKIP_OTHER_REGION
        if section == "geolocalisation":
            return parse_geolocalisation(line_no, fields)
        if section == "finess" and line_no == 1:
            return SKIP_HEADER
        raise RejectedLine(f"type de ligne inconnu « {fields[0][:30]} » (structureet ou geolocalisation attendu)")


# -- the import loop -----------------------------------------------------------------------------


class FinessRun:
    """State of one import: pending batches and the outcome of each kept ET (bounded by the region)."""

    def __init__(self, store, report: ImportReport, batch_size: int):
        self.store = store
        self.report = report
        self.batch_size = batch_size
        self.establishments: dict[str, Establishment] = {}
        self.geolocations: dict[str, Geolocation] = {}
        self.status: dict[str, str] = {}  # ET -> created / updated / unchanged in this run

    def add_establishment(self, et: Establishment) -> None:
        self.establishments[et.finess_et] = et
        if len(self.establishments) >= self.batch_size:
            self.flush_establishments()

    def add_geolocation(self, geo: Geolocation) -> str | None:
        """Queue a geolocation; returns a skip reason when it concerns no kept ET."""
        if geo.finess_et not in self.status and geo.finess_et not in self.establishments:
            return SKIP_GEO_OTHER_REGION
        if geo.projection != LAMBERT_93:
            return SKIP_GEO_PROJECTION
        self.geolocations[geo.finess_et] = geo
        if len(self.geolocations) >= self.batch_size:
            self.flush_geolocations()
        return None

    def flush_establishments(self) -> None:
        batch = list(self.establishments.values())
        self.establishments = {}
        if not batch:
            return
        try:
            self._commit(batch)
        except DatabaseRefusal:
            # one bad row must not cost the batch: write ET by ET, reject what the database refuses
            self.store.rollback()
            for et in batch:
                try:
                    self._commit([et])
                except DatabaseRefusal as exc:
                    self.store.rollback()
                    self.report.reject(et.line, f"refusée par la base : {str(exc).splitlines()[0]}", kept=True)

    def _commit(self, batch: list[Establishment]) -> None:
        """One batch, one commit (this driver is the command's entrypoint); counted once committed."""
        entities: dict[str, dict] = {}
        for et in batch:  # the EJ's stand-in name is its first ET's
            entities.setdefault(et.finess_ej, et.legal_entity_row())
        ej = self.store.ensure_legal_entities(list(entities.values()))
        site = self.store.upsert_finess_sites([et.site_row(ej.ids[et.finess_ej]) for et in batch])
        self.store.commit()
        self.report.entity("entités juridiques", "created", len(ej.created))
        self.report.entity("entités juridiques", "unchanged", len(entities) - len(ej.created))
        for key, n in site.counts(len(batch)).items():
            self.report.entity("sites", key, n)
        for et in batch:
            outcome = site.status(et.finess_et)
            if self.status.get(et.finess_et) is None:
                self.report.outcome(outcome)
            self.status[et.finess_et] = outcome

    def flush_geolocations(self) -> None:
        # the ETs must exist before their coordinates are written
        self.flush_establishments()
        batch = list(self.geolocations.values())
        self.geolocations = {}
        if not batch:
            return
        rows = []
        for g in batch:
            latitude, longitude = to_wgs84(g.x, g.y)
            rows.append({"finess": g.finess_et, "latitude": latitude, "longitude": longitude})
        changed = self.store.update_coordinates(rows)
        self.store.commit()
        self.report.entity("coordonnées", "updated", len(changed))
        self.report.entity("coordonnées", "unchanged", len(batch) - len(changed))
        for et in changed:
            # an ET created in this run gets its coordinates as part of its creation
            if self.status.get(et) == "unchanged":
                self.status[et] = "updated"
                self.report.outcome("unchanged", -1)
                self.report.outcome("updated")

    def close(self) -> None:
        self.flush_establishments()
        self.flush_geolocations()


def import_finess(path: str | Path, region: str, url: str | None = None, *, batch_size: int = 2000,
                  report_path: str | Path | None = None, keep_first: int = 20, progress: bool = True,
                  stream: IO[str] | None = None) -> ImportReport:
    """Stream `path` into the offers schema of `region`; returns the report (never raises for a bad line)."""
    from services.offers.importers.store import Store

    parser = LineParser(region)
    path = Path(path)
    report = ImportReport("finess", region, str(path), keep_first=keep_first,
                          report_file=open_report_file(report_path))
    meter = Progress(f"finess {region}", path.stat().st_size, stream=stream or sys.stderr, enabled=progress)
    store = Store(region, url)
    run = FinessRun(store, report, batch_size)
    done = 0
    with closing_import(report, meter, store):
        for line_no, text, nbytes in iter_decoded_lines(path, report):
            done += nbytes
            if not text.strip():
                continue
            try:
                result = parser.parse(line_no, text)
            except RejectedLine as exc:
                report.read += 1
                report.reject(line_no, exc.reason, text)
                continue
            if result == SKIP_HEADER:
                continue  # the file's own header, not data
            report.read += 1
            if report.read & 4095 == 0:
                meter.update(done, report.read)
            if isinstance(result, str):
                report.skip(result)
            elif isinstance(result, Establishment):
                report.kept += 1
                run.add_establishment(result)
            elif isinstance(result, tuple):  # decoded CSV: the establishment and its coordinates
                report.kept += 1
                run.add_establishment(result[0])
                reason = run.add_geolocation(result[1]) if result[1] is not None else None
                if reason:
                    report.notes[reason] += 1
            else:
                reason = run.add_geolocation(result)
                if reason:
                    report.skip(reason)
                else:
                    report.kept += 1
        run.close()
        meter.update(done, report.read)
    return report

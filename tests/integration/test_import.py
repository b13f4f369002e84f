"""The national importers against the real PostgreSQL: idempotence, updates, bad lines, CLI, demo.

Only the database is needed (the `db_url` fixture), not the services. Every test works on its own
RPPS / FINESS numbers, so that runs and tests do not see each other's rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from services.offers.importers.finess import import_finess
from services.offers.importers.rpps import format_header, format_line, import_rpps
from services.offers.importers.validation import luhn_complete
from services.offers.models import Offer, Professional, Structure
from tests.helpers import demo_rpps

pytestmark = pytest.mark.integration


@pytest.fixture
def numbers(unique):
    """A generator of fresh, valid numbers for this test: RPPS (11 digits), FINESS (9)."""
    base = int(unique, 16) % 10**6
    counter = iter(range(100))

    def make(kind: str) -> str:
        n = next(counter)
        if kind == "rpps":
            return luhn_complete(f"19{base:06d}{n:02d}")
        return luhn_complete(f"78{base % 10**4:04d}{n:02d}")

    return make


def rpps_line(rpps: str, structure: str, **overrides: str) -> str:
    values = {
        "Type d'identifiant PP": "8", "Identifiant PP": rpps, "Identification nationale PP": "8" + rpps,
        "Code civilité": "M", "Nom d'exercice": "DUBOIS", "Prénom d'exercice": "Julien",
        "Code profession": "70", "Libellé profession": "Masseur-Kinésithérapeute", "Code mode exercice": "L",
        "Libellé mode exercice": "Libéral", "Identifiant technique de la structure": structure,
        "Numéro Voie (coord. structure)": "9", "Code type de voie (coord. structure)": "R",
        "Libellé Voie (coord. structure)": "DE METZ", "Code postal (coord. structure)": "78200",
        "Code commune (coord. structure)": "78361", "Libellé commune (coord. structure)": "Mantes-la-Jolie",
        "Téléphone (coord. structure)": "0130941201",
    }
    values.update(overrides)
    return format_line(values)


def write(path, lines, encoding="utf-8"):
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


@dataclass
class SampleFile:
    path: Path
    rpps: dict[str, str]
    lines: list[str]

    def rewrite(self, old: str, new: str, only: str = "") -> None:
        """Replace `old` by `new` in the lines containing `only`."""
        self.path.write_text("\n".join(line.replace(old, new) if only in line else line for line in self.lines)
                             + "\n", encoding="utf-8")


@pytest.fixture
def rpps_file(tmp_path, numbers, unique):
    kine, sf, gp = numbers("rpps"), numbers("rpps"), numbers("rpps")
    lines = [
        format_header(),
        rpps_line(kine, f"T{unique}1"),
        rpps_line(sf, f"T{unique}2", **{"Code profession": "50", "Nom d'exercice": "LEFÈVRE",
                                        "Prénom d'exercice": "Claire", "Code commune (coord. structure)": "78401",
                                        "Code postal (coord. structure)": "78250"}),
        "8|123|this line is broken|",
        rpps_line(gp, f"T{unique}3", **{"Code profession": "10", "Code savoir-faire": "SM54"}),
        rpps_line(numbers("rpps"), f"T{unique}4", **{"Code mode exercice": "S"}),
        rpps_line(numbers("rpps"), f"T{unique}5", **{"Code commune (coord. structure)": "44109",
                                                     "Code postal (coord. structure)": "44000"}),
    ]
    path = write(tmp_path / "PS_LibreAcces_Personne_activite_202601010000.txt", lines)
    return SampleFile(path, {"kine": kine, "sf": sf, "gp": gp}, lines)


def offer_of(db_session, rpps: str) -> Offer:
    db_session.expire_all()
    return db_session.scalar(select(Offer).where(Offer.region == "idf", Offer.owner_rpps == rpps))


def test_rpps_import_creates_then_changes_nothing_then_updates_what_changed(db_url, db_session, rpps_file):
    first = import_rpps(rpps_file.path, "idf", db_url, progress=False)
    assert (first.read, first.kept, first.skipped_total, first.rejected) == (6, 3, 2, 1)
    assert first.outcomes["created"] == 3 and first.outcomes["updated"] == 0
    assert [(r.line, "colonnes" in r.reason) for r in first.first_rejections] == [(4, True)]

    kine = offer_of(db_session, rpps_file.rpps["kine"])
    assert kine.name == "Consultation kinésithérapie DUBOIS Julien" and kine.status == "draft"
    assert kine.unit_type == "ROR-UO-KINE" and kine.departement == "78" and kine.commune_insee == "78361"
    assert kine.national["phone"] == "0130941201" and kine.national["rpps"] == rpps_file.rpps["kine"]
    assert kine.draft["steps"]["description"]["operational_activities"] == ["339"]
    unit = db_session.get(Structure, kine.unit_id)
    site = db_session.get(Structure, unit.parent_id)
    assert (unit.kind, site.kind, site.source, site.phone) == ("unit", "site", "rpps", "0130941201")
    professional = db_session.scalar(select(Professional).where(Professional.rpps == rpps_file.rpps["kine"]))
    assert (professional.region, professional.profession_code, professional.last_name) == ("idf", "70", "DUBOIS")
    stamp = (kine.version, kine.updated_at, site.updated_at)

    second = import_rpps(rpps_file.path, "idf", db_url, progress=False)
    assert (second.outcomes["created"], second.outcomes["updated"], second.outcomes["unchanged"]) == (0, 0, 3)
    assert all(c.get("created", 0) == 0 and c.get("updated", 0) == 0 for c in second.entities.values())
    kine = offer_of(db_session, rpps_file.rpps["kine"])
    assert (kine.version, kine.updated_at, db_session.get(Structure, site.id).updated_at) == stamp

    # a new phone number for the kiné's practice: one offer updated, nothing else
    rpps_file.rewrite("0130941201", "0130941299", only=rpps_file.rpps["kine"])
    third = import_rpps(rpps_file.path, "idf", db_url, progress=False)
    assert (third.outcomes["created"], third.outcomes["updated"], third.outcomes["unchanged"]) == (0, 1, 2)
    kine = offer_of(db_session, rpps_file.rpps["kine"])
    assert kine.national["phone"] == "0130941299" and kine.version == stamp[0] + 1
    assert db_session.get(Structure, site.id).phone == "0130941299"


def test_reimport_refreshes_national_data_but_never_the_professionals_draft(db_url, db_session, rpps_file):
    import_rpps(rpps_file.path, "idf", db_url, progress=False)
    kine = offer_of(db_session, rpps_file.rpps["kine"])
    edited = {"steps": {"national": {"acknowledged": True},
                        "description": {"age_min": 0, "age_max": 150, "operational_activities": ["339", "561"]}},
              "validated": ["national", "description"]}
    kine.draft = edited
    db_session.commit()

    rpps_file.rewrite("Julien", "Julien-Marie", only=rpps_file.rpps["kine"])
    report = import_rpps(rpps_file.path, "idf", db_url, progress=False)
    assert report.outcomes["updated"] == 1
    kine = offer_of(db_session, rpps_file.rpps["kine"])
    assert kine.name == "Consultation kinésithérapie DUBOIS Julien-Marie"
    assert kine.national["first_name"] == "Julien-Marie"
    assert kine.draft == edited


def test_cli_reports_malformed_lines_and_imports_the_rest(db_url, db_session, rpps_file, tmp_path):
    from services.common.cli import main

    report_path = tmp_path / "rejets.tsv"
    result = CliRunner().invoke(main, ["import", "rpps", str(rpps_file.path), "--region", "idf", "--url", db_url,
                                       "--report", str(report_path), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "rejetées : 1" in result.output and "ligne 4 :" in result.output
    assert "retenues : 3" in result.output
    rows = [r for r in report_path.read_text(encoding="utf-8").splitlines()[1:] if not r.startswith("#")]
    assert len(rows) == 1 and rows[0].startswith("4\t")
    assert offer_of(db_session, rpps_file.rpps["gp"]).name == "Consultation médecine générale DUBOIS Julien"


def test_cli_refuses_a_file_that_is_not_an_rpps_extract(db_url, tmp_path):
    from services.common.cli import main

    path = write(tmp_path / "wrong.txt", ["a;b;c", "1;2;3"])
    result = CliRunner().invoke(main, ["import", "rpps", str(path), "--region", "idf", "--url", db_url])
    assert result.exit_code != 0 and "en-tête RPPS" in result.output


# -- FINESS ------------------------------------------------------------------------------------------

def structureet(et: str, ej: str, name: str, phone: str = "0134974000") -> str:
    return (f"structureet;{et};{ej};{name};{name} LONG;;;2;BD;SADI CARNOT;;;361;78;YVELINES;"
            f"78201 MANTES LA JOLIE CEDEX;{phone};;355;Centre Hospitalier (C.H.);1102;Centres Hospitaliers;"
            f";8610Z;03;ARS établissements Publics de santé dotation globale;1;Etablissement public de santé;"
            f"1979-02-13;1979-02-13;2025-11-04;")


def geolocalisation(et: str, x: float, y: float) -> str:
    return f"geolocalisation;{et};{x};{y};1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93;2025-11-04"


def test_finess_import_is_idempotent_and_converts_coordinates(db_url, db_session, tmp_path, numbers):
    ej, et1, et2 = numbers("finess"), numbers("finess"), numbers("finess")
    lines = ["finess;etalab;96;2025-11-04",
             structureet(et1, ej, "CH DE DÉMONSTRATION"), structureet(et2, ej, "CH DE DÉMO ANNEXE"),
             "structureet;440000313;440000289;CHU NANTES;;;;1;PL;X;;;109;44;LOIRE;44000 NANTES;;;101;CHR;;;;;;;;;;;;",
             "structureet;123;oops",
             geolocalisation(et1, 649242.57, 6861355.85), geolocalisation(et2, 614563.3, 6872146.1),
             geolocalisation("440000313", 355000.0, 6690000.0)]
    path = write(tmp_path / "etalab-cs1100507-stock-20251104-0400.csv", lines, encoding="cp1252")

    first = import_finess(path, "idf", db_url, progress=False)
    assert (first.read, first.kept, first.skipped_total, first.rejected) == (7, 4, 2, 1)
    assert first.first_rejections[0].line == 5
    assert (first.outcomes["created"], first.outcomes["updated"]) == (2, 0)
    db_session.expire_all()
    site = db_session.scalar(select(Structure).where(Structure.region == "idf", Structure.finess == et1))
    legal_entity = db_session.get(Structure, site.parent_id)
    assert (site.kind, legal_entity.kind, legal_entity.finess) == ("site", "legal_entity", ej)
    assert site.name == "CH DE DÉMONSTRATION" and site.city == "Mantes-la-Jolie" and site.commune_insee == "78361"
    # 20 avenue de Ségur, Paris: a point whose WGS84 coordinates are known
    assert math.isclose(site.latitude, 48.850244, abs_tol=3e-5)
    assert math.isclose(site.longitude, 2.308310, abs_tol=4e-5)

    second = import_finess(path, "idf", db_url, progress=False)
    assert (second.outcomes["created"], second.outcomes["updated"], second.outcomes["unchanged"]) == (0, 0, 2)

    lines[1] = structureet(et1, ej, "CH DE DÉMONSTRATION", phone="0134974099")
    lines[6] = geolocalisation(et2, 614600.0, 6872146.1)
    write(path, lines, encoding="cp1252")
    third = import_finess(path, "idf", db_url, progress=False)
    assert (third.outcomes["created"], third.outcomes["updated"], third.outcomes["unchanged"]) == (0, 2, 0)
    db_session.expire_all()
    assert db_session.get(Structure, site.id).phone == "0134974099"


# -- demo ----------------------------------------------------------------------------------------------

def test_demo_load_is_idempotent(db_url, db_session):
    from services.offers.demo import load

    load("idf", db_url)
    again = load("idf", db_url)
    assert "0 créées, 0 mises à jour" in again and "demo rows created 0, updated 0" in again
    assert "WARNING" not in again
    db_session.expire_all()
    kine = offer_of(db_session, demo_rpps("idf", "kine.demo"))
    assert kine.name == "Consultation kinésithérapie DUBOIS Julien" and kine.commune_insee == "78361"
    sf = offer_of(db_session, demo_rpps("idf", "sf.demo"))
    assert sf.name == "Consultation sage femme LEFÈVRE Claire" and sf.commune_insee == "78401"


def test_a_visitor_of_a_fresh_demo_finds_the_guides_searches(db_url, db_session):
    """The demo publishes a kiné and a sage-femme without an account, once: the IDF guide's searches
    answer something on the first `make up` (the demo users' own offers stay drafts to fill)."""
    from services.offers.demo import load
    from services.offers.search.query import Criteria, search

    load("idf", db_url)
    db_session.expire_all()
    vestibular = search(db_session, Criteria.from_dict("idf", {
        "where": "Mantes-la-Jolie", "q": "Rééducation vestibulaire", "in": "specific_acts"}), "public")
    assert "FONTAINE Hugo" in [r["name"].split("kinésithérapie ")[-1] for r in vestibular["results"]]
    at_home = search(db_session, Criteria.from_dict("idf", {
        "where": "Meulan-en-Yvelines", "q": "suivi prénatal", "home_visit": True}), "public")
    midwife = next(r for r in at_home["results"] if "BENALI" in r["name"])
    assert midwife["distance_km"] == 0.0 and midwife["serves_searched_commune"]
    published = offer_of(db_session, "10100000024")
    version = published.version
    load("idf", db_url)  # published once: a reload does not publish it again
    db_session.expire_all()
    assert offer_of(db_session, "10100000024").version == version


def test_ror_import_command_in_its_own_process(db_url, db_session, rpps_file):
    """The real command line: a process without eventlet, so the COPY path of the store."""
    import subprocess
    import sys

    from services.common.config import ROOT

    command = [str(Path(sys.executable).with_name("ror")), "import", "rpps", str(rpps_file.path),
               "--region", "idf", "--url", db_url]
    first = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "créées : 3   mises à jour : 0   inchangées : 0" in first.stdout
    assert "rpps idf: 6 lignes (100 %)" in first.stderr  # progress lines when stderr is not a terminal
    second = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "créées : 0   mises à jour : 0   inchangées : 3" in second.stdout
    assert offer_of(db_session, rpps_file.rpps["sf"]).commune_insee == "78401"


# -- FINESS: the decoded CSV with a header line ------------------------------------------------------

DECODED_HEADER = ("nofinesset;nofinessej;rs;rslongue;complrs;compldistrib;numvoie;typvoie;voie;compvoie;lieuditbp;"
                  "commune;departement;libdepartement;ligneacheminement;telephone;telecopie;categetab;libcategetab;"
                  "categagretab;libcategagretab;siret;codeape;codemft;libmft;codesph;libsph;dateouv;dateautor;"
                  "datemaj;numuai;coordx;coordy;sourcecoordet;datemaj")


def decoded_line(et: str, ej: str, name: str, x: str, y: str, source: str = "", commune: str = "361",
                 departement: str = "78", routing: str = "78200 MANTES LA JOLIE") -> str:
    return (f"{et};{ej};{name};{name} LONG;;;9;R;DE METZ;;;{commune};{departement};YVELINES;{routing};0134974000;;"
            f"355;Centre Hospitalier (C.H.);1102;Centres Hospitaliers;;8610Z;03;ARS;1;EPS;1970-01-01;1970-01-01;"
            f"2025-11-04;;{x};{y};{source};2025-11-04")


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_finess_decoded_csv_with_header_lambert93_or_wgs84(db_url, db_session, tmp_path, numbers, encoding):
    """The widely used decoded etalab CSV: detected from its header line, one line per establishment
    with its coordinates (Lambert-93 or WGS84, said by sourcecoordet or told from the values)."""
    ej, et1, et2, et3 = (numbers("finess") for _ in range(4))
    lines = [DECODED_HEADER,
             decoded_line(et1, ej, "CH DÉCODÉ LAMBERT", "649242.57", "6861355.85", "1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93"),
             decoded_line(et2, ej, "CH DÉCODÉ WGS84", "2.308310", "48.850244", "", commune="78361"),
             decoded_line(et3, ej, "CH SANS COORDONNÉES", "", ""),
             decoded_line("440000313", "440000289", "CHU NANTES", "-1.55", "47.21", departement="44",
                          commune="109", routing="44000 NANTES"),
             "123;oops"]
    path = write(tmp_path / f"finess-decode-{encoding}.csv", lines, encoding=encoding)
    report = import_finess(path, "idf", db_url, progress=False)
    assert (report.read, report.kept, report.skipped_total, report.rejected) == (5, 3, 1, 1), report.summary_lines()
    db_session.expire_all()
    sites = {s.finess: s for s in db_session.scalars(select(Structure).where(
        Structure.region == "idf", Structure.finess.in_([et1, et2, et3])))}
    assert sites[et1].name == "CH DÉCODÉ LAMBERT" and sites[et1].commune_insee == "78361"
    assert sites[et2].city == "Mantes-la-Jolie" and sites[et2].commune_insee == "78361"  # 5-digit INSEE given
    for finess in (et1, et2):  # both are 20 avenue de Ségur, once in Lambert-93, once in WGS84
        assert math.isclose(sites[finess].latitude, 48.850244, abs_tol=3e-5)
        assert math.isclose(sites[finess].longitude, 2.308310, abs_tol=4e-5)
    assert sites[et3].latitude is None
    assert db_session.get(Structure, sites[et1].parent_id).finess == ej
    again = import_finess(path, "idf", db_url, progress=False)
    assert (again.outcomes["created"], again.outcomes["updated"]) == (0, 0)


def test_finess_decoded_csv_without_its_key_columns_is_refused(tmp_path, db_url):
    from services.offers.importers.report import ImportFileError

    path = write(tmp_path / "finess-bad.csv", ["nofinesset;nofinessej;coordx;coordy", "780000287;780110078;1;2"])
    with pytest.raises(ImportFileError, match="rs, departement"):
        import_finess(path, "idf", db_url, progress=False)


def test_a_row_missing_or_misnaming_a_column_is_refused_before_anything_is_written(db_url, numbers):
    """Rows are keyed by column name: a forgotten or misspelt column fails the batch loudly."""
    from services.offers.importers.store import PROFESSIONAL, Store

    store = Store("idf", db_url)
    try:
        row = {c: None for c in PROFESSIONAL.columns if c != "region"}
        row.update(rpps=numbers("rpps"), id_type="8", last_name="X")
        misspelt = {("lastname" if k == "last_name" else k): v for k, v in row.items()}
        with pytest.raises(ValueError, match="expected"):
            store.upsert_professionals([misspelt])
        with pytest.raises(ValueError, match="expected"):
            store.upsert_professionals([{k: v for k, v in row.items() if k != "civility"}])
    finally:
        store.rollback()
        store.close()

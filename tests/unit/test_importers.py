"""Line parsers and validators of the national importers (no database)."""

from __future__ import annotations

import math

import pytest

from services.offers.importers.professions import load_professions, professions_for
from services.offers.importers.report import ImportFileError, ImportReport, RejectedLine, iter_decoded_lines
from services.offers.importers.rpps import (
    OFFICIAL_HEADER,
    SKIP_NO_ADDRESS,
    SKIP_NOT_LIBERAL,
    SKIP_OTHER_REGION,
    SKIP_PROFESSION,
    SKIP_SPECIALTY,
    Activity,
    Layout,
    format_header,
    format_line,
    parse_lines,
)
from services.offers.importers.validation import (
    departement_of_commune,
    finess_commune_insee,
    is_valid_rpps,
    luhn_complete,
    luhn_ok,
    normalise_phone,
    rpps_error,
)

KINE_RPPS = "10101234564"  # kine.demo (ror-idf)


def kine(**overrides: str) -> str:
    values = {
        "Type d'identifiant PP": "8", "Identifiant PP": KINE_RPPS, "Identification nationale PP": "8" + KINE_RPPS,
        "Code civilité": "M", "Nom d'exercice": "DUBOIS", "Prénom d'exercice": "Julien",
        "Code profession": "70", "Libellé profession": "Masseur-Kinésithérapeute",
        "Code catégorie professionnelle": "C", "Code mode exercice": "L", "Libellé mode exercice": "Libéral",
        "Identifiant technique de la structure": "R10100000000001",
        "Raison sociale site": "CABINET DE KINESITHERAPIE DUBOIS",
        "Numéro Voie (coord. structure)": "9", "Code type de voie (coord. structure)": "R",
        "Libellé type de voie (coord. structure)": "Rue", "Libellé Voie (coord. structure)": "DE METZ",
        "Code postal (coord. structure)": "78200", "Code commune (coord. structure)": "78361",
        "Libellé commune (coord. structure)": "Mantes-la-Jolie",
        "Téléphone (coord. structure)": "01 30 94 12 01", "Adresse e-mail (coord. structure)": "k@example.fr",
    }
    values.update(overrides)
    return format_line(values)


# -- validators ----------------------------------------------------------------------------------

def test_luhn_on_real_and_demo_numbers():
    for number in ("10100271385", "10108825463", KINE_RPPS, "010000024", "780110078"):
        assert luhn_ok(number), number
    assert not luhn_ok("10100271386")
    assert not luhn_ok("")
    assert not luhn_ok("1010027138A")
    assert luhn_ok(luhn_complete("1234567890"))


def test_rpps_errors_say_why():
    assert is_valid_rpps(KINE_RPPS)
    assert "11 chiffres" in rpps_error("1234")
    assert "Luhn" in rpps_error("12345678901")


@pytest.mark.parametrize("raw, expected", [
    ("0130941201", "0130941201"), ("01 30 94 12 01", "0130941201"), ("01.30.94.12.01", "0130941201"),
    ("+33 1 30 94 12 01", "0130941201"), ("130941201", "0130941201"), ("", None), ("12", None),
])
def test_phone_normalisation(raw, expected):
    assert normalise_phone(raw) == expected


def test_departements_of_communes():
    assert departement_of_commune("78361") == "78"
    assert departement_of_commune("97105") == "971"
    assert departement_of_commune("2A004") == "2A"
    assert finess_commune_insee("78", "361") == "78361"
    assert finess_commune_insee("9A", "105") == "97105"
    assert finess_commune_insee("1", "53") == "01053"  # a spreadsheet ate the zeros


# -- RPPS layout -----------------------------------------------------------------------------------

def test_layout_maps_columns_by_header_name_whatever_the_order():
    header = list(OFFICIAL_HEADER)
    header.reverse()
    header.append("Colonne ajoutée en 2027")
    layout = Layout.from_header("|".join(header) + "|")
    assert layout.width == len(OFFICIAL_HEADER) + 1
    values = {"Identifiant PP": KINE_RPPS, "Nom d'exercice": "DUBOIS"}
    fields = layout.split_line(format_line(values, tuple(header)))
    assert fields[layout.index["pp_id"]] == KINE_RPPS
    assert fields[layout.index["last_name"]] == "DUBOIS"


def test_header_match_ignores_case_and_typographic_apostrophes():
    header = format_header().replace("Nom d'exercice", "NOM D\u2019EXERCICE")
    assert Layout.from_header(header).index["last_name"] == OFFICIAL_HEADER.index("Nom d'exercice")


def test_a_file_without_the_required_columns_is_refused():
    with pytest.raises(ImportFileError, match="Nom d'exercice"):
        Layout.from_header(format_header().replace("Nom d'exercice", "Nom"))
    with pytest.raises(ImportFileError):
        Layout.from_header("finess;etalab;96;2025-11-04")


def test_missing_optional_columns_read_as_empty():
    header = tuple(h for h in OFFICIAL_HEADER if h not in ("Code Département (structure)", "Téléphone (coord. structure)"))
    line = format_line({"Type d'identifiant PP": "8", "Identifiant PP": KINE_RPPS, "Nom d'exercice": "DUBOIS",
                        "Code profession": "70", "Code mode exercice": "L",
                        "Code commune (coord. structure)": "78361"}, header)
    [activity] = parse_lines([format_header(header), line], "idf")
    assert isinstance(activity, Activity)
    assert (activity.departement, activity.phone, activity.first_name) == ("78", None, None)


# -- RPPS lines ------------------------------------------------------------------------------------

def test_a_liberal_kine_of_the_region_is_kept_with_its_national_data():
    [activity] = parse_lines([format_header(), kine()], "idf")
    assert isinstance(activity, Activity)
    assert activity.line == 2
    assert activity.offer_name == "Consultation kinésithérapie DUBOIS Julien"
    assert activity.departement == "78"  # "Code Département (structure)" is empty: from the commune
    assert activity.address_line == "9 R DE METZ"
    assert activity.phone == "0130941201"
    assert activity.site_key == "rpps:st:R10100000000001"
    national = activity.national()
    assert national["rpps"] == KINE_RPPS and national["national_id"] == "8" + KINE_RPPS
    assert national["address"] == {"line": "9 R DE METZ", "complement": None, "postal_code": "78200",
                                   "commune_insee": "78361", "city": "Mantes-la-Jolie"}
    assert activity.draft() == {"steps": {"description": {"operational_activities": ["339"]}}, "validated": []}
    assert activity.profession.unit_type == "ROR-UO-KINE"


def test_sage_femme_and_general_practitioner_offers_are_named_as_in_the_guides():
    sf, gp = parse_lines([format_header(),
                          kine(**{"Code profession": "50", "Nom d'exercice": "LEFÈVRE", "Prénom d'exercice": "Claire"}),
                          kine(**{"Code profession": "10", "Code savoir-faire": "SM54"})], "idf")
    assert sf.offer_name == "Consultation sage femme LEFÈVRE Claire"
    assert gp.offer_name == "Consultation médecine générale DUBOIS Julien"
    assert gp.draft()["steps"]["description"]["operational_activities"] == ["437"]


def test_site_key_falls_back_to_siret_then_address_hash():
    no_id = {"Identifiant technique de la structure": ""}
    [a, b, c] = parse_lines([format_header(), kine(**no_id, **{"Numéro SIRET site": "81234567800016"}),
                             kine(**no_id), kine(**no_id, **{"Identifiant PP": "10100000016",
                                                             "Identification nationale PP": ""})], "idf")
    assert a.site_key == "rpps:siret:81234567800016"
    assert b.site_key.startswith("rpps:adr:") and b.site_key == c.site_key  # same address, same practice
    assert b.unit_key != c.unit_key  # one offer per professional


@pytest.mark.parametrize("overrides, reason", [
    ({"Code mode exercice": "S"}, SKIP_NOT_LIBERAL),
    ({"Code profession": "21"}, SKIP_PROFESSION),
    ({"Code profession": "10", "Code savoir-faire": "SM04"}, SKIP_SPECIALTY),
    ({"Code commune (coord. structure)": "13055", "Code postal (coord. structure)": "13001"}, SKIP_OTHER_REGION),
    ({"Code Département (structure)": "44"}, SKIP_OTHER_REGION),
    ({"Code commune (coord. structure)": "", "Code postal (coord. structure)": ""}, SKIP_NO_ADDRESS),
])
def test_lines_outside_the_import_are_skipped_with_their_reason(overrides, reason):
    assert parse_lines([format_header(), kine(**overrides)], "idf") == [reason]


def test_a_pays_de_la_loire_import_keeps_only_its_lines():
    assert parse_lines([format_header(), kine()], "pdl") == [SKIP_OTHER_REGION]


@pytest.mark.parametrize("line, reason", [
    ("8|" + KINE_RPPS + "|", "2 colonnes au lieu de 56"),
    (kine() + "extra|", "57 colonnes au lieu de 56"),
    (kine(**{"Identifiant PP": "10101234565", "Identification nationale PP": ""}), "Luhn"),
    (kine(**{"Identifiant PP": "1010123456", "Identification nationale PP": ""}), "11 chiffres"),
    (kine(**{"Type d'identifiant PP": "3"}), "type d'identifiant inconnu"),
    (kine(**{"Nom d'exercice": " "}), "nom d'exercice manquant"),
    (kine(**{"Identification nationale PP": "810000000017"}), "incohérente"),
])
def test_malformed_lines_are_rejected_with_their_reason(line, reason):
    [result] = parse_lines([format_header(), line], "idf")
    assert isinstance(result, RejectedLine)
    assert reason in result.reason


def test_rejections_carry_the_line_number_and_do_not_stop_the_parse():
    results = parse_lines([format_header(), kine(), "garbage", kine(**{"Nom d'exercice": ""}), kine()], "idf")
    assert [type(r).__name__ for r in results] == ["Activity", "RejectedLine", "RejectedLine", "Activity"]
    assert [r.line for r in results if isinstance(r, Activity)] == [2, 5]


def test_adeli_lines_are_accepted_with_their_own_format():
    [activity] = parse_lines([format_header(), kine(**{"Type d'identifiant PP": "0", "Identifiant PP": "781234567",
                                                       "Identification nationale PP": "0781234567"})], "idf")
    assert activity.rpps == "781234567" and activity.national()["national_id"] == "0781234567"
    [bad] = parse_lines([format_header(), kine(**{"Type d'identifiant PP": "0", "Identifiant PP": "78",
                                                  "Identification nationale PP": ""})], "idf")
    assert isinstance(bad, RejectedLine) and "ADELI" in bad.reason


# -- decoding and report ---------------------------------------------------------------------------

def test_lines_are_decoded_as_utf8_or_windows_1252(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_bytes("\ufeffen-tête\n".encode() + "HÔPITAL\r\n".encode("cp1252") + "Élodie\n".encode())
    report = ImportReport("finess", "idf", str(path))
    lines = list(iter_decoded_lines(path, report))
    assert [text for _, text, _ in lines] == ["en-tête", "HÔPITAL", "Élodie"]
    assert [n for n, _, _ in lines] == [1, 2, 3]
    assert sum(size for _, _, size in lines) == path.stat().st_size
    assert report.notes == {"lignes décodées en cp1252": 1}


def test_report_keeps_the_first_rejections_and_writes_all_of_them(tmp_path):
    path = tmp_path / "rejets.tsv"
    with open(path, "w", encoding="utf-8") as handle:
        report = ImportReport("rpps", "idf", "x", keep_first=2, report_file=handle)
        for line in (3, 5, 8):
            report.reject(line, "motif", "contenu")
        report.finish()
    assert report.rejected == 3 and [r.line for r in report.first_rejections] == [3, 5]
    rows = [row for row in path.read_text(encoding="utf-8").splitlines() if not row.startswith("#")]
    assert rows == ["3\tmotif\tcontenu", "5\tmotif\tcontenu", "8\tmotif\tcontenu"]
    assert "rejetées : 3" in "\n".join(report.summary_lines())


# -- configuration ---------------------------------------------------------------------------------

def test_professions_refer_to_codes_of_the_nomenclatures():
    from services.offers import reference

    assert {p.profession_code for p in load_professions()} >= {"10", "50", "70"}
    for region in ("idf", "pdl"):
        assert set(professions_for(region)) == {"10", "50", "70"}
    for profession in load_professions():
        assert reference.get_concept("unit_types", profession.unit_type), profession
        assert reference.get_concept("care_modes", profession.care_mode), profession
        for code in profession.operational_activities:
            assert reference.is_selectable("operational_activities", code), code


# -- FINESS ----------------------------------------------------------------------------------------

FINESS_LINE = ("structureet;780000287;780110078;CH FRANCOIS QUESNAY;CENTRE HOSPITALIER FRANÇOIS QUESNAY;;;2;BD;"
               "SADI CARNOT;;;361;78;YVELINES;78201 MANTES LA JOLIE CEDEX;01 34 97 40 00;0134974001;355;"
               "Centre Hospitalier (C.H.);1102;Centres Hospitaliers;26780011000012;8610Z;03;ARS établissements "
               "Publics de santé dotation globale;1;Etablissement public de santé;13/02/1979;1979-02-13;2025-11-04;")


def test_a_windows_1252_structureet_line_is_parsed(tmp_path):
    from services.offers.importers.finess import Establishment, LineParser

    path = tmp_path / "etalab-cs1100507-stock-20251104-0400.csv"
    path.write_bytes(("finess;etalab;96;2025-11-04\r\n" + FINESS_LINE + "\r\n").encode("cp1252"))
    report = ImportReport("finess", "idf", str(path))
    parser = LineParser("idf")
    results = [parser.parse(n, text) for n, text, _ in iter_decoded_lines(path, report)]
    et = results[1]
    assert isinstance(et, Establishment)
    assert (et.finess_et, et.finess_ej) == ("780000287", "780110078")
    assert et.long_name == "CENTRE HOSPITALIER FRANÇOIS QUESNAY"
    assert et.category_label == "Centre Hospitalier (C.H.)"
    assert (et.commune_insee, et.departement, et.postal_code) == ("78361", "78", "78201")
    assert et.city == "Mantes-la-Jolie"  # the commune's name, not "MANTES LA JOLIE CEDEX"
    assert et.address_line == "2 BD SADI CARNOT"
    assert et.phone == "0134974000"
    assert et.opened_on == "1979-02-13"
    assert report.notes == {"lignes décodées en cp1252": 1}
    assert LineParser("pdl").parse(2, FINESS_LINE) == "établissement hors région"


@pytest.mark.parametrize("line, reason", [
    (FINESS_LINE.replace(";780000287;", ";780000288;"), "clé de contrôle"),
    (FINESS_LINE.replace(";780110078;", ";78011;"), "9 caractères"),
    (FINESS_LINE.replace(";CH FRANCOIS QUESNAY;", ";;"), "raison sociale manquante"),
    ("structureet;780000287;780110078;CH", "colonnes"),
    ("equipementsocial;780000287;x", "type de ligne inconnu"),
    ("geolocalisation;780000287;abc;6000000;;2025-11-04", "coordonnées illisibles"),
    ("geolocalisation;780000287;100;100;1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93;2025-11-04", "hors de la France"),
])
def test_malformed_finess_lines_are_rejected(line, reason):
    from services.offers.importers.finess import LineParser

    with pytest.raises(RejectedLine, match=reason):
        LineParser("idf").parse(7, line)


def test_geolocalisation_lines_in_both_published_shapes():
    from services.offers.importers.finess import LAMBERT_93, LineParser

    parser = LineParser("idf")
    joined = parser.parse(9, "geolocalisation;780000287;614563.3;6872146.1;"
                             "1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93;2025-11-04")
    split = parser.parse(9, "geolocalisation;780000287;614563.3;6872146.1;1;ATLASANTE;100;IGN;BD_ADRESSE;V2.1;"
                            "LAMBERT_93;2016-02-29")
    assert (joined.x, joined.y, joined.projection) == (614563.3, 6872146.1, LAMBERT_93)
    assert (split.x, split.y, split.projection) == (614563.3, 6872146.1, LAMBERT_93)
    overseas = parser.parse(9, "geolocalisation;970100012;657093.8;1796011.2;1,ATLASANTE,100,IGN,BD_ADRESSE,"
                               "V2.2,UTM_N20;2025-11-04")
    assert overseas.projection == "UTM_N20"


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    rad = math.radians
    a = math.sin(rad(lat2 - lat1) / 2) ** 2 + math.cos(rad(lat1)) * math.cos(rad(lat2)) * math.sin(rad(lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(a))


def test_lambert93_to_wgs84_of_a_known_point():
    from services.offers.importers.finess import to_wgs84

    # 20 avenue de Ségur, Paris: (2.308310, 48.850244) ↔ Lambert-93 (649242.57, 6861355.85) (etalab/project-legal)
    lat, lon = to_wgs84(649242.57, 6861355.85)
    assert _metres(lat, lon, 48.850244, 2.308310) < 3
    # the projection's origin: 3° E, 46.5° N
    lat, lon = to_wgs84(700000.0, 6600000.0)
    assert _metres(lat, lon, 46.5, 3.0) < 1


# -- demo files --------------------------------------------------------------------------------------

def test_demo_rpps_files_carry_the_keycloak_demo_users():
    """The demo users' RPPS come from the region files (one source, the realms are generated from them);
    each region's demo RPPS file has them, with their profession."""
    from services.common.regions import REGIONS
    from services.offers.demo import DEMO, demo_files

    for region in DEMO:
        _, rpps_file = demo_files(region)
        lines = rpps_file.read_text(encoding="utf-8").splitlines()
        kept = {a.rpps: a for a in parse_lines(lines, region) if isinstance(a, Activity)}
        assert all(not isinstance(r, RejectedLine) for r in parse_lines(lines, region))
        demo_users = {p["rpps"]: p for p in REGIONS[region].demo_professionals}
        assert demo_users
        for rpps, person in demo_users.items():
            assert kept[rpps].profession.profession_code == person["profession"]
        # and at least a kiné, a sage-femme and a médecin without an account yet
        others = {a.profession.profession_code for r, a in kept.items() if r not in demo_users}
        assert others >= {"10", "50", "70"}


def test_malformed_identifiers_are_dropped_and_long_texts_cut_not_the_line():
    [activity] = parse_lines([format_header(), kine(**{"Numéro SIRET site": "8123456780001X",
                                                       "Numéro SIREN site": "12",
                                                       "Raison sociale site": "X" * 400,
                                                       "Code Département (structure)": "Yvelines"})], "idf")
    assert activity.siret is None and activity.siren is None
    assert len(activity.site_name) == 255
    assert activity.departement == "78"  # a malformed departement column falls back on the commune
    long = parse_lines([format_header(), kine(**{"Nom d'exercice": "N" * 300})], "idf")[0]
    assert len(long.offer_name) == 255


class RefusingStore:
    """Stands for the database: refuses any batch holding `bad_rpps`, records what it wrote."""

    def __init__(self, bad_rpps: str):
        self.bad = bad_rpps
        self.written: list[str] = []
        self.pending: list[str] = []

    def _outcome(self, keys):
        from services.offers.importers.store import Outcome

        return Outcome(created=set(keys), ids={k: i for i, k in enumerate(keys, start=1)})

    def upsert_professionals(self, rows):
        import psycopg2

        if any(row["rpps"] == self.bad for row in rows):
            raise psycopg2.DataError("value too long for type character varying(255)\nDETAIL: …")
        self.pending = [row["rpps"] for row in rows]
        return self._outcome(self.pending)

    def upsert_rpps_sites(self, rows):
        return self._outcome([row["source_key"] for row in rows])

    def upsert_rpps_units(self, rows):
        return self._outcome([row["source_key"] for row in rows])

    def upsert_offers(self, rows):
        return self._outcome([row["unit_id"] for row in rows])

    def commit(self):
        self.written += self.pending

    def rollback(self):
        self.pending = []


def test_lines_the_database_refuses_are_rejected_one_by_one():
    from services.offers.importers.rpps import write_batch

    others = [luhn_complete(f"101000001{i}") for i in range(2)]
    bad = luhn_complete("1010000019")
    lines = [format_header()] + [kine(**{"Identifiant PP": r, "Identification nationale PP": "8" + r})
                                 for r in (others[0], bad, others[1])]
    activities = parse_lines(lines, "idf")
    report = ImportReport("rpps", "idf", "x")
    report.read = report.kept = 3
    store = RefusingStore(bad)
    write_batch(store, activities, report)
    assert store.written == others
    assert report.rejected == 1 and report.first_rejections[0].line == 3
    assert "refusée par la base : value too long" in report.first_rejections[0].reason
    assert report.as_dict()["kept"] == 2 and report.outcomes["created"] == 2

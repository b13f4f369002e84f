"""Reference data from files: NOS nomenclatures (status from the validity end date) and communes."""

import csv
from datetime import date

import pytest

from services.common.errors import NotFound
from services.offers import reference


def test_every_nomenclature_file_has_the_nos_header():
    for name, filename in reference.NOMENCLATURE_FILES.items():
        with open(reference.NOMENCLATURE_DIR / filename, encoding="utf-8") as handle:
            header = next(csv.reader(handle, delimiter=";"))
        assert header[:2] == ["Code", "Libellé"], name
        assert "Date de fin de validité" in header, name
        assert reference.nomenclature(name), name


def test_values_named_in_the_guides_are_there():
    activities = {c["label"] for c in reference.list_concepts("operational_activities")}
    assert {"Kinésithérapie", "Kinésithérapie Spécialisée Gériatrie", "Suivi prénatal (suivi de grossesse)",
            "Coordination de soins non-programmés", "Médecine générale"} <= activities
    acts = {c["label"] for c in reference.list_concepts("specific_acts")}
    assert {"Entretien postnatal précoce", "Rééducation pelvi-périnéale", "Rééducation des cicatrices",
            "Surveillance périnatale et du trouble de l'attachement"} <= acts
    assert reference.get_concept("specific_acts", "1337").label == "Entretien postnatal précoce"
    assert reference.get_concept("care_modes", "32").label == "Consultation (CS)"
    assert reference.get_concept("reception_modalities", reference.HOME_VISIT).label == "Visite à domicile"
    assert reference.get_concept("specific_competences", "01").label.endswith("(LSF)")


def test_search_ignores_accents_and_case():
    found = reference.list_concepts("operational_activities", q="KINESITHERAPIE specialisee ger")
    assert found == [{"code": "428", "label": "Kinésithérapie Spécialisée Gériatrie", "status": "active"}]
    assert reference.list_concepts("specific_acts", q="réadaptation VESTIBULAIRE")[0]["code"] == "ROR-A101"


def test_status_comes_from_the_validity_end_date():
    concept = reference.get_concept("operational_activities", "054")  # closed 26/01/2018
    assert concept.status(date(2018, 1, 25)) == reference.ACTIVE
    assert concept.status(date(2018, 1, 26)) == reference.DEPRECATED
    assert not reference.is_selectable("operational_activities", "054")
    assert reference.is_selectable("operational_activities", "339")
    assert not reference.is_selectable("operational_activities", "nope")
    listed = {c["code"]: c["status"] for c in reference.list_concepts("operational_activities")}
    assert listed["054"] == "deprecated"  # readable, not selectable


def test_unknown_nomenclature():
    with pytest.raises(NotFound):
        reference.nomenclature("colours")


def test_local_codes_are_marked():
    for name in reference.NOMENCLATURE_FILES:
        for code, concept in reference.nomenclature(name).items():
            if code.startswith("ROR-"):
                assert concept.description, f"{name} {code} must say why it is local"


@pytest.mark.parametrize("q", ["mantes", "Mantes", "MANTÉS", "mantes-la", "mantes la"])
def test_communes_by_name_prefix(q):
    names = [c["name"] for c in reference.search_communes(q)]
    assert names[:2] == ["Mantes-la-Jolie", "Mantes-la-Ville"]


def test_communes_by_postal_code_as_in_the_guide():
    names = [c["name"] for c in reference.search_communes("78200")]
    assert {"Mantes-la-Jolie", "Buchelay", "Magnanville", "Boissy-Mauvoisin"} <= set(names)
    assert names == sorted(names, key=reference.normalize)
    assert reference.search_communes("78200")[0]["label"] == "Boinvilliers (78200)"


def test_commune_search_is_limited_and_ranked_by_region():
    assert len(reference.search_communes("saint", limit=5)) == 5
    first = reference.search_communes("saint", limit=1, region="52")[0]
    assert reference.get_commune(first["code"]).region == "52"


def test_departement_of_a_commune():
    assert reference.departement_of("78361") == "78"
    assert reference.departement_of("97105") == "971"

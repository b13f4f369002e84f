"""Plain rules of the search: query words, patientèle letters, travel time, synonyms of replaced labels,
the criteria checked at the service boundary, the Excel rows."""

from io import BytesIO

import pytest
from openpyxl import load_workbook

from services.common.errors import InvalidInput
from services.offers.search import export, query, reference_tables
from services.offers.search.text import terms


def test_query_words_are_folded_like_the_index():
    assert terms("Rééducation pelvi-périnéale") == ["reeducation", "pelvi", "perineale"]
    assert terms("  L'ŒDÈME   du  bras ") == ["oedeme", "bras"]  # stop words dropped
    assert terms("de la") == [] and terms(None) == []
    assert len(terms(" ".join(f"mot{i}" for i in range(20)))) == 8


@pytest.mark.parametrize("age_min,age_max,expected", [
    (0, None, "E+A"), (18, 109, "A"), (0, 17, "E"), (3, 25, "E+A"), (None, None, None)])
def test_patientele_letters(age_min, age_max, expected):
    assert query.patientele(age_min, age_max) == expected


def test_travel_time_is_an_estimate_from_the_distance():
    assert query.travel_time_min(0) == 0
    assert query.travel_time_min(None) is None
    assert 30 <= query.travel_time_min(20) <= 40  # 20 km straight, ~26 km of road at 45 km/h


def test_a_replaced_label_is_a_synonym_of_its_replacement():
    found = reference_tables.synonyms()
    assert "Rééducation vestibulaire (trouble de l'équilibre)" in found[("specific_acts", "ROR-A101")]
    assert "Consultation masso-kinésithérapie" in found[("unit_types", "ROR-UO-KINE")]


@pytest.mark.parametrize("args,field", [
    ({"in": "everything"}, "in"), ({"sort": "price"}, "sort"), ({"page": 0}, "page"),
    ({"patientele": "X"}, "patientele"), ({"offer_type": "public"}, "offer_type"), ({"radius_km": 5000}, "radius_km"),
])
def test_criteria_are_checked(args, field):
    with pytest.raises(InvalidInput) as err:
        query.Criteria.from_dict("idf", args)
    assert field in err.value.fields


def test_criteria_lists_come_comma_separated():
    c = query.Criteria.from_dict("idf", {"unit_types": "ROR-UO-KINE, ROR-UO-SF,", "q": "  kiné ", "where": " "})
    assert c.filters == {"unit_types": ["ROR-UO-KINE", "ROR-UO-SF"]} and c.q == "kiné" and c.where is None


def test_excel_rows_and_formula_injection():
    item = {"type": "offer", "id": 7, "name": "=HYPERLINK(\"x\")", "unit_type": {"code": "ROR-UO-KINE",
            "label": "Consultation kinésithérapie"}, "structure": None, "legal_entity": None,
            "address": {"line": "9 R DE METZ", "postal_code": "78200", "city": "Mantes-la-Jolie", "departement": "78"},
            "phone": "0203040506", "distance_km": 12.3, "travel_time_min": 21, "patientele": "A", "open_now": True,
            "serves_searched_commune": False, "published_at": "2026-11-30T10:00:00+00:00"}
    content = export.workbook({"results": [item], "total": 1, "capped": False, "place": {"label": "Meulan"}}, "kiné")
    rows = list(load_workbook(BytesIO(content))["Résultats"].iter_rows(values_only=True))
    assert rows[1][0] == "'=HYPERLINK(\"x\")" and rows[1][10] == 12.3 and rows[1][13] == "Ouvert"

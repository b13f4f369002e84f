"""Plain rules of the search: query words, patientèle letters, travel time, synonyms of replaced labels,
the criteria checked at the service boundary, the Excel rows."""

import math
from io import BytesIO

import pytest
from openpyxl import load_workbook

from services.common.errors import InvalidInput
from services.offers.search import export, query, reference_tables
from services.offers.search import text as search_text
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


def test_rings_of_squares_cover_the_reach_around_the_place():
    x, y = 100.0, 5000.0  # projected km
    cells = query._cells_around(x, y, 10)
    assert len(cells) == 36 and all(c.startswith("c4:") for c in cells)  # 4-km squares: 6 × 6
    for dx, dy in ((-10, -10), (9.9, 9.9), (0, 0), (-9.99, 9.99)):  # every point of the square ± 10 km
        assert query.cell_key(4, int((x + dx) // 4), int((y + dy) // 4)) in cells
    assert all(c.startswith("c64:") for c in query._cells_around(x, y, 150))  # the default radius
    assert query._cells_around(x, y, 1000) is None  # too many squares: no square condition
    # A ring's squares: those meeting its disk (the corners of the square around it are left out).
    disk = query._cells_around(x, y, 10, disk=True)
    assert set(disk) < set(cells) and len(disk) == 32
    for angle in range(0, 360, 5):  # every point of the disk is in one of them
        px, py = x + 9.99 * math.cos(math.radians(angle)), y + 9.99 * math.sin(math.radians(angle))
        assert query.cell_key(4, int(px // 4), int(py // 4)) in disk


def test_a_ring_reads_only_beyond_the_previous_one():
    """Squares wholly within the previous ring (its matches are all found) are left out; every point
    between the two reaches stays covered."""
    x, y = 100.0, 5000.0
    disk = query._cells_around(x, y, 20, disk=True)
    ring = query._cells_around(x, y, 20, disk=True, inner=12)
    assert set(ring) < set(disk) and query.cell_key(4, 25, 1250) not in ring  # the place's own square
    for radius in (12.01, 15, 19.99):
        for angle in range(0, 360, 5):
            px, py = x + radius * math.cos(math.radians(angle)), y + radius * math.sin(math.radians(angle))
            assert query.cell_key(4, int(px // 4), int(py // 4)) in ring


def test_the_next_ring_follows_the_density_of_the_matches_found():
    assert query.next_reach(10, 0, 201, 150) == 150  # none found: the whole square at once
    assert query.next_reach(10, 150, 201, 150) == 16  # nearly there: at least 1.6 times
    assert 120 < query.next_reach(10, 2, 201, 150) < 125  # 2 found within 10 km: ~150 times the area


def test_a_one_letter_prefix_beside_longer_words_is_checked_on_the_rows_not_by_the_index():
    """"suiv post-n": the 'n' would make the index read every word starting with n."""
    tsq = "(( 'suiv':* | 'suivi':* )) & (( 'post':* )) & ('n':*)"
    assert search_text._groups(tsq) == ["(( 'suiv':* | 'suivi':* ))", "(( 'post':* ))", "('n':*)"]
    assert [search_text._short_prefixes_only(g) for g in search_text._groups(tsq)] == [False, False, True]
    assert search_text.matching(None, "('n':*)") == ("('n':*)", False)  # alone: the index reads it
    assert search_text._short_prefixes_only("('ab':* | 'abc':*)") is False
    assert search_text._short_prefixes_only("('n')") is False  # a whole word, not a prefix

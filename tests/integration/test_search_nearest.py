"""The nearest matches at national scale, on PostgreSQL: a need typed with prefixes matches the same
entries once its prefixes are expanded into the index's lexemes, and the nearest matches are the same
whatever the rings of squares around the place they are found in (the first ring wide or narrow).
Kinés of one test run are spread from Mantes-la-Jolie to Dijon."""

from __future__ import annotations

import copy
import math

import pytest
from sqlalchemy import text

from services.common.db import session_scope
from services.common.errors import InvalidInput
from services.offers import reference
from services.offers.search import index, query
from services.offers.search import text as search_text
from tests.offers_support import KINE_STEPS, complete_draft, make_offer

pytestmark = pytest.mark.integration

# (INSEE code, postal code, name): Mantes-la-Jolie and farther and farther away.
COMMUNES = [("78361", "78200", "Mantes-la-Jolie"), ("78362", "78711", "Mantes-la-Ville"),
            ("78401", "78250", "Meulan-en-Yvelines"), ("78440", "78130", "Les Mureaux"),
            ("78498", "78300", "Poissy"), ("78646", "78000", "Versailles"), ("28085", "28000", "Chartres"),
            ("76540", "76000", "Rouen"), ("45234", "45000", "Orléans"), ("21231", "21000", "Dijon")]


@pytest.fixture(scope="module")
def spread_kines(db_url):
    """One published kiné (name SPREAD<token>) in each commune above; her home visits cover no commune."""
    import uuid

    token = uuid.uuid4().hex[:8]
    body = copy.deepcopy(KINE_STEPS)
    body["modalities"]["intervention_communes"] = []
    body["modalities"]["reception_modalities"] = []
    draft = complete_draft(body)
    ids = [make_offer(db_url, last_name=f"SPREAD{token.upper()}", commune=insee, postal_code=postal, city=name,
                      draft=draft) for insee, postal, name in COMMUNES]
    with session_scope(db_url) as session:
        session.execute(text("UPDATE offers.offers SET status = 'published', published = draft->'steps', "
                             "published_at = now() WHERE id = ANY(:ids)"), {"ids": ids})
        index.refresh_offers(session, ids)
    yield token, ids
    with session_scope(db_url) as session:
        session.execute(text("UPDATE offers.offers SET status = 'unpublished' WHERE id = ANY(:ids)"), {"ids": ids})
        index.refresh_offers(session, ids)


def _found(db_url, params: dict) -> tuple[list[int], bool]:
    with session_scope(db_url) as session:
        c = query.Criteria.from_dict("idf", params)
        rows, capped = query.candidates(session, c, query.resolve_place(session, "idf", c.where))
        entries = dict(session.execute(text("SELECT id, offer_id FROM offers.search_entries WHERE id = ANY(:ids)"),
                                       {"ids": [r.id for r in rows]}).all())
        return [entries[r.id] for r in rows], capped


def _by_distance(insee: str, ids: list[int]) -> list[int]:
    """The kinés (offer ids, in COMMUNES order) nearest first from the commune `insee`."""
    return [i for _, i in sorted((_km(insee, c[0]), i) for c, i in zip(COMMUNES, ids, strict=True))]


def _km(a: str, b: str) -> float:
    one, two = reference.get_commune(a), reference.get_commune(b)
    p1, p2 = math.radians(one.latitude), math.radians(two.latitude)
    h = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(two.longitude - one.longitude) / 2) ** 2)
    return 2 * 6371.0 * math.asin(math.sqrt(h))


@pytest.mark.parametrize("walk", [query.WALK, 1], ids=["first ring: 1,500 entries", "first ring: 1 entry"])
def test_the_nearest_kines_from_mantes_whichever_way_they_are_found(db_url, spread_kines, monkeypatch, walk):
    token, ids = spread_kines
    monkeypatch.setattr(query, "WALK", walk)
    by_distance = _by_distance("78361", ids)
    within_150 = [i for i, c in zip(ids, COMMUNES, strict=True) if _km("78361", c[0]) <= 150]
    assert ids[-1] not in within_150  # Dijon is farther

    found, capped = _found(db_url, {"where": "Mantes-la-Jolie", "q": f"spread{token} kinesitherapie"})
    assert found == [i for i in by_distance if i in within_150] and not capped
    # Across France (the squares would be too many: no square condition), Dijon too.
    found, _ = _found(db_url, {"where": "Mantes-la-Jolie", "q": f"spread{token}", "radius_km": 1000})
    assert found == by_distance
    # 3 results at most: the 3 nearest, `capped` (a ring holding 4 matches holds the 4 nearest ones).
    monkeypatch.setattr(query, "MAX_RESULTS", 3)
    found, capped = _found(db_url, {"where": "Versailles", "q": f"spread{token}"})
    nearest = _by_distance("78646", ids)
    assert found == nearest[:3] and capped
    # Facet filters narrow the rings too (the keys of the entries): kinés are liberal offers for adults.
    assert _found(db_url, {"where": "Versailles", "q": f"spread{token}", "offer_type": "establishment"})[0] == []
    assert _found(db_url, {"where": "Versailles", "q": f"spread{token}", "patientele": "A",
                           "unit_types": "ROR-UO-KINE", "offer_type": "liberal"})[0] == nearest[:3]


def test_facets_count_every_match_on_request(db_url, spread_kines, monkeypatch):
    token, ids = spread_kines
    monkeypatch.setattr(query, "MAX_RESULTS", 3)  # 3 results of the 9 kinés within 150 km of Mantes
    params = {"where": "Mantes-la-Jolie", "q": f"spread{token}"}
    with session_scope(db_url) as session:
        shown = query.search(session, query.Criteria.from_dict("idf", params), "public")
        every = query.search(session, query.Criteria.from_dict("idf", {**params, "facets": "all"}), "public")
        at_home = query.search(session, query.Criteria.from_dict(
            "idf", {**params, "facets": "all", "home_visit": "true"}), "public")
        anywhere = query.search(session, query.Criteria.from_dict("idf", {"q": f"spread{token}", "facets": "all"}),
                                "public")
    assert shown["total"] == every["total"] == 3 and shown["capped"] and shown["matches"] is None
    assert shown["facets"]["unit_types"] == [{"code": "ROR-UO-KINE", "label": "Consultation kinésithérapie",
                                              "count": 3}]
    assert every["matches"] == 9 and every["facets_scope"] == "all"
    assert every["facets"]["unit_types"] == [{**shown["facets"]["unit_types"][0], "count": 9}]
    assert every["facets"]["professions"] == [{"code": "70", "label": "Masseur-Kinésithérapeute", "count": 9}]
    assert every["facets"]["patientele"] == [{"code": "A", "label": "Adultes", "count": 9}]
    assert at_home["matches"] == 0  # none of them makes home visits
    assert anywhere["matches"] == 10  # no place: Dijon too
    with pytest.raises(InvalidInput):
        query.Criteria.from_dict("idf", {**params, "facets": "everything"})


def test_prefixes_match_the_same_entries_once_expanded(db_url, spread_kines):
    token, ids = spread_kines
    with session_scope(db_url) as session:
        for q in ("reeduc kinesith", f"spread{token} kine", "kinesitherapie", "re", f"spread{token[:3]}",
                  f"spread{token} k"):
            tsq = search_text.tsquery(session, q)
            matching, loose = search_text.matching(session, tsq)
            assert loose == (q == f"spread{token} k")  # the 'k' is checked on the rows the index finds
            if len(min(search_text.terms(q), key=len)) >= search_text.MIN_EXPANDED_PREFIX or loose:
                assert ":*" not in matching, (q, matching)  # every prefix expanded into lexemes
            count = "SELECT array_agg(id ORDER BY id) FROM offers.search_entries WHERE document @@ CAST(:q AS tsquery)"
            checked = count + " AND ts_match_vq(document, CAST(:tsq AS tsquery))" if loose else count
            assert session.execute(text(count), {"q": tsq}).scalar() == session.execute(
                text(checked), {"q": matching, "tsq": tsq}).scalar(), q
            if loose:
                assert len(session.execute(text(count), {"q": tsq}).scalar()) == len(COMMUNES)  # the kinés
        # A word published in this transaction is a lexeme at once: its prefix finds it.
        session.execute(text("UPDATE offers.offers SET name = name || ' ZYGOMATIQUE' || :t WHERE id = :id"),
                        {"t": token, "id": ids[0]})
        index.refresh_offer(session, ids[0])
        matching, _ = search_text.matching(session, search_text.tsquery(session, f"zygomatique{token[:4]}"))
        assert session.execute(text("SELECT offer_id FROM offers.search_entries WHERE document @@ "
                                    "CAST(:q AS tsquery)"), {"q": matching}).scalars().all() == [ids[0]]
        session.rollback()
    # "spread… k": the 'k' is checked on the rows — the same kinés, nearest first; none for an 'x'.
    assert _found(db_url, {"where": "Mantes-la-Jolie", "q": f"spread{token} k", "radius_km": 1000})[0] \
        == _by_distance("78361", ids)
    assert _found(db_url, {"where": "Mantes-la-Jolie", "q": f"spread{token} x", "radius_km": 1000})[0] == []


def test_the_keys_of_an_entry_say_its_squares_kind_and_patienteles(db_url, spread_kines):
    _, ids = spread_kines
    with session_scope(db_url) as session:
        keys, lat, lon = session.execute(text(
            "SELECT keys, latitude, longitude FROM offers.search_entries WHERE offer_id = :id"), {"id": ids[0]}).one()
    x, y = lon * index.KM_PER_DEGREE_LON, lat * index.KM_PER_DEGREE_LAT
    squares = {index.cell_key(size, math.floor(x / size), math.floor(y / size)) for size in index.CELL_SIZES_KM}
    assert set(keys) == squares | {"k:offer", "u:ROR-UO-KINE", "o:liberal", "p:A"}


def test_relevance_lists_the_best_match_of_the_nearest_first(db_url, spread_kines):
    """Sorted by relevance, the kiné of Orléans whose name says the words twice comes first; by
    distance, the kiné of Mantes."""
    token, ids = spread_kines
    orleans = ids[[c[0] for c in COMMUNES].index("45234")]
    with session_scope(db_url) as session:
        session.execute(text("UPDATE offers.offers SET name = :name WHERE id = :id"),
                        {"name": f"Kinésithérapie SPREAD{token.upper()} spread{token} spread{token}", "id": orleans})
        index.refresh_offer(session, orleans)
        order = {}
        for sort in ("relevance", "distance"):
            c = query.Criteria.from_dict("idf", {"where": "Mantes-la-Jolie", "q": f"spread{token}", "sort": sort})
            rows, _ = query.candidates(session, c, query.resolve_place(session, "idf", c.where))
            offer_of = dict(session.execute(text("SELECT id, offer_id FROM offers.search_entries "
                                                 "WHERE id = ANY(:ids)"), {"ids": [r.id for r in rows]}).all())
            order[sort] = [offer_of[r.id] for r in rows]
        session.rollback()
    assert order["relevance"][0] == orleans and sorted(order["relevance"]) == sorted(order["distance"])
    assert order["distance"][0] == ids[0] and order["distance"].index(orleans) > 0
    assert order["relevance"][1:] == [i for i in order["distance"] if i != orleans]  # then by distance

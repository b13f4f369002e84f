"""Search and the répertoire through the gateway, as the guides use them: a kiné publishes her sheet and
is found by a search in Meulan (her home-visit territory) though her office is in Mantes-la-Jolie; French
text matching (accents, prefixes, typos, replaced labels); public vs professional view; the index
following publication, unpublication and structure changes within 1 s; suggestions, map, Excel export,
the répertoire by EJ name or FINESS and favourites."""

from __future__ import annotations

import copy
import time
import uuid
from io import BytesIO

import pytest
from openpyxl import load_workbook

from services.common.db import session_scope
from services.offers.models import Structure
from services.offers.search import index
from tests.offers_support import KINE_STEPS, complete_draft, make_offer, structure, subject_of

pytestmark = pytest.mark.integration

MEULAN = "78401"


def _publish(api, token: str, offer_id: int) -> float:
    etag = api.get(f"/api/idf/offers/{offer_id}", token=token).headers["ETag"]
    resp = api.post(f"/api/idf/offers/{offer_id}/publish", token=token, headers={"If-Match": etag})
    assert resp.status_code == 200, resp.text
    return time.monotonic()


def _ids(answer: dict) -> dict[int, dict]:
    return {r["offer_id"]: r for r in answer.get("results", answer.get("features", [])) if r.get("offer_id")}


def _features(api, params: dict, token: str | None = None) -> dict[int, dict]:
    resp = api.get("/api/idf/search.geojson", params=params, token=token)
    assert resp.status_code == 200, resp.text
    return {f["properties"]["offer_id"]: f["properties"] for f in resp.json()["features"]
            if f["properties"].get("offer_id")}


def _wait_found(api, params: dict, offer_id: int, present: bool, since: float) -> float:
    """Seconds from `since` until the search shows (or no longer shows) the offer; fails after 1 s."""
    while True:
        if (offer_id in _features(api, params)) == present:
            return time.monotonic() - since
        if time.monotonic() - since > 1.0:
            raise AssertionError(f"offer {offer_id} {'not found' if present else 'still found'} after 1 s")
        time.sleep(0.05)


@pytest.fixture
def kine_token(tokens):
    return tokens("idf", "kine.demo")


@pytest.fixture
def published_kine(api, db_url, kine_token, unique):
    """The guide's kiné: office in Mantes-la-Jolie, home visits in Aubergenville, Mézières and Meulan."""
    body = copy.deepcopy(KINE_STEPS)
    body["modalities"]["intervention_communes"] = ["78029", "78402", MEULAN]
    offer_id = make_offer(db_url, owner_subject=subject_of(kine_token), last_name=f"VESTIB{unique.upper()}",
                          first_name="Anne", draft=complete_draft(body))
    # the search path is warm (reference tables, caches): what is timed below is the index following
    assert api.get("/api/idf/search", params={"where": "Meulan", "q": "vestibulaire"}).status_code == 200
    published_at = _publish(api, kine_token, offer_id)
    return offer_id, published_at


def test_a_kine_publishes_and_is_found_in_meulan_where_she_makes_home_visits(api, published_kine):
    offer_id, published_at = published_kine
    params = {"where": "Meulan", "q": "Rééducation vestibulaire", "in": "specific_acts"}
    delay = _wait_found(api, params, offer_id, True, published_at)
    assert delay < 1.0
    found = _features(api, params)[offer_id]
    assert found["distance_km"] == 0 and found["serves_searched_commune"] is True
    assert found["address"]["city"] == "Mantes-la-Jolie" and found["patientele"] == "A"
    assert found["unit_type"]["code"] == "ROR-UO-KINE" and found["open_now"] in (True, False)
    # the list view: 15 a page, facets, the place searched
    answer = api.get("/api/idf/search", params=params).json()
    assert answer["per_page"] == 15 and answer["page"] == 1 and answer["place"]["communes"] == [MEULAN]
    assert {"patientele", "offer_type", "operational_activities", "care_modes", "unit_types", "specialties",
            "professions"} <= set(answer["facets"])
    assert {"code": "liberal", "label": "Offre libérale"}.items() <= answer["facets"]["offer_type"][0].items()
    first = answer["results"][0]
    assert first["distance_km"] == 0 and first["travel_time_min"] == 0
    assert answer["facets_scope"] == "results" and answer["matches"] is None
    # facets over every match (not only the ≤ 200 results): she is one of them
    every = api.get("/api/idf/search", params={**params, "facets": "all"}).json()
    assert every["facets_scope"] == "all" and every["matches"] >= every["total"] >= 1
    kines = {f["code"]: f["count"] for f in every["facets"]["unit_types"]}
    assert kines["ROR-UO-KINE"] >= 1 and sum(f["count"] for f in every["facets"]["offer_type"]) == every["matches"]


def test_at_home_only_keeps_the_offers_serving_the_place(api, published_kine):
    offer_id, _ = published_kine
    at_home = _features(api, {"where": "Meulan", "q": "vestibulaire", "home_visit": "true"})
    assert offer_id in at_home and all(f["serves_searched_commune"] for f in at_home.values())
    assert offer_id not in _features(api, {"where": "Versailles", "q": "vestibulaire", "home_visit": "true"})


def test_distance_from_another_commune_is_measured_from_her_office(api, published_kine):
    offer_id, _ = published_kine
    found = _features(api, {"where": "78200", "q": "kinesitherapie"})[offer_id]  # typo-free, postal code
    assert found["distance_km"] < 2 and found["serves_searched_commune"] is False
    far = _features(api, {"where": "Versailles", "q": "kine", "in": "all"})[offer_id]
    assert 35 < far["distance_km"] < 50 and far["travel_time_min"] > 40


@pytest.mark.parametrize("q", ["readaptation VESTIBULAIRE", "réadapt vestib", "Rééducation vestibulaire",
                               "kinesiterapie", "kinésithérapeute", "reeduc rachis"])
def test_french_text_matching_accents_prefixes_typos_and_replaced_labels(api, published_kine, q):
    offer_id, _ = published_kine
    assert offer_id in _features(api, {"where": "Meulan-en-Yvelines", "q": q}), q


def test_a_need_she_does_not_offer_does_not_find_her(api, published_kine):
    offer_id, _ = published_kine
    assert offer_id not in _features(api, {"where": "Meulan", "q": "accouchement a domicile"})
    assert offer_id not in _features(api, {"where": "Meulan", "q": "vestibulaire", "patientele": "E"})
    assert offer_id in _features(api, {"where": "Meulan", "q": "vestibulaire", "patientele": "A",
                                       "offer_type": "liberal", "unit_types": "ROR-UO-KINE,ROR-UO-SF"})


def test_the_public_sees_public_contacts_professionals_see_theirs_too(api, published_kine, tokens):
    offer_id, _ = published_kine
    name = api.get(f"/api/idf/offers/{offer_id}").json()["name"].split()[-2]  # her unique last name
    params = {"where": "Meulan", "q": f"vestibulaire {name}", "in": "all"}
    public = _ids(api.get("/api/idf/search", params=params).json())[offer_id]
    assert {c["visibility"] for c in public["contacts"]} == {"public"}
    assert public["phone"] == "0203040506"
    pro = _ids(api.get("/api/idf/search", params=params, token=tokens("idf", "sf.demo")).json())[offer_id]
    assert {c["visibility"] for c in pro["contacts"]} == {"public", "professional"}
    assert "0708091011" in {c["value"] for c in pro["contacts"]}


def test_the_index_follows_unpublication_and_structure_changes_within_one_second(api, db_url, published_kine,
                                                                                   kine_token, unique):
    offer_id, _ = published_kine
    params = {"where": "Mantes-la-Jolie", "q": "vestibulaire"}
    with session_scope(db_url) as session:  # a structure edit (as the dossiers publication does)
        unit_id = session.execute(index.text("SELECT unit_id FROM offers.offers WHERE id = :i"),
                                  {"i": offer_id}).scalar()
        site = session.get(Structure, session.get(Structure, unit_id).parent_id)
        site.name = f"Cabinet des Graviers {unique}"
        site.address_line = "12 R DES GRAVIERS"
        session.flush()
        index.refresh_structure(session, site.id)
        changed_at = time.monotonic()
    found = _features(api, params)[offer_id]
    assert time.monotonic() - changed_at < 1.0
    assert found["structure"]["name"] == f"Cabinet des Graviers {unique}"
    assert found["address"]["line"] == "12 R DES GRAVIERS"

    etag = api.get(f"/api/idf/offers/{offer_id}", token=kine_token).headers["ETag"]
    resp = api.post(f"/api/idf/offers/{offer_id}/unpublish", token=kine_token, headers={"If-Match": etag})
    assert resp.status_code == 200, resp.text
    assert _wait_found(api, params, offer_id, False, time.monotonic()) < 1.0


def test_results_are_capped_at_200_with_15_a_page(api, db_url, kine_token, unique):
    # 205 published sages-femmes in one commune: 200 results, 14 pages, `capped`
    from services.common.db import session_scope as scope

    body = copy.deepcopy(KINE_STEPS)
    draft = complete_draft(body)
    ids = [make_offer(db_url, owner_subject=subject_of(kine_token), last_name=f"CAP{unique.upper()}",
                      commune="78440", postal_code="78130", city="Les Mureaux", draft=draft) for _ in range(205)]
    with scope(db_url) as session:
        session.execute(index.text(
            "UPDATE offers.offers SET status = 'published', published = draft->'steps', published_at = now() "
            "WHERE id = ANY(:ids)"), {"ids": ids})
        index.refresh_offers(session, ids)
    answer = api.get("/api/idf/search", params={"where": "Les Mureaux", "q": f"cap{unique}"}).json()
    assert answer["total"] == 200 and answer["capped"] is True and len(answer["results"]) == 15
    assert answer["pages"] == 14
    last = api.get("/api/idf/search", params={"where": "Les Mureaux", "q": f"cap{unique}", "page": 14}).json()
    assert len(last["results"]) == 5
    with scope(db_url) as session:
        session.execute(index.text("UPDATE offers.offers SET status = 'unpublished' WHERE id = ANY(:ids)"),
                        {"ids": ids})
        index.refresh_offers(session, ids)


def test_suggestions_from_three_letters(api):
    resp = api.get("/api/idf/search/suggest", params={"q": "réadaptation vésico-sph", "in": "specific_acts"})
    assert resp.status_code == 200, resp.text
    assert [s["label"] for s in resp.json()] == ["Réadaptation vésico-sphinctérienne"]
    labels = [s["label"] for s in api.get("/api/idf/search/suggest", params={"q": "reeducation pelvi"}).json()]
    assert {"Rééducation pelvi-périnéale", "Rééducation pelvipérinéologie femme"} <= set(labels)
    assert api.get("/api/idf/search/suggest", params={"q": "ré"}).status_code == 400


def test_excel_export_for_professionals(api, published_kine, tokens):
    params = {"where": "Meulan", "q": "vestibulaire"}
    assert api.get("/api/idf/search/export.xlsx", params=params).status_code == 401
    resp = api.get("/api/idf/search/export.xlsx", params=params, token=tokens("idf", "sf.demo"))
    assert resp.status_code == 200, resp.text
    sheet = load_workbook(BytesIO(resp.content))["Résultats"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("Nom", "Type", "Type d'UO") and "Distance en km" in rows[0]
    total = api.get("/api/idf/search.geojson", params=params).json()["total"]
    assert len(rows) - 1 == total and any(r[0].startswith("Consultation kinésithérapie VESTIB") for r in rows[1:])


def test_establishments_are_found_by_name_and_as_the_place_searched(api, db_url, unique):
    finess = "78" + str(uuid.uuid4().int)[:7]
    ej = structure(db_url, "legal_entity", f"CPTS DU VEXIN {unique}", finess=finess, discipline="VIL")
    site = structure(db_url, "site", f"CPTS du Vexin {unique}", parent_id=ej, discipline="VIL")
    with session_scope(db_url) as session:
        index.refresh_structure(session, ej)
    answer = api.get("/api/idf/search", params={"q": f"cpts vexin {unique}", "in": "structures",
                                                "where": "Mantes-la-Jolie"}).json()
    assert {r["structure_id"] for r in answer["results"]} == {ej, site}
    assert all(r["type"] == "structure" for r in answer["results"])
    place = api.get("/api/idf/search", params={"where": f"CPTS du Vexin {unique}"}).json()["place"]
    assert place["kind"] == "establishment"


def test_repertoire_by_legal_entity_name_or_finess_and_favourites(api, db_url, tokens, unique):
    finess = "78" + str(uuid.uuid4().int)[:7]
    ej = structure(db_url, "legal_entity", f"CENTRE HOSPITALIER DE TESTVILLE {unique}", finess=finess)
    site = structure(db_url, "site", f"HOPITAL DE TESTVILLE {unique}", parent_id=ej)
    with session_scope(db_url) as session:
        index.refresh_structure(session, ej)
    token = tokens("idf", "validateur")
    by_name = api.get("/api/idf/repertoire", params={"q": f"centre hospit testvile {unique}"}, token=token).json()
    assert [e["id"] for e in by_name["legal_entities"]] == [ej]
    assert [s["id"] for s in by_name["legal_entities"][0]["sites"]] == [site]
    by_finess = api.get("/api/idf/repertoire", params={"q": finess}, token=token).json()
    assert [e["id"] for e in by_finess["legal_entities"]] == [ej]

    assert api.get(f"/api/idf/favourites/{site}", token=token).status_code == 404
    first = api.put(f"/api/idf/favourites/{site}", token=token)
    assert first.status_code == 200 and first.json()["created"] is True
    again = api.put(f"/api/idf/favourites/{site}", token=token)
    assert again.status_code == 200 and again.json()["created"] is False
    assert api.get(f"/api/idf/favourites/{site}", token=token).json()["id"] == site
    assert site in [f["id"] for f in api.get("/api/idf/favourites", token=token).json()]
    again = api.get("/api/idf/repertoire", params={"q": finess}, token=token).json()
    assert again["legal_entities"][0]["sites"][0]["favourite"] is True
    # favourites are per user
    assert api.get(f"/api/idf/favourites/{site}", token=tokens("idf", "sf.demo")).status_code == 404
    assert api.delete(f"/api/idf/favourites/{site}", token=token).status_code == 204
    assert api.delete(f"/api/idf/favourites/{site}", token=token).status_code == 404
    assert api.put("/api/idf/favourites/987654321", token=token).status_code == 404
    assert api.get(f"/api/idf/favourites/{site}").status_code == 401


@pytest.mark.parametrize("params,field", [
    ({"in": "colours"}, "in"), ({"sort": "price"}, "sort"), ({"page": "0"}, "page"), ({"page": "x"}, "page"),
    ({"q": "a\x00b"}, "q"), ({"where": "nulle-part-du-tout-xyz"}, "where"), ({"patientele": "X"}, "patientele"),
    ({"radius_km": "1e308"}, "radius_km"), ({"q": "x" * 500}, "q"), ({"colour": "red"}, "colour"),
    ({"facets": "some"}, "facets"),
])
def test_bad_search_input_is_a_400_naming_the_field(api, params, field):
    resp = api.get("/api/idf/search", params=params)
    assert resp.status_code == 400, resp.text
    assert field in resp.json()["error"]["fields"]

"""The twice-yearly update of a hospital (PDL guide §3), outside any dossier: the Directeur of the demo
CHU's EG updates its phone, the director's name, adds a person to the consultation unit, declares the
available beds of the maternity; adding or removing units needs a dossier (403)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from services.common.db import session_scope
from tests.dossiers_support import habilitation

pytestmark = pytest.mark.integration

PDL_HOSPITAL_EG = "440000313"  # services/offers/demo.py


@pytest.fixture(scope="module")
def hospital(api, tokens, db_url):
    from services.offers.demo import load as load_offers_demo

    load_offers_demo("pdl", db_url)
    with session_scope(db_url) as session:
        eg = session.execute(text("SELECT id FROM offers.structures WHERE region='pdl' AND kind='site' "
                                  "AND finess=:f"), {"f": PDL_HOSPITAL_EG}).scalar()
        units = dict(session.execute(text(
            "SELECT source_key, id FROM offers.structures WHERE region='pdl' AND source_key IN "
            "('demo:pdl:hospital:consultation', 'demo:pdl:hospital:maternite', 'demo:pdl:hospital:pole')")).all())
    with habilitation(api, tokens, "pdl", "cpts.directeur", "directeur", eg):
        yield {"eg": eg, "consultation": units["demo:pdl:hospital:consultation"],
               "maternity": units["demo:pdl:hospital:maternite"], "pole": units["demo:pdl:hospital:pole"]}


def _get(api, token, structure_id):
    resp = api.get(f"/api/pdl/structures/{structure_id}", token=token)
    assert resp.status_code == 200, resp.text
    assert resp.headers["ETag"] == resp.json()["etag"]
    return resp.json()


def test_the_directeur_updates_the_eg_administrative_data(api, tokens, hospital, db_url):
    director = tokens("pdl", "cpts.directeur")
    eg = _get(api, director, hospital["eg"])
    url = f"/api/pdl/structures/{hospital['eg']}"
    assert api.put(url, token=director, json={"phone": "0240084000"}).status_code == 428
    bad = api.put(url, token=director, json={"phone": "02.40.08.40.00"}, headers={"If-Match": eg["etag"]})
    assert bad.status_code == 400 and "phone" in bad.json()["error"]["fields"]
    emptied = api.put(url, token=director, json={"phone": None}, headers={"If-Match": eg["etag"]})
    assert emptied.status_code == 400 and emptied.json()["error"]["fields"]["phone"] == "Champ obligatoire."
    resp = api.put(url, token=director, headers={"If-Match": eg["etag"]},
                   json={"phone": "0240084000", "director_name": "Mme Anne DUPONT",
                         "mssante": "direction@chu-nantes.mssante.fr", "website": "https://www.chu-nantes.fr"})
    assert resp.status_code == 200, resp.text
    assert (resp.json()["phone"], resp.json()["director_name"]) == ("0240084000", "Mme Anne DUPONT")
    assert resp.json()["etag"] != eg["etag"]
    stale = api.put(url, token=director, json={"phone": "0240084001"}, headers={"If-Match": eg["etag"]})
    assert stale.status_code == 412
    kine = tokens("pdl", "kine.demo")
    assert api.put(url, token=kine, json={"phone": "0240084001"},
                   headers={"If-Match": resp.json()["etag"]}).status_code == 403
    with session_scope(db_url) as session:
        events = session.execute(text(
            "SELECT count(*) FROM offers.outbox WHERE event_type='offers.structure_updated' "
            "AND payload->>'structure_id' = :id"), {"id": str(hospital["eg"])}).scalar()
    assert events >= 1


def test_a_person_is_added_to_the_consultation_and_removed(api, tokens, hospital):
    director = tokens("pdl", "cpts.directeur")
    unit = _get(api, director, hospital["consultation"])
    url = f"/api/pdl/structures/{hospital['consultation']}/practitioners"
    unknown = api.post(url, token=director, json={"rpps": "19999999999"}, headers={"If-Match": unit["etag"]})
    assert unknown.status_code == 400 and "rpps" in unknown.json()["error"]["fields"]
    nameless = api.post(url, token=director, json={"specialty": "x"}, headers={"If-Match": unit["etag"]})
    assert nameless.status_code == 400 and "last_name" in nameless.json()["error"]["fields"]
    resp = api.post(url, token=director, headers={"If-Match": unit["etag"]},
                    json={"civility": "Madame le Docteur", "last_name": "Tartampion", "first_name": "Anne-Sophie",
                          "profession": "Médecin", "specialty": "Gynécologie médicale (SM)",
                          "convention_sector": "conventionné en Secteur 2"})
    assert resp.status_code == 201, resp.text
    added = resp.json()["result"]
    assert (added["last_name"], added["convention_sector"]) == ("TARTAMPION", "conventionné en Secteur 2")
    assert added["id"] in [p["id"] for p in resp.json()["practitioners"]]
    gone = api.delete(f"{url}/{added['id']}", token=director, headers={"If-Match": resp.json()["etag"]})
    assert gone.status_code == 200, gone.text
    assert added["id"] not in [p["id"] for p in gone.json()["practitioners"]]


def test_available_beds_are_kept_as_a_history(api, tokens, hospital):
    director = tokens("pdl", "cpts.directeur")
    unit = _get(api, director, hospital["maternity"])
    url = f"/api/pdl/structures/{hospital['maternity']}/capacities"
    too_many = api.put(url, token=director, json={"available_beds": 999}, headers={"If-Match": unit["etag"]})
    assert too_many.status_code == 400 and "available_beds" in too_many.json()["error"]["fields"]
    first = api.put(url, token=director, json={"available_beds": 7}, headers={"If-Match": unit["etag"]})
    assert first.status_code == 200, first.text
    second = api.put(url, token=director, json={"installed_beds": 44, "available_beds": 3},
                     headers={"If-Match": first.json()["etag"]})
    assert second.status_code == 200, second.text
    caps = {c["type"]: c["count"] for c in second.json()["capacities"]}
    assert caps["available_beds"] == 3 and caps["full_hospitalisation_beds"] == 44
    available = [h["count"] for h in second.json()["capacity_history"] if h["type"] == "available_beds"]
    assert available[:2] == [3, 7]
    # its own three observations, the latest (the page tests update this demo unit with another account)
    history = second.json()["capacity_history"][:3]
    assert all(h["observed_at"] and h["recorded_by"] == "cpts.directeur" for h in history)
    consultation = _get(api, director, hospital["consultation"])
    assert api.put(f"/api/pdl/structures/{hospital['consultation']}/capacities", token=director,
                   json={"available_beds": 1}, headers={"If-Match": consultation["etag"]}).status_code == 409


def test_operational_activities_are_added_and_removed(api, tokens, hospital):
    director = tokens("pdl", "cpts.directeur")
    unit = _get(api, director, hospital["consultation"])
    url = f"/api/pdl/structures/{hospital['consultation']}/activities"
    resp = api.put(url, token=director, json={"add": ["437"]}, headers={"If-Match": unit["etag"]})
    assert resp.status_code == 200, resp.text
    assert "437" in [a["code"] for a in resp.json()["operational_activities"]]
    bad = api.put(url, token=director, json={"add": ["NOPE"]}, headers={"If-Match": resp.json()["etag"]})
    assert bad.status_code == 400 and "operational_activities" in bad.json()["error"]["fields"]
    resp = api.put(url, token=director, json={"remove": ["437"]}, headers={"If-Match": resp.json()["etag"]})
    assert resp.status_code == 200 and "437" not in [a["code"] for a in resp.json()["operational_activities"]]


def test_adding_or_removing_units_needs_a_dossier(api, tokens, hospital):
    director = tokens("pdl", "cpts.directeur")
    created = api.post("/api/pdl/structures", token=director, json={"kind": "pole", "name": "Nouveau pôle"})
    assert created.status_code == 403 and "dossier collaboratif" in created.json()["error"]["message"]
    removed = api.delete(f"/api/pdl/structures/{hospital['pole']}", token=director)
    assert removed.status_code == 403 and "dossier collaboratif" in removed.json()["error"]["message"]


def _tree_node(api, token, departement, structure_id, fresh=True):
    """The node as the offers service serves it; `fresh=False`: as the gateway's read cache may keep it
    for up to ROR_READ_CACHE_TTL after a change made behind its back (gateway.readcache)."""
    headers = {"Cache-Control": "no-cache"} if fresh else {}
    resp = api.get("/api/pdl/structures", token=token, params={"departement": departement}, headers=headers)
    assert resp.status_code == 200, resp.text
    stack = list(resp.json()["roots"])
    while stack:
        node = stack.pop()
        if node["id"] == structure_id:
            return node
        stack.extend(node.get("children", []))
    raise AssertionError(f"structure {structure_id} not in the tree of {departement}")


def _within_a_second(read, expected):
    deadline = time.monotonic() + 1.0
    while (value := read()) != expected:
        assert time.monotonic() < deadline, f"{value!r} still served 1 s after the change"
        time.sleep(0.05)


def test_the_repertoire_tree_shows_a_change_once_committed_whoever_made_it(api, tokens, hospital, db_url):
    # the trees are cached by the offers service until a change is committed (services.offers.tree_cache);
    # a read that reaches it sees every change committed before it, at once. The gateway keeps its answer
    # for at most a second when the change did not go through it (an import), none when it did.
    director = tokens("pdl", "cpts.directeur")
    eg = _get(api, director, hospital["eg"])
    departement, name = eg["departement"], eg["name"]
    assert _tree_node(api, director, departement, hospital["eg"])["name"] == name
    assert _tree_node(api, director, departement, hospital["eg"])["name"] == name  # served again
    try:
        # an import (another process, straight into the table) renames the EG
        with session_scope(db_url) as session:
            session.execute(text("UPDATE offers.structures SET name = :n WHERE id = :i"),
                            {"n": name + " (import)", "i": hospital["eg"]})
        assert _tree_node(api, director, departement, hospital["eg"])["name"] == name + " (import)"
        _within_a_second(lambda: _tree_node(api, director, departement, hospital["eg"], fresh=False)["name"],
                         name + " (import)")
    finally:
        with session_scope(db_url) as session:
            session.execute(text("UPDATE offers.structures SET name = :n WHERE id = :i"),
                            {"n": name, "i": hospital["eg"]})
    assert _tree_node(api, director, departement, hospital["eg"])["name"] == name
    # an edit through the API
    eg = _get(api, director, hospital["eg"])
    phone = "0240084099" if eg["phone"] != "0240084099" else "0240084098"
    resp = api.put(f"/api/pdl/structures/{hospital['eg']}", token=director, json={"phone": phone},
                   headers={"If-Match": eg["etag"]})
    assert resp.status_code == 200, resp.text
    assert _tree_node(api, director, departement, hospital["eg"])["phone"] == phone
    assert _tree_node(api, director, departement, hospital["eg"], fresh=False)["phone"] == phone  # at once


def test_a_lost_listener_connection_hides_no_change(api, tokens, hospital, db_url):
    director = tokens("pdl", "cpts.directeur")
    eg = _get(api, director, hospital["eg"])
    departement, name = eg["departement"], eg["name"]
    assert _tree_node(api, director, departement, hospital["eg"])["name"] == name  # kept
    try:
        with session_scope(db_url) as session:
            killed = session.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = 'ror-offers-repertoire-listener'")).scalar()
            assert killed >= 1
            session.execute(text("UPDATE offers.structures SET name = :n WHERE id = :i"),
                            {"n": name + " (pendant la coupure)", "i": hospital["eg"]})
        assert _tree_node(api, director, departement, hospital["eg"])["name"] == name + " (pendant la coupure)"
    finally:
        with session_scope(db_url) as session:
            session.execute(text("UPDATE offers.structures SET name = :n WHERE id = :i"),
                            {"n": name, "i": hospital["eg"]})
    assert _tree_node(api, director, departement, hospital["eg"])["name"] == name

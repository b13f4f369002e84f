"""Dossiers collaboratifs through the gateway, as the CPTS guide tells them: the Directeur of a CPTS opens
a dossier on its EG, fills the EG contacts, creates the CPTS unit (type first) with its territory and
activities, finalises every sheet (grey → green), sends it; the Directeur approves, the regional team
validates, and the unit is published in the répertoire. Plus the refusals (409 / 403 / 412 / 428), the
rejection that makes a dossier editable again, the atomic publication and its retry, collaboration."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from services.common.db import session_scope
from tests.dossiers_support import (
    CPTS_ACTIVITIES,
    CPTS_UNIT_TYPE,
    EG_CONTACTS,
    cpts_unit_data,
    habilitation,
    new_cpts,
)

pytestmark = pytest.mark.integration


def _h(etag: str) -> dict:
    return {"If-Match": etag}


@pytest.fixture
def cpts(api, tokens, db_url):
    """A fresh CPTS EG whose Directeur is the demo account cpts.directeur."""
    made = new_cpts(db_url)
    with habilitation(api, tokens, "idf", "cpts.directeur", "directeur", made["eg"]):
        yield made


def _open(api, tokens, eg: int) -> dict:
    resp = api.post("/api/idf/dossiers", token=tokens("idf", "cpts.directeur"), json={"structure_id": eg})
    assert resp.status_code == 201, resp.text
    assert resp.headers["ETag"] == resp.json()["etag"]
    return resp.json()


def _ready_to_send(api, tokens, dossier: dict, unit_name: str) -> dict:
    """EG contacts and one CPTS unit, both finalised."""
    director = tokens("idf", "cpts.directeur")
    eg_sheet = dossier["sheets"][0]
    resp = api.put(f"/api/idf/dossiers/{dossier['id']}/sheets/{eg_sheet['id']}", token=director,
                   json={"data": EG_CONTACTS, "finalise": True}, headers=_h(dossier["etag"]))
    assert resp.status_code == 200, resp.text
    resp = api.post(f"/api/idf/dossiers/{dossier['id']}/sheets", token=director, headers=_h(resp.json()["etag"]),
                    json={"parent_id": eg_sheet["id"], "kind": "uo", "name": unit_name, "unit_type": CPTS_UNIT_TYPE})
    assert resp.status_code == 201, resp.text
    unit_id = resp.json()["created_sheet_id"]
    resp = api.put(f"/api/idf/dossiers/{dossier['id']}/sheets/{unit_id}", token=director,
                   json={"data": cpts_unit_data(unit_name), "finalise": True}, headers=_h(resp.json()["etag"]))
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "finalised"
    return resp.json()


def _act(api, token, dossier: dict, action: str, comment: str | None = None, region: str = "idf"):
    return api.post(f"/api/{region}/dossiers/{dossier['id']}/transitions", token=token,
                    json={"action": action, "comment": comment}, headers=_h(dossier["etag"]))


def _walk(nodes):
    for node in nodes:
        yield node
        yield from _walk(node.get("children", []))


def test_a_cpts_describes_its_offer_and_the_regional_team_publishes_it(api, tokens, cpts):
    director, validator = tokens("idf", "cpts.directeur"), tokens("idf", "validateur")
    dossier = _open(api, tokens, cpts["eg"])
    assert dossier["name"] == f"Peuplement de {cpts['name']}"
    assert dossier["status"] == "draft"
    assert [(s["kind"], s["status"], s["action"]) for s in dossier["sheets"]] == [("eg", "pending", "keep")]

    again = api.post("/api/idf/dossiers", token=director, json={"structure_id": cpts["eg"]})
    assert again.status_code == 409 and again.json()["error"]["fields"]["dossier_id"] == dossier["id"]

    # « Enr. et mettre en attente » keeps an incomplete sheet grey, with its errors shown
    eg_sheet = dossier["sheets"][0]
    resp = api.put(f"/api/idf/dossiers/{dossier['id']}/sheets/{eg_sheet['id']}", token=director,
                   json={"data": {"phone": "01 39 63 30 00"}, "finalise": False}, headers=_h(dossier["etag"]))
    assert resp.status_code == 200, resp.text
    assert resp.json()["sheets"][0]["status"] == "pending"
    assert "phone" in resp.json()["sheets"][0]["errors"]
    # « Enr. et finaliser » refuses it, naming the field, and changes nothing
    refused = api.put(f"/api/idf/dossiers/{dossier['id']}/sheets/{eg_sheet['id']}", token=director,
                      json={"data": {}, "finalise": True}, headers=_h(resp.json()["etag"]))
    assert refused.status_code == 400 and "phone" in refused.json()["error"]["fields"]
    dossier = api.get(f"/api/idf/dossiers/{dossier['id']}", token=director).json()
    assert dossier["etag"] == resp.json()["etag"]

    # sending before every sheet is green: 409 naming the state and the allowed actions
    early = _act(api, director, dossier, "send")
    assert early.status_code == 409
    assert early.json()["error"]["fields"]["status"] == "draft"
    assert "cancel" in early.json()["error"]["fields"]["allowed_actions"]

    dossier = _ready_to_send(api, tokens, dossier, "CPTS TEST UNITE")
    assert dossier["status"] == "finalised"
    assert all(s["status"] == "finalised" for s in dossier["sheets"])
    unit_sheet = dossier["sheets"][1]
    assert (unit_sheet["kind"], unit_sheet["action"], unit_sheet["unit_type"]) == ("uo", "create", CPTS_UNIT_TYPE)

    # kine.demo is nobody to this dossier; the validator cannot approve in the Directeur's place
    assert _act(api, tokens("idf", "kine.demo"), dossier, "send").status_code == 403
    resp = _act(api, director, dossier, "send")
    assert resp.status_code == 200, resp.text
    dossier = resp.json()
    assert dossier["status"] == "sent"
    assert _act(api, validator, dossier, "approve").status_code == 403
    edit = api.put(f"/api/idf/dossiers/{dossier['id']}/sheets/{unit_sheet['id']}", token=director,
                   json={"data": {"name": "X"}}, headers=_h(dossier["etag"]))
    assert edit.status_code == 409

    resp = _act(api, director, dossier, "approve")
    assert resp.status_code == 200, resp.text
    dossier = resp.json()
    assert dossier["status"] == "approved"
    assert _act(api, director, dossier, "validate").status_code == 403

    resp = _act(api, validator, dossier, "validate", "Conforme au guide")
    assert resp.status_code == 200, resp.text
    dossier = resp.json()
    assert dossier["status"] == "published", dossier["publication_error"]
    assert dossier["actions"] == []

    # the unit is in the répertoire tree, its offer is published and readable by anyone
    unit_id = int(dossier["applied"]["structures"][str(unit_sheet["id"])])
    tree = api.get("/api/idf/structures?departement=78", token=director).json()
    node = next(n for n in _walk(tree["roots"]) if n["id"] == unit_id)
    assert node["name"] == "CPTS TEST UNITE" and node["offer"]["status"] == "published"
    offer = api.get(f"/api/idf/offers/{node['offer']['id']}").json()
    assert offer["unit_type"]["code"] == CPTS_UNIT_TYPE
    assert [a["code"] for a in offer["published"]["description"]["operational_activities"]] == CPTS_ACTIVITIES
    assert {c["code"] for c in offer["published"]["modalities"]["intervention_communes"]} == {"78646", "78117",
                                                                                              "78620"}
    found = api.get("/api/idf/search", params={"q": "CPTS TEST UNITE", "where": "Versailles"}).json()
    assert node["offer"]["id"] in [r.get("offer_id") for r in found["results"]], found  # indexed at publication
    eg = api.get(f"/api/idf/structures/{cpts['eg']}", token=director).json()
    assert (eg["phone"], eg["email"]) == (EG_CONTACTS["phone"], EG_CONTACTS["email"])

    history = api.get(f"/api/idf/dossiers/{dossier['id']}/history", token=validator).json()
    transitions = [(h["action"], h["role"]) for h in history if h["to_status"]]
    assert ("send", "directeur") in transitions and ("approve", "directeur") in transitions
    assert ("validate", "regional_validator") in transitions and ("publish", "regional_validator") in transitions
    saves = [h for h in history if h["action"] == "finalise_sheet" and h["sheet_id"] == eg_sheet["id"]]
    assert saves and saves[-1]["after"]["data"]["phone"] == EG_CONTACTS["phone"]
    assert saves[-1]["before"]["data"].get("phone") == "01 39 63 30 00"

    pdf = api.get(f"/api/idf/dossiers/{dossier['id']}.pdf", token=director)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # once published, another dossier can be opened on the EG
    assert api.post("/api/idf/dossiers", token=director, json={"structure_id": cpts["eg"]}).status_code == 201


def _events(db_url: str, dossier_id: int) -> dict[str, dict]:
    with session_scope(db_url) as session:
        rows = session.execute(text("SELECT event_type, payload FROM dossiers.outbox "
                                    "WHERE payload->>'dossier_id' = :id ORDER BY created_at"), {"id": str(dossier_id)})
        return {event_type: payload for event_type, payload in rows}


def test_a_rejected_dossier_is_editable_again_with_its_reason_shown(api, tokens, cpts, db_url):
    director, validator = tokens("idf", "cpts.directeur"), tokens("idf", "validateur")
    dossier = _ready_to_send(api, tokens, _open(api, tokens, cpts["eg"]), "CPTS REJET")
    dossier = _act(api, director, dossier, "send").json()
    dossier = _act(api, director, dossier, "approve").json()
    no_reason = _act(api, validator, dossier, "reject")
    assert no_reason.status_code == 400 and "comment" in no_reason.json()["error"]["fields"]
    resp = _act(api, validator, dossier, "reject", "Territoire d'intervention incomplet")
    assert resp.status_code == 200, resp.text
    dossier = resp.json()
    assert dossier["status"] == "draft"
    assert dossier["rejection_reason"] == "Territoire d'intervention incomplet"
    # each transition is a fact; those that become e-mails name their recipients (notifications' selectors)
    events = _events(db_url, dossier["id"])
    assert {"dossiers.opened", "dossiers.sent", "dossiers.approved", "dossiers.rejected"} <= set(events)
    assert {"role": "directeur", "structure_id": cpts["eg"]} in events["dossiers.sent"]["recipients"]
    assert events["dossiers.approved"]["recipients"] == [{"role": "regional_validator", "structure_id": None}]
    assert events["dossiers.rejected"]["recipients"] == [{"username": "cpts.directeur"}]
    assert events["dossiers.rejected"]["reason"] == "Territoire d'intervention incomplet"
    unit = dossier["sheets"][1]
    data = cpts_unit_data("CPTS REJET")
    data["modalities"]["intervention_communes"].append("78686")  # Viroflay
    resp = api.put(f"/api/idf/dossiers/{dossier['id']}/sheets/{unit['id']}", token=director,
                   json={"data": data, "finalise": True}, headers=_h(dossier["etag"]))
    assert resp.status_code == 200, resp.text
    resp = api.post(f"/api/idf/dossiers/{dossier['id']}/finalise", token=director, headers=_h(resp.json()["etag"]))
    assert resp.status_code == 200 and resp.json()["status"] == "finalised"
    assert _act(api, director, resp.json(), "send").json()["status"] == "sent"


def test_stale_and_missing_if_match_and_cancel(api, tokens, cpts):
    director = tokens("idf", "cpts.directeur")
    dossier = _open(api, tokens, cpts["eg"])
    sheet = dossier["sheets"][0]
    url = f"/api/idf/dossiers/{dossier['id']}/sheets/{sheet['id']}"
    assert api.put(url, token=director, json={"data": EG_CONTACTS}).status_code == 428
    renamed = api.put(f"/api/idf/dossiers/{dossier['id']}", token=director, json={"name": "Mise à jour 2026"},
                      headers=_h(dossier["etag"]))
    assert renamed.status_code == 200 and renamed.json()["name"] == "Mise à jour 2026"
    fresh = api.put(url, token=director, json={"data": EG_CONTACTS}, headers=_h(dossier["etag"]))
    assert fresh.status_code == 412
    dossier = renamed.json()
    fresh = api.put(url, token=director, json={"data": EG_CONTACTS}, headers=_h(dossier["etag"]))
    assert fresh.status_code == 200
    assert api.put(url, token=director, json={"data": EG_CONTACTS}, headers=_h(dossier["etag"])).status_code == 412
    resp = _act(api, director, fresh.json(), "cancel")
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    assert _act(api, director, resp.json(), "send").status_code == 409


def test_finalise_all_lists_the_invalid_sheets(api, tokens, cpts):
    director = tokens("idf", "cpts.directeur")
    dossier = _open(api, tokens, cpts["eg"])
    eg_sheet = dossier["sheets"][0]
    resp = api.post(f"/api/idf/dossiers/{dossier['id']}/sheets", token=director, headers=_h(dossier["etag"]),
                    json={"parent_id": eg_sheet["id"], "kind": "uo", "name": "UO incomplète",
                          "unit_type": CPTS_UNIT_TYPE})
    assert resp.status_code == 201, resp.text
    bad_type = api.post(f"/api/idf/dossiers/{dossier['id']}/sheets", token=director, headers=_h(resp.json()["etag"]),
                        json={"parent_id": eg_sheet["id"], "kind": "uo", "name": "X", "unit_type": "NOPE"})
    assert bad_type.status_code == 400 and "unit_type" in bad_type.json()["error"]["fields"]
    resp = api.put(f"/api/idf/dossiers/{dossier['id']}/sheets/{eg_sheet['id']}", token=director,
                   json={"data": EG_CONTACTS}, headers=_h(resp.json()["etag"]))
    resp = api.post(f"/api/idf/dossiers/{dossier['id']}/finalise", token=director, headers=_h(resp.json()["etag"]))
    assert resp.status_code == 400, resp.text
    invalid = resp.json()["error"]["fields"]["sheets"]
    assert [v["name"] for v in invalid.values()] == ["UO incomplète"]
    dossier = api.get(f"/api/idf/dossiers/{dossier['id']}", token=director).json()
    assert [s["status"] for s in dossier["sheets"]] == ["finalised", "pending"]


def test_publication_is_atomic_and_can_be_retried(api, tokens, cpts, db_url):
    """A structure of the dossier that vanished in between makes applying fail: nothing is half-applied,
    the dossier stays validated with the error, and `retry` publishes once the cause is gone."""
    director, validator = tokens("idf", "cpts.directeur"), tokens("idf", "validateur")
    dossier = _ready_to_send(api, tokens, _open(api, tokens, cpts["eg"]), "CPTS ATOMIQUE")
    dossier = _act(api, director, dossier, "send").json()
    dossier = _act(api, director, dossier, "approve").json()
    with session_scope(db_url) as session:
        session.execute(text("UPDATE offers.structures SET active = false WHERE id = :id"), {"id": cpts["eg"]})
    try:
        resp = _act(api, validator, dossier, "validate")
        assert resp.status_code == 200, resp.text
        dossier = resp.json()
        assert dossier["status"] == "validated"
        assert dossier["publication_error"]["code"] == "not_found"
        assert dossier["actions"] == ["retry"]
        with session_scope(db_url) as session:
            phone = session.execute(text("SELECT phone FROM offers.structures WHERE id = :id"),
                                    {"id": cpts["eg"]}).scalar()
            created = session.execute(text("SELECT count(*) FROM offers.structures WHERE source_key LIKE :k"),
                                      {"k": f"dossier:{dossier['id']}:%"}).scalar()
        assert phone is None and created == 0
    finally:
        with session_scope(db_url) as session:
            session.execute(text("UPDATE offers.structures SET active = true WHERE id = :id"), {"id": cpts["eg"]})
    resp = _act(api, validator, dossier, "retry")
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "published"
    assert resp.json()["publication_error"] is None


def test_two_validators_at_once_exactly_one_wins(api, tokens, cpts):
    director, validator = tokens("idf", "cpts.directeur"), tokens("idf", "validateur")
    dossier = _ready_to_send(api, tokens, _open(api, tokens, cpts["eg"]), "CPTS CONCURRENCE")
    dossier = _act(api, director, dossier, "send").json()
    dossier = _act(api, director, dossier, "approve").json()
    results: list[int] = []
    barrier = threading.Barrier(2)

    def validate():
        barrier.wait()
        results.append(_act(api, validator, dossier, "validate").status_code)

    threads = [threading.Thread(target=validate) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results)[0] == 200 and sorted(results)[1] in (409, 412), results
    history = api.get(f"/api/idf/dossiers/{dossier['id']}/history", token=validator).json()
    assert [h["action"] for h in history].count("validate") == 1


def test_an_idf_validator_cannot_act_on_a_pdl_dossier(api, tokens, db_url):
    made = new_cpts(db_url, region="pdl")
    with habilitation(api, tokens, "pdl", "cpts.directeur", "directeur", made["eg"]):
        resp = api.post("/api/pdl/dossiers", token=tokens("pdl", "cpts.directeur"), json={"structure_id": made["eg"]})
        assert resp.status_code == 201, resp.text
        dossier = resp.json()
        for path in (f"/api/pdl/dossiers/{dossier['id']}", f"/api/pdl/dossiers/{dossier['id']}/history"):
            assert api.get(path, token=tokens("idf", "validateur")).status_code in (401, 403)
        assert _act(api, tokens("idf", "validateur"), dossier, "validate", region="pdl").status_code in (401, 403)
        # and the IDF path does not know the PDL dossier
        assert api.get(f"/api/idf/dossiers/{dossier['id']}", token=tokens("idf", "validateur")).status_code == 404
        assert _act(api, tokens("pdl", "cpts.directeur"), dossier, "cancel", region="pdl").status_code == 200


def test_contributors_comments_and_who_changed_what(api, tokens, cpts):
    director = tokens("idf", "cpts.directeur")
    dossier = _open(api, tokens, cpts["eg"])
    kine = tokens("idf", "kine.demo")
    assert api.get(f"/api/idf/dossiers/{dossier['id']}", token=kine).status_code == 403
    resp = api.post(f"/api/idf/dossiers/{dossier['id']}/collaborators", token=director,
                    json={"username": "kine.demo"}, headers=_h(dossier["etag"]))
    assert resp.status_code == 201, resp.text
    dossier = api.get(f"/api/idf/dossiers/{dossier['id']}", token=kine).json()
    assert "contributor" in dossier["your_roles"] and "approve" not in dossier["actions"]
    sheet = dossier["sheets"][0]
    resp = api.put(f"/api/idf/dossiers/{dossier['id']}/sheets/{sheet['id']}", token=kine,
                   json={"data": {"phone": "0139633001"}}, headers=_h(dossier["etag"]))
    assert resp.status_code == 200, resp.text
    assert api.post(f"/api/idf/dossiers/{dossier['id']}/collaborators", token=kine, json={"username": "sf.demo"},
                    headers=_h(resp.json()["etag"])).status_code == 403
    comment = api.post(f"/api/idf/dossiers/{dossier['id']}/comments", token=kine,
                       json={"body": "Numéro du secrétariat mis à jour", "sheet_id": sheet["id"]})
    assert comment.status_code == 201, comment.text
    listed = api.get(f"/api/idf/dossiers/{dossier['id']}/comments?sheet_id={sheet['id']}", token=director).json()
    assert [(c["author"], c["body"]) for c in listed] == [("kine.demo", "Numéro du secrétariat mis à jour")]
    people = api.get(f"/api/idf/dossiers/{dossier['id']}/collaborators", token=director).json()["collaborators"]
    kine_row = next(p for p in people if p["username"] == "kine.demo")
    assert [s["sheet_id"] for s in kine_row["last_changed_sheets"]] == [sheet["id"]]
    mine = api.get("/api/idf/dossiers", token=kine).json()
    assert dossier["id"] in [d["id"] for d in mine]


def test_a_dossier_removes_a_unit_and_creates_a_pole_with_its_uf_and_a_consultation(api, tokens, db_url):
    """Adding or removing units goes through a dossier: everything is applied at validation, parents first."""
    made = new_cpts(db_url, with_unit=True)
    director, validator = tokens("idf", "cpts.directeur"), tokens("idf", "validateur")
    with habilitation(api, tokens, "idf", "cpts.directeur", "directeur", made["eg"]):
        dossier = _open(api, tokens, made["eg"])
        eg_sheet, unit_sheet = dossier["sheets"]
        assert (unit_sheet["kind"], unit_sheet["structure_id"]) == ("uo", made["unit"])
        assert unit_sheet["data"]["description"]["operational_activities"] == CPTS_ACTIVITIES  # copied

        def post(body, etag):
            resp = api.post(f"/api/idf/dossiers/{dossier['id']}/sheets", token=director, json=body, headers=_h(etag))
            assert resp.status_code == 201, resp.text
            return resp.json()["created_sheet_id"], resp.json()["etag"]

        resp = api.delete(f"/api/idf/dossiers/{dossier['id']}/sheets/{unit_sheet['id']}", token=director,
                          headers=_h(dossier["etag"]))
        assert resp.status_code == 200, resp.text
        removed = next(s for s in resp.json()["sheets"] if s["id"] == unit_sheet["id"])
        assert (removed["action"], removed["status"]) == ("remove", "finalised")
        wrong = api.post(f"/api/idf/dossiers/{dossier['id']}/sheets", token=director, headers=_h(resp.json()["etag"]),
                         json={"parent_id": eg_sheet["id"], "kind": "eg", "name": "EG"})
        assert wrong.status_code == 400
        pole, etag = post({"parent_id": eg_sheet["id"], "kind": "pole", "name": "Pôle coordination"},
                          resp.json()["etag"])
        uf, etag = post({"parent_id": pole, "kind": "uf", "name": "UF consultations"}, etag)
        consultation, etag = post({"parent_id": uf, "kind": "uo", "name": "Consultation de soins non programmés",
                                   "unit_type": "ROR-UO-CS"}, etag)
        data = cpts_unit_data("Consultation de soins non programmés")
        data["practitioners"] = [{"last_name": "Martin", "first_name": "Louise", "profession": "Médecin",
                                  "specialty": "Médecine générale", "convention_sector": "Secteur 1"}]
        resp = api.put(f"/api/idf/dossiers/{dossier['id']}/sheets/{consultation}", token=director,
                       json={"data": data, "finalise": True}, headers=_h(etag))
        assert resp.status_code == 200, resp.text
        resp = api.put(f"/api/idf/dossiers/{dossier['id']}/sheets/{eg_sheet['id']}", token=director,
                       json={"data": EG_CONTACTS, "finalise": True}, headers=_h(resp.json()["etag"]))
        resp = api.post(f"/api/idf/dossiers/{dossier['id']}/finalise", token=director, headers=_h(resp.json()["etag"]))
        assert resp.status_code == 200 and resp.json()["status"] == "finalised", resp.text
        dossier = _act(api, director, resp.json(), "send").json()
        dossier = _act(api, director, dossier, "approve").json()
        dossier = _act(api, validator, dossier, "validate").json()
        assert dossier["status"] == "published", dossier["publication_error"]

        applied = dossier["applied"]["structures"]
        assert made["unit"] in dossier["applied"]["removed"]
        tree = api.get("/api/idf/structures?departement=78", token=director).json()
        eg_node = next(n for n in _walk(tree["roots"]) if n["id"] == made["eg"])
        assert [c["kind"] for c in eg_node["children"]] == ["pole"]  # the removed unit is gone
        pole_node = eg_node["children"][0]
        assert pole_node["id"] == applied[str(pole)]
        uf_node = pole_node["children"][0]
        assert (uf_node["kind"], uf_node["id"]) == ("functional_unit", applied[str(uf)])
        unit_node = uf_node["children"][0]
        assert unit_node["id"] == applied[str(consultation)] and unit_node["offer"]["status"] == "published"
        assert [p["last_name"] for p in unit_node["practitioners"]] == ["MARTIN"]
        gone = api.get(f"/api/idf/offers/{made['offer']}")
        assert gone.status_code == 404  # unpublished with its unit


def test_each_step_is_mailed_once_to_the_right_people(api, tokens, cpts):
    """sent → the structure's Directeur; approved → the region's validators; published → the contributors."""
    pytest.importorskip("services.notifications.rendering", reason="e-mails from events come with notifications")
    from tests.helpers import wait_for_mail

    director, validator = tokens("idf", "cpts.directeur"), tokens("idf", "validateur")
    dossier = _ready_to_send(api, tokens, _open(api, tokens, cpts["eg"]), "CPTS COURRIEL")
    name = dossier["name"]
    dossier = _act(api, director, dossier, "send").json()
    dossier = _act(api, director, dossier, "approve").json()
    dossier = _act(api, validator, dossier, "validate").json()
    assert dossier["status"] == "published"

    def mails(address: str, words: str, count: int = 1, within: float = 60.0) -> list:
        deadline = time.monotonic() + within
        while True:
            found = [m for m in wait_for_mail(address, timeout=1)
                     if name in str(m["Subject"]) and words in str(m["Subject"])]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.5)

    sent = mails("cpts.directeur@idf.ror.local", "à valider")
    approved = mails("validateur@idf.ror.local", "validé par le Directeur")
    published = mails("cpts.directeur@idf.ror.local", "publié")
    assert len(sent) == 1 and len(approved) == 1 and len(published) == 1
    body = published[0].get_body(preferencelist=("plain",)).get_content()
    assert "Répertoire du ROR" in body and "01 83 76 30 31" in body  # the region's support in the footer
    # a redelivered event would bring a second mail within seconds: still once each
    assert len(mails("cpts.directeur@idf.ror.local", "à valider", count=2, within=5)) == 1


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/api/idf/dossiers/99999999999999999999", None),
    ("GET", "/api/idf/dossiers/4294967296/history", None),
    ("POST", "/api/idf/dossiers", {"structure_id": 2**63}),
    ("GET", "/api/idf/structures/99999999999999999999", None),
    ("PUT", "/api/idf/structures/4294967296", {"phone": "0130630630"}),
    ("DELETE", "/api/idf/structures/1/practitioners/99999999999999999999", None),
])
def test_ids_beyond_the_database_range_are_not_found_not_errors(api, tokens, method, path, body):
    resp = api.request(method, path, token=tokens("idf", "cpts.directeur"), json=body, headers={"If-Match": '"x"'})
    assert resp.status_code in (400, 403, 404), resp.text
    assert resp.json()["error"]["code"] in ("not_found", "invalid_input", "forbidden")

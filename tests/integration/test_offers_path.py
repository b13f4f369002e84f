"""The six-step path through the HTTP gateway, as the guides tell it: kine.demo finds the draft offer the
RPPS import generated, validates each step, publishes; what goes wrong is refused with the field named
and nothing stored; the public sees the published version only, without the professionals' contacts."""

import time

import pytest
from sqlalchemy import select

from services.common.db import session_scope
from services.offers.models import Offer, Outbox
from tests.offers_support import KINE_STEPS, fresh_rpps, make_offer, subject_of

pytestmark = pytest.mark.integration


@pytest.fixture
def kine(tokens):
    return tokens("idf", "kine.demo")


@pytest.fixture
def rpps():
    return fresh_rpps()


@pytest.fixture
def offer_id(db_url, kine, rpps):
    """A draft offer generated from national data, owned by kine.demo's ROR account."""
    return make_offer(db_url, rpps=rpps, owner_subject=subject_of(kine))


def get(api, offer_id, token=None):
    resp = api.get(f"/api/idf/offers/{offer_id}", token=token)
    assert resp.status_code == 200, resp.text
    return resp.json(), resp.headers["ETag"]


def put_step(api, offer_id, step, body, token, etag):
    return api.put(f"/api/idf/offers/{offer_id}/steps/{step}", token=token, json=body,
                   headers={"If-Match": etag})


def fill(api, offer_id, token, steps=KINE_STEPS):
    _, etag = get(api, offer_id, token)
    for step, body in steps.items():
        resp = put_step(api, offer_id, step, body, token, etag)
        assert resp.status_code == 200, (step, resp.text)
        etag = resp.headers["ETag"]
    return etag


def stored(db_url, offer_id) -> Offer:
    with session_scope(db_url) as session:
        offer = session.get(Offer, offer_id)
        session.expunge(offer)
        return offer


def test_a_kine_fills_the_six_steps_and_publishes(api, kine, offer_id, db_url, rpps):
    offer, etag = get(api, offer_id, kine)
    assert offer["audience"] == "owner" and offer["status"] == "draft"
    assert offer["national"]["rpps"] == rpps
    assert etag == f'"{offer_id}-1"'

    # Steps 1-5: each validated step is saved as a draft; the version moves on each time.
    for step, body in KINE_STEPS.items():
        resp = put_step(api, offer_id, step, body, kine, etag)
        assert resp.status_code == 200, (step, resp.text)
        assert resp.headers["ETag"] != etag
        etag = resp.headers["ETag"]
        assert step in resp.json()["draft"]["validated"]
    assert api.get(f"/api/idf/offers/{offer_id}").status_code == 404  # nothing public before step 6
    draft = resp.json()["draft"]["steps"]
    assert {"code": "428", "label": "Kinésithérapie Spécialisée Gériatrie"} in draft["description"][
        "operational_activities"]
    assert resp.json()["missing_for_publication"] == {}

    # Step 6: publication.
    resp = api.post(f"/api/idf/offers/{offer_id}/publish", token=kine, headers={"If-Match": etag})
    assert resp.status_code == 200, resp.text
    published = resp.json()
    assert published["status"] == "published" and published["published_at"]
    assert published["has_unpublished_changes"] is False
    assert resp.headers["ETag"] == f'"{offer_id}-7"'

    # The publication is recorded with its event in the same transaction.
    with session_scope(db_url) as session:
        events = [row.payload for row in session.scalars(select(Outbox).where(
            Outbox.event_type == "offers.published"))]
    event = next(e for e in events if e["offer_id"] == offer_id)
    assert event["region"] == "idf" and event["content"]["description"]["age_min"] == 18


def test_the_public_sees_the_published_version_without_professional_contacts(api, kine, offer_id):
    etag = fill(api, offer_id, kine)
    etag = api.post(f"/api/idf/offers/{offer_id}/publish", token=kine,
                    headers={"If-Match": etag}).headers["ETag"]

    public, _ = get(api, offer_id)
    assert public["audience"] == "public" and "draft" not in public
    contacts = public["published"]["contacts"]["contacts"]
    assert {c["visibility"] for c in contacts} == {"public"}
    assert "0708091011" not in str(public)  # the professional phone of the guide
    assert "contacts" not in str(public["national"]) and "email" not in public["national"]


def test_editing_a_published_offer_keeps_the_published_version_public(api, kine, offer_id, tokens):
    etag = fill(api, offer_id, kine)
    etag = api.post(f"/api/idf/offers/{offer_id}/publish", token=kine,
                    headers={"If-Match": etag}).headers["ETag"]
    published_at = get(api, offer_id)[0]["published_at"]

    new_description = {**KINE_STEPS["description"], "age_min": 0, "age_max": 150}
    resp = put_step(api, offer_id, "description", new_description, kine, etag)
    assert resp.status_code == 200, resp.text
    owner = resp.json()
    assert owner["status"] == "published" and owner["has_unpublished_changes"] is True
    assert owner["draft"]["steps"]["description"]["age_min"] == 0
    assert owner["published"]["description"]["age_min"] == 18

    public, _ = get(api, offer_id)
    assert public["published"]["description"]["age_min"] == 18  # the new draft is not public
    other, _ = get(api, offer_id, tokens("idf", "sf.demo"))
    assert other["audience"] == "professional" and "draft" not in other
    assert {c["visibility"] for c in other["published"]["contacts"]["contacts"]} == {"public", "professional"}

    time.sleep(1.1)  # "Fiche mise à jour le" moves on with the next publication
    resp = api.post(f"/api/idf/offers/{offer_id}/publish", token=kine, headers={"If-Match": resp.headers["ETag"]})
    assert resp.status_code == 200
    public, _ = get(api, offer_id)
    assert public["published"]["description"]["age_min"] == 0
    assert public["published_at"] > published_at


def test_unpublished_offer_leaves_the_public_repertoire(api, kine, offer_id):
    etag = fill(api, offer_id, kine)
    etag = api.post(f"/api/idf/offers/{offer_id}/publish", token=kine,
                    headers={"If-Match": etag}).headers["ETag"]
    resp = api.post(f"/api/idf/offers/{offer_id}/unpublish", token=kine, headers={"If-Match": etag})
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "unpublished"
    assert api.get(f"/api/idf/offers/{offer_id}").status_code == 404
    assert api.get(f"/api/idf/offers/{offer_id}.pdf").status_code == 404
    # Unpublishing twice is a state conflict.
    again = api.post(f"/api/idf/offers/{offer_id}/unpublish", token=kine,
                     headers={"If-Match": resp.headers["ETag"]})
    assert again.status_code == 409


def test_pdf_of_the_published_sheet(api, kine, offer_id):
    etag = fill(api, offer_id, kine)
    api.post(f"/api/idf/offers/{offer_id}/publish", token=kine, headers={"If-Match": etag})
    resp = api.get(f"/api/idf/offers/{offer_id}.pdf")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/pdf"
    assert resp.content.startswith(b"%PDF")
    assert len(resp.content) > 1500


def test_publication_checks_the_whole_offer(api, kine, offer_id, db_url):
    steps = {k: v for k, v in KINE_STEPS.items() if k in ("national", "description")}
    etag = fill(api, offer_id, kine, steps)
    resp = api.post(f"/api/idf/offers/{offer_id}/publish", token=kine, headers={"If-Match": etag})
    assert resp.status_code == 400
    fields = resp.json()["error"]["fields"]
    assert set(fields) == {"steps.modalities", "steps.contacts", "steps.hours"}
    assert stored(db_url, offer_id).status == "draft"


# ------------------------------------------------------------------ concurrency
def test_stale_if_match_is_412_and_missing_is_428(api, kine, offer_id):
    _, etag = get(api, offer_id, kine)
    assert put_step(api, offer_id, "national", {}, kine, etag).status_code == 200
    stale = put_step(api, offer_id, "national", {}, kine, etag)
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "precondition_failed"
    missing = api.put(f"/api/idf/offers/{offer_id}/steps/national", token=kine, json={})
    assert missing.status_code == 428
    assert api.post(f"/api/idf/offers/{offer_id}/publish", token=kine).status_code == 428


def test_concurrent_writes_with_the_same_etag_one_wins_the_others_get_412(api, kine, offer_id, db_url):
    """Two browser tabs (here eight) save from the same read: the row lock makes exactly one win."""
    import eventlet

    _, etag = get(api, offer_id, kine)
    before = stored(db_url, offer_id).version
    pool = eventlet.GreenPool(8)
    statuses = sorted(pool.imap(lambda _: put_step(api, offer_id, "national", {}, kine, etag).status_code,
                                range(8)))
    assert statuses == [200] + [412] * 7
    assert stored(db_url, offer_id).version == before + 1


# ------------------------------------------------------------------ refused input, nothing stored
def assert_nothing_stored(db_url, offer_id, version):
    offer = stored(db_url, offer_id)
    assert offer.version == version
    assert offer.draft == {"steps": {}, "validated": []}


def test_phone_with_dots_is_400_naming_the_field_and_nothing_is_stored(api, kine, offer_id, db_url):
    _, etag = get(api, offer_id, kine)
    body = {"contacts": [{"channel": "phone", "value": "01.02.03.04.05", "visibility": "public"}]}
    resp = put_step(api, offer_id, "contacts", body, kine, etag)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "invalid_input"
    assert "ne pas mettre de points, ni d'espaces" in error["fields"]["contacts"]["0"]["value"][0]
    assert_nothing_stored(db_url, offer_id, 1)


def test_twenty_one_public_contacts_are_refused(api, kine, offer_id, db_url):
    _, etag = get(api, offer_id, kine)
    body = {"contacts": [{"channel": "phone", "value": f"01020304{i:02d}", "visibility": "public"}
                         for i in range(21)]}
    resp = put_step(api, offer_id, "contacts", body, kine, etag)
    assert resp.status_code == 400
    assert "20 contacts au plus" in resp.json()["error"]["fields"]["contacts"][0]
    assert_nothing_stored(db_url, offer_id, 1)


def test_home_visit_without_communes_is_refused(api, kine, offer_id, db_url):
    _, etag = get(api, offer_id, kine)
    resp = put_step(api, offer_id, "modalities", {"reception_modalities": ["05"]}, kine, etag)
    assert resp.status_code == 400
    assert list(resp.json()["error"]["fields"]) == ["intervention_communes"]
    assert_nothing_stored(db_url, offer_id, 1)


def test_a_second_temporary_closure_is_a_conflict(api, kine, offer_id, db_url):
    _, etag = get(api, offer_id, kine)
    first = {"start_date": "2099-07-01", "end_date": "2099-07-31", "comment": "Congés"}
    second = {"start_date": "2099-08-01", "end_date": "2099-08-15"}
    resp = put_step(api, offer_id, "hours", {"weekly": [], "temporary_closure": first}, kine, etag)
    assert resp.status_code == 200, resp.text
    etag = resp.headers["ETag"]
    resp = put_step(api, offer_id, "hours", {"weekly": [], "temporary_closure": [first, second]}, kine, etag)
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "conflict"
    assert "une seule saisie" in resp.json()["error"]["message"]
    offer = stored(db_url, offer_id)
    assert offer.version == 2 and offer.draft["steps"]["hours"]["temporary_closure"] == [first]


def test_deprecated_code_is_refused(api, kine, offer_id, db_url):
    _, etag = get(api, offer_id, kine)
    body = {**KINE_STEPS["description"], "operational_activities": ["339", "054"]}
    resp = put_step(api, offer_id, "description", body, kine, etag)
    assert resp.status_code == 400
    assert "obsolète" in resp.json()["error"]["fields"]["operational_activities"][0]
    assert_nothing_stored(db_url, offer_id, 1)


def test_national_data_cannot_be_written(api, kine, offer_id, db_url):
    _, etag = get(api, offer_id, kine)
    resp = put_step(api, offer_id, "national", {"acknowledged": True, "last_name": "AUTRE"}, kine, etag)
    assert resp.status_code == 400
    assert list(resp.json()["error"]["fields"]) == ["last_name"]
    assert_nothing_stored(db_url, offer_id, 1)


def test_unknown_step_and_malformed_body(api, kine, offer_id):
    _, etag = get(api, offer_id, kine)
    assert put_step(api, offer_id, "recap", {}, kine, etag).status_code == 400
    resp = api.put(f"/api/idf/offers/{offer_id}/steps/description", token=kine, data="{not json",
                   headers={"If-Match": etag, "Content-Type": "application/json"})
    assert resp.status_code == 400


# ------------------------------------------------------------------ who may do what
def test_another_professional_cannot_edit(api, tokens, offer_id, kine):
    sf = tokens("idf", "sf.demo")
    _, etag = get(api, offer_id, kine)
    resp = put_step(api, offer_id, "national", {}, sf, etag)
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "forbidden"
    # ... nor read its draft: an unpublished offer is not found for others.
    assert api.get(f"/api/idf/offers/{offer_id}", token=sf).status_code == 404


def test_anonymous_cannot_write(api, offer_id):
    resp = api.put(f"/api/idf/offers/{offer_id}/steps/national", json={}, headers={"If-Match": '"1-1"'})
    assert resp.status_code == 401


def test_token_of_another_region_cannot_read_idf_offers(api, tokens, offer_id):
    assert api.get(f"/api/idf/offers/{offer_id}", token=tokens("pdl", "kine.demo")).status_code == 403


def test_offer_of_another_region_is_not_found(api, kine, db_url):
    pdl_offer = make_offer(db_url, region="pdl", commune="44109", postal_code="44000", city="Nantes")
    assert api.get(f"/api/idf/offers/{pdl_offer}", token=kine).status_code == 404


def test_my_offers(api, kine, offer_id, tokens):
    resp = api.get("/api/idf/offers?mine=true&limit=200", token=kine)
    assert resp.status_code == 200, resp.text
    mine = resp.json()
    assert offer_id in [item["id"] for item in mine["items"]] or mine["total"] > 200
    sf_ids = [i["id"] for i in api.get("/api/idf/offers?mine=true&limit=200",
                                       token=tokens("idf", "sf.demo")).json()["items"]]
    assert offer_id not in sf_ids
    assert api.get("/api/idf/offers?limit=0", token=kine).status_code == 400
    assert api.get("/api/idf/offers").status_code == 401


# ------------------------------------------------------------------ pre-fill (several offers)
def test_a_second_offer_is_prefilled_from_the_first(api, kine, offer_id, db_url, rpps):
    fill(api, offer_id, kine)
    second = make_offer(db_url, rpps=rpps, owner_subject=subject_of(kine), commune="78118", city="Buchelay")
    _, etag = get(api, second, kine)
    resp = api.post(f"/api/idf/offers/{second}/prefill", token=kine, json={"from_offer_id": offer_id},
                    headers={"If-Match": etag})
    assert resp.status_code == 200, resp.text
    draft = resp.json()["draft"]
    assert draft["prefilled_from"] == offer_id
    assert draft["steps"]["contacts"]["contacts"][0]["value"] == "0203040506"
    assert "national" not in draft["steps"]  # each offer keeps its own national data
    assert draft["validated"] == []  # to be reviewed and validated step by step


def test_prefill_from_someone_elses_offer_is_forbidden(api, kine, db_url, tokens):
    sf = tokens("idf", "sf.demo")
    theirs = make_offer(db_url, owner_subject=subject_of(sf), unit_type="ROR-UO-SF", last_name="LUNE",
                        first_name="Zoé")
    fill(api, theirs, sf, {"national": {}})
    mine = make_offer(db_url, owner_subject=subject_of(kine))
    _, etag = get(api, mine, kine)
    resp = api.post(f"/api/idf/offers/{mine}/prefill", token=kine, json={"from_offer_id": theirs},
                    headers={"If-Match": etag})
    assert resp.status_code == 403
    bad = api.post(f"/api/idf/offers/{mine}/prefill", token=kine, json={"from_offer_id": "x"},
                   headers={"If-Match": etag})
    assert bad.status_code == 400 and "from_offer_id" in bad.json()["error"]["fields"]

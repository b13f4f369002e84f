"""« Personnes ressources » (guide-idf-kine-activation-recherche-anomalie): a kiné adds a trainee and a
colleague to her published offer; the public sees the trainee's public contact but not the colleague's
professional-only one; a logged-in professional sees both; the timer removes them after their period."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.helpers import sql
from tests.offers_support import complete_draft, fresh_rpps, make_offer, subject_of

pytestmark = pytest.mark.integration
REGION = "idf"


@pytest.fixture
def published_offer(api, tokens, db_url):
    owner = tokens(REGION, "kine.demo")
    offer_id = make_offer(db_url, owner_subject=subject_of(owner), draft=complete_draft())
    etag = api.get(f"/api/{REGION}/offers/{offer_id}", token=owner).headers["ETag"]
    resp = api.post(f"/api/{REGION}/offers/{offer_id}/publish", token=owner, headers={"If-Match": etag})
    assert resp.status_code == 200, resp.text
    return offer_id


def test_a_kine_adds_a_trainee_and_a_colleague_shown_per_visibility(api, tokens, db_url, published_offer,
                                                                    suite_config):
    owner, url = tokens(REGION, "kine.demo"), f"/api/{REGION}/offers/{published_offer}/resource-persons"
    today = date.today()
    trainee = api.post(url, token=owner, json={
        "kind": "trainee", "last_name": "Petit", "first_name": "Léa", "role": "Stagiaire 3e année",
        "starts_on": today.isoformat(), "ends_on": (today + timedelta(days=30)).isoformat(),
        "phone": "06 11 22 33 44", "contact_visibility": "public"})
    assert trainee.status_code == 201, trainee.text

    # A colleague with an RPPS: checked against the national data (Luhn, present, same name).
    colleague_rpps = fresh_rpps()
    make_offer(db_url, rpps=colleague_rpps, last_name="GRAND", first_name="Marc")
    wrong_name = api.post(url, token=owner, json={
        "kind": "colleague", "last_name": "Autre", "first_name": "Marc", "starts_on": today.isoformat(),
        "rpps": colleague_rpps})
    assert wrong_name.status_code == 400 and "rpps" in wrong_name.json()["error"]["fields"]
    bad_luhn = colleague_rpps[:-1] + str((int(colleague_rpps[-1]) + 1) % 10)
    assert api.post(url, token=owner, json={"kind": "colleague", "last_name": "Grand", "first_name": "Marc",
                                            "starts_on": today.isoformat(), "rpps": bad_luhn}).status_code == 400
    colleague = api.post(url, token=owner, json={
        "kind": "colleague", "last_name": "Grand", "first_name": "Marc", "starts_on": today.isoformat(),
        "rpps": colleague_rpps, "email": "marc.grand@example.org", "contact_visibility": "professional"})
    assert colleague.status_code == 201, colleague.text

    bad = api.post(url, token=owner, json={"kind": "cousin", "last_name": "X", "first_name": "Y",
                                           "starts_on": "2026-13-01", "ends_on": "2020-01-01"})
    assert bad.status_code == 400 and {"kind", "starts_on"} <= set(bad.json()["error"]["fields"])
    assert api.post(url, token=tokens(REGION, "sf.demo"), json={
        "kind": "trainee", "last_name": "Petit", "first_name": "Léa",
        "starts_on": today.isoformat()}).status_code == 403  # not her offer

    public = {p["last_name"]: p for p in api.get(url).json()["resource_persons"]}
    assert public["Petit"]["phone"] == "0611223344"
    assert public["Grand"]["email"] is None and public["Grand"]["rpps"] == colleague_rpps
    pro = {p["last_name"]: p for p in api.get(url, token=tokens(REGION, "sf.demo")).json()["resource_persons"]}
    assert pro["Grand"]["email"] == "marc.grand@example.org"
    sheet = api.get(f"/api/{REGION}/offers/{published_offer}").json()
    assert {p["last_name"] for p in sheet["resource_persons"]} == {"Petit", "Grand"}

    # FHIR: the colleague (checked RPPS) is a PractitionerRole of the offer, with her period; her
    # professional-only contact is left out of the public answer.
    fhir = f"/fhir/{REGION}/PractitionerRole?service=HealthcareService/{REGION}-{published_offer}"

    def colleague_role(token=None):
        bundle = api.get(fhir, token=token).json()
        return next(e["resource"] for e in bundle["entry"]
                    if e["resource"]["practitioner"]["identifier"]["value"] == "8" + colleague_rpps)

    public_role = colleague_role()
    assert public_role["period"] == {"start": today.isoformat()} and "telecom" not in public_role
    pro_role = colleague_role(tokens(REGION, "sf.demo"))
    assert [t["value"] for t in pro_role["telecom"]] == ["marc.grand@example.org"]

    # The timer's work: a period that ended yesterday is removed.
    from nameko.standalone.rpc import ClusterRpcProxy

    sql(db_url, "UPDATE offers.resource_persons SET ends_on = :d WHERE id = :i",
        d=today - timedelta(days=1), i=trainee.json()["id"])
    with ClusterRpcProxy(suite_config, timeout=30) as cluster:
        assert cluster.offers.expire_resource_persons() >= 1
    left = api.get(url).json()["resource_persons"]
    assert [p["last_name"] for p in left] == ["Grand"]

    removed = api.delete(f"{url}/{colleague.json()['id']}", token=owner)
    assert removed.status_code == 200 and api.get(url).json()["resource_persons"] == []
    assert api.delete(f"{url}/{colleague.json()['id']}", token=owner).status_code == 404

"""A kiné publishes; the national ROR (stand-in, a real HTTP server validating with fhir.resources) gets
her offer as FHIR resources exactly once, even when it was down; a connected tool reads and searches the
region's répertoire at /fhir/idf/ — Bundles, paging, incremental pulls, OperationOutcome for every error —
and an anonymous reader never sees the professionals' contacts."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import select

from services.common.db import session_scope
from services.offers import reference
from services.offers.fhir import national as national_push
from services.offers.models import NationalPush, Structure
from tests.helpers import sql
from tests.offers_support import complete_draft, make_offer, structure, subject_of

pytestmark = pytest.mark.integration

FHIR = "application/fhir+json"
PRO_PHONE, PUBLIC_PHONE = "0708091011", "0203040506"
COMMUNE = "78029"  # a commune no other test publishes in


@pytest.fixture
def kine(tokens):
    return tokens("idf", "kine.demo")  # per test: `tokens` renews it before it expires


def publish(api, token, offer_id) -> dict:
    etag = api.get(f"/api/idf/offers/{offer_id}", token=token).headers["ETag"]
    resp = api.post(f"/api/idf/offers/{offer_id}/publish", token=token, headers={"If-Match": etag})
    assert resp.status_code == 200, resp.text
    return resp.json()


def new_published(api, db_url, kine, commune=COMMUNE) -> int:
    city = reference.get_commune(commune)
    offer_id = make_offer(db_url, owner_subject=subject_of(kine), draft=complete_draft(), commune=commune,
                          postal_code=city.postal_codes[0], city=city.name)
    publish(api, kine, offer_id)
    return offer_id


def outcome(resp, status: int) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith(FHIR)
    body = resp.json()
    OperationOutcome.model_validate(body)
    return body


def telecoms(resource: dict) -> set[str]:
    return {sub["valueString"] for e in resource.get("extension") or [] if e["url"].endswith("healthcareservice-contact")
            for part in e["extension"] for sub in part.get("extension") or [] if sub["url"] == "telecomAddress"}


# ------------------------------------------------------------------ national push

def test_a_publication_reaches_the_national_ror_once(api, db_url, kine, national_ror):
    offer_id = new_published(api, db_url, kine)
    hs = national_ror.wait_for("HealthcareService", f"idf-{offer_id}")
    assert hs["active"] is True and hs["name"].startswith("Consultation kinésithérapie")
    assert PRO_PHONE in telecoms(hs)  # pushed with its confidentiality level, « Accès restreint »
    with session_scope(db_url) as session:
        rows = session.scalars(select(NationalPush).where(NationalPush.cause == f"offer:{offer_id}:published")).all()
        assert {r.resource_type for r in rows} == {"HealthcareService", "Organization", "Location", "PractitionerRole"}
        refs = [(r.resource_type, r.resource_id) for r in rows]
    for rtype, rid in refs:  # every resource of the publication, stored once
        national_ror.wait_for(rtype, rid)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with session_scope(db_url) as session:
            if all(r.status == "pushed" for r in session.scalars(select(NationalPush).where(
                    NationalPush.cause == f"offer:{offer_id}:published"))):
                break
        time.sleep(0.2)
    journal = [e for e in national_ror.journal() if e["id"].startswith(f"idf-{offer_id}")]
    hs_entries = [e for e in journal if e["type"] == "HealthcareService"]
    assert [e["outcome"] for e in hs_entries] == ["created"]
    role = national_ror.wait_for("PractitionerRole", refs[[t for t, _ in refs].index("PractitionerRole")][1])
    assert role["healthcareService"][0]["reference"] == f"HealthcareService/idf-{offer_id}"


def test_unpublication_pushes_an_inactive_service(api, db_url, kine, national_ror):
    offer_id = new_published(api, db_url, kine)
    national_ror.wait_for("HealthcareService", f"idf-{offer_id}")
    etag = api.get(f"/api/idf/offers/{offer_id}", token=kine).headers["ETag"]
    assert api.post(f"/api/idf/offers/{offer_id}/unpublish", token=kine, headers={"If-Match": etag}).status_code == 200
    national_ror.wait_for("HealthcareService", f"idf-{offer_id}", check=lambda r: r["active"] is False)
    gone = api.get(f"/fhir/idf/HealthcareService/idf-{offer_id}")
    outcome(gone, 410)


def test_national_ror_down_then_back_gets_everything_once(api, db_url, kine, national_ror):
    national_ror.stop()
    try:
        ids = [new_published(api, db_url, kine) for _ in range(3)]
        time.sleep(1.5)  # the relay tries and backs off
        with session_scope(db_url) as session:
            pending = session.scalars(select(NationalPush).where(
                NationalPush.cause.in_([f"offer:{i}:published" for i in ids]))).all()
            assert pending and all(r.status == "pending" for r in pending)
            assert max(r.attempts for r in pending) >= 1
    finally:
        national_ror.start()
    for offer_id in ids:
        national_ror.wait_for("HealthcareService", f"idf-{offer_id}", timeout=90)
    received = [e for e in national_ror.journal() if e["type"] == "HealthcareService"
                and e["id"] in {f"idf-{i}" for i in ids}]
    assert sorted(e["id"] for e in received) == sorted(f"idf-{i}" for i in ids)  # none twice


def test_a_push_sent_again_after_a_crash_is_recognised(db_url, national_ror, suite):
    """The relay PUT a row and died before recording it: the row is sent again with the same request id,
    and the national ROR stores it once (outcome `replay`)."""
    import requests

    site = structure(db_url, "site", f"EG REPLAY {uuid.uuid4().hex[:6]}", finess=str(uuid.uuid4().int)[:9])
    with session_scope(db_url) as session:
        national_push.enqueue_structure(session, site)
        rows = session.scalars(select(NationalPush).where(NationalPush.cause == f"structure:{site}")).all()
        first = rows[0]
        # what the dead relay had sent
        resp = requests.put(f"{national_ror.url}/{first.resource_type}/{first.resource_id}", json=first.body,
                            headers={"Content-Type": FHIR, "X-Request-Id": first.request_id}, timeout=5)
        assert resp.status_code == 201
        request_id, rtype, rid = first.request_id, first.resource_type, first.resource_id
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        entries = [e for e in national_ror.journal() if e["request_id"] == request_id]
        if len(entries) == 2:
            break
        time.sleep(0.1)
    assert [e["outcome"] for e in entries] == ["created", "replay"]
    assert national_ror.get(rtype, rid)["id"] == rid


def test_a_refused_resource_is_parked_and_the_queue_goes_on(db_url, national_ror, suite):
    site = structure(db_url, "site", f"EG PARK {uuid.uuid4().hex[:6]}")
    with session_scope(db_url) as session:
        good = national_push.exposure.structure_resources(session, session.get(Structure, site))
        broken = {**good[0], "id": f"idf-{site}-broken", "meta": {"profile": good[0]["meta"]["profile"]}}
        national_push.enqueue(session, "idf", [broken, *good], f"test-park:{site}")
    national_ror.wait_for("Location", f"idf-{site}")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with session_scope(db_url) as session:
            row = session.scalars(select(NationalPush).where(NationalPush.resource_id == f"idf-{site}-broken")).one()
            if row.status == "failed":
                break
        time.sleep(0.1)
    assert row.status == "failed" and row.last_status == 422 and "lastUpdated" in row.last_error


# ------------------------------------------------------------------ read API

def test_read_with_etag_last_modified_and_audience(api, db_url, kine, tokens):
    offer_id = new_published(api, db_url, kine)
    resp = api.get(f"/fhir/idf/HealthcareService/idf-{offer_id}")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith(FHIR)
    hs = resp.json()
    assert hs["meta"]["lastUpdated"] and resp.headers["ETag"] == f'W/"{hs["meta"]["versionId"]}"'
    assert resp.headers["Last-Modified"].endswith("GMT")
    assert PUBLIC_PHONE in telecoms(hs) and PRO_PHONE not in telecoms(hs)  # anonymous: patients' contacts only
    assert "telecom" not in hs  # the MSSanté box is for professionals
    pro = api.get(f"/fhir/idf/HealthcareService/idf-{offer_id}", token=tokens("idf", "validateur")).json()
    assert PRO_PHONE in telecoms(pro)
    assert api.get(f"/fhir/idf/HealthcareService/idf-{offer_id}",
                   headers={"If-None-Match": resp.headers["ETag"]}).status_code == 304
    other_region = api.get(f"/fhir/idf/HealthcareService/idf-{offer_id}", token=tokens("pdl", "validateur"))
    outcome(other_region, 403)
    outcome(api.get(f"/fhir/pdl/HealthcareService/idf-{offer_id}"), 404)  # ids are per region
    site_id = hs["location"][0]["reference"].split("/")[1]
    location = api.get(f"/fhir/idf/Location/{site_id}")
    assert location.status_code == 200 and location.json()["resourceType"] == "Location"
    org = api.get(f"/fhir/idf/{hs['providedBy']['reference']}")
    assert org.status_code == 200 and org.json()["resourceType"] == "Organization"
    roles = api.get(f"/fhir/idf/PractitionerRole?service=HealthcareService/idf-{offer_id}").json()
    Bundle.model_validate(roles)
    role_id = roles["entry"][0]["resource"]["id"]
    assert api.get(f"/fhir/idf/PractitionerRole/{role_id}").json()["code"][0]["coding"][0]["code"] == "70"


def test_search_pages_and_incremental_pulls(api, db_url, kine):
    since = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    ids = [new_published(api, db_url, kine) for _ in range(3)]
    city = quote(reference.get_commune(COMMUNE).name[:6].lower())
    url = (f"/fhir/idf/HealthcareService?location.address-city={city}&characteristic=32"
           f"&service-type=05&specialty=339&_lastUpdated=ge{since}&_count=2")
    first = api.get(url)
    assert first.status_code == 200, first.text
    bundle = first.json()
    Bundle.model_validate(bundle)
    assert bundle["type"] == "searchset" and bundle["total"] == 3 and len(bundle["entry"]) == 2
    nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"][0]
    second = api.get(nxt[nxt.index("/fhir/"):]).json()
    assert len(second["entry"]) == 1 and not [x for x in second["link"] if x["relation"] == "next"]
    got = [e["resource"]["id"] for e in bundle["entry"] + second["entry"]]
    assert got == [f"idf-{i}" for i in ids]  # oldest first: a puller resumes after the last it saw
    last = second["entry"][0]["resource"]["meta"]["lastUpdated"]
    assert api.get(f"/fhir/idf/HealthcareService?_lastUpdated=gt{last}&location.address-city={city}").json()["total"] == 0
    assert all(PRO_PHONE not in telecoms(e["resource"]) for e in bundle["entry"])
    postal = reference.get_commune(COMMUNE).postal_codes[0]
    by_code = api.get(f"/fhir/idf/HealthcareService?location.commune-cog={COMMUNE}"
                      f"&location.address-postalcode={postal[:2]}&_lastUpdated=ge{since}").json()
    assert by_code["total"] == 3
    elsewhere = api.get(f"/fhir/idf/HealthcareService?location.commune-cog=75056&_lastUpdated=ge{since}").json()
    assert elsewhere["total"] == 0
    none = api.get(f"/fhir/idf/HealthcareService?characteristic=nope&_lastUpdated=ge{since}").json()
    assert none["total"] == 0 and none.get("entry", []) == []


def test_organization_by_finess_and_locations_near(api, db_url):
    since = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    finess = str(uuid.uuid4().int)[:9]
    ej = structure(db_url, "legal_entity", "CH TEST FHIR", finess=finess)
    site = structure(db_url, "site", "SITE TEST FHIR", parent_id=ej)
    sql(db_url, "UPDATE offers.structures SET latitude = 48.9908, longitude = 1.7172 WHERE id = :id", id=site)
    found = api.get(f"/fhir/idf/Organization?identifier={finess}").json()
    assert found["total"] == 1 and found["entry"][0]["resource"]["id"] == f"idf-{ej}"
    by_system = api.get(f"/fhir/idf/Organization?identifier=http://finess.esante.gouv.fr|{finess}").json()
    assert by_system["total"] == 1
    by_commune = api.get(f"/fhir/idf/Location?commune-cog=78361&address-city=mantes-la&_lastUpdated=ge{since}").json()
    assert f"idf-{site}" in [e["resource"]["id"] for e in by_commune["entry"]]
    near = api.get("/fhir/idf/Location?near=48.99|1.72|2|km").json()
    Bundle.model_validate(near)
    ours = [e for e in near["entry"] if e["resource"]["id"] == f"idf-{site}"]
    assert ours and ours[0]["search"]["extension"][0]["valueDistance"]["value"] < 2
    far = api.get("/fhir/idf/Location?near=48.85|2.35|1").json()  # Paris: not Mantes
    assert all(e["resource"]["id"] != f"idf-{site}" for e in far.get("entry", []))


def test_metadata_is_a_capability_statement(api):
    resp = api.get("/fhir/idf/metadata")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith(FHIR)
    body = resp.json()
    assert body["resourceType"] == "CapabilityStatement" and body["fhirVersion"] == "4.0.1"
    assert {r["type"] for r in body["rest"][0]["resource"]} == {"HealthcareService", "Organization", "Location",
                                                                 "PractitionerRole"}


@pytest.mark.parametrize("path,status,field", [
    ("/fhir/idf/HealthcareService?_count=1000", 400, "_count"),
    ("/fhir/idf/HealthcareService?_count=abc", 400, "_count"),
    ("/fhir/idf/HealthcareService?colour=blue", 400, "colour"),
    ("/fhir/idf/HealthcareService?_lastUpdated=yesterday", 400, "_lastUpdated"),
    ("/fhir/idf/Location?near=48.9|1.7", 400, "near"),
    ("/fhir/idf/Location?address-postalcode=7820x", 400, "address-postalcode"),
    ("/fhir/idf/HealthcareService?characteristic=32&characteristic=05", 400, "characteristic"),
    ("/fhir/idf/Location?near=48.9|1.7|99999", 400, "near"),
    ("/fhir/idf/PractitionerRole", 400, "service"),
    ("/fhir/idf/Patient", 404, "type"),
    ("/fhir/idf/HealthcareService/idf-99999999999999", 404, "id"),
    ("/fhir/idf/HealthcareService/%00%ff", 404, "id"),
    ("/fhir/zz/metadata", 404, "region"),
    ("/fhir/idf/a/b/c", 404, "path"),
])
def test_every_error_is_an_operation_outcome(api, path, status, field):
    body = outcome(api.get(path), status)
    assert any(field in (issue.get("expression") or []) or field in issue.get("diagnostics", "")
               for issue in body["issue"]), body


def test_writes_are_refused_with_an_operation_outcome(api):
    outcome(api.post("/fhir/idf/HealthcareService", json={"resourceType": "HealthcareService"}), 405)
    outcome(api.request("DELETE", "/fhir/idf/HealthcareService/idf-1"), 405)

"""The guide's kiné, once published, as FHIR resources of the ANS ROR IG: every resource is valid FHIR
(fhir.resources) and meets the IG's cardinalities as the national stand-in checks them; patients never
see the professionals' contacts."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome

from services.common.errors import InvalidInput
from services.offers.fhir import exposure, mapping
from services.offers.fhir.contracts import operation_outcome
from services.offers.models import Offer, PractitionerAttachment, Professional, Structure
from tests.offers_support import complete_draft

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("national_server", ROOT / "deploy" / "national_server.py")
national_server = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(national_server)

WHEN = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def assert_valid(resource: dict) -> None:
    assert national_server.validate(resource) == [], resource


@pytest.fixture
def kine():
    ej = Structure(id=10, region="idf", kind="legal_entity", name="SCM KINE", finess="780000001",
                   created_at=WHEN, updated_at=WHEN, active=True)
    site = Structure(id=11, region="idf", kind="site", parent_id=10, name="Cabinet individuel", discipline="VIL",
                     address_line="9 R DE METZ", postal_code="78200", commune_insee="78361",
                     city="Mantes-la-Jolie", latitude=48.99, longitude=1.717, phone="0130000000",
                     finess="780000002", siret="12345678900011", created_at=WHEN, updated_at=WHEN, active=True)
    unit = Structure(id=12, region="idf", kind="unit", parent_id=11, name="Consultation kinésithérapie",
                     discipline="VIL", created_at=WHEN, updated_at=WHEN, active=True)
    draft = complete_draft()
    published = {step: content for step, content in draft["steps"].items() if step != "national"}
    published["hours"]["temporary_closure"] = [{"start_date": "2026-12-24", "end_date": "2027-01-02",
                                                "comment": "Congés"}]
    published["hours"]["exceptional_hours"] = []
    offer = Offer(id=7, region="idf", unit_id=12, unit_type="ROR-UO-KINE", care_mode="32",
                  name="Consultation kinésithérapie SOLEIL Paul", owner_rpps="10001234567", status="published",
                  published=published, published_at=WHEN, created_at=WHEN, version=3)
    professional = Professional(id=5, region="idf", rpps="10001234567", id_type="8", last_name="SOLEIL",
                                first_name="Paul", profession_code="70", profession_label="Masseur-Kinésithérapeute",
                                practice_mode_code="L", convention_sector="Secteur 1", accepts_vitale=True)
    return {"ej": ej, "site": site, "unit": unit, "offer": offer, "professional": professional}


def _contacts(resource: dict) -> list[str]:
    values = []
    for e in resource.get("extension") or []:
        if e["url"].endswith("ror-healthcareservice-contact"):
            for part in e["extension"]:
                for sub in part.get("extension") or []:
                    if sub["url"] == "telecomAddress":
                        values.append(sub["valueString"])
    return values + [t["value"] for t in resource.get("telecom") or []]


def test_published_kine_offer_is_a_valid_ror_healthcare_service(kine):
    hs = mapping.healthcare_service(kine["offer"], kine["unit"], kine["site"], kine["site"], public=False)
    assert_valid(hs)
    assert hs["id"] == "idf-7" and hs["active"] is True
    assert hs["meta"]["lastUpdated"] == "2026-11-30T10:00:00.000Z"
    assert hs["meta"]["tag"][0]["code"] == "11"  # Île-de-France, the source region
    assert hs["type"][0]["coding"][0]["code"] == "05"  # champ d'activité Ville
    assert [s["coding"][0]["code"] for s in hs["specialty"]] == ["428", "339", "425", "421"]
    care_mode = hs["characteristic"][0]["coding"][0]
    assert (care_mode["code"], care_mode["system"]) == ("32", mapping.nos("TRE_R213-ModePriseEnCharge"))
    acts = [c for c in hs["characteristic"] if c.get("extension")]
    assert {c["extension"][0]["valueCode"] for c in acts} == {"specificAct"}
    assert all(c["coding"][0]["system"].startswith(mapping.LOCAL_SYSTEM) for c in acts)  # ROR- codes stay local
    age = [e for e in hs["extension"] if e["url"].endswith("patient-type")][0]["extension"][0]["valueRange"]
    assert (age["low"]["value"], age["high"]["value"]) == (18, 109)
    monday = hs["availableTime"][0]
    assert monday["daysOfWeek"] == ["mon"] and monday["availableStartTime"] == "14:30:00"
    assert monday["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "07"  # sur RDV
    assert hs["notAvailable"][0]["during"] == {"start": "2026-12-24", "end": "2027-01-02"}
    assert "0708091011" in _contacts(hs)  # the professionals' number, level "Accès restreint"
    assert hs["providedBy"]["reference"] == "Organization/idf-11" and hs["location"][0]["reference"] == "Location/idf-11"


def test_patients_never_see_professional_contacts(kine):
    hs = mapping.healthcare_service(kine["offer"], kine["unit"], kine["site"], kine["site"], public=True)
    assert_valid(hs)
    contacts = _contacts(hs)
    assert "0203040506" in contacts and "contact.mk@demo.demo.fr" in contacts
    assert not {"0708091011", "prenom.nom@masseur-kinesitherapeute.mssante.fr", "https://tx.example.fr/mk"} & set(contacts)
    levels = {sub["valueCodeableConcept"]["coding"][0]["code"]
              for e in hs["extension"] if e["url"].endswith("ror-healthcareservice-contact")
              for sub in e["extension"] if sub["url"].endswith("ror-confidentiality-level")}
    assert levels == {"1"}


def test_version_changes_with_content_only(kine):
    first = mapping.healthcare_service(kine["offer"], kine["unit"], kine["site"], kine["site"], public=True)
    again = mapping.healthcare_service(kine["offer"], kine["unit"], kine["site"], kine["site"], public=True)
    assert first["meta"]["versionId"] == again["meta"]["versionId"]
    kine["offer"].name = "Cabinet de kinésithérapie SOLEIL"
    changed = mapping.healthcare_service(kine["offer"], kine["unit"], kine["site"], kine["site"], public=True)
    assert changed["meta"]["versionId"] != first["meta"]["versionId"]


def test_unpublished_offer_is_inactive_and_dated_by_its_withdrawal(kine):
    kine["offer"].status, kine["offer"].unpublished_at = "unpublished", datetime(2026, 12, 1, tzinfo=UTC)
    hs = mapping.healthcare_service(kine["offer"], kine["unit"], kine["site"], kine["site"], public=True)
    assert_valid(hs)
    assert hs["active"] is False and hs["meta"]["lastUpdated"].startswith("2026-12-01")


def test_organizations_location_and_practitioner_role_are_valid(kine):
    ej, site = mapping.organization(kine["ej"]), mapping.organization(kine["site"])
    for resource in (ej, site):
        assert_valid(resource)
    assert site["partOf"]["reference"] == "Organization/idf-10"
    assert {i["system"]: i["value"] for i in site["identifier"]}["http://finess.esante.gouv.fr"] == "780000002"
    loc = mapping.location(kine["site"])
    assert_valid(loc)
    assert loc["position"] == {"latitude": 48.99, "longitude": 1.717}
    assert loc["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "78361"
    role = mapping.practitioner_role(kine["offer"], kine["professional"], None, kine["site"], kine["site"])
    assert_valid(role)
    assert role["id"] == "idf-7-5" and role["practitioner"]["identifier"]["value"] == "810001234567"
    attached = PractitionerAttachment(id=1, region="idf", unit_id=12, professional_id=5, profession_code="10",
                                      profession_label="Médecin", specialty_code="SM26",
                                      specialty_label="Qualifié en Médecine Générale", created_at=WHEN)
    kine["professional"].practice_mode_code = None
    hospital = mapping.practitioner_role(kine["offer"], kine["professional"], attached, kine["site"], kine["site"])
    assert_valid(hospital)
    mode = [e for e in hospital["extension"] if e["url"].endswith("unit-exercise-mode")][0]
    assert mode["valueCodeableConcept"]["coding"][0]["code"] == "S"
    assert hospital["specialty"][1]["coding"][0]["code"] == "SM26"


def test_stand_in_refuses_what_the_ig_requires(kine):
    hs = mapping.healthcare_service(kine["offer"], kine["unit"], kine["site"], kine["site"], public=True)
    broken = {**hs, "meta": {k: v for k, v in hs["meta"].items() if k != "lastUpdated"}}
    assert "meta.lastUpdated: required (1..1)" in national_server.validate(broken)
    assert national_server.validate({**hs, "extension": []})  # patient type, creation date… missing
    assert national_server.validate({**hs, "availableTime": [{"availableStartTime": "25:00:00"}]})


def test_bundle_capability_statement_and_operation_outcome_are_valid():
    bundle = mapping.searchset([], 0, "http://h/fhir/idf/HealthcareService?_count=200&_offset=0", None,
                               "http://h/fhir/idf")
    Bundle.model_validate(bundle)
    CapabilityStatement.model_validate(mapping.capability_statement("idf", "http://h/fhir/idf"))
    outcome = operation_outcome(400, "Paramètre invalide", {"_count": "1000"})
    OperationOutcome.model_validate(outcome)
    assert outcome["issue"][0]["expression"] == ["_count"]


@pytest.mark.parametrize("raw,prefix,start,end", [
    ("gt2026-11-30T10:00:00Z", "gt", "2026-11-30T10:00:00+00:00", "2026-11-30T10:00:01+00:00"),
    ("ge2026-11-30", "ge", "2026-11-30T00:00:00+00:00", "2026-12-01T00:00:00+00:00"),
    ("2026-11", "eq", "2026-11-01T00:00:00+00:00", "2026-12-01T00:00:00+00:00"),
    ("lt2026-11-30T10:00:00.123 01:00", "lt", "2026-11-30T10:00:00.123000+01:00", "2026-11-30T10:00:00.124000+01:00"),
])
def test_last_updated_values(raw, prefix, start, end):
    got = exposure.parse_instant("_lastUpdated", raw)
    assert (got[0], got[1].isoformat(), got[2].isoformat()) == (prefix, start, end)


@pytest.mark.parametrize("raw", ["yesterday", "gt2026-13-01", "zz2026", "gt2026-11-30T25:00"])
def test_bad_last_updated_names_the_parameter(raw):
    with pytest.raises(InvalidInput) as err:
        exposure.parse_instant("_lastUpdated", raw)
    assert "_lastUpdated" in err.value.fields


@pytest.mark.parametrize("raw", ["48.9|1.7", "a|b|c", "95|1|5", "48|1|0", "48|1|5|mi", "48|1|5000", "nan|1|5"])
def test_bad_near_names_the_parameter(raw):
    with pytest.raises(InvalidInput) as err:
        exposure.parse_near(raw)
    assert "near" in err.value.fields


def test_distance():
    # Mantes-la-Jolie → Paris (Notre-Dame): about 48 km
    assert 45 < exposure.distance_km(48.9908, 1.7172, 48.853, 2.3499) < 52

"""Test helpers of the offers side: liberal offers created directly in the test database (the demo data
comes from the RPPS importer), and complete, valid bodies for the six steps (the guides' examples).

Offers are made for fresh RPPS numbers and given to a demo user by Keycloak subject (as `attach_owner`
does when the ROR account is created): the demo users' own RPPS keep exactly the offers the demo import
creates for them, which other tests rely on."""

from __future__ import annotations

import uuid

import jwt
from sqlalchemy import select

from services.common.db import session_scope
from services.offers.models import Offer, Professional, Structure
from services.offers.steps import STEPS, validate_step
from tests import helpers

UNIT_LABELS = {"ROR-UO-KINE": "Consultation kinésithérapie", "ROR-UO-SF": "Consultation sage femme"}


def fresh_rpps() -> str:
    return helpers.fresh_rpps("18")


def subject_of(token: str) -> str:
    """Keycloak subject of an access token (already verified by the gateway in the tests that use it)."""
    return jwt.decode(token, options={"verify_signature": False})["sub"]


def make_offer(db_url: str, rpps: str | None = None, owner_subject: str | None = None, region: str = "idf",
               last_name: str = "SOLEIL", first_name: str = "Paul", unit_type: str = "ROR-UO-KINE",
               commune: str = "78361", postal_code: str = "78200", city: str = "Mantes-la-Jolie",
               parent_id: int | None = None, draft: dict | None = None) -> int:
    """A liberal practice (EG) with one UO and its draft offer, as the RPPS import creates them."""
    rpps = rpps or fresh_rpps()
    key = uuid.uuid4().hex
    label = UNIT_LABELS.get(unit_type, "Consultation")
    with session_scope(db_url) as session:
        professional = session.scalars(select(Professional).where(
            Professional.region == region, Professional.rpps == rpps)).first()
        if professional is None:
            session.add(Professional(region=region, rpps=rpps, civility="M.", last_name=last_name,
                                     first_name=first_name, profession_code="70",
                                     profession_label="Masseur-Kinésithérapeute", practice_mode_code="L",
                                     convention_sector="Secteur 1", accepts_vitale=True,
                                     email=f"{rpps}@example.org"))
        site = Structure(region=region, kind="site", parent_id=parent_id, source="rpps",
                         source_key=f"test:site:{key}", rpps=rpps, name="Cabinet individuel",
                         type_label="Cabinet individuel", discipline="VIL", address_line="9 R DE METZ",
                         postal_code=postal_code, commune_insee=commune, departement=commune[:2], city=city)
        session.add(site)
        session.flush()
        unit = Structure(region=region, kind="unit", parent_id=site.id, source="rpps",
                         source_key=f"test:unit:{key}", rpps=rpps, name=f"{label} {last_name} {first_name}",
                         discipline="VIL", postal_code=postal_code, commune_insee=commune,
                         departement=commune[:2], city=city)
        session.add(unit)
        session.flush()
        offer = Offer(
            region=region, unit_id=unit.id, unit_type=unit_type, care_mode="32",
            name=f"{label} {last_name} {first_name}", owner_rpps=rpps, owner_subject=owner_subject,
            commune_insee=commune,
            departement=commune[:2],
            national={"source": "RPPS", "rpps": rpps, "civility": "M.", "last_name": last_name,
                      "first_name": first_name, "profession": {"code": "70", "label": "Masseur-Kinésithérapeute"},
                      "convention_sector": "Secteur 1", "accepts_vitale": True,
                      "address": {"line": "9 R DE METZ", "postal_code": postal_code, "city": city,
                                  "commune_insee": commune}},
            draft=draft or {"steps": {}, "validated": []},
        )
        session.add(offer)
        session.flush()
        return offer.id


def structure(db_url: str, kind: str, name: str, region: str = "idf", parent_id: int | None = None,
              departement: str = "78", discipline: str | None = "MCO", finess: str | None = None) -> int:
    with session_scope(db_url) as session:
        node = Structure(region=region, kind=kind, parent_id=parent_id, source="finess" if finess else "ror",
                         source_key=None if finess else f"test:{kind}:{uuid.uuid4().hex}", finess=finess,
                         name=name, discipline=discipline, departement=departement,
                         commune_insee="78361" if departement == "78" else None)
        session.add(node)
        session.flush()
        return node.id


# The kinésithérapeute of the IDF guide (part III recap), step by step.
KINE_STEPS = {
    "national": {"acknowledged": True},
    "description": {
        "age_min": 18, "age_max": 109,
        "operational_activities": ["428", "339", "425", "421"],
        "specific_acts_in_office": ["ROR-A101", "ROR-A105", "ROR-A102", "ROR-A104"],
        "specific_acts_outside_office": [],
        "equipments": ["ROR-E001", "098"],
        "specific_competences": [],
        "place_accessibility": "conforme",
        "comment": None,
    },
    "modalities": {"reception_modalities": ["05"], "intervention_communes": ["78029", "78402"]},
    "contacts": {"contacts": [
        {"channel": "phone", "purpose": "Prise de rendez-vous", "value": "0203040506", "visibility": "public"},
        {"channel": "phone", "purpose": "Usage professionnel", "value": "0708091011",
         "visibility": "professional"},
        {"channel": "mssante", "value": "prenom.nom@masseur-kinesitherapeute.mssante.fr",
         "visibility": "professional"},
        {"channel": "email", "purpose": "Prise de RDV", "value": "contact.mk@demo.demo.fr", "visibility": "public"},
        {"channel": "url_appointment", "value": "https://rdv.example.fr/mk", "visibility": "public"},
        {"channel": "url_teleexpertise", "value": "https://tx.example.fr/mk", "visibility": "professional"},
    ]},
    "hours": {"weekly": [
        {"day": "monday", "start": "14:30", "end": "19:00", "kind": "appointment"},
        {"day": "tuesday", "start": "08:30", "end": "13:00", "kind": "home_visit"},
        {"day": "tuesday", "start": "14:30", "end": "19:00", "kind": "appointment"},
        {"day": "wednesday", "start": "09:30", "end": "12:30", "kind": "appointment"},
        {"day": "thursday", "start": "14:30", "end": "19:00", "kind": "home_visit"},
    ]},
}


def complete_draft(steps: dict | None = None) -> dict:
    """A draft whose five steps are validated (the guide's kiné), ready for step 6."""
    steps = steps or KINE_STEPS
    return {"steps": {step: validate_step(step, body) for step, body in steps.items()},
            "validated": [s for s in STEPS if s in steps]}

"""Test helpers of the dossiers collaboratifs: a fresh CPTS (EJ → EG) per test with an habilitation for a
demo user, and the bodies of the CPTS guide's sheets."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import UTC, datetime

from services.common.db import session_scope
from services.offers.models import Offer, Structure
from services.offers.steps import STEPS, validate_step

CPTS_UNIT_TYPE = "ROR-UO-CPTS"
# "Coordination de soins non-programmés", "Orientation vers un médecin traitant acceptant de nouveaux patients"
CPTS_ACTIVITIES = ["475", "471"]

EG_CONTACTS = {"phone": "0139633000", "email": "contact@cpts-test.example.fr",
               "website": "https://www.cpts-test.example.fr"}


def cpts_unit_data(name: str) -> dict:
    return {
        "name": name,
        "email": "cpts@grandversailles.example.fr",
        "description": {"age_min": 0, "age_max": 150, "operational_activities": CPTS_ACTIVITIES},
        "modalities": {"intervention_communes": ["78646", "78117", "78620"]},  # Versailles, Buc, Toussus
        "contacts": {"contacts": [{"channel": "email", "purpose": "Secrétariat - Accueil",
                                   "value": "cpts@grandversailles.example.fr", "visibility": "public"},
                                  {"channel": "phone", "value": "0139000000", "visibility": "professional"}]},
    }


def new_cpts(db_url: str, region: str = "idf", name: str | None = None, with_unit: bool = False) -> dict:
    """A CPTS as the répertoire knows it before its first description: EJ → EG, no unit (or one UO with a
    published offer when `with_unit`)."""
    key = uuid.uuid4().hex[:8]
    name = name or f"CPTS TEST {key.upper()}"
    with session_scope(db_url) as session:
        ej = Structure(region=region, kind="legal_entity", source="ror", source_key=f"test:cpts-ej:{key}",
                       name=name, discipline="VIL", departement="78", commune_insee="78646")
        session.add(ej)
        session.flush()
        eg = Structure(region=region, kind="site", parent_id=ej.id, source="ror", source_key=f"test:cpts-eg:{key}",
                       name=name, type_label="CPTS (essai)", discipline="VIL", departement="78", commune_insee="78646",
                       postal_code="78000", city="Versailles", address_line="1 AV DE PARIS")
        session.add(eg)
        session.flush()
        made = {"ej": ej.id, "eg": eg.id, "name": name}
        if with_unit:
            unit = Structure(region=region, kind="unit", parent_id=eg.id, source="ror",
                             source_key=f"test:cpts-uo:{key}", name=f"{name} UO", discipline="VIL",
                             departement="78", commune_insee="78646")
            session.add(unit)
            session.flush()
            content = {k: validate_step(k, v) for k, v in cpts_unit_data(name).items() if k in STEPS}
            offer = Offer(region=region, unit_id=unit.id, unit_type=CPTS_UNIT_TYPE, name=unit.name, status="published",
                          published=content, draft={"steps": content, "validated": list(content)},
                          published_at=datetime.now(UTC), commune_insee="78646", departement="78")
            session.add(offer)
            session.flush()
            made.update(unit=unit.id, offer=offer.id)
        return made


@contextmanager
def habilitation(api, tokens, region: str, username: str, role: str, structure_id: int):
    granted = api.post(f"/api/{region}/habilitations", token=tokens(region, "admin"),
                       json={"username": username, "role": role, "structure_id": structure_id})
    if granted.status_code == 409:  # granted before (e.g. by a walkthrough on this database): keep it
        yield None
        return
    assert granted.status_code == 201, granted.text
    try:
        yield granted.json()
    finally:
        api.delete(f"/api/{region}/habilitations/{granted.json()['id']}", token=tokens(region, "admin"))

"""What the anomalies service needs to know about the répertoire (plain module, no nameko): the sheet an
anomaly is reported on, and the facts its rules engine checks. The anomalies service never reads these
tables; it asks over RPC (offers.quality_rpc)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.actor import Actor
from services.common.errors import Forbidden, InvalidInput, NotFound
from services.offers import access, reference
from services.offers.models import Offer, PractitionerAttachment, Professional, Structure
from services.offers.steps import public_contacts

MAX_FACTS = 10000  # per kind of fact and scan: a backlog beyond that waits for the next period
# Codes of the published description and modalities, by nomenclature, and their element path.
CODED_FIELDS = (
    ("description", "operational_activities", "operational_activities"),
    ("description", "specific_acts_in_office", "specific_acts"),
    ("description", "specific_acts_outside_office", "specific_acts"),
    ("description", "equipments", "equipments"),
    ("description", "specific_competences", "specific_competences"),
    ("modalities", "reception_modalities", "reception_modalities"),
)


class Tree:
    """Parent links of a region's structures, loaded once per call: lineage without one query per level."""

    def __init__(self, session: Session, region: str):
        rows = session.execute(select(Structure.id, Structure.parent_id, Structure.name)
                               .where(Structure.region == region)).all()
        self.parent = {r.id: r.parent_id for r in rows}
        self.name = {r.id: r.name for r in rows}

    def lineage(self, structure_id: int | None) -> list[int]:
        ids: list[int] = []
        current = structure_id
        while current is not None and current not in ids and len(ids) < 16:
            ids.append(current)
            current = self.parent.get(current)
        return ids

    def root_name(self, structure_id: int) -> str | None:
        path = self.lineage(structure_id)
        return self.name.get(path[-1]) if path else None


def _offer_target(offer: Offer, path: list[int]) -> dict:
    return {"kind": "offer", "id": offer.id, "label": offer.name, "level": "unit", "structure_path": path,
            "departement": offer.departement, "owner_subject": offer.owner_subject, "owner_rpps": offer.owner_rpps,
            "owner_label": offer.owner_username or offer.name}


def _structure_target(s: Structure, path: list[int], offer: Offer | None = None, root_name: str | None = None) -> dict:
    """A structure's sheet; its owner is the offer's (a liberal UO) or whoever holds a habilitation on
    the structure or an ancestor, named after the top of its tree (the EJ)."""
    return {"kind": "structure", "id": s.id, "label": s.name, "level": s.kind, "structure_path": path,
            "departement": s.departement, "owner_subject": offer.owner_subject if offer else None,
            "owner_rpps": (offer.owner_rpps if offer else None) or s.rpps,
            "owner_label": (offer.owner_username if offer else None) or root_name or s.name}


def anomaly_target(session: Session, region: str, kind: str, target_id: int | None, actor: Actor | None,
                   field: str | None = None) -> dict:
    """The sheet an anomaly is reported on, as the anomalies service stores it."""
    if kind == "offer":
        if target_id is None:
            raise InvalidInput("Offre manquante", {"target.id": "required"})
        offer = access.load_offer(session, region, int(target_id))
        if offer.status != "published" and not access.can_edit(session, actor, offer) and not (
                actor and actor.is_team):
            raise NotFound("Offre introuvable", {"target.id": f"no published offer {target_id}"})
        return _offer_target(offer, access.lineage(session, offer.unit_id))
    if kind == "structure":
        if target_id is None:
            raise InvalidInput("Structure manquante", {"target.id": "required"})
        s = session.scalars(select(Structure).where(Structure.id == int(target_id), Structure.region == region,
                                                    Structure.active.is_(True))).first()
        if s is None:
            raise NotFound("Structure introuvable", {"target.id": f"no structure {target_id} in region {region}"})
        offer = session.scalars(select(Offer).where(Offer.unit_id == s.id)).first() if s.kind == "unit" else None
        path = access.lineage(session, s.id)
        root = session.scalar(select(Structure.name).where(Structure.id == path[-1]))
        return _structure_target(s, path, offer, root)
    if kind == "national":
        return _national_target(session, region, target_id, actor, field)
    raise InvalidInput("Type de cible inconnu", {"target.kind": "offer, structure or national"})


def _national_target(session: Session, region: str, offer_id: int | None, actor: Actor | None,
                     field: str | None) -> dict:
    """A professional's own national data: from one of their offers (step 1) or their account (RPPS)."""
    if actor is None:
        raise Forbidden("Connectez-vous pour déclarer une anomalie sur vos données nationales",
                        {"target.kind": "national data anomalies need a logged-in professional"})
    if offer_id is not None:
        offer = access.load_offer(session, region, int(offer_id))
        if not access.is_owner(actor, offer):
            raise Forbidden("Vous ne pouvez déclarer une anomalie que sur vos propres données nationales",
                            {"target.id": "not your offer"})
        national = offer.national or {}
        return {**_offer_target(offer, access.lineage(session, offer.unit_id)), "kind": "national",
                "label": f"Données nationales — {offer.name}",
                "profession_code": (national.get("profession") or {}).get("code"),
                "current_value": _value_at(national, field)}
    if not actor.rpps:
        raise InvalidInput("Votre compte n'a pas de numéro RPPS : indiquez l'offre concernée",
                           {"target.id": "required (your account carries no RPPS)"})
    person = session.scalars(select(Professional).where(Professional.region == region,
                                                        Professional.rpps == actor.rpps)).first()
    if person is None:
        raise NotFound("Aucune donnée nationale pour votre RPPS dans cette région", {"target.id": actor.rpps})
    name = " ".join(x for x in (person.first_name, person.last_name) if x)
    record = {"rpps": person.rpps, "last_name": person.last_name, "first_name": person.first_name,
              "civility": person.civility, "email": person.email, "phone": person.phone,
              "profession": {"code": person.profession_code, "label": person.profession_label},
              "convention_sector": person.convention_sector}
    return {"kind": "national", "id": None, "label": f"Données nationales RPPS {person.rpps} — {name}",
            "level": "professional", "structure_path": [], "departement": None,
            "owner_subject": actor.subject, "owner_rpps": person.rpps, "owner_label": name,
            "profession_code": person.profession_code, "current_value": _value_at(record, field)}


def _value_at(data: dict, path: str | None) -> str | None:
    if not path:
        return None
    current = data
    for part in [p for p in path.split(".") if p and p != "national"]:
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    if isinstance(current, dict):
        return ", ".join(str(v) for v in current.values() if v not in (None, ""))
    return None if current is None else str(current)


def quality_facts(session: Session, region: str, stale_before: datetime, today: date | None = None) -> dict:
    """Facts the anomalies rules engine checks, each with the target sheet it concerns."""
    tree = Tree(session, region)
    facts: dict[str, list[dict]] = {"deprecated_codes": [], "no_patient_contact": [], "stale": [],
                                    "units_without_hours": []}
    published = session.scalars(select(Offer).where(Offer.region == region, Offer.status == "published")
                                .order_by(Offer.id)).all()
    for offer in published:
        content = offer.published or {}
        target = _offer_target(offer, tree.lineage(offer.unit_id))
        codes = []
        for step, key, nomenclature in CODED_FIELDS:
            for code in (content.get(step) or {}).get(key) or []:
                concept = reference.get_concept(nomenclature, code)
                if concept is not None and concept.status(today) == reference.DEPRECATED:
                    codes.append({"nomenclature": nomenclature, "code": code, "label": concept.label,
                                  "path": f"{step}.{key}"})
        if codes:
            facts["deprecated_codes"].append({"target": target, "codes": codes})
        if not public_contacts((content.get("contacts") or {}).get("contacts") or []):
            facts["no_patient_contact"].append({"target": target})
        if offer.published_at is not None and offer.published_at < stale_before:
            facts["stale"].append({"target": target, "updated_at": offer.published_at.isoformat()})
    offer_units = {o.unit_id for o in published}
    stale_structures = session.scalars(
        # structures the ROR itself maintains (FINESS / RPPS rows are refreshed by their imports)
        select(Structure).where(Structure.region == region, Structure.active.is_(True), Structure.source == "ror",
                                Structure.updated_at < stale_before, Structure.id.not_in(offer_units) if offer_units
                                else Structure.id.is_not(None))
        .order_by(Structure.id).limit(MAX_FACTS)).all()
    facts["stale"].extend({"target": _structure_target(s, tree.lineage(s.id), root_name=tree.root_name(s.id)),
                           "updated_at": s.updated_at.isoformat()} for s in stale_structures)
    staffed = session.execute(
        select(PractitionerAttachment.unit_id, func.count()).where(PractitionerAttachment.region == region)
        .group_by(PractitionerAttachment.unit_id)).all()
    for unit_id, count in staffed:
        offer = session.scalars(select(Offer).where(Offer.unit_id == unit_id)).first()
        if offer is not None and _has_hours(offer):
            continue
        unit = session.get(Structure, unit_id)
        if unit is None or not unit.active:
            continue
        facts["units_without_hours"].append(
            {"target": _structure_target(unit, tree.lineage(unit.id), offer, tree.root_name(unit.id)),
             "practitioners": count})
    return {key: values[:MAX_FACTS] for key, values in facts.items()}


def _has_hours(offer: Offer) -> bool:
    for content in ((offer.published or {}), ((offer.draft or {}).get("steps") or {})):
        if ((content.get("hours") or {}).get("weekly") or []):
            return True
    return False

"""Life of an offer: who may read / edit it, saving a step as a draft, publication (step 6),
unpublication, pre-filling from another offer, and the views given to each audience.

Plain module (SQLAlchemy session passed in, no nameko). Every write checks the If-Match version under a
row lock, bumps the version and records its event in the outbox in the caller's transaction, so the
change and its event are committed together or not at all.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.common import outbox
from services.common.actor import Actor
from services.common.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
)
from services.common.events import make_event
from services.offers import reference, steps
from services.offers.fhir import national
from services.offers.models import Offer, Outbox, Structure

EDITOR_ROLES = ("structure_editor", "directeur")
COPYABLE_STEPS = ("description", "modalities", "contacts", "hours")  # pre-fill never copies national data
OWNER, TEAM, PROFESSIONAL, PUBLIC = "owner", "team", "professional", "public"


def utcnow() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------ loading and access

def load_offer(session: Session, region: str, offer_id: int, for_update: bool = False) -> Offer:
    stmt = select(Offer).where(Offer.id == offer_id, Offer.region == region)
    if for_update:
        stmt = stmt.with_for_update()
    offer = session.scalars(stmt).first()
    if offer is None:
        raise NotFound("Offre introuvable", {"offer_id": f"no offer {offer_id} in region {region}"})
    return offer


def lineage(session: Session, structure_id: int | None) -> list[int]:
    """`structure_id` and its ancestors, nearest first (the tree is at most six levels deep)."""
    ids: list[int] = []
    current = structure_id
    while current is not None and current not in ids and len(ids) < 16:
        ids.append(current)
        current = session.scalar(select(Structure.parent_id).where(Structure.id == current))
    return ids


def is_owner(actor: Actor | None, offer: Offer) -> bool:
    if actor is None:
        return False
    return bool((offer.owner_subject and actor.subject == offer.owner_subject)
                or (offer.owner_rpps and actor.rpps and actor.rpps == offer.owner_rpps))


def can_edit(session: Session, actor: Actor | None, offer: Offer) -> bool:
    if actor is None or actor.region != offer.region:
        return False
    if is_owner(actor, offer):
        return True
    return actor.has_role_on(EDITOR_ROLES, lineage(session, offer.unit_id))


def audience(session: Session, actor: Actor | None, offer: Offer) -> str:
    """Which view of `offer` the actor gets."""
    if actor is None or actor.region != offer.region:
        return PUBLIC
    if can_edit(session, actor, offer):
        return OWNER
    if actor.is_team:
        return TEAM
    return PROFESSIONAL


def require_editor(session: Session, actor: Actor | None, offer: Offer) -> None:
    if not can_edit(session, actor, offer):
        raise Forbidden("Vous ne pouvez pas modifier cette offre",
                        {"offer_id": "only its owner or an editor of its structure may change it"})


def check_version(offer: Offer, if_match: str | None) -> None:
    """If-Match carries the ETag read with the offer: `"<id>-<version>"` (quotes optional)."""
    if not if_match:
        raise PreconditionRequired("En-tête If-Match requis (ETag de la version lue)", {"If-Match": "missing"})
    value = if_match.strip().removeprefix("W/").strip('"')
    offer_part, _, version_part = value.rpartition("-")
    if not version_part.isdigit() or (offer_part and offer_part != str(offer.id)):
        raise PreconditionFailed("En-tête If-Match invalide", {"If-Match": f"expected {offer.etag}"})
    if int(version_part) != offer.version:
        raise PreconditionFailed(
            "La fiche a été modifiée entre-temps : rechargez-la avant de l'enregistrer",
            {"If-Match": f"stale version {version_part}, current is {offer.etag}"})


def _touch(offer: Offer) -> None:
    offer.version += 1
    offer.updated_at = utcnow()


def _actor_name(actor: Actor | None) -> str | None:
    return actor.subject if actor else None


# ------------------------------------------------------------------ writes

def _draft(offer: Offer) -> dict:
    draft = copy.deepcopy(offer.draft or {})
    draft.setdefault("steps", {})
    draft.setdefault("validated", [])
    return draft


def save_step(session: Session, offer: Offer, step: str, data, actor: Actor, if_match: str | None) -> Offer:
    """Validate one step and save it in the draft (validated). A published offer stays public, with
    its published version, until the draft is published again."""
    require_editor(session, actor, offer)
    check_version(offer, if_match)
    draft = _draft(offer)
    previous = draft["steps"].get(step) or ((offer.published or {}).get(step) or {})
    cleaned = steps.validate_step(step, data, previous=previous)
    draft["steps"][step] = cleaned
    if step not in draft["validated"]:
        draft["validated"].append(step)
    draft["validated"] = [s for s in steps.STEPS if s in draft["validated"]]
    offer.draft = draft
    _touch(offer)
    session.flush()
    outbox.record(session, Outbox, make_event(
        "offers.step_saved", offer.region, _actor_name(actor), offer_id=offer.id, unit_id=offer.unit_id,
        step=step, version=offer.version, validated_steps=draft["validated"]))
    return offer


def missing_for_publication(offer: Offer) -> dict[str, str]:
    """What keeps the draft from being published, by field (empty when it can be)."""
    draft = _draft(offer)
    missing: dict[str, str] = {}
    for step in steps.STEPS:
        if step not in draft["validated"] or step not in draft["steps"]:
            missing[f"steps.{step}"] = f"Étape « {steps.STEP_LABELS[step]} » à valider"
            continue
        try:  # nomenclatures change: a stored step must still be valid (codes kept may stay)
            content = draft["steps"][step]
            steps.validate_step(step, content, previous=content)
        except (InvalidInput, Conflict) as exc:
            for field, message in exc.fields.items():
                missing[f"{step}.{field}"] = _as_text(message)
    contacts = (draft["steps"].get("contacts") or {}).get("contacts") or []
    if "steps.contacts" not in missing and not steps.public_contacts(contacts):
        missing["contacts"] = steps.PUBLIC_CONTACT_REQUIRED
    return missing


def _as_text(message) -> str:
    """marshmallow messages (str, list, nested dict) as one line."""
    if isinstance(message, dict):
        return " ; ".join(f"{key} : {_as_text(value)}" for key, value in message.items())
    if isinstance(message, list | tuple):
        return " ".join(_as_text(m) for m in message)
    return str(message)


def publish(session: Session, offer: Offer, actor: Actor, if_match: str | None) -> Offer:
    """Step 6: the whole draft becomes the published version ("Fiche mise à jour le")."""
    require_editor(session, actor, offer)
    check_version(offer, if_match)
    missing = missing_for_publication(offer)
    if missing:
        raise InvalidInput("La fiche ne peut pas être publiée : " + "; ".join(missing.values()), missing)
    draft = _draft(offer)
    now = utcnow()
    offer.published = {step: copy.deepcopy(draft["steps"][step]) for step in steps.STEPS if step != "national"}
    offer.published_at = now
    offer.status = "published"
    offer.unpublished_at = None
    _touch(offer)
    session.flush()
    outbox.record(session, Outbox, make_event(
        "offers.published", offer.region, _actor_name(actor), offer_id=offer.id, unit_id=offer.unit_id,
        version=offer.version, published_at=now.isoformat(), content=published_content(offer)))
    national.enqueue_offer(session, offer)  # the national ROR gets it through the same transaction
    return offer


def unpublish(session: Session, offer: Offer, actor: Actor, if_match: str | None) -> Offer:
    """Dépublier: the offer leaves the public répertoire; its content and draft are kept."""
    require_editor(session, actor, offer)
    check_version(offer, if_match)
    if offer.status != "published":
        raise Conflict("Cette offre n'est pas publiée", {"status": offer.status})
    offer.status = "unpublished"
    offer.unpublished_at = utcnow()
    _touch(offer)
    session.flush()
    outbox.record(session, Outbox, make_event(
        "offers.unpublished", offer.region, _actor_name(actor), offer_id=offer.id, unit_id=offer.unit_id,
        version=offer.version))
    national.enqueue_offer(session, offer)
    return offer


def same_owner(a: Offer, b: Offer) -> bool:
    return bool((a.owner_rpps and a.owner_rpps == b.owner_rpps)
                or (a.owner_subject and a.owner_subject == b.owner_subject))


def prefill(session: Session, target: Offer, source: Offer, actor: Actor, if_match: str | None) -> Offer:
    """Copy description, modalities, contacts and hours of another offer of the same owner into the
    draft of `target`. The copied steps are not validated: the professional reviews and validates them
    (the national data of each offer is its own and is never copied)."""
    require_editor(session, actor, target)
    check_version(target, if_match)
    if source.id == target.id:
        raise InvalidInput("Choisissez une autre offre pour pré-remplir celle-ci",
                           {"from_offer_id": "same offer"})
    if not same_owner(source, target) or not can_edit(session, actor, source):
        raise Forbidden("Le pré-remplissage se fait depuis une autre de vos offres",
                        {"from_offer_id": "not an offer of the same owner"})
    source_steps = (source.draft or {}).get("steps") or {}
    copied = []
    draft = _draft(target)
    for step in COPYABLE_STEPS:
        content = source_steps.get(step) or (source.published or {}).get(step)
        if content:
            draft["steps"][step] = copy.deepcopy(content)
            draft["validated"] = [s for s in draft["validated"] if s != step]
            copied.append(step)
    if not copied:
        raise Conflict("L'offre choisie n'a encore rien de décrit à recopier", {"from_offer_id": source.id})
    draft["prefilled_from"] = source.id
    target.draft = draft
    _touch(target)
    session.flush()
    outbox.record(session, Outbox, make_event(
        "offers.step_saved", target.region, _actor_name(actor), offer_id=target.id, unit_id=target.unit_id,
        step=None, steps=copied, prefilled_from=source.id, version=target.version,
        validated_steps=draft["validated"]))
    return target


# ------------------------------------------------------------------ views

def _labelled(name: str, codes) -> list[dict]:
    return [{"code": code, "label": reference.label_of(name, code)} for code in codes or []]


def render(content: dict | None, public: bool = False) -> dict | None:
    """Steps content with nomenclature labels; `public` drops contacts for professionals only."""
    if content is None:
        return None
    out = copy.deepcopy(content)
    description = out.get("description")
    if description:
        for key, name in (("operational_activities", "operational_activities"),
                          ("specific_acts_in_office", "specific_acts"),
                          ("specific_acts_outside_office", "specific_acts"),
                          ("equipments", "equipments"), ("specific_competences", "specific_competences")):
            if key in description:
                description[key] = _labelled(name, description[key])
        access = description.get("place_accessibility")
        if access:
            description["place_accessibility"] = {"code": access,
                                                  "label": reference.label_of("place_accessibility", access)}
    modalities = out.get("modalities")
    if modalities:
        if "reception_modalities" in modalities:
            modalities["reception_modalities"] = _labelled("reception_modalities",
                                                           modalities["reception_modalities"])
        if "intervention_communes" in modalities:
            communes = []
            for code in modalities["intervention_communes"]:
                commune = reference.get_commune(code)
                communes.append(commune.to_dict() if commune else {"code": code, "name": code})
            modalities["intervention_communes"] = communes
    contacts = out.get("contacts")
    if contacts and public:
        contacts["contacts"] = steps.public_contacts(contacts.get("contacts"))
    return out


def published_content(offer: Offer) -> dict:
    """The published sheet as the events and the national exposure carry it."""
    return {
        "name": offer.name,
        "unit_type": {"code": offer.unit_type, "label": reference.label_of("unit_types", offer.unit_type)},
        "care_mode": ({"code": offer.care_mode, "label": reference.label_of("care_modes", offer.care_mode)}
                      if offer.care_mode else None),
        "commune_insee": offer.commune_insee,
        "national": offer.national or {},
        "published_at": offer.published_at.isoformat() if offer.published_at else None,
        **(render(offer.published) or {}),
    }


def _public_national(national: dict) -> dict:
    """What the public sheet shows of the national data (identity and place, not contacts)."""
    keep = ("civility", "last_name", "first_name", "profession", "specialty", "structure", "address",
            "convention_sector", "accepts_vitale", "rpps")
    return {k: v for k, v in (national or {}).items() if k in keep}


def view(offer: Offer, who: str) -> dict:
    """The offer as `who` (OWNER, TEAM, PROFESSIONAL, PUBLIC) may see it. NotFound when that audience
    may not see it at all (not published and not theirs)."""
    private = who in (OWNER, TEAM)
    visible_publication = offer.status == "published" and offer.published is not None
    if not private and not visible_publication:
        raise NotFound("Offre introuvable", {"offer_id": f"offer {offer.id} is not published"})
    base = {
        "id": offer.id,
        "region": offer.region,
        "name": offer.name,
        "unit_id": offer.unit_id,
        "unit_type": {"code": offer.unit_type, "label": reference.label_of("unit_types", offer.unit_type)},
        "care_mode": ({"code": offer.care_mode, "label": reference.label_of("care_modes", offer.care_mode)}
                      if offer.care_mode else None),
        "status": offer.status,
        "published_at": offer.published_at.isoformat() if offer.published_at else None,
        "commune_insee": offer.commune_insee,
        "departement": offer.departement,
        "version": offer.version,
        "etag": offer.etag,
        "audience": who,
    }
    base["published"] = render(offer.published, public=(who == PUBLIC)) if offer.published else None
    if private:
        draft = _draft(offer)
        base.update({
            "national": offer.national or {},
            "draft": {"steps": render(draft["steps"]), "validated": draft["validated"],
                      "prefilled_from": draft.get("prefilled_from")},
            "has_unpublished_changes": _has_changes(offer),
            "missing_for_publication": missing_for_publication(offer),
            "owner_rpps": offer.owner_rpps,
            "owner_username": offer.owner_username,
            "unpublished_at": offer.unpublished_at.isoformat() if offer.unpublished_at else None,
            "updated_at": offer.updated_at.isoformat() if offer.updated_at else None,
        })
    else:
        base["national"] = _public_national(offer.national) if who == PUBLIC else (offer.national or {})
    return base


def _has_changes(offer: Offer) -> bool:
    draft_steps = _draft(offer)["steps"]
    published = offer.published or {}
    return any(draft_steps.get(s) != published.get(s) for s in steps.STEPS if s != "national")


def summary(offer: Offer, who: str) -> dict:
    commune = reference.get_commune(offer.commune_insee) if offer.commune_insee else None
    item = {
        "id": offer.id, "name": offer.name, "status": offer.status, "version": offer.version,
        "etag": offer.etag,
        "unit_type": {"code": offer.unit_type, "label": reference.label_of("unit_types", offer.unit_type)},
        "published_at": offer.published_at.isoformat() if offer.published_at else None,
        "commune": commune.to_dict()["label"] if commune else None,
        "departement": offer.departement,
    }
    if who in (OWNER, TEAM):
        draft = _draft(offer)
        item.update({"validated_steps": draft["validated"], "has_unpublished_changes": _has_changes(offer),
                     "owner_rpps": offer.owner_rpps})
    return item


def owned_filter(actor: Actor):
    """SQL condition: offers the actor owns (by Keycloak subject or by RPPS)."""
    conditions = [Offer.owner_subject == actor.subject]
    if actor.rpps:
        conditions.append(Offer.owner_rpps == actor.rpps)
    return or_(*conditions)

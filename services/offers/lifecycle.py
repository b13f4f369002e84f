"""Writes of an offer's life: saving a step as a draft, publication (step 6), unpublication and
pre-filling from another offer of the same owner.

Plain module (SQLAlchemy session passed in, no nameko). Every write checks the If-Match version under a
row lock, bumps the version and records its event in the outbox in the caller's transaction, so the
change and its event are committed together or not at all. Who may write is services.offers.access;
what readers see is services.offers.views.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from services.common import outbox
from services.common.actor import Actor
from services.common.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    PreconditionFailed,
    PreconditionRequired,
)
from services.common.events import make_event
from services.offers import steps
from services.offers.access import can_edit, require_editor, same_owner
from services.offers.drafts import draft_of, missing_for_publication
from services.offers.fhir import national
from services.offers.models import Offer, Outbox
from services.offers.recipients import owner_recipients
from services.offers.views import published_content

COPYABLE_STEPS = ("description", "modalities", "contacts", "hours")  # pre-fill never copies national data


def utcnow() -> datetime:
    return datetime.now(UTC)


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


def save_step(session: Session, offer: Offer, step: str, data, actor: Actor, if_match: str | None) -> Offer:
    """Validate one step and save it in the draft (validated). A published offer stays public, with
    its published version, until the draft is published again."""
    require_editor(session, actor, offer)
    check_version(offer, if_match)
    draft = draft_of(offer)
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


def publish(session: Session, offer: Offer, actor: Actor, if_match: str | None) -> Offer:
    """Step 6: the whole draft becomes the published version ("Fiche mise à jour le")."""
    require_editor(session, actor, offer)
    check_version(offer, if_match)
    missing = missing_for_publication(offer)
    if missing:
        raise InvalidInput("La fiche ne peut pas être publiée : " + "; ".join(missing.values()), missing)
    draft = draft_of(offer)
    now = utcnow()
    offer.published = {step: copy.deepcopy(draft["steps"][step]) for step in steps.STEPS if step != "national"}
    offer.published_at = now
    offer.status = "published"
    offer.unpublished_at = None
    _touch(offer)
    session.flush()
    outbox.record(session, Outbox, make_event(
        "offers.published", offer.region, _actor_name(actor), offer_id=offer.id, unit_id=offer.unit_id,
        version=offer.version, published_at=now.isoformat(), content=published_content(offer),
        offer_name=offer.name, recipients=owner_recipients(offer), mail_category="info"))
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
        version=offer.version, unpublished_at=offer.unpublished_at.isoformat(), offer_name=offer.name,
        recipients=owner_recipients(offer), mail_category="info"))
    national.enqueue_offer(session, offer)
    return offer


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
    draft = draft_of(target)
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

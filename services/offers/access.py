"""Who may read and edit an offer: loading it in its region, ownership (Keycloak subject or RPPS),
editors through habilitations on the structure tree, and the audience whose view a reader gets.

Plain module (SQLAlchemy session passed in, no nameko).
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.common.actor import Actor
from services.common.errors import Forbidden, NotFound
from services.common.roles import STRUCTURE_ROLES
from services.offers.models import Offer, Structure

EDITOR_ROLES = STRUCTURE_ROLES  # services.common.roles
OWNER, TEAM, PROFESSIONAL, PUBLIC = "owner", "team", "professional", "public"


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


def same_owner(a: Offer, b: Offer) -> bool:
    return bool((a.owner_rpps and a.owner_rpps == b.owner_rpps)
                or (a.owner_subject and a.owner_subject == b.owner_subject))


def owned_filter(actor: Actor):
    """SQL condition: offers the actor owns (by Keycloak subject or by RPPS)."""
    conditions = [Offer.owner_subject == actor.subject]
    if actor.rpps:
        conditions.append(Offer.owner_rpps == actor.rpps)
    return or_(*conditions)

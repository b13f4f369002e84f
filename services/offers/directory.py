"""The répertoire: structure trees per region, national professionals, offer ownership, offer lists.
Plain module (SQLAlchemy session passed in, no nameko)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services.common.actor import Actor
from services.common.errors import Conflict, InvalidInput
from services.offers import access, views
from services.offers.models import (
    CAPACITY_TYPES,
    DISCIPLINES,
    STRUCTURE_KINDS,
    Capacity,
    Offer,
    PractitionerAttachment,
    Professional,
    Structure,
)

MAX_ROOTS = 500
MAX_ITEMS = 200
KIND_ORDER = {kind: i for i, kind in enumerate(STRUCTURE_KINDS)}


def _chunks(values: list[int], size: int = 5000):
    for i in range(0, len(values), size):
        yield values[i:i + size]


def descendant_ids(session: Session, roots: Iterable[int]) -> set[int]:
    """`roots` and every structure below them."""
    found = set(roots)
    frontier = list(found)
    while frontier:
        children: list[int] = []
        for chunk in _chunks(frontier):
            children.extend(session.scalars(select(Structure.id).where(Structure.parent_id.in_(chunk))))
        frontier = [c for c in children if c not in found]
        found.update(frontier)
    return found


def _with_family(session: Session, matching) -> list[Structure]:
    """The structures `matching` selects (a select of ids), everything below them and their ancestors,
    in one query (recursive CTEs) rather than a query per level of the tree."""
    down = matching.cte("down", recursive=True)
    down = down.union(select(Structure.id).where(Structure.parent_id == down.c.id))
    up = select(Structure.id, Structure.parent_id).where(Structure.id.in_(select(down.c.id))) \
        .cte("up", recursive=True)
    up = up.union(select(Structure.id, Structure.parent_id).where(Structure.id == up.c.parent_id))
    # a unit removed by a dossier stays in the table (inactive), not in the répertoire
    return list(session.scalars(select(Structure).where(Structure.id.in_(select(up.c.id)),
                                                        Structure.active.is_(True)).order_by(Structure.id)))


def _node(s: Structure, offer) -> dict:
    return {
        "id": s.id, "kind": s.kind, "name": s.name, "finess": s.finess, "siret": s.siret, "rpps": s.rpps,
        "discipline": s.discipline, "category": s.category_label, "type": s.type_label, "source": s.source,
        "address": {"line": s.address_line, "postal_code": s.postal_code, "city": s.city,
                    "commune_insee": s.commune_insee},
        "departement": s.departement, "latitude": s.latitude, "longitude": s.longitude,
        "phone": s.phone, "email": s.email, "mssante": s.mssante,
        "offer": ({"id": offer.id, "name": offer.name, "status": offer.status,
                   "published_at": offer.published_at.isoformat() if offer.published_at else None}
                  if offer else None),
        "children": [],
    }


def structure_tree(session: Session, region: str, departement: str | None = None,
                   discipline: str | None = None, max_roots: int = MAX_ROOTS) -> dict:
    """The répertoire tree (EJ → EG → pôle / service / UF → UO) of the region.

    A structure below the EJ level matching the filters brings its ancestors (its EJ) and everything
    below it; an EJ is placed by its sites, not by its own address.
    """
    if discipline is not None and discipline not in DISCIPLINES:
        raise InvalidInput("Discipline inconnue", {"discipline": f"one of {list(DISCIPLINES)}"})
    stmt = select(Structure.id).where(Structure.region == region, Structure.active.is_(True))
    if departement or discipline:
        stmt = stmt.where(Structure.kind != "legal_entity")
        if departement:
            stmt = stmt.where(Structure.departement == departement)
        if discipline:
            stmt = stmt.where(Structure.discipline == discipline)
    structures = _with_family(session, stmt)
    offers: dict = {}
    unit_ids = [s.id for s in structures if s.kind == "unit"]
    for chunk in _chunks(unit_ids):
        # the columns a node shows, not the whole rows (their JSON steps are parsed for nothing)
        offers.update((o.unit_id, o) for o in session.execute(
            select(Offer.unit_id, Offer.id, Offer.name, Offer.status, Offer.published_at)
            .where(Offer.unit_id.in_(chunk))))
    nodes = {s.id: _node(s, offers.get(s.id)) for s in structures}
    for chunk in _chunks(unit_ids):
        # Consultation units list their practitioners, establishment units their capacities (PDL guide).
        for attachment, person in session.execute(
                select(PractitionerAttachment, Professional).join(Professional)
                .where(PractitionerAttachment.unit_id.in_(chunk))
                .order_by(Professional.last_name, Professional.first_name)):
            nodes[attachment.unit_id].setdefault("practitioners", []).append({
                "rpps": person.rpps, "civility": person.civility, "last_name": person.last_name,
                "first_name": person.first_name,
                "profession": attachment.profession_label or person.profession_label,
                "specialty": attachment.specialty_label or person.specialty_label,
                "convention_sector": attachment.convention_sector or person.convention_sector})
        for capacity in session.scalars(select(Capacity).where(Capacity.unit_id.in_(chunk))
                                        .order_by(Capacity.capacity_type)):
            nodes[capacity.unit_id].setdefault("capacities", []).append({
                "type": capacity.capacity_type,
                "label": CAPACITY_TYPES.get(capacity.capacity_type, capacity.capacity_type),
                "count": capacity.count})
    roots = []
    for s in structures:
        parent = nodes.get(s.parent_id) if s.parent_id else None
        (parent["children"] if parent else roots).append(nodes[s.id])

    def sort(children: list[dict]) -> None:
        children.sort(key=lambda n: (KIND_ORDER.get(n["kind"], 9), n["name"] or "", n["id"]))
        for child in children:
            sort(child["children"])

    sort(roots)
    return {"region": region, "departement": departement, "discipline": discipline,
            "total_roots": len(roots), "truncated": len(roots) > max_roots, "roots": roots[:max_roots]}


def structure_exists(session: Session, region: str, structure_id: int) -> bool:
    return session.scalar(select(Structure.id).where(Structure.id == structure_id,
                                                     Structure.region == region)) is not None


# ------------------------------------------------------------------ professionals and ownership

def national_professionals(session: Session, region: str, rpps: str | None = None,
                           profession_code: str | None = None, after_rpps: str | None = None,
                           limit: int = 1000) -> list[dict]:
    """Professionals of the national data (RPPS import) with the ids of the offers generated for them.

    One page of `limit`, in RPPS order; the next page starts after the last RPPS of this one
    (a whole region is tens of thousands of professionals)."""
    # persons added by name to a consultation (no RPPS) are not national professionals
    stmt = select(Professional).where(Professional.region == region, Professional.rpps.is_not(None))
    if rpps:
        stmt = stmt.where(Professional.rpps == rpps)
    if profession_code:
        stmt = stmt.where(Professional.profession_code == profession_code)
    if after_rpps:
        stmt = stmt.where(Professional.rpps > after_rpps)
    people = list(session.scalars(stmt.order_by(Professional.rpps).limit(max(1, min(limit, 5000)))))
    offer_ids: dict[str, list[int]] = {}
    numbers = [p.rpps for p in people]
    for i in range(0, len(numbers), 5000):
        for offer_id, owner in session.execute(
                select(Offer.id, Offer.owner_rpps).where(Offer.region == region,
                                                         Offer.owner_rpps.in_(numbers[i:i + 5000]))
                .order_by(Offer.id)):
            offer_ids.setdefault(owner, []).append(offer_id)
    return [{"rpps": p.rpps, "id_type": p.id_type, "civility": p.civility, "last_name": p.last_name,
             "first_name": p.first_name, "profession_code": p.profession_code,
             "profession_label": p.profession_label, "email": p.email, "phone": p.phone,
             "offer_ids": offer_ids.get(p.rpps, [])} for p in people]


def attach_owner(session: Session, region: str, rpps: str, subject: str, username: str | None) -> list[int]:
    """Give the offers generated for `rpps` to the ROR account `subject` (idempotent)."""
    if not rpps or not subject:
        raise InvalidInput("RPPS et compte requis", {"rpps": rpps or "missing", "subject": subject or "missing"})
    taken = session.scalars(select(Offer.id).where(
        Offer.region == region, Offer.owner_rpps == rpps, Offer.owner_subject.is_not(None),
        Offer.owner_subject != subject)).all()
    if taken:
        raise Conflict("Un compte utilisateur semble déjà exister à partir de vos informations (même numéro RPPS)",
                       {"rpps": rpps, "offer_ids": list(taken)})
    ids = list(session.scalars(select(Offer.id).where(Offer.region == region, Offer.owner_rpps == rpps)
                               .order_by(Offer.id)))
    if ids:
        session.execute(update(Offer).where(Offer.id.in_(ids))
                        .values(owner_subject=subject, owner_username=username))
    return ids


# ------------------------------------------------------------------ offer lists

def list_offers(session: Session, region: str, actor: Actor, mine: bool = False, status: str | None = None,
                limit: int = 50, offset: int = 0) -> dict:
    limit = max(1, min(limit, MAX_ITEMS))
    stmt = select(Offer).where(Offer.region == region)
    if mine:
        editable_units: set[int] = set()
        roots = [sid for role, sid in actor.habilitations if role in access.EDITOR_ROLES]
        if roots:
            editable_units = descendant_ids(session, roots)
        condition = access.owned_filter(actor)
        if editable_units:
            condition = condition | Offer.unit_id.in_(editable_units)
        stmt = stmt.where(condition)
    elif not actor.is_team:
        stmt = stmt.where(Offer.status == "published")
    if status:
        stmt = stmt.where(Offer.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    items = session.scalars(stmt.order_by(Offer.name, Offer.id).limit(limit).offset(offset)).all()
    return {"total": total, "limit": limit, "offset": offset,
            "items": [views.summary(o, access.audience(session, actor, o)) for o in items]}

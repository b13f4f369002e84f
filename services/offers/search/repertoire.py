"""The répertoire entry points of the PDL guide (§2 "Rechercher par Entité Juridique (EJ) ou Favoris"):
legal entities by name or FINESS number with their sites (EG), and each user's favourite structures.
Plain module (SQLAlchemy session passed in)."""

from __future__ import annotations

import re

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.common.errors import InvalidInput, NotFound
from services.offers.models import Favourite, Structure
from services.offers.search import reference_tables
from services.offers.search import text as search_text

MAX_LEGAL_ENTITIES = 50
_FINESS = re.compile(r"^\d[\dAB]\d{7}$")


def _site(s: Structure) -> dict:
    return {"id": s.id, "kind": s.kind, "name": s.name, "finess": s.finess, "category": s.category_label,
            "address": {"line": s.address_line, "postal_code": s.postal_code, "city": s.city,
                        "commune_insee": s.commune_insee}, "departement": s.departement, "phone": s.phone}


def _with_sites(session: Session, legal_entities: list[Structure], favourites: set[int]) -> list[dict]:
    ids = [e.id for e in legal_entities]
    sites: dict[int, list[dict]] = {i: [] for i in ids}
    if ids:
        for site in session.scalars(select(Structure).where(Structure.parent_id.in_(ids), Structure.kind == "site",
                                                            Structure.active.is_(True))
                                    .order_by(Structure.name, Structure.id)):
            sites[site.parent_id].append({**_site(site), "favourite": site.id in favourites})
    return [{**_site(e), "favourite": e.id in favourites, "sites": sites[e.id]} for e in legal_entities]


def legal_entities(session: Session, region: str, q: str, subject: str | None = None) -> dict:
    """EJ whose name (accents, case, typos forgiven) or FINESS number (EJ, or one of its EG) match `q`."""
    q = (q or "").strip()
    if not q:
        raise InvalidInput("Saisissez un nom d'entité juridique ou un numéro FINESS", {"q": "missing"})
    favourites = favourite_ids(session, region, subject) if subject else set()
    compact = q.replace(" ", "").upper()
    if _FINESS.match(compact):
        hits = session.scalars(select(Structure).where(Structure.region == region, Structure.finess == compact)).all()
        ids = {h.id if h.kind == "legal_entity" else h.parent_id for h in hits}
        found = session.scalars(select(Structure).where(Structure.id.in_(ids), Structure.kind == "legal_entity")
                                .order_by(Structure.name)).all() if ids else []
        return {"q": q, "total": len(found), "legal_entities": _with_sites(session, list(found), favourites)}
    reference_tables.ensure(session)
    tsq = search_text.tsquery(session, q)
    if not tsq:
        return {"q": q, "total": 0, "legal_entities": []}
    ids = list(session.execute(text(
        "SELECT structure_id FROM offers.search_entries WHERE region = :r AND entry_kind = 'structure' "
        "AND structure_kind = 'legal_entity' AND document @@ CAST(:tsq AS tsquery) "
        "ORDER BY ts_rank(document, CAST(:tsq AS tsquery)) DESC, name LIMIT :n"),
        {"r": region, "tsq": tsq, "n": MAX_LEGAL_ENTITIES + 1}).scalars())
    rows = {s.id: s for s in session.scalars(select(Structure).where(Structure.id.in_(ids)))}
    ordered = [rows[i] for i in ids[:MAX_LEGAL_ENTITIES] if i in rows]
    return {"q": q, "total": len(ordered), "truncated": len(ids) > MAX_LEGAL_ENTITIES,
            "legal_entities": _with_sites(session, ordered, favourites)}


# ------------------------------------------------------------------ favourites

def favourite_ids(session: Session, region: str, subject: str) -> set[int]:
    return set(session.scalars(select(Favourite.structure_id).where(Favourite.region == region,
                                                                    Favourite.subject == subject)))


def _structure(session: Session, region: str, structure_id: int) -> Structure:
    structure = session.scalar(select(Structure).where(Structure.id == structure_id, Structure.region == region))
    if structure is None:
        raise NotFound("Structure introuvable", {"structure_id": f"no structure {structure_id} in region {region}"})
    return structure


def list_favourites(session: Session, region: str, subject: str) -> list[dict]:
    rows = session.execute(select(Favourite, Structure).join(Structure, Structure.id == Favourite.structure_id)
                           .where(Favourite.region == region, Favourite.subject == subject)
                           .order_by(Structure.name, Structure.id)).all()
    return [{**_site(s), "favourite": True, "added_at": f.created_at.isoformat()} for f, s in rows]


def get_favourite(session: Session, region: str, subject: str, structure_id: int) -> dict:
    structure = _structure(session, region, structure_id)
    favourite = session.get(Favourite, (region, subject, structure_id))
    if favourite is None:
        raise NotFound("Cette structure n'est pas dans vos favoris", {"structure_id": structure_id})
    return {**_site(structure), "favourite": True, "added_at": favourite.created_at.isoformat()}


def add_favourite(session: Session, region: str, subject: str, structure_id: int) -> tuple[dict, bool]:
    """« Ajouter aux favoris » (idempotent); True when it was not a favourite yet."""
    _structure(session, region, structure_id)
    created = session.execute(insert(Favourite).values(region=region, subject=subject, structure_id=structure_id)
                              .on_conflict_do_nothing().returning(Favourite.structure_id)).first() is not None
    session.flush()
    return get_favourite(session, region, subject, structure_id), created


def remove_favourite(session: Session, region: str, subject: str, structure_id: int) -> None:
    favourite = session.get(Favourite, (region, subject, structure_id))
    if favourite is None:
        raise NotFound("Cette structure n'est pas dans vos favoris", {"structure_id": structure_id})
    session.delete(favourite)
    session.flush()

"""Figures of the répertoire for reminders and dashboards (plain module, no nameko)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from services.offers.access import EDITOR_ROLES
from services.offers.models import Offer, Structure
from services.offers.recipients import owner_recipients


def stale_offers(session: Session, region: str, cutoff: datetime, after_id: int = 0, limit: int = 500) -> list[dict]:
    """Published offers whose last publication is older than `cutoff`, by id (keyset pages)."""
    rows = session.scalars(select(Offer).where(
        Offer.region == region, Offer.status == "published", Offer.published_at < cutoff, Offer.id > after_id,
    ).order_by(Offer.id).limit(limit))
    return [{"kind": "offer", "id": o.id, "name": o.name, "last_updated_at": o.published_at.isoformat(),
             "departement": o.departement, "recipients": owner_recipients(o)} for o in rows]


def stale_structures(session: Session, region: str, cutoff: datetime, after_id: int = 0,
                     limit: int = 500) -> list[dict]:
    """Active structures (units excepted: their offer is what gets updated) not changed since `cutoff`."""
    rows = session.scalars(select(Structure).where(
        Structure.region == region, Structure.active.is_(True), Structure.kind != "unit",
        Structure.updated_at < cutoff, Structure.id > after_id,
    ).order_by(Structure.id).limit(limit))
    return [{"kind": "structure", "id": s.id, "name": s.name, "last_updated_at": s.updated_at.isoformat(),
             "departement": s.departement,
             "recipients": [{"role": role, "structure_id": s.id} for role in EDITOR_ROLES]} for s in rows]


def completeness(session: Session, region: str, departements: tuple[str, ...], cutoff: datetime) -> dict[str, dict]:
    """Per département: offers, published ones, and published ones updated since `cutoff`."""
    published = Offer.status == "published"
    stmt = (select(Offer.departement, func.count(),
                   func.sum(case((published, 1), else_=0)),
                   func.sum(case((published & (Offer.published_at >= cutoff), 1), else_=0)))
            .where(Offer.region == region).group_by(Offer.departement))
    figures = {d: {"offers": 0, "published": 0, "up_to_date": 0} for d in departements}
    for departement, total, pub, fresh in session.execute(stmt):
        key = departement or "inconnu"
        row = figures.setdefault(key, {"offers": 0, "published": 0, "up_to_date": 0})
        row["offers"] += int(total)
        row["published"] += int(pub or 0)
        row["up_to_date"] += int(fresh or 0)
    return figures

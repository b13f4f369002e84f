"""Who hears about an offer (plain module): the selectors its events carry for the notifications service
(docs/notifications.md)."""

from __future__ import annotations

from services.offers.access import EDITOR_ROLES
from services.offers.models import Offer


def owner_recipients(offer: Offer) -> list[dict]:
    """Its professional owner, or else the editors of its unit."""
    if offer.owner_subject:
        return [{"subject": offer.owner_subject}]
    if offer.owner_username:
        return [{"username": offer.owner_username}]
    return [{"role": role, "structure_id": offer.unit_id} for role in EDITOR_ROLES]

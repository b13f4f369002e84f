"""Offers RPCs for reminders and the completeness dashboard (mixin of OffersService)."""

from __future__ import annotations

from datetime import datetime

from services.common.entrypoints import rpc
from services.common.errors import InvalidInput
from services.common.regions import get_region
from services.offers import stats

MAX_PAGE = 1000


def _moment(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("Date invalide", {name: "expected an ISO 8601 date-time"}) from exc
    if moment.tzinfo is None:
        raise InvalidInput("Date invalide", {name: "a time zone is required"})
    return moment


class StatsRpc:
    @rpc
    def stale_publications(self, region: str, kind: str, cutoff: str, after_id: int = 0,
                           limit: int = 500) -> list[dict]:
        """One page (by id) of published offers or active structures not updated since `cutoff`."""
        get_region(region)
        page = max(1, min(int(limit), MAX_PAGE))
        when = _moment(cutoff, "cutoff")
        if kind == "offer":
            return stats.stale_offers(self.db, region, when, int(after_id), page)
        if kind == "structure":
            return stats.stale_structures(self.db, region, when, int(after_id), page)
        raise InvalidInput("Type inconnu", {"kind": "offer or structure"})

    @rpc
    def completeness(self, region: str, cutoff: str) -> dict:
        """{département: {offers, published, up_to_date}} of the region."""
        return stats.completeness(self.db, region, get_region(region).departements, _moment(cutoff, "cutoff"))

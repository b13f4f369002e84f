"""Anomalies RPC for the completeness dashboard (mixin of AnomaliesService)."""

from __future__ import annotations

from sqlalchemy import func, select

from services.anomalies.models import Anomaly
from services.anomalies.reports import STATUSES
from services.common.entrypoints import rpc
from services.common.regions import get_region

# Still to be dealt with: neither rejected nor resolved.
OPEN_STATUSES = tuple(sorted(set(STATUSES) - {"rejected", "resolved"}))


class AnomalyStatsRpc:
    @rpc
    def open_offer_anomalies_by_departement(self, region: str) -> dict[str, int]:
        """{département: offers with at least one open anomaly} of the region."""
        get_region(region)
        rows = self.db.execute(
            select(Anomaly.departement, func.count(func.distinct(Anomaly.target_id)))
            .where(Anomaly.region == region, Anomaly.target_kind == "offer", Anomaly.target_id.is_not(None),
                   Anomaly.status.in_(OPEN_STATUSES))
            .group_by(Anomaly.departement))
        return {departement or "inconnu": int(count) for departement, count in rows}

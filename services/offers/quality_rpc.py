"""Offers entrypoints for the anomalies service (mixin of OffersService): the sheet an anomaly is
reported on, and the facts of its rules engine."""

from __future__ import annotations

from datetime import datetime

from services.common.actor import Actor
from services.common.entrypoints import rpc as nameko_rpc
from services.common.errors import Forbidden, InvalidInput, RorError
from services.common.regions import get_region
from services.offers import quality

rpc = nameko_rpc(expected_exceptions=RorError)


class QualityRpc:
    @rpc
    def anomaly_target(self, region: str, kind: str, target_id: int | None, actor: dict | None = None,
                       field: str | None = None) -> dict:
        get_region(region)
        who = Actor.from_dict(actor) if actor else None
        if who is not None and who.region != region:
            raise Forbidden("Ce compte n'appartient pas à cette région", {"region": f"actor of {who.region}"})
        return quality.anomaly_target(self.db, region, kind, target_id, who, field)

    @rpc
    def quality_facts(self, region: str, stale_before: str) -> dict:
        get_region(region)
        try:
            when = datetime.fromisoformat(stale_before)
        except (TypeError, ValueError) as exc:
            raise InvalidInput("Date invalide", {"stale_before": "ISO 8601 expected"}) from exc
        return quality.quality_facts(self.db, region, when)

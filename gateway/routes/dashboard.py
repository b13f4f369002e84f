"""Dashboard of the regional team: how complete and fresh the region's répertoire is, by département."""

from __future__ import annotations

import logging

from marshmallow import Schema, fields
from nameko.exceptions import MethodNotFound, RemoteError

from gateway import api
from gateway.api import REGIONAL_TEAM, Context, endpoint
from services.common.errors import Unavailable
from services.common.outbox import utcnow
from services.common.regions import get_region, update_cutoff

log = logging.getLogger(__name__)
TAGS = ("dashboard",)


class CompletenessRowSchema(Schema):
    departement = fields.String(required=True)
    offers = fields.Integer(required=True)
    published = fields.Integer(required=True)
    up_to_date = fields.Integer(required=True, metadata={"description": "published, updated within the period"})
    with_anomalies = fields.Integer(allow_none=True, metadata={"description": "offers with an open anomaly"})
    published_share = fields.Float(allow_none=True)
    up_to_date_share = fields.Float(allow_none=True)
    anomalies_share = fields.Float(allow_none=True)


class CompletenessSchema(Schema):
    region = fields.String(required=True)
    period_months = fields.Integer(required=True)
    up_to_date_since = fields.DateTime(required=True)
    generated_at = fields.DateTime(required=True)
    anomalies = fields.String(required=True, metadata={"description": "ok, or unavailable (no anomaly figures)"})
    departements = fields.List(fields.Nested(CompletenessRowSchema), required=True)
    total = fields.Nested(CompletenessRowSchema, required=True)


def _share(part: int | None, whole: int) -> float | None:
    return None if part is None or whole == 0 else round(part / whole, 4)


def _row(departement: str, figures: dict, flagged: dict | None) -> dict:
    anomalies = None if flagged is None else int(flagged.get(departement, 0))
    return {"departement": departement, **figures, "with_anomalies": anomalies,
            "published_share": _share(figures["published"], figures["offers"]),
            "up_to_date_share": _share(figures["up_to_date"], figures["offers"]),
            "anomalies_share": _share(anomalies, figures["offers"])}


class DashboardRoutes:
    def _flagged_offers(self, region: str) -> dict | None:
        """{département: offers with an open anomaly} from the anomalies service; None when it cannot say."""
        try:
            return api.call(self.anomalies, "open_offer_anomalies_by_departement", region, timeout=10)
        except RemoteError as exc:
            if exc.exc_type != "MethodNotFound":
                raise
        except (MethodNotFound, Unavailable):  # a version of anomalies without the figure, or down
            pass
        log.warning("anomalies figures unavailable for the completeness dashboard of %s", region)
        return None

    @endpoint("GET", "/api/<region>/dashboard/completeness", REGIONAL_TEAM, response=CompletenessSchema, tags=TAGS)
    def completeness_dashboard(self, ctx: Context):
        """Share of offers published, up to date (within the region's update period) and with anomalies,
        by département: the data of the chart."""
        now = utcnow()
        cutoff = update_cutoff(ctx.region, now)
        figures = api.call(self.offers, "completeness", ctx.region, cutoff.isoformat())
        flagged = self._flagged_offers(ctx.region)
        rows = [_row(dep, figures[dep], flagged) for dep in sorted(figures)]
        totals = {key: sum(r[key] for r in rows) for key in ("offers", "published", "up_to_date")}
        total_flagged = None if flagged is None else {"*": sum(int(v) for v in flagged.values())}
        return {"region": ctx.region, "period_months": get_region(ctx.region).update_reminder_months,
                "up_to_date_since": cutoff, "generated_at": now,
                "anomalies": "unavailable" if flagged is None else "ok",
                "departements": rows, "total": _row("*", totals, total_flagged)}

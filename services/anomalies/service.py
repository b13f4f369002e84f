"""Anomalies and the support desk: thin entrypoints over the plain modules (reports, tickets, rules).

Each RPC opens the worker's session, calls the domain functions (which flush) and commits once; the
outbox relay publishes the events after the worker. A timer runs the rules engine and the SLA sweep.
"""

from __future__ import annotations

import base64
import csv
import io
import logging
import time
from datetime import timedelta

import eventlet
from marshmallow import ValidationError
from nameko.dependency_providers import Config
from nameko.rpc import RpcProxy
from nameko.timer import timer
from openpyxl import Workbook
from sqlalchemy import func, select

from services.anomalies import reports, rules, stats_rpc, tickets
from services.anomalies.models import Anomaly, Outbox, RateCounter
from services.anomalies.schemas import (
    AnomalyCreateSchema,
    AnomalyQuerySchema,
    TicketCreateSchema,
    TicketMessageSchema,
    TicketQuerySchema,
    TicketTransitionSchema,
)
from services.common import ratelimit
from services.common.actor import Actor
from services.common.config import setting
from services.common.dependencies import Database, FrozenHeap, OutboxRelay
from services.common.entrypoints import rpc as nameko_rpc
from services.common.errors import (
    Forbidden,
    PreconditionFailed,
    RorError,
    TooManyRequests,
    Unavailable,
    from_marshmallow,
)
from services.common.health import service_health
from services.common.heartbeat import Heartbeat
from services.common.outbox import utcnow
from services.common.regions import REGIONS, get_region, support_desk

log = logging.getLogger(__name__)
rpc = nameko_rpc(expected_exceptions=RorError)
TIMER_SECONDS = 60
_LAST_SCAN: dict[str, float] = {}  # region -> monotonic time of the timer's last scan (per process)
OFFERS_TIMEOUT = 60


def _actor(actor: dict | None, region: str) -> Actor | None:
    if not actor:
        return None
    who = Actor.from_dict(actor)
    if who.region != region:  # a token of one realm never reads or writes another region's data
        raise Forbidden("Ce compte n'appartient pas à cette région", {"region": f"actor of {who.region}"})
    return who


def _required(actor: dict | None, region: str) -> Actor:
    who = _actor(actor, region)
    if who is None:
        raise Forbidden("Authentification requise pour cette action", {"actor": "missing"})
    return who


def _load(schema, data: dict, partial: bool = False) -> dict:
    try:
        return schema.load(data or {}, partial=partial)
    except ValidationError as err:
        raise from_marshmallow(err) from err


def _anomaly_etag(anomaly: Anomaly) -> str:
    return f'"a{anomaly.id}-{int(anomaly.updated_at.timestamp() * 1000)}"'


# Mixins through their module: `nameko run` runs every class of this module that has entrypoints.
class AnomaliesService(stats_rpc.AnomalyStatsRpc):
    name = "anomalies"
    capabilities = ("anomalies", "support_tickets", "anomaly_rules")

    config = Config()
    db = Database()
    heartbeat = Heartbeat()  # per-pod probe file (deploy/k8s)
    frozen_heap = FrozenHeap()
    outbox = OutboxRelay(Outbox)
    offers = RpcProxy("offers")

    @rpc
    def health(self):
        return service_health(self.name, self.db, self.capabilities)

    # ------------------------------------------------------------------ helpers
    def _limit_anonymous(self, region: str, client_ip: str | None, email: str | None) -> None:
        """Anonymous writes: per IP and per contact e-mail, counted in this service's table (a refused
        request rolls back, its count included)."""
        desk = support_desk(region)
        for key, value, cfg in (("ip", client_ip, desk["rate_limit_per_ip"]),
                                ("email", (email or "").lower(), desk["rate_limit_per_email"])):
            if not value:
                continue
            retry_after = ratelimit.hit(self.db, RateCounter, f"{region}:{key}:{value}", cfg["limit"],
                                        cfg["window_minutes"] * 60)
            if retry_after is not None:
                field = "contact_email" if key == "email" else "client_ip"
                raise TooManyRequests("Trop de demandes : réessayez plus tard",
                                      {field: f"at most {cfg['limit']} per {cfg['window_minutes']} minutes",
                                       "retry_after": retry_after})

    def _offers(self, method: str, *args, **kwargs):
        with eventlet.Timeout(OFFERS_TIMEOUT, Unavailable("Le service offers ne répond pas")):
            return getattr(self.offers, method)(*args, **kwargs)

    def _public_url(self) -> str:
        return setting("ROR_PUBLIC_URL", self.config)

    # ------------------------------------------------------------------ anomalies
    @rpc
    def declare_anomaly(self, region: str, data: dict, actor: dict | None = None,
                        client_ip: str | None = None) -> dict:
        get_region(region)
        who = _actor(actor, region)
        payload = _load(AnomalyCreateSchema(), data)
        if who is None and not payload.get("contact_email"):
            raise from_marshmallow(ValidationError({"contact_email": ["Adresse e-mail obligatoire sans connexion."]}))
        target_in = payload["target"]
        target = self._offers("anomaly_target", region, target_in["kind"], target_in.get("id"), actor,
                              payload.get("field"))
        if target_in["kind"] == "national" and not payload.get("wrong_value"):
            payload["wrong_value"] = target.get("current_value")
        if who is None:
            self._limit_anonymous(region, client_ip, payload["contact_email"])
        anomaly = reports.declare(self.db, region, target, payload, who, payload.get("contact_email"))
        self.db.commit()
        return {**reports.view(anomaly, who), "etag": _anomaly_etag(anomaly)}

    @rpc
    def get_anomaly(self, region: str, anomaly_id: int, actor: dict | None) -> dict:
        who = _required(actor, region)
        anomaly = reports.load_readable(self.db, region, int(anomaly_id), who)
        return {**reports.view(anomaly, who), "etag": _anomaly_etag(anomaly)}

    @rpc
    def list_anomalies(self, region: str, query: dict, actor: dict) -> dict:
        who = _required(actor, region)
        args = _load(AnomalyQuerySchema(), query)
        stmt = reports.list_query(region, who, status=args["status"], departement=args["departement"],
                                  structure_id=args["structure_id"], theme=args["theme"], mine=args["mine"])
        total = self.db.scalar(select(func.count()).select_from(stmt.subquery()))
        items = self.db.scalars(stmt.limit(args["limit"]).offset(args["offset"])).all()
        return {"total": total, "limit": args["limit"], "offset": args["offset"],
                "items": [reports.view(a, who) for a in items]}

    @rpc
    def export_anomalies(self, region: str, query: dict, actor: dict, fmt: str) -> dict:
        who = _required(actor, region)
        if not reports.is_quality_team(who, region):
            raise Forbidden("Export réservé à l'équipe qualité régionale", {"role": "regional team"})
        args = _load(AnomalyQuerySchema(), query)
        stmt = reports.list_query(region, who, status=args["status"], departement=args["departement"],
                                  structure_id=args["structure_id"], theme=args["theme"])
        rows = reports.export_rows(self.db.scalars(stmt.limit(100000)).all())
        header = [label for _key, label in reports.EXPORT_COLUMNS]
        if fmt == "csv":
            out = io.StringIO()
            writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
            writer.writerow(header)
            writer.writerows(rows)
            return {"content": "\ufeff" + out.getvalue(), "filename": f"anomalies-{region}.csv"}
        book = Workbook(write_only=True)
        sheet = book.create_sheet("Anomalies")
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        buffer = io.BytesIO()
        book.save(buffer)
        return {"content_base64": base64.b64encode(buffer.getvalue()).decode(), "filename": f"anomalies-{region}.xlsx"}

    @rpc
    def transition_anomaly(self, region: str, anomaly_id: int, data: dict, actor: dict,
                           if_match: str | None) -> dict:
        who = _required(actor, region)
        action, comment = (data or {}).get("action"), (data or {}).get("comment")
        anomaly = reports.load(self.db, region, int(anomaly_id), for_update=True)
        if not reports.can_read(who, anomaly):
            raise Forbidden("Vous ne pouvez pas traiter cette anomalie", {"anomaly_id": "not yours"})
        if (if_match or "").strip().removeprefix("W/").strip('"') != _anomaly_etag(anomaly).strip('"'):
            raise PreconditionFailed("L'anomalie a changé depuis votre lecture : relisez-la",
                                     {"If-Match": f"expected {_anomaly_etag(anomaly)}"})
        reports.transition(self.db, anomaly, action, comment, who)
        self.db.commit()
        return {**reports.view(anomaly, who), "etag": _anomaly_etag(anomaly)}

    @rpc
    def answer_anomaly(self, region: str, anomaly_id: int, body: str, actor: dict) -> dict:
        who = _required(actor, region)
        anomaly = reports.load(self.db, region, int(anomaly_id), for_update=True)
        reports.answer(self.db, anomaly, body, who)
        self.db.commit()
        return {**reports.view(anomaly, who), "etag": _anomaly_etag(anomaly)}

    @rpc
    def scan(self, region: str) -> dict:
        """The rules engine on one region: `ror anomalies scan` and the timer."""
        reg = get_region(region)
        stale_before = utcnow() - timedelta(days=round(reg.update_reminder_months * 30.44))
        facts = self._offers("quality_facts", region, stale_before.isoformat())
        raised = rules.scan(self.db, region, facts)
        by_rule: dict[str, int] = {}
        for anomaly in raised:
            by_rule[anomaly.rule_id] = by_rule.get(anomaly.rule_id, 0) + 1
        ids = [a.id for a in raised]
        self.db.commit()
        return {"region": region, "raised": len(ids), "by_rule": by_rule, "ids": ids}

    # ------------------------------------------------------------------ tickets
    @rpc
    def create_ticket(self, region: str, data: dict, actor: dict | None = None, client_ip: str | None = None) -> dict:
        get_region(region)
        who = _actor(actor, region)
        payload = _load(TicketCreateSchema(), data)
        if who is None and payload.get("contact_email") and payload["category"] in tickets.categories(region):
            # counted once the request is valid: a refused request changes nothing, the limit included
            self._limit_anonymous(region, client_ip, payload["contact_email"])
        ticket, token = tickets.create(self.db, region, payload, who, self._public_url())
        self.db.commit()
        caller = tickets.Caller(tickets.REQUESTER, who.username if who else payload["contact_email"], who)
        body = tickets.view(ticket, caller)
        if token:  # the anonymous requester's link also goes by e-mail; the API answers it once, here
            body["access_token"] = token
        return body

    def _ticket_for(self, region: str, ticket_id: int, actor: dict | None, access: dict | None,
                    for_update: bool = False):
        who = _actor(actor, region)
        access = access or {}
        ticket = tickets.load(self.db, region, int(ticket_id), for_update=for_update)
        caller = tickets.caller_for(ticket, who, access.get("token"), access.get("expert_token"))
        return ticket, caller

    @rpc
    def get_ticket(self, region: str, ticket_id: int, actor: dict | None = None, access: dict | None = None) -> dict:
        ticket, caller = self._ticket_for(region, ticket_id, actor, access)
        return tickets.view(ticket, caller)

    @rpc
    def list_tickets(self, region: str, query: dict, actor: dict) -> dict:
        who = _required(actor, region)
        args = _load(TicketQuerySchema(), query)
        stmt = tickets.list_query(region, who, status=args["status"], overdue=args["overdue"],
                                  due_soon=args["due_soon"], category=args["category"], assignee=args["assignee"])
        total = self.db.scalar(select(func.count()).select_from(stmt.subquery()))
        items = self.db.scalars(stmt.limit(args["limit"]).offset(args["offset"])).all()
        return {"total": total, "limit": args["limit"], "offset": args["offset"],
                "items": [tickets.summary(t) for t in items]}

    @rpc
    def add_ticket_message(self, region: str, ticket_id: int, data: dict, actor: dict | None = None,
                           access: dict | None = None) -> dict:
        payload = _load(TicketMessageSchema(), data)
        ticket, caller = self._ticket_for(region, ticket_id, actor, access, for_update=True)
        tickets.add_message(self.db, ticket, caller, payload["body"], payload["internal"])
        self.db.commit()
        return tickets.view(ticket, caller)

    @rpc
    def transition_ticket(self, region: str, ticket_id: int, data: dict, actor: dict | None = None,
                          access: dict | None = None, if_match: str | None = None) -> dict:
        payload = _load(TicketTransitionSchema(), data)
        ticket, caller = self._ticket_for(region, ticket_id, actor, access, for_update=True)
        tickets.check_version(ticket, if_match)
        tickets.transition(self.db, ticket, caller, payload["action"], payload, self._public_url())
        self.db.commit()
        return tickets.view(ticket, caller)

    @rpc
    def sla_sweep(self, region: str) -> dict:
        counts = tickets.sla_sweep(self.db, region)
        self.db.commit()
        return counts

    # ------------------------------------------------------------------ timer
    @timer(interval=TIMER_SECONDS)
    def tick(self):
        """SLA warnings / escalations every minute; the rules engine every `scan_interval_seconds`."""
        for region in REGIONS:
            try:
                self.sla_sweep(region)
            except Exception:
                self.db.rollback()
                log.exception("SLA sweep failed for %s", region)
            interval = support_desk(region)["scan_interval_seconds"]
            last = _LAST_SCAN.get(region)
            if last is not None and time.monotonic() - last < interval:
                continue
            _LAST_SCAN[region] = time.monotonic()
            try:
                self.scan(region)
            except Exception:
                self.db.rollback()
                log.exception("rules engine failed for %s", region)

"""Routes of the anomalies service: anomalies (« Signaler / Déclarer une anomalie ») and the support desk."""

from __future__ import annotations

import base64

from gateway import api
from gateway.api import ANONYMOUS, AUTHENTICATED, REGIONAL_TEAM, Context, Reply, endpoint
from services.anomalies.contracts import (
    AnomalyAnswerSchema,
    AnomalyCreateSchema,
    AnomalyListSchema,
    AnomalyQuerySchema,
    AnomalyTransitionSchema,
    AnomalyViewSchema,
    SupportInfoSchema,
    TicketAccessSchema,
    TicketCreateSchema,
    TicketListSchema,
    TicketMessageSchema,
    TicketQuerySchema,
    TicketTransitionSchema,
    TicketViewSchema,
)
from services.common.regions import get_region, support_desk

ANOMALY_TAGS = ("anomalies",)
TICKET_TAGS = ("tickets",)


def _etag(body: dict, status: int = 200) -> Reply:
    return Reply(body, status, headers={"ETag": body["etag"]})


def _access(ctx: Context) -> dict:
    """The anonymous requester's link (`token`) or the expert group's (`expert_token`)."""
    args = ctx.request.args
    return {"token": args.get("token"), "expert_token": args.get("expert_token")}


class AnomaliesRoutes:
    # ------------------------------------------------------------------ anomalies
    @endpoint("POST", "/api/<region>/anomalies", ANONYMOUS, request=AnomalyCreateSchema, status=201,
              response=AnomalyViewSchema,
              tags=ANOMALY_TAGS)
    def declare_anomaly(self, ctx: Context):
        """Report an anomaly on a sheet (EJ, EG, UO, offer) or on one's own national data; anonymous
        visitors give a contact e-mail and are rate-limited."""
        data = ctx.json()
        body = api.call(self.anomalies, "declare_anomaly", ctx.region, data, ctx.actor(),
                        client_ip=ctx.request.remote_addr, timeout=60)
        return _etag(body, 201)

    @endpoint("GET", "/api/<region>/anomalies", AUTHENTICATED, query=AnomalyQuerySchema, tags=ANOMALY_TAGS,
              response=AnomalyListSchema)
    def list_anomalies(self, ctx: Context):
        """Anomalies: the regional team sees the region's; others those they reported or on their sheets."""
        return api.call(self.anomalies, "list_anomalies", ctx.region, ctx.request.args.to_dict(), ctx.actor())

    @endpoint("GET", "/api/<region>/anomalies/export.csv", REGIONAL_TEAM, query=AnomalyQuerySchema,
              tags=ANOMALY_TAGS, produces="text/csv")
    def export_anomalies_csv(self, ctx: Context):
        """The filtered list as CSV (`;`, UTF-8 with BOM for Excel)."""
        answer = api.call(self.anomalies, "export_anomalies", ctx.region, ctx.request.args.to_dict(),
                          ctx.actor(), "csv", timeout=60)
        return Reply(answer["content"].encode("utf-8"), 200, mimetype="text/csv",
                     headers={"Content-Disposition": f'attachment; filename="{answer["filename"]}"'})

    @endpoint("GET", "/api/<region>/anomalies/export.xlsx", REGIONAL_TEAM, query=AnomalyQuerySchema,
              tags=ANOMALY_TAGS, produces="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    def export_anomalies_xlsx(self, ctx: Context):
        """The filtered list as an Excel workbook."""
        answer = api.call(self.anomalies, "export_anomalies", ctx.region, ctx.request.args.to_dict(),
                          ctx.actor(), "xlsx", timeout=60)
        return Reply(base64.b64decode(answer["content_base64"]), 200,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     headers={"Content-Disposition": f'attachment; filename="{answer["filename"]}"'})

    @endpoint("GET", "/api/<region>/anomalies/<int:anomaly_id>", AUTHENTICATED, tags=ANOMALY_TAGS,
              response=AnomalyViewSchema)
    def get_anomaly(self, ctx: Context, anomaly_id: int):
        """One anomaly with its history (reporter, owner of the sheet, regional team)."""
        return _etag(api.call(self.anomalies, "get_anomaly", ctx.region, anomaly_id, ctx.actor()))

    @endpoint("POST", "/api/<region>/anomalies/<int:anomaly_id>/transitions", AUTHENTICATED,
              request=AnomalyTransitionSchema, response=AnomalyViewSchema, tags=ANOMALY_TAGS, if_match=True)
    def transition_anomaly(self, ctx: Context, anomaly_id: int):
        """accept (the owner must fix) | reject (reason) | resolve; If-Match required."""
        data = ctx.json()
        if_match = ctx.if_match()
        return _etag(api.call(self.anomalies, "transition_anomaly", ctx.region, anomaly_id, data, ctx.actor(),
                              if_match))

    @endpoint("POST", "/api/<region>/anomalies/<int:anomaly_id>/answers", AUTHENTICATED,
              request=AnomalyAnswerSchema, response=AnomalyViewSchema, tags=ANOMALY_TAGS)
    def answer_anomaly(self, ctx: Context, anomaly_id: int):
        """The owner of the sheet (or the team) answers the report."""
        data = ctx.json(AnomalyAnswerSchema())
        return _etag(api.call(self.anomalies, "answer_anomaly", ctx.region, anomaly_id, data["body"],
                              ctx.actor()))

    # ------------------------------------------------------------------ support desk
    @endpoint("GET", "/api/<region>/support", ANONYMOUS, response=SupportInfoSchema, tags=TICKET_TAGS)
    def support_info(self, ctx: Context):
        """The region's support desk: hours, phone, e-mail, ticket categories."""
        region, desk = get_region(ctx.region), support_desk(ctx.region)
        days = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
        return {"region": region.code, "label": region.label, "phone": region.support_phone,
                "email": region.support_email,
                "hours": f"du {days[region.support_days[0] - 1]} au {days[region.support_days[-1] - 1]} de "
                         f"{region.support_open:%H:%M} à {region.support_close:%H:%M} (hors jours fériés)",
                "categories": [{"code": c, "label": label} for c, label in desk["categories"].items()]}

    @endpoint("POST", "/api/<region>/tickets", ANONYMOUS, request=TicketCreateSchema, status=201, tags=TICKET_TAGS,
              response=TicketViewSchema)
    def create_ticket(self, ctx: Context):
        """Open a support ticket; without login, a contact e-mail is required (rate-limited per IP and
        e-mail) and the link to follow the ticket is e-mailed."""
        data = ctx.json()
        body = api.call(self.anomalies, "create_ticket", ctx.region, data, ctx.actor(),
                        client_ip=ctx.request.remote_addr)
        return _etag(body, 201)

    @endpoint("GET", "/api/<region>/tickets", AUTHENTICATED, query=TicketQuerySchema, tags=TICKET_TAGS,
              response=TicketListSchema)
    def list_tickets(self, ctx: Context):
        """The region's queue for its agents (`overdue=true`, `due_soon=true`…); one's own tickets otherwise."""
        return api.call(self.anomalies, "list_tickets", ctx.region, ctx.request.args.to_dict(), ctx.actor())

    @endpoint("GET", "/api/<region>/tickets/<int:ticket_id>", ANONYMOUS, query=TicketAccessSchema,
              response=TicketViewSchema, tags=TICKET_TAGS)
    def get_ticket(self, ctx: Context, ticket_id: int):
        """One ticket with its due times: agents see internal notes, the requester the public replies
        (logged in, or through `?token=` of the e-mailed link)."""
        return _etag(api.call(self.anomalies, "get_ticket", ctx.region, ticket_id, ctx.actor(), _access(ctx)))

    @endpoint("POST", "/api/<region>/tickets/<int:ticket_id>/messages", ANONYMOUS, request=TicketMessageSchema,
              query=TicketAccessSchema, status=201, tags=TICKET_TAGS, response=TicketViewSchema)
    def add_ticket_message(self, ctx: Context, ticket_id: int):
        """A public reply or an internal note (`internal: true`, agents only); the requester's or the
        expert's answer."""
        data = ctx.json()
        return _etag(api.call(self.anomalies, "add_ticket_message", ctx.region, ticket_id, data, ctx.actor(),
                              _access(ctx)), 201)

    @endpoint("POST", "/api/<region>/tickets/<int:ticket_id>/transitions", ANONYMOUS,
              request=TicketTransitionSchema, query=TicketAccessSchema, response=TicketViewSchema, tags=TICKET_TAGS,
              if_match=True)
    def transition_ticket(self, ctx: Context, ticket_id: int):
        """assign | pend_requester | pend_expert | solve | close | reopen (If-Match required)."""
        data = ctx.json()
        if_match = ctx.if_match()
        return _etag(api.call(self.anomalies, "transition_ticket", ctx.region, ticket_id, data, ctx.actor(),
                              _access(ctx), if_match))

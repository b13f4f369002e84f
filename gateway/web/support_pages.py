"""Support desk and anomalies: the ticket form usable without an account, the agents' queue with its due
times and overdue marks, the ticket view (public replies, internal notes, actions), the public sheet of
an offer with « Signaler une anomalie »."""

from __future__ import annotations

from gateway.web.framework import Web, page
from gateway.web.render import redirect
from services.common.errors import Conflict, InvalidInput, PreconditionFailed, RorError, TooManyRequests
from services.common.regions import support_desk

AGENTS = ("support_agent", "region_admin")
DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
ACTIONS = {  # ticket actions of the agents, as buttons
    "assign": "Prendre en charge", "pend_requester": "En attente du demandeur", "pend_expert": "Transmettre à un expert",
    "solve": "Marquer comme résolu", "close": "Clore", "reopen": "Rouvrir",
}
SLA_LABELS = {"first_response": "première réponse", "update": "mise à jour", "solution": "résolution"}
THEMES = (("accuracy", "Exactitude (information erronée)"), ("completeness", "Complétude (information manquante)"),
          ("timeliness", "Récence (information périmée)"), ("consistency", "Cohérence"),
          ("exhaustiveness", "Exhaustivité"), ("structure", "Structuration"))


def _hours(web: Web) -> str:
    r = web.region
    return (f"du {DAYS[r.support_days[0] - 1]} au {DAYS[r.support_days[-1] - 1]} de {r.support_open:%H:%M} "
            f"à {r.support_close:%H:%M} (hors jours fériés)")


def _when(value: str | None) -> str:
    """« 2026-12-01T09:30:00+01:00 » → « 01/12/2026 09:30 » (Paris time, as the service gives it)."""
    if not value:
        return "—"
    return f"{value[8:10]}/{value[5:7]}/{value[0:4]} {value[11:16]}"


class SupportPages:
    # ------------------------------------------------------------------ ticket form (anyone)
    @page("GET,POST", "/<region>/support")
    def web_support(self, web: Web):
        categories = support_desk(web.region.code)["categories"]
        values = {"category": "", "subject": "", "body": "", "contact_email": ""}
        context = {"categories": categories, "hours": _hours(web)}
        if web.request.method == "POST":
            values = {k: (web.form.get(k) or "").strip() for k in values}
            data = {**values, "contact_email": values["contact_email"] or None}
            try:
                ticket = web.rpc("anomalies", "create_ticket", web.region.code, data, web.actor(),
                                 client_ip=web.request.remote_addr)
            except (InvalidInput, Conflict, TooManyRequests) as exc:
                return web.page("support/form.html", "Contacter le support", status=exc.status, values=values,
                                errors=exc.fields, error_message=exc.message, **context)
            return web.page("support/sent.html", "Demande envoyée", ticket=ticket, **context)
        return web.page("support/form.html", "Contacter le support", values=values, **context)

    # ------------------------------------------------------------------ agents
    @page("GET", "/<region>/support/tickets", login=True, roles=AGENTS)
    def web_ticket_queue(self, web: Web):
        args = web.request.args
        query = {k: args[k] for k in ("status", "overdue", "due_soon") if args.get(k)}
        found = web.rpc("anomalies", "list_tickets", web.region.code, {**query, "limit": 100}, web.actor())
        return web.page("support/queue.html", "File des tickets", tickets=found["items"], total=found["total"],
                        query=query, when=_when, sla=SLA_LABELS)

    @page("GET,POST", "/<region>/support/tickets/<int:ticket_id>", login=True)
    def web_ticket(self, web: Web, ticket_id: int):
        region = web.region.code
        errors, error_message = {}, None
        if web.request.method == "POST":
            action = web.form.get("action") or "message"
            try:
                if action == "message":
                    data = {"body": (web.form.get("body") or "").strip(),
                            "internal": web.form.get("internal") == "yes"}
                    web.rpc("anomalies", "add_ticket_message", region, ticket_id, data, web.actor(), {})
                    web.flash("Note interne ajoutée." if data["internal"] else "Réponse envoyée au demandeur.")
                else:
                    data = {"action": action, "comment": (web.form.get("comment") or "").strip() or None}
                    if action == "assign":
                        data["assignee"] = web.identity.username
                    web.rpc("anomalies", "transition_ticket", region, ticket_id, data, web.actor(), {},
                            web.form.get("etag"))
                    web.flash(f"Ticket : « {ACTIONS.get(action, action)} » effectué.")
                return redirect(web.url(f"/support/tickets/{ticket_id}"))
            except PreconditionFailed as exc:
                web.flash(exc.message, "error")
                return redirect(web.url(f"/support/tickets/{ticket_id}"))
            except (InvalidInput, Conflict) as exc:
                errors, error_message = exc.fields, exc.message
        ticket = web.rpc("anomalies", "get_ticket", region, ticket_id, web.actor(), {})
        return web.page("support/ticket.html", f"Ticket n° {ticket_id}", ticket=ticket, when=_when,
                        actions=ACTIONS, sla=SLA_LABELS, errors=errors, error_message=error_message,
                        status=400 if errors else 200)

    # ------------------------------------------------------------------ public sheet and anomalies
    @page("GET", "/<region>/offres/<int:offer_id>")
    def web_public_offer(self, web: Web, offer_id: int):
        offer = web.rpc("offers", "get_offer", web.region.code, offer_id, actor=None)
        return web.page("offers/public.html", offer["name"], offer=offer)

    @page("GET,POST", "/<region>/anomalies/nouvelle")
    def web_declare_anomaly(self, web: Web):
        args = web.request.values
        kind = "national" if args.get("kind") == "national" else "offer"
        offer_id = args.get("offer") or ""
        target_name = None
        if offer_id.isascii() and offer_id.isdigit():
            try:
                target_name = web.rpc("offers", "get_offer", web.region.code, int(offer_id), actor=web.actor())["name"]
            except RorError:
                target_name = None
        values = {"theme": "accuracy", "field": "", "wrong_value": "", "proposed_value": "", "message": "",
                  "contact_email": ""}
        context = {"themes": THEMES, "kind": kind, "offer_id": offer_id, "target_name": target_name}
        if web.request.method == "POST":
            values = {k: (web.form.get(k) or "").strip() for k in values}
            data = {"target": {"kind": kind, "id": int(offer_id) if offer_id.isascii() and offer_id.isdigit() else None},
                    **{k: (v or None) for k, v in values.items() if k != "message"}, "message": values["message"]}
            data["theme"] = values["theme"] or "accuracy"
            try:
                anomaly = web.rpc("anomalies", "declare_anomaly", web.region.code, data, web.actor(),
                                  client_ip=web.request.remote_addr, timeout=60)
            except (InvalidInput, Conflict, TooManyRequests) as exc:
                return web.page("anomalies/form.html", "Signaler une anomalie", status=exc.status, values=values,
                                errors=exc.fields, error_message=exc.message, **context)
            return web.page("anomalies/sent.html", "Anomalie signalée", anomaly=anomaly, **context)
        return web.page("anomalies/form.html", "Signaler une anomalie", values=values, **context)

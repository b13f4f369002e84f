"""Notifications: turns every service's events into e-mails (templates) and webhook deliveries.

Thin entrypoints; the rules live in mail_queue, rendering (and webhooks).
"""

from __future__ import annotations

import logging
from datetime import datetime

import eventlet
from marshmallow import ValidationError
from nameko.dependency_providers import Config
from nameko.exceptions import UnknownService
from nameko.timer import timer

from services.common.actor import Actor
from services.common.config import setting
from services.common.db import commit, transaction
from services.common.dependencies import Database, FrozenHeap, OutboxRelay
from services.common.entrypoints import RorRpcProxy, rpc
from services.common.errors import Forbidden, InvalidInput, Unavailable, from_marshmallow
from services.common.health import service_health
from services.common.heartbeat import Heartbeat
from services.common.outbox import claim, utcnow
from services.common.regions import REGIONS, get_region, update_cutoff
from services.notifications import mail_queue, mailer, reminders, rendering, webhooks
from services.notifications.consumer import every_event
from services.notifications.contracts import (
    DeliveryQuerySchema,
    DeliverySchema,
    HistoryQuerySchema,
    MailSchema,
    PreferencesSchema,
    ReplaySinceSchema,
    WebhookCreateSchema,
    WebhookUpdateSchema,
)
from services.notifications.courier import Smtp, WebhookCourier
from services.notifications.models import Mail, Outbox, ProcessedEvent

log = logging.getLogger(__name__)

# nameko requeues a failed message at the head of the queue: pause before failing, not to spin.
REQUEUE_PAUSE = 1.0


def _load(schema, data, message: str = "Données invalides") -> dict:
    try:
        return schema.load(data if data is not None else {})
    except ValidationError as err:
        raise from_marshmallow(err, message) from err


def _admin(region: str, actor: dict) -> Actor:
    """Re-checked here, not only by the gateway: no other caller may skip it."""
    who = Actor.from_dict(actor)
    if who.region != region or not who.is_admin:
        raise Forbidden("Réservé aux administrateurs de la région", {"role": "requires region_admin"})
    return who


class NotificationsService:
    name = "notifications"
    capabilities = ("emails",)

    config = Config()
    db = Database()
    heartbeat = Heartbeat()  # per-pod probe file (deploy/k8s)
    frozen_heap = FrozenHeap()
    outbox = OutboxRelay(Outbox)
    accounts = RorRpcProxy("accounts")
    offers = RorRpcProxy("offers")
    courier = WebhookCourier()
    smtp = Smtp()

    @rpc
    def health(self):
        return service_health(self.name, self.db, self.capabilities)

    # ------------------------------------------------------------------ events
    @every_event(requeue_on_error=True)
    def on_event(self, event):
        """Every event of every service: its e-mails (when it names recipients and has templates) and its
        webhook deliveries (when connected tools subscribed to its type)."""
        if not isinstance(event, dict) or not event.get("event_id") or not event.get("event_type"):
            log.error("ignoring a message that is not an event: %r", event)  # poison: ack, never loop
            return
        try:
            # Webhooks first, in their own transaction: they need no recipient look-up, so connected
            # tools are not kept waiting by it. Each part is idempotent on its own (unique rows).
            deliveries = webhooks.enqueue(self.db, event)
            if deliveries:
                self.db.commit()
                self.courier.deliver_now(deliveries)
            mail_ids = self._mails_for(event)
            self.db.commit()
        except Exception:
            self.db.rollback()
            log.exception("event %s (%s) not handled, requeued", event.get("event_id"), event.get("event_type"))
            eventlet.sleep(REQUEUE_PAUSE)
            raise
        for mail_id in mail_ids:  # at once for latency; the timer retries what fails
            with transaction(self.db):
                mail_queue.send_one(self.db, mail_id, self._transport)

    def _mails_for(self, event: dict) -> list[int]:
        if not event.get("recipients") or not rendering.has_templates(event["event_type"]):
            return []
        if self.db.get(ProcessedEvent, (event["event_id"], "mail")) is not None:
            return []  # redelivery: its mails are already stored (and sent or on their way)
        people = self._recipients(event)
        if not claim(self.db, ProcessedEvent, event["event_id"], "mail"):
            return []
        public_url = setting("ROR_PUBLIC_URL", self.config)

        def render(person: dict):
            out = rendering.render(event, person, public_url)
            return out.subject, out.text, out.html

        return mail_queue.enqueue(self.db, event, people, render)

    def _recipients(self, event: dict) -> list[dict]:
        """Addresses given as such need nobody; the others are resolved by accounts (Keycloak)."""
        selectors = event["recipients"] if isinstance(event["recipients"], list) else []
        people = [{"email": s["email"], "name": "", "subject": None}
                  for s in selectors if isinstance(s, dict) and set(s) == {"email"} and isinstance(s["email"], str)]
        others = [s for s in selectors if not (isinstance(s, dict) and set(s) == {"email"})]
        if others and event.get("region"):
            try:
                people += self._accounts("resolve_recipients", event["region"], others)
            except InvalidInput as exc:  # the event's own fault: a requeue would not fix it
                log.error("event %s names invalid recipients: %s %s", event["event_id"], exc, exc.fields)
        elif others:
            log.error("event %s has no region: selectors %r cannot be resolved", event["event_id"], others)
        return people

    def _accounts(self, method: str, *args):
        return self._call(self.accounts, method, *args)

    def _call(self, proxy, method: str, *args):
        """RPC with a deadline (the in-service proxy has none): a dead service gives 503, not a hang."""
        timeout = float(setting("ROR_RPC_TIMEOUT", self.config))
        try:
            with eventlet.Timeout(timeout, Unavailable(f"Le service {proxy.service_name} ne répond pas")):
                return getattr(proxy, method)(*args)
        except UnknownService as exc:
            raise Unavailable(f"Le service {proxy.service_name} n'est pas démarré", {"service": str(exc)}) from exc

    # ------------------------------------------------------------------ update reminders
    @timer(interval=3600)
    def update_reminders(self):
        """Hourly: sheets past their region's update period get their reminder (once per period)."""
        for code in REGIONS:
            try:
                self._remind(code, utcnow())
            except Exception:  # offers or accounts down: the next hour tries again
                self.db.rollback()
                log.exception("update reminders of %s failed", code)

    @rpc
    def run_update_reminders(self, region: str, now: str | None = None) -> dict:
        """The same pass on demand (support, tests); `now` (ISO) to see what a later date would send."""
        get_region(region)
        moment = datetime.fromisoformat(now) if now else utcnow()
        if moment.tzinfo is None:
            raise InvalidInput("Date invalide", {"now": "a time zone is required"})
        return {"reminders": self._remind(region, moment)}

    def _remind(self, region: str, now: datetime) -> int:
        cutoff = update_cutoff(region, now).isoformat()
        sent = 0
        for recorded in reminders.run(
                self.db, region, now,
                fetch=lambda kind, after: self._call(self.offers, "stale_publications", region, kind, cutoff, after),
                editable=lambda ids: self._call(self.accounts, "structures_with_editors", region, ids)):
            commit(self.db)  # after each page: a crash resumes where it stopped
            sent += recorded
        return sent

    # ------------------------------------------------------------------ sending
    def _transport(self, mail: Mail) -> None:
        cfg = self.config
        msg = mailer.build_message(setting("ROR_MAIL_FROM", cfg), mail.recipient_email, mail.subject,
                                   mail.body_text, mail.body_html, to_name=mail.recipient_name,
                                   headers={"X-ROR-Event-Id": mail.event_id, "X-ROR-Event-Type": mail.event_type})
        self.smtp.send(msg)

    @timer(interval=2)
    def send_due_mails(self):
        """Mails whose first attempt failed (SMTP down), again when their delay is over."""
        for mail_id in mail_queue.due(self.db):
            with transaction(self.db):
                mail_queue.send_one(self.db, mail_id, self._transport)

    # ------------------------------------------------------------------ the person's side
    @rpc
    def history(self, region: str, identity: dict, query: dict) -> dict:
        q = _load(HistoryQuerySchema(), query, "Paramètres invalides")
        mails = mail_queue.history(self.db, region, identity["subject"], identity.get("email"),
                                   limit=q["limit"], before_id=q["before"])
        return {"notifications": MailSchema(many=True).dump(mails),
                "next_before": mails[-1].id if len(mails) == q["limit"] else None}

    @rpc
    def preferences(self, region: str, identity: dict) -> dict:
        return mail_queue.get_preferences(self.db, region, identity["subject"])

    @rpc
    def set_preferences(self, region: str, identity: dict, data: dict) -> dict:
        loaded = _load(PreferencesSchema(), data)
        result = mail_queue.set_preferences(self.db, region, identity["subject"], identity.get("email"),
                                            loaded["reminders"])
        self.db.commit()
        return result

    # ------------------------------------------------------------------ webhooks (region admins)
    @rpc
    def create_webhook(self, region: str, data: dict, actor: dict) -> dict:
        who = _admin(region, actor)
        result = webhooks.create(self.db, region, _load(WebhookCreateSchema(), data), who.username,
                                 self.courier.url_check)
        self.db.commit()
        return result

    @rpc
    def list_webhooks(self, region: str, actor: dict) -> list[dict]:
        _admin(region, actor)
        return webhooks.listing(self.db, region)

    @rpc
    def get_webhook(self, region: str, webhook_id: int, actor: dict) -> dict:
        _admin(region, actor)
        return webhooks.view(webhooks.get(self.db, region, int(webhook_id)))

    @rpc
    def update_webhook(self, region: str, webhook_id: int, data: dict, if_match: str | None, actor: dict) -> dict:
        _admin(region, actor)
        loaded = _load(WebhookUpdateSchema(), data)
        if not loaded:
            raise InvalidInput("Rien à modifier", {"body": "one of url, events, description, active"})
        result = webhooks.update_subscription(self.db, region, int(webhook_id), loaded, if_match,
                                              self.courier.url_check)
        self.db.commit()
        self.courier.kick()  # re-enabled: what waited may go
        return result

    @rpc
    def rotate_webhook_secret(self, region: str, webhook_id: int, if_match: str | None, actor: dict) -> dict:
        _admin(region, actor)
        result = webhooks.rotate(self.db, region, int(webhook_id), if_match)
        self.db.commit()
        return result

    @rpc
    def webhook_deliveries(self, region: str, webhook_id: int, query: dict, actor: dict) -> dict:
        _admin(region, actor)
        q = _load(DeliveryQuerySchema(), query, "Paramètres invalides")
        rows = webhooks.deliveries(self.db, region, int(webhook_id), q["status"], q["limit"], q["before"])
        return {"deliveries": DeliverySchema(many=True).dump(rows),
                "next_before": rows[-1].id if len(rows) == q["limit"] else None}

    @rpc
    def replay_delivery(self, region: str, webhook_id: int, delivery_id: int, actor: dict) -> dict:
        _admin(region, actor)
        row = webhooks.replay_one(self.db, region, int(webhook_id), int(delivery_id))
        result = DeliverySchema().dump(row)
        self.db.commit()
        self.courier.kick()
        return result

    @rpc
    def replay_webhook_since(self, region: str, webhook_id: int, data: dict, actor: dict) -> dict:
        _admin(region, actor)
        since = _load(ReplaySinceSchema(), data)["since"]
        count = webhooks.replay_since(self.db, region, int(webhook_id), since)
        self.db.commit()
        self.courier.kick()
        return {"replayed": count}

    @rpc
    def sent_count(self, event_id: str) -> int:
        """How many mails an event produced and SMTP took (tests and support check a delivery with it)."""
        return self.db.query(Mail).filter_by(event_id=event_id, status="sent").count()


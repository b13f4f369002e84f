"""Notifications: turns facts from the other services into e-mails (and, later, webhooks)."""

from __future__ import annotations

import logging

from nameko.dependency_providers import Config

from services.common.config import setting
from services.common.dependencies import Database, OutboxRelay
from services.common.entrypoints import event_handler, rpc
from services.common.health import service_health
from services.common.heartbeat import Heartbeat
from services.common.outbox import claim
from services.common.regions import REGIONS
from services.notifications import mailer, templates
from services.notifications.models import Outbox, ProcessedEvent, SentMail

log = logging.getLogger(__name__)


class NotificationsService:
    name = "notifications"
    capabilities = ("emails",)

    config = Config()
    db = Database()
    heartbeat = Heartbeat()  # per-pod probe file (deploy/k8s)
    outbox = OutboxRelay(Outbox)

    @rpc
    def health(self):
        return service_health(self.name, self.db, self.capabilities)

    def _send(self, event_id: str | None, to: str, subject: str, text: str, html: str | None) -> None:
        cfg = self.config
        msg = mailer.build_message(setting("ROR_MAIL_FROM", cfg), to, subject, text, html)
        mailer.send(msg, setting("ROR_SMTP_HOST", cfg), int(setting("ROR_SMTP_PORT", cfg)))
        self.db.add(SentMail(event_id=event_id, recipient=to, subject=subject))

    def _once(self, event: dict, handler: str) -> bool:
        return claim(self.db, ProcessedEvent, event["event_id"], handler)

    # requeue_on_error: a failure (SMTP or DB down) must not drop the event (nameko would ack it).
    @event_handler("accounts", "accounts.activated", requeue_on_error=True)
    def on_account_activated(self, event):
        if not self._once(event, "email_verification"):
            self.db.rollback()
            return
        region = REGIONS[event["region"]]
        subject, text, html = templates.email_verification(
            event.get("first_name", ""), event.get("last_name", ""), event["username"],
            event["verification_url"], region.label,
        )
        # Claim first, send, then commit: a crash between send and commit resends (at least once),
        # never loses the mail.
        self._send(event["event_id"], event["email"], subject, text, html)
        self.db.commit()

    @rpc
    def sent_count(self, event_id: str) -> int:
        """How many mails an event produced (used by tests and support to check a delivery)."""
        return self.db.query(SentMail).filter_by(event_id=event_id).count()

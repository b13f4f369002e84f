"""Tables of the notifications service (schema `notifications`)."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.outbox import OutboxMixin, ProcessedEventMixin, utcnow


class Base(DeclarativeBase):
    metadata = MetaData(schema="notifications")


class Outbox(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class Mail(Base):
    """One e-mail to one person because of one event: rendered once, kept until SMTP took it.

    (event_id, recipient_email) is unique: a redelivered event finds its mails already there and
    sends nothing twice. The row is also the person's notification history.
    """

    __tablename__ = "mails"
    __table_args__ = (UniqueConstraint("event_id", "recipient_email", name="uq_mails_event_recipient"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(16))  # security | reminder | info
    recipient_email: Mapped[str] = mapped_column(String(320), index=True)
    recipient_name: Mapped[str] = mapped_column(String(300), default="")
    recipient_subject: Mapped[str | None] = mapped_column(String(64), index=True)  # Keycloak sub
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    # pending -> sent | failed (gave up) ; opted_out (a reminder the person refused: kept for history)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Preference(Base):
    """A person's choices: only reminders can be refused (security and information mails cannot)."""

    __tablename__ = "preferences"

    region: Mapped[str] = mapped_column(String(8), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    reminders: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Subscription(Base):
    """A connected tool's webhook endpoint (Standard Webhooks), registered by a region admin."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(String(8), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(String(500), default="")
    secret: Mapped[str] = mapped_column(String(100))  # whsec_<base64>, needed in clear to sign
    # During a rotation both secrets sign every delivery, until `previous_secret_until`.
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Delivery(Base):
    """One event for one subscription. (subscription_id, event_id) unique: never twice per event."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("subscription_id", "event_id", name="uq_deliveries_subscription_event"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(Integer, index=True)
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(64))
    # The webhook-id header: stable across retries so that the receiver can deduplicate.
    message_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)  # exact bytes signed and sent
    # pending -> delivered | failed (parked after the last retry) | disabled (subscription gone)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    attempt_log: Mapped[list] = mapped_column(JSON, default=list)  # [{at, status_code, error, ms}]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReminderSent(Base):
    """One update reminder per sheet and period: (kind, target, cycle) unique, cycle = the last update
    it is about and how many periods have passed since."""

    __tablename__ = "reminders_sent"
    __table_args__ = (UniqueConstraint("region", "kind", "target_id", "cycle", name="uq_reminders_cycle"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(12))  # offer | structure
    target_id: Mapped[int] = mapped_column(Integer)
    cycle: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

"""Tables of the notifications service (schema `notifications`)."""

from datetime import datetime

from sqlalchemy import DateTime, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.outbox import OutboxMixin, ProcessedEventMixin, utcnow


class Base(DeclarativeBase):
    metadata = MetaData(schema="notifications")


class Outbox(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class SentMail(Base):
    """Audit of what was sent, to whom and why (the message itself is in the SMTP server)."""

    __tablename__ = "sent_mails"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str | None] = mapped_column(String(36), index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

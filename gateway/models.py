"""The gateway's own tables (schema `gateway`): state that every gateway process must share —
rate-limit counters, the answers kept for idempotency keys, web page sessions. No business data."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, LargeBinary, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.outbox import utcnow
from services.common.ratelimit import RateCounterMixin


class Base(DeclarativeBase):
    metadata = MetaData(schema="gateway")


class RateCounter(RateCounterMixin, Base):
    pass


class IdempotentRequest(Base):
    """A write sent with an `Idempotency-Key`: its fingerprint (method, path, body) and, once answered,
    the answer replayed to a retry. `status` is null while the first request runs."""

    __tablename__ = "idempotent_requests"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)  # caller + client's key
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict | None] = mapped_column(JSON)
    mimetype: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class WebSession(Base):
    """A web page session (gateway.web.sessions), shared by every gateway process: a login made on one
    replica holds on the next. Looked up by a hash of the cookie's id; the content (tokens, CSRF secret)
    is sealed with a key derived from that id, so the table alone gives neither cookies nor tokens."""

    __tablename__ = "web_sessions"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    touched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

"""Transactional outbox and processed-event ledger (plain SQLAlchemy, no nameko).

A write that emits a fact stores the event in its service's `outbox` table in the same transaction;
a relay publishes pending rows after commit and again periodically, so a broker outage delays an
event but never loses it. Delivery is at least once, so handlers record the ids they processed in
`processed_events` and skip a redelivery.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, Integer, String, Text, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Mapped, Session, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class OutboxMixin:
    __tablename__ = "outbox"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class ProcessedEventMixin:
    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    handler: Mapped[str] = mapped_column(String(128), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


RECORDED = "outbox_recorded"  # session.info flag: this transaction stored an event (the relay has work)


def record(session: Session, outbox_cls, event: dict) -> None:
    """Store `event` in the caller's transaction."""
    session.add(outbox_cls(event_id=event["event_id"], event_type=event["event_type"], payload=event))
    session.info[RECORDED] = True


def relay(session: Session, outbox_cls, publish: Callable[[dict], None], batch: int = 100) -> int:
    """Publish pending events in order; stop at the first failure (the broker is likely down).
    Marks the rows in the caller's transaction: the caller commits.

    Rows are locked with SKIP LOCKED so that several workers relaying at once do not
    publish the same row twice in the common case (handlers stay idempotent for the rest).
    """
    stmt = (
        select(outbox_cls)
        .where(outbox_cls.published_at.is_(None))
        .order_by(outbox_cls.created_at)
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    sent = 0
    for row in session.scalars(stmt).all():
        try:
            publish(row.payload)
        except Exception as exc:  # broker down: keep the row, try again later
            row.attempts += 1
            row.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            break
        row.published_at = utcnow()
        row.attempts += 1
        sent += 1
    session.flush()
    return sent


def claim(session: Session, processed_cls, event_id: str, handler: str) -> bool:
    """Mark (event_id, handler) as processed in the caller's transaction.

    Returns False when it was already processed: the caller must then do nothing.
    """
    table = processed_cls.__table__
    if session.get_bind().dialect.name == "postgresql":
        result = session.execute(
            pg_insert(table)
            .values(event_id=event_id, handler=handler, processed_at=utcnow())
            .on_conflict_do_nothing()
        )
        return result.rowcount == 1
    if session.get(processed_cls, (event_id, handler)) is not None:
        return False
    session.add(processed_cls(event_id=event_id, handler=handler))
    session.flush()
    return True

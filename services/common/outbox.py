"""Transactional outbox and processed-event ledger (plain SQLAlchemy, no nameko).

A write that emits a fact stores the event in its service's `outbox` table in the same transaction;
a relay publishes pending rows after commit and again periodically, so a broker outage delays an
event but never loses it. Delivery is at least once, so handlers record the ids they processed in
`processed_events` and skip a redelivery.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import JSON, DateTime, Integer, String, Text, func, or_, select
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
    # Retries back off per row; a row failing for PARK_AFTER is parked (kept, shown by `ror outbox status`).
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    parked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


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


BACKOFF_BASE = 2.0  # seconds before the first retry, doubled at each failure
BACKOFF_MAX = 600.0
PARK_AFTER = timedelta(hours=1)


class BrokerUnavailable(Exception):
    """Raised by a publish callable when the broker itself failed (not this event): the pass stops."""


def backoff(attempts: int) -> timedelta:
    """Delay before try number `attempts + 1`: 2 s, 4 s, 8 s … capped at 10 minutes."""
    return timedelta(seconds=min(BACKOFF_MAX, BACKOFF_BASE * 2 ** max(0, attempts - 1)))


def relay(session: Session, outbox_cls, publish: Callable[[dict], None], batch: int = 100,
          now: datetime | None = None, park_after: timedelta = PARK_AFTER) -> int:
    """Publish the pending events that are due, oldest first. A row that fails is retried later with
    exponential backoff and parked once it has failed for `park_after`; the rows behind it go on.
    A BrokerUnavailable stops the pass (the next rows would fail the same way), without counting
    against the rows not tried. Marks the rows in the caller's transaction: the caller commits.

    Rows are locked with SKIP LOCKED so that several workers relaying at once do not
    publish the same row twice in the common case (handlers stay idempotent for the rest).
    """
    now = now or utcnow()
    stmt = (
        select(outbox_cls)
        .where(outbox_cls.published_at.is_(None), outbox_cls.parked_at.is_(None),
               or_(outbox_cls.next_attempt_at.is_(None), outbox_cls.next_attempt_at <= now))
        .order_by(outbox_cls.created_at)
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    sent = 0
    for row in session.scalars(stmt).all():
        row.attempts = (row.attempts or 0) + 1
        try:
            publish(row.payload)
        except Exception as exc:
            row.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            row.next_attempt_at = now + backoff(row.attempts)
            created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=now.tzinfo)
            if now - created >= park_after:
                row.parked_at = now
            if isinstance(exc, BrokerUnavailable):
                break
            continue
        row.published_at = now
        row.last_error = None
        sent += 1
    session.flush()
    return sent


def status(session: Session, outbox_cls) -> dict:
    """Pending and parked rows, the oldest pending one and the last error (for `ror outbox status`)."""
    pending = session.scalar(select(func.count()).where(outbox_cls.published_at.is_(None),
                                                       outbox_cls.parked_at.is_(None)))
    parked = session.scalar(select(func.count()).where(outbox_cls.parked_at.is_not(None),
                                                      outbox_cls.published_at.is_(None)))
    oldest = session.scalar(select(func.min(outbox_cls.created_at)).where(outbox_cls.published_at.is_(None)))
    last = session.scalars(select(outbox_cls).where(outbox_cls.published_at.is_(None),
                                                    outbox_cls.last_error.is_not(None))
                           .order_by(outbox_cls.next_attempt_at.desc().nulls_last()).limit(1)).first()
    return {"pending": pending, "parked": parked, "oldest": oldest.isoformat() if oldest else None,
            "last_error": last.last_error if last else None}


def unpark(session: Session, outbox_cls) -> int:
    """Give the parked rows another chance (after the cause was fixed)."""
    rows = session.scalars(select(outbox_cls).where(outbox_cls.parked_at.is_not(None),
                                                    outbox_cls.published_at.is_(None))).all()
    for row in rows:
        row.parked_at = row.next_attempt_at = None
    return len(rows)


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

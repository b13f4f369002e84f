"""Rate limits for anonymous writes (plain SQLAlchemy, no nameko): a fixed window counted in the
service's own `rate_limit_hits` table, so that every process of the service shares the count and a
restart does not reset it.

Use: a service declares `class RateLimitHit(RateLimitHitMixin, Base)` and calls
`hit(session, RateLimitHit, "ip:1.2.3.4", limit=10, window=timedelta(hours=1))` before the write;
it raises TooManyRequests (HTTP 429, `retry_after` seconds in the fields) when the key is over its limit.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import DateTime, Index, Integer, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from services.common.errors import TooManyRequests
from services.common.outbox import utcnow


class RateLimitHitMixin:
    __tablename__ = "rate_limit_hits"
    __table_args__ = (Index("ix_rate_limit_hits_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def hit(session: Session, hit_cls, key: str, limit: int, window: timedelta, field: str = "rate_limit",
        now: datetime | None = None) -> None:
    """Count one write for `key`; TooManyRequests (nothing recorded) when `limit` is already reached
    within `window`. Concurrent callers may overshoot by a few: fine for abuse control."""
    now = now or utcnow()
    since = now - window
    count, oldest = session.execute(
        select(func.count(), func.min(hit_cls.at)).where(hit_cls.key == key, hit_cls.at > since)).one()
    if count >= limit:
        retry_after = max(1, math.ceil((oldest + window - now).total_seconds()))
        raise TooManyRequests(
            "Trop de demandes : réessayez plus tard",
            {field: f"at most {limit} per {int(window.total_seconds() // 60)} minutes",
             "retry_after": retry_after})
    session.add(hit_cls(key=key, at=now))
    session.flush()


def purge(session: Session, hit_cls, older_than: datetime) -> int:
    """Drop hits no window can count any more (called periodically)."""
    return session.execute(delete(hit_cls).where(hit_cls.at < older_than)).rowcount or 0

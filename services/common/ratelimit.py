"""Fixed-window counters in PostgreSQL (plain SQLAlchemy, no nameko): every process of a service agrees
on a limit, however many gateway or accounts processes run.

A counter is one row per (key, window); `hit` increments it atomically (INSERT … ON CONFLICT DO UPDATE …
RETURNING) and says how long to wait when the limit is passed. Old windows are deleted now and then.
"""

from __future__ import annotations

import math
import random
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from services.common.outbox import utcnow


class RateCounterMixin:
    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    window_start: Mapped[int] = mapped_column(Integer, primary_key=True)  # epoch seconds // window
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


def hit(session: Session, counter_cls, key: str, limit: int, window: int, now: datetime | None = None,
        cost: int = 1) -> int | None:
    """Count one use of `key`; None when it is within `limit` uses per `window` seconds, else the
    seconds until the window ends (Retry-After). Flushes only: the caller commits."""
    now = now or utcnow()
    epoch = now.timestamp()
    index = int(epoch // window)
    table = counter_cls.__table__
    ends = (index + 1) * window
    stmt = pg_insert(table).values(key=key[:300], window_start=index, count=cost,
                                   expires_at=datetime.fromtimestamp(ends, now.tzinfo))
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.key, table.c.window_start],
                                      set_={"count": table.c.count + cost}).returning(table.c.count)
    count = session.execute(stmt).scalar_one()
    if random.random() < 0.01:  # housekeeping, cheap and rare
        session.execute(delete(table).where(table.c.expires_at < now))
    if count > limit:
        return max(1, math.ceil(ends - epoch))
    return None


def peek(session: Session, counter_cls, key: str, window: int, now: datetime | None = None) -> int:
    """Uses of `key` in the current window (without counting one)."""
    now = now or utcnow()
    row = session.get(counter_cls, (key[:300], int(now.timestamp() // window)))
    return row.count if row else 0

"""Abuse limits of the accounts service (plain SQLAlchemy, no nameko): password-reset e-mails at most
one per account per RESET_WINDOW, counted in PostgreSQL so that every accounts process agrees."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.accounts.models import RateCounter
from services.common.outbox import utcnow

RESET_WINDOW = 300  # seconds: one renewal e-mail per account per 5 minutes


def reset_allowed(session: Session, region: str, user_id: str) -> bool:
    """True when no renewal e-mail went to this account in the last RESET_WINDOW seconds (then noted; the
    caller commits). A sliding delay, not a fixed window: one atomic upsert that only succeeds once the last
    one expired."""
    table = RateCounter.__table__
    now = utcnow()
    stmt = pg_insert(table).values(key=f"password-reset:{region}:{user_id}"[:300], window_start=0, count=1,
                                   expires_at=now + timedelta(seconds=RESET_WINDOW))
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.key, table.c.window_start],
        set_={"count": table.c.count + 1, "expires_at": now + timedelta(seconds=RESET_WINDOW)},
        where=table.c.expires_at <= now).returning(table.c.key)
    return session.execute(stmt).first() is not None

"""Abuse limits of the accounts service (plain SQLAlchemy, no nameko): password-reset e-mails at most
one per account per RESET_WINDOW, counted in PostgreSQL so that every accounts process agrees."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from services.accounts.models import RateCounter
from services.common import ratelimit

RESET_WINDOW = 300  # seconds: one renewal e-mail per account per 5 minutes


def reset_allowed(new_session: Callable[[], Session], region: str, user_id: str) -> bool:
    """True for the first reset request of this account in the current 5-minute window (then counted)."""
    session = new_session()
    try:
        wait = ratelimit.hit(session, RateCounter, f"password-reset:{region}:{user_id}", 1, RESET_WINDOW)
        session.commit()
        return wait is None
    finally:
        session.close()

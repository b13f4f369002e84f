"""Outgoing e-mails: one row per (event, recipient), sent with retries (plain module, no nameko).

Rendering happens when the event arrives, in the same transaction as the processed-event claim, so
a redelivered event finds its mails already stored and adds none. Sending is separate: a mail stays
`pending` until the SMTP server accepts it, retried with a growing delay while SMTP is down, and
parked as `failed` after `MAX_ATTEMPTS`. A row is locked (SKIP LOCKED) while it is being sent, so two
senders never send the same mail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.common.outbox import utcnow
from services.notifications.models import Mail, Preference

log = logging.getLogger(__name__)

SECURITY, REMINDER, INFO = "security", "reminder", "info"
CATEGORIES = (SECURITY, REMINDER, INFO)
# Delays before the 2nd, 3rd… attempt; the last one repeats until MAX_ATTEMPTS (about two days).
BACKOFF = (timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10),
           timedelta(minutes=30), timedelta(hours=1))
MAX_ATTEMPTS = 50


def backoff(attempts: int) -> timedelta:
    """Delay after the `attempts`-th failed attempt (1-based)."""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


def category_of(event: dict) -> str:
    value = event.get("mail_category") or INFO
    return value if value in CATEGORIES else INFO


def opted_out_of_reminders(session: Session, region: str | None, subject: str | None, email: str) -> bool:
    conditions = [Preference.email == email.lower()]
    if subject:
        conditions.append(Preference.subject == subject)
    stmt = select(Preference.reminders).where(or_(*conditions))
    if region:
        stmt = stmt.where(Preference.region == region)
    return any(value is False for value in session.scalars(stmt))


def enqueue(session: Session, event: dict, recipients: Iterable[dict],
            render: Callable[[dict], tuple[str, str, str]]) -> list[int]:
    """Store one mail per distinct recipient address; returns the ids of the mails to send now.

    `recipients`: [{email, name, subject}] as resolved by accounts. `render(recipient)` gives
    (subject, text, html). A reminder to someone who refused reminders is stored as `opted_out`.
    """
    category = category_of(event)
    region = event.get("region")
    seen: set[str] = set()
    to_send: list[int] = []
    for recipient in recipients:
        email = (recipient.get("email") or "").strip().lower()
        if not email or email in seen:
            continue
        seen.add(email)
        status = "pending"
        if category == REMINDER and opted_out_of_reminders(session, region, recipient.get("subject"), email):
            status = "opted_out"
        try:
            subject, text, html = render(recipient)
            error = None
        except Exception as exc:  # a template bug must not block the queue: park the mail, say why
            log.exception("rendering %s for %s failed", event["event_type"], email)
            subject, text, html, error = event["event_type"], "", None, f"{type(exc).__name__}: {exc}"[:1000]
            status = "failed"
        values = dict(
            event_id=event["event_id"], event_type=event["event_type"], region=region, category=category,
            recipient_email=email, recipient_name=(recipient.get("name") or "")[:300],
            recipient_subject=recipient.get("subject"), subject=subject[:300], body_text=text, body_html=html,
            status=status, attempts=0, next_attempt_at=utcnow(), last_error=error, created_at=utcnow(),
        )
        stmt = (pg_insert(Mail).values(**values)
                .on_conflict_do_nothing(constraint="uq_mails_event_recipient").returning(Mail.id))
        new_id = session.execute(stmt).scalar()
        if new_id is not None and status == "pending":
            to_send.append(new_id)
    return to_send


def due(session: Session, now: datetime | None = None, limit: int = 50) -> list[int]:
    now = now or utcnow()
    return list(session.scalars(select(Mail.id).where(Mail.status == "pending", Mail.next_attempt_at <= now)
                                .order_by(Mail.next_attempt_at).limit(limit)))


def send_one(session: Session, mail_id: int, transport: Callable[[Mail], None],
             now: datetime | None = None) -> str | None:
    """Try to send one pending, due mail (its row locked meanwhile); the caller commits the outcome.
    Returns its new status, None when another sender holds it or it is not due."""
    now = now or utcnow()
    mail = session.scalars(select(Mail).where(Mail.id == mail_id, Mail.status == "pending",
                                              Mail.next_attempt_at <= now)
                           .with_for_update(skip_locked=True)).first()
    if mail is None:
        return None
    mail.attempts += 1
    try:
        transport(mail)
    except Exception as exc:  # SMTP down or refusing: keep it, retry later
        mail.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        if mail.attempts >= MAX_ATTEMPTS:
            mail.status = "failed"
        else:
            mail.next_attempt_at = now + backoff(mail.attempts)
        log.warning("mail %s to %s not sent (attempt %s): %s", mail.id, mail.recipient_email, mail.attempts,
                    mail.last_error)
    else:
        mail.status, mail.sent_at, mail.last_error = "sent", utcnow(), None
    session.flush()
    return mail.status


def history(session: Session, region: str, subject: str, email: str | None, limit: int = 50,
            before_id: int | None = None) -> list[Mail]:
    """The caller's mails, newest first (matched by Keycloak subject, or by address for mails sent
    before the account existed, e.g. the activation mail)."""
    who = [Mail.recipient_subject == subject]
    if email:
        who.append(Mail.recipient_email == email.lower())
    stmt = select(Mail).where(Mail.region == region, or_(*who))
    if before_id is not None:
        stmt = stmt.where(Mail.id < before_id)
    return list(session.scalars(stmt.order_by(Mail.id.desc()).limit(limit)))


def get_preferences(session: Session, region: str, subject: str) -> dict:
    pref = session.get(Preference, (region, subject))
    return {"reminders": True if pref is None else pref.reminders, "security": True, "info": True}


def set_preferences(session: Session, region: str, subject: str, email: str | None, reminders: bool) -> dict:
    """Flushes; security and information mails cannot be refused (the schema does not accept them)."""
    pref = session.get(Preference, (region, subject))
    if pref is None:
        pref = Preference(region=region, subject=subject)
        session.add(pref)
    pref.reminders = reminders
    pref.email = email.lower() if email else pref.email
    pref.updated_at = utcnow()
    session.flush()
    return get_preferences(session, region, subject)

"""E-mail verification: the link of the activation e-mail marks the Keycloak user's address verified."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.accounts import activation as rules
from services.accounts.models import Activation, EmailVerification, Outbox
from services.accounts.operations.ports import Directory
from services.common.errors import InvalidInput, NotFound
from services.common.events import make_event
from services.common.outbox import record, utcnow

INVALID_LINK = "Lien de validation invalide ou expiré."


def verify_email(session: Session, region: str, token: str, directory: Directory,
                 now: datetime | None = None) -> dict:
    now = now or utcnow()
    row = session.scalars(select(EmailVerification).where(
        EmailVerification.region == region,
        EmailVerification.token_hash == rules.email_token_hash(token)).with_for_update()).first()
    if row is None or row.used_at is not None or now >= row.expires_at:
        raise InvalidInput(INVALID_LINK, {"token": INVALID_LINK})
    try:
        directory.mark_email_verified(row.subject)
    except NotFound as exc:
        raise InvalidInput(INVALID_LINK, {"token": "account no longer exists"}) from exc
    # Marking verified twice is harmless, so a failed commit needs no compensation: the link still works.
    row.used_at = now
    session.execute(update(Activation).where(Activation.region == region, Activation.subject == row.subject)
                    .values(email_verified_at=now))
    record(session, Outbox, make_event("accounts.email_verified", region, row.username,
                                       username=row.username, email=row.email, subject=row.subject))
    session.flush()
    return {"username": row.username, "email_verified": True,
            "message": "Votre adresse mail a été validée avec succès. Vous pouvez à présent vous connecter."}

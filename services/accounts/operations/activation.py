"""Activation: RPPS + code + password + e-mail → a Keycloak user whose e-mail is to verify, the code used.

(The rules themselves — code hashing, attempt limit, password policy — are `services.accounts.activation`.)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import NoReturn

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.accounts import activation as rules
from services.accounts.models import Activation, ActivationAttempt, ActivationCode, EmailVerification, Outbox
from services.accounts.operations.ports import Directory, lock
from services.common.db import keeping_changes, on_rollback
from services.common.errors import Conflict, InvalidInput, TooManyRequests
from services.common.events import make_event
from services.common.outbox import record, utcnow

INVALID_CODE = "Numéro RPPS ou code d'activation invalide (un code ne sert qu'une seule fois)."
ALREADY_ACTIVATED = ("Un compte existe déjà pour ce numéro RPPS. Connectez-vous, ou utilisez "
                     "« mot de passe oublié ».")


@cache
def _decoy_hash() -> str:
    return rules.hash_code("A" * rules.CODE_LENGTH)


def _fail_attempt(session: Session, region: str, rpps: str, now: datetime, client: str | None = None) -> NoReturn:
    """Count the wrong code, then refuse: the error keeps the count (the entrypoint's `transaction`
    commits it even though the request fails)."""
    session.add(ActivationAttempt(region=region, rpps=rpps, attempted_at=now, succeeded=False, client=client))
    session.flush()
    raise keeping_changes(InvalidInput(INVALID_CODE, {"rpps": INVALID_CODE, "activation_code": INVALID_CODE}))


def activate(session: Session, region: str, data: dict, directory: Directory, public_url: str,
             now: datetime | None = None, client: str | None = None) -> dict:
    """RPPS + code + password + e-mail → a Keycloak user to verify, the code used, `accounts.activated`.

    `data` is ActivateSchema-validated. Errors never say whether the RPPS is known: a wrong, used,
    expired or revoked code all give the same 400; only a valid code may learn that the RPPS
    already has an account (409).
    """
    now = now or utcnow()
    rpps, email = data["rpps"], data["email"].strip().lower()
    lock(session, f"activation:{region}:{rpps}")

    failures = session.scalars(select(ActivationAttempt.attempted_at).where(
        ActivationAttempt.region == region, ActivationAttempt.rpps == rpps,
        ActivationAttempt.succeeded.is_(False), ActivationAttempt.attempted_at > now - rules.FAILURE_WINDOW,
        # Counted per client: a stranger's wrong codes lock the RPPS for that stranger only.
        ActivationAttempt.client.is_(None) if client is None else ActivationAttempt.client == client))
    wait = rules.retry_after(failures, now)
    if wait is not None:
        minutes = max(1, int(wait.total_seconds() // 60) + 1)
        raise TooManyRequests(
            f"Trop de tentatives avec un code erroné. Réessayez dans {minutes} minute(s).",
            {"retry_after": int(wait.total_seconds()) + 1},
        )

    # Only the live code can succeed (used and replaced codes fail like wrong ones), so one scrypt per
    # attempt, a decoy one when the RPPS has no live code: the answer time says nothing either.
    code = session.scalars(select(ActivationCode).where(
        ActivationCode.region == region, ActivationCode.rpps == rpps,
        ActivationCode.used_at.is_(None), ActivationCode.revoked_at.is_(None)).with_for_update()).first()
    if not rules.verify_code(data["activation_code"], code.code_hash if code else _decoy_hash()) \
            or code is None or not rules.code_usable(now, code.expires_at, code.used_at, code.revoked_at):
        _fail_attempt(session, region, rpps, now, client)

    if directory.rpps_has_account(rpps):
        raise Conflict(ALREADY_ACTIVATED, {"rpps": "already activated"})
    # An earlier activation whose Keycloak account was deleted since (support): this letter starts over.
    session.execute(delete(Activation).where(Activation.region == region, Activation.rpps == rpps))

    # Keycloak before the commit: if it refuses, nothing is stored and the code stays usable.
    user_id = directory.create_professional(rpps, email, code.first_name, code.last_name, data["password"])
    # Compensation: no Keycloak user without its activation record, whatever fails until the commit.
    on_rollback(session, lambda: directory.delete_user(user_id, quiet=True))
    token, token_hash = rules.new_email_token()
    code.used_at = now
    session.add(Activation(region=region, rpps=rpps, subject=user_id, username=rpps, email=email,
                           phone=data.get("phone"), code_id=code.id, activated_at=now))
    session.add(EmailVerification(region=region, token_hash=token_hash, subject=user_id, username=rpps,
                                  email=email, created_at=now,
                                  expires_at=now + timedelta(days=rules.EMAIL_TOKEN_DAYS)))
    session.add(ActivationAttempt(region=region, rpps=rpps, attempted_at=now, succeeded=True))
    url = f"{public_url.rstrip('/')}/api/{region}/accounts/verify-email?token={token}"
    record(session, Outbox, make_event(
        "accounts.activated", region, rpps, username=rpps, email=email, first_name=code.first_name,
        last_name=code.last_name, verification_url=url, subject=user_id,
        recipients=[{"email": email}], mail_category="security",
    ))
    session.flush()
    return {
        "username": rpps, "email": email, "email_verified": False,
        "message": (f"Votre compte est activé : votre identifiant est votre numéro RPPS ({rpps}). Un e-mail "
                    f"vous a été envoyé à {email} : cliquez sur « Je valide mon adresse mail » avant de "
                    "vous connecter."),
    }

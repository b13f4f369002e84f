"""The ROR account, created at first connection (it owns the offers generated from the RPPS data),
and the profile shown by GET /me."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.accounts.models import Outbox, RorAccount
from services.accounts.operations.habilitations import habilitation_dict, habilitations_of
from services.accounts.operations.ports import iso
from services.common.actor import Actor
from services.common.errors import Conflict, InvalidInput
from services.common.events import make_event
from services.common.outbox import record

# Wording of the guide (guide-idf-kine-sage-femme-78, "Erreur à la création").
ROR_ACCOUNT_EXISTS = ("Un compte utilisateur semble déjà exister à partir de vos informations "
                      "(même numéro RPPS). Veuillez vous rapprocher du support.")


def account_dict(account: RorAccount) -> dict:
    return {"rpps": account.rpps, "username": account.username, "created_at": iso(account.created_at),
            "offer_ids": list(account.offer_ids or [])}


def create_ror_account(session: Session, actor: Actor,
                       attach_owner: Callable[[str, str, str, str], list]) -> dict:
    """First connection: the person's ROR account, owning the offers generated from their RPPS data."""
    region = actor.region
    if not actor.rpps:
        raise InvalidInput("Votre identité ne comporte pas de numéro RPPS : le compte ROR ne peut être créé",
                           {"rpps": "the token carries no rpps claim"})
    exists = session.scalar(select(RorAccount.id).where(
        RorAccount.region == region, or_(RorAccount.rpps == actor.rpps, RorAccount.subject == actor.subject)))
    if exists is not None:
        raise Conflict(ROR_ACCOUNT_EXISTS, {"rpps": "a ROR account exists for this RPPS"})
    account = RorAccount(region=region, rpps=actor.rpps, subject=actor.subject, username=actor.username,
                         offer_ids=[])
    session.add(account)
    try:
        session.flush()  # a concurrent creation waits on the unique index, then fails here
    except IntegrityError as exc:  # the entrypoint rolls the transaction back
        raise Conflict(ROR_ACCOUNT_EXISTS, {"rpps": "a ROR account exists for this RPPS"}) from exc
    # attach_owner is idempotent (offers contract): a failed commit is safely retried by the user.
    account.offer_ids = list(attach_owner(region, actor.rpps, actor.subject, actor.username) or [])
    record(session, Outbox, make_event("accounts.ror_account_created", region, actor.username,
                                       rpps=actor.rpps, subject=actor.subject, username=actor.username,
                                       offer_ids=account.offer_ids))
    session.flush()
    return account_dict(account)


def profile(session: Session, region: str, subject: str) -> dict:
    account = session.scalar(select(RorAccount).where(RorAccount.region == region, RorAccount.subject == subject))
    return {
        "ror_account": account_dict(account) if account else None,
        "habilitations": [habilitation_dict(h) for h in habilitations_of(session, region, subject)],
    }

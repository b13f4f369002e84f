"""What the accounts service does, on a SQLAlchemy session and two ports (plain Python, no nameko):
the Keycloak `Directory` of the region and callables standing for the offers service's RPCs.

Keycloak and the database cannot share a transaction, so each operation orders its steps to stay
consistent: the database is checked and prepared first, Keycloak is changed, then the transaction
commits; when the commit fails the Keycloak change is undone (compensation).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import NoReturn, Protocol

from marshmallow import ValidationError
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.accounts import activation as rules
from services.accounts.models import (
    Activation,
    ActivationAttempt,
    ActivationCode,
    EmailVerification,
    Habilitation,
    Outbox,
    RorAccount,
)
from services.accounts.schemas import NationalProfessionalSchema
from services.common.actor import Actor
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests
from services.common.events import make_event
from services.common.outbox import record, utcnow

log = logging.getLogger(__name__)

INVALID_CODE = "Numéro RPPS ou code d'activation invalide (un code ne sert qu'une seule fois)."
ALREADY_ACTIVATED = ("Un compte existe déjà pour ce numéro RPPS. Connectez-vous, ou utilisez "
                     "« mot de passe oublié ».")
# Wording of the guide (guide-idf-kine-sage-femme-78, "Erreur à la création").
ROR_ACCOUNT_EXISTS = ("Un compte utilisateur semble déjà exister à partir de vos informations "
                      "(même numéro RPPS). Veuillez vous rapprocher du support.")
INVALID_LINK = "Lien de validation invalide ou expiré."
SUPPORT_ROLES = frozenset({"support_agent", "region_admin"})


class Directory(Protocol):
    """What operations need from a realm (services.accounts.directory.Directory implements it)."""

    def find_by_username(self, username: str) -> dict | None: ...
    def find_by_email(self, email: str) -> dict | None: ...
    def rpps_has_account(self, rpps: str) -> bool: ...
    def create_professional(self, rpps: str, email: str, first_name: str, last_name: str,
                            password: str) -> str: ...
    def delete_user(self, user_id: str, quiet: bool = False) -> None: ...
    def mark_email_verified(self, user_id: str) -> None: ...
    def send_password_reset(self, user_id: str) -> None: ...
    def has_realm_role(self, user_id: str, role: str) -> bool: ...
    def add_realm_role(self, user_id: str, role: str) -> None: ...
    def remove_realm_role(self, user_id: str, role: str) -> None: ...


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _lock(session: Session, key: str) -> None:
    """Serialise work on one key until the transaction ends (activation attempts of one RPPS)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))


# =========================================================================== activation codes

@dataclass
class IssueResult:
    issued: list[dict]
    skipped: list[dict]  # {rpps, reason}
    not_reached: int = 0  # professionals left out by `limit`


def issue_codes(session: Session, region: str, professionals: Iterable[dict], issued_by: str,
                directory: Directory, days: int = rules.DEFAULT_CODE_DAYS,
                now: datetime | None = None, limit: int | None = None) -> IssueResult:
    """A new code for each professional not yet activated (at most `limit`); a previous unused code
    is revoked (the new letter replaces it). Returns the clear codes: they exist nowhere else after."""
    now = now or utcnow()
    expires_at = rules.code_expiry(now, days)
    result = IssueResult([], [])
    for raw in professionals:
        if limit is not None and len(result.issued) >= limit:
            result.not_reached += 1
            continue
        try:
            person = NationalProfessionalSchema().load(raw)
        except ValidationError as err:
            result.skipped.append({"rpps": str(raw.get("rpps")), "reason": f"invalid national data: {err.messages}"})
            continue
        rpps = person["rpps"]
        if rules.rpps_error(rpps):
            result.skipped.append({"rpps": rpps, "reason": "not an RPPS number"})
            continue
        # Keycloak is the truth: an account deleted since its activation may be activated again.
        if directory.rpps_has_account(rpps):
            result.skipped.append({"rpps": rpps, "reason": "already activated"})
            continue
        session.execute(
            update(ActivationCode)
            .where(ActivationCode.region == region, ActivationCode.rpps == rpps,
                   ActivationCode.used_at.is_(None), ActivationCode.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        code = rules.generate_code()
        session.add(ActivationCode(
            region=region, rpps=rpps, code_hash=rules.hash_code(code), civility=person["civility"],
            last_name=person["last_name"], first_name=person["first_name"] or "",
            profession_code=person["profession_code"], issued_by=issued_by, issued_at=now,
            expires_at=expires_at,
        ))
        session.flush()  # the live-code unique index fails here, not at commit, on a concurrent issue
        result.issued.append({
            "rpps": rpps, "civility": person["civility"], "last_name": person["last_name"],
            "first_name": person["first_name"] or "", "profession_code": person["profession_code"],
            "code": code, "expires_at": expires_at.isoformat(),
        })
    return result


def live_code_matches(session: Session, region: str, rpps: str, code: str, now: datetime | None = None) -> bool:
    """True when `code` is the usable code of `rpps` (the demo keeps a code it can still prove)."""
    now = now or utcnow()
    rows = session.scalars(select(ActivationCode).where(
        ActivationCode.region == region, ActivationCode.rpps == rpps,
        ActivationCode.used_at.is_(None), ActivationCode.revoked_at.is_(None)))
    return any(rules.code_usable(now, r.expires_at, r.used_at, r.revoked_at) and rules.verify_code(code, r.code_hash)
               for r in rows)


# =========================================================================== activation

@cache
def _decoy_hash() -> str:
    return rules.hash_code("A" * rules.CODE_LENGTH)


def _fail_attempt(session: Session, region: str, rpps: str, now: datetime, client: str | None = None) -> NoReturn:
    """Count the wrong code (committed even though the request fails), then refuse."""
    session.add(ActivationAttempt(region=region, rpps=rpps, attempted_at=now, succeeded=False, client=client))
    session.commit()
    raise InvalidInput(INVALID_CODE, {"rpps": INVALID_CODE, "activation_code": INVALID_CODE})


def activate(session: Session, region: str, data: dict, directory: Directory, public_url: str,
             now: datetime | None = None, client: str | None = None) -> dict:
    """RPPS + code + password + e-mail → a Keycloak user to verify, the code used, `accounts.activated`.

    `data` is ActivateSchema-validated. Errors never say whether the RPPS is known: a wrong, used,
    expired or revoked code all give the same 400; only a valid code may learn that the RPPS
    already has an account (409).
    """
    now = now or utcnow()
    rpps, email = data["rpps"], data["email"].strip().lower()
    _lock(session, f"activation:{region}:{rpps}")

    failures = session.scalars(select(ActivationAttempt.attempted_at).where(
        ActivationAttempt.region == region, ActivationAttempt.rpps == rpps,
        ActivationAttempt.succeeded.is_(False), ActivationAttempt.attempted_at > now - rules.FAILURE_WINDOW,
        ActivationAttempt.client.is_(None) if client is None else ActivationAttempt.client == client))
    wait = rules.retry_after(failures, now)
    if wait is not None:
        minutes = max(1, int(wait.total_seconds() // 60) + 1)
        session.rollback()
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
        session.rollback()
        raise Conflict(ALREADY_ACTIVATED, {"rpps": "already activated"})
    # An earlier activation whose Keycloak account was deleted since (support): this letter starts over.
    session.execute(delete(Activation).where(Activation.region == region, Activation.rpps == rpps))

    # Keycloak before the commit: if it refuses, nothing is stored and the code stays usable.
    user_id = directory.create_professional(rpps, email, code.first_name, code.last_name, data["password"])
    try:
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
        ))
        session.commit()
    except BaseException:
        session.rollback()
        directory.delete_user(user_id, quiet=True)  # compensation: no user without its activation record
        raise
    return {
        "username": rpps, "email": email, "email_verified": False,
        "message": (f"Votre compte est activé : votre identifiant est votre numéro RPPS ({rpps}). Un e-mail "
                    f"vous a été envoyé à {email} : cliquez sur « Je valide mon adresse mail » avant de "
                    "vous connecter."),
    }


def verify_email(session: Session, region: str, token: str, directory: Directory,
                 now: datetime | None = None) -> dict:
    now = now or utcnow()
    row = session.scalars(select(EmailVerification).where(
        EmailVerification.region == region,
        EmailVerification.token_hash == rules.email_token_hash(token)).with_for_update()).first()
    if row is None or row.used_at is not None or now >= row.expires_at:
        session.rollback()
        raise InvalidInput(INVALID_LINK, {"token": INVALID_LINK})
    try:
        directory.mark_email_verified(row.subject)
    except NotFound as exc:
        session.rollback()
        raise InvalidInput(INVALID_LINK, {"token": "account no longer exists"}) from exc
    # Marking verified twice is harmless, so a failed commit needs no compensation: the link still works.
    row.used_at = now
    session.execute(update(Activation).where(Activation.region == region, Activation.subject == row.subject)
                    .values(email_verified_at=now))
    record(session, Outbox, make_event("accounts.email_verified", region, row.username,
                                       username=row.username, email=row.email, subject=row.subject))
    session.commit()
    return {"username": row.username, "email_verified": True,
            "message": "Votre adresse mail a été validée avec succès. Vous pouvez à présent vous connecter."}


# =========================================================================== password renewal

def request_password_reset(region: str, username_or_email: str, directory: Directory,
                           allow: Callable[[str], bool] | None = None) -> bool:
    """Keycloak's reset e-mail when the account exists (and `allow(user_id)`, the per-account limit).
    The caller answers 202 whatever happens; the return value (sent or not) is for logs and tests only."""
    value = username_or_email.strip()
    user = directory.find_by_username(value) or (directory.find_by_email(value) if "@" in value else None)
    if user is None or not user.get("enabled", True) or not user.get("email"):
        return False
    if allow is not None and not allow(user["id"]):
        return False
    directory.send_password_reset(user["id"])
    return True


def support_password_reset(region: str, username: str, actor: Actor, directory: Directory) -> dict:
    if not actor.roles & SUPPORT_ROLES:
        raise Forbidden("Réservé au support et aux administrateurs de la région",
                        {"role": "requires support_agent or region_admin"})
    user = directory.find_by_username(username)
    if user is None:
        raise NotFound("Utilisateur inconnu dans cette région", {"username": username})
    if not user.get("email"):
        raise Conflict("Ce compte n'a pas d'adresse e-mail : le lien ne peut pas être envoyé",
                       {"email": "missing"})
    directory.send_password_reset(user["id"])
    return {"message": f"Un e-mail de renouvellement du mot de passe a été envoyé à {username}."}


# =========================================================================== ROR account

def _account_dict(account: RorAccount) -> dict:
    return {"rpps": account.rpps, "username": account.username, "created_at": _iso(account.created_at),
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
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(ROR_ACCOUNT_EXISTS, {"rpps": "a ROR account exists for this RPPS"}) from exc
    # attach_owner is idempotent (offers contract): a failed commit below is safely retried by the user.
    account.offer_ids = list(attach_owner(region, actor.rpps, actor.subject, actor.username) or [])
    record(session, Outbox, make_event("accounts.ror_account_created", region, actor.username,
                                       rpps=actor.rpps, subject=actor.subject, username=actor.username,
                                       offer_ids=account.offer_ids))
    session.commit()
    return _account_dict(account)


def profile(session: Session, region: str, subject: str) -> dict:
    account = session.scalar(select(RorAccount).where(RorAccount.region == region, RorAccount.subject == subject))
    return {
        "ror_account": _account_dict(account) if account else None,
        "habilitations": [_habilitation_dict(h) for h in _habilitations_of(session, region, subject)],
    }


# =========================================================================== habilitations

def _habilitations_of(session: Session, region: str, subject: str) -> list[Habilitation]:
    return list(session.scalars(select(Habilitation).where(
        Habilitation.region == region, Habilitation.subject == subject).order_by(Habilitation.id)))


def _habilitation_dict(h: Habilitation) -> dict:
    return {"id": h.id, "username": h.username, "subject": h.subject, "role": h.role,
            "structure_id": h.structure_id, "granted_by": h.granted_by, "granted_at": _iso(h.granted_at)}


def habilitation_pairs(session: Session, region: str, subject: str) -> list[dict]:
    """[{role, structure_id}] as services.common.actor.Actor expects them."""
    return [{"role": h.role, "structure_id": h.structure_id} for h in _habilitations_of(session, region, subject)]


def list_habilitations(session: Session, region: str, username: str | None = None) -> list[dict]:
    stmt = select(Habilitation).where(Habilitation.region == region).order_by(Habilitation.id)
    if username:
        stmt = stmt.where(func.lower(Habilitation.username) == username.lower())
    return [_habilitation_dict(h) for h in session.scalars(stmt)]


def grant_habilitation(session: Session, region: str, data: dict, actor: Actor, directory: Directory,
                       structure_exists: Callable[[str, int], bool] | None) -> dict:
    """`data` is GrantSchema-validated. Also gives the realm role, so that the next token carries it."""
    user = directory.find_by_username(data["username"])
    if user is None:
        raise NotFound("Utilisateur inconnu dans cette région", {"username": data["username"]})
    role, structure_id, subject = data["role"], data["structure_id"], user["id"]
    if structure_exists is not None and not structure_exists(region, structure_id):
        raise NotFound("Structure inconnue dans cette région", {"structure_id": structure_id})
    _lock(session, f"habilitation:{region}:{subject}")
    same_role = [h for h in _habilitations_of(session, region, subject) if h.role == role]
    if any(h.structure_id == structure_id for h in same_role):
        session.rollback()
        raise Conflict("Cette habilitation existe déjà", {"structure_id": structure_id})
    had_role = directory.has_realm_role(subject, role)
    row = Habilitation(region=region, subject=subject, username=user["username"], role=role,
                       structure_id=structure_id, granted_by=actor.username,
                       manages_realm_role=(not had_role) or any(h.manages_realm_role for h in same_role))
    session.add(row)
    session.flush()
    if not had_role:
        directory.add_realm_role(subject, role)
    try:
        record(session, Outbox, make_event("accounts.role_granted", region, actor.username, subject=subject,
                                           username=row.username, role=role, structure_id=structure_id,
                                           habilitation_id=row.id))
        session.commit()
    except BaseException:
        session.rollback()
        if not had_role:
            directory.remove_realm_role(subject, role)
        raise
    return _habilitation_dict(row)


def revoke_habilitation(session: Session, region: str, habilitation_id: int, actor: Actor,
                        directory: Directory) -> dict:
    """Revoking the last habilitation of a role removes the realm role it gave."""
    row = session.scalar(select(Habilitation).where(Habilitation.region == region,
                                                    Habilitation.id == habilitation_id))
    if row is None:
        raise NotFound("Habilitation inconnue", {"habilitation_id": habilitation_id})
    _lock(session, f"habilitation:{region}:{row.subject}")
    others = session.scalar(select(func.count()).select_from(Habilitation).where(
        Habilitation.region == region, Habilitation.subject == row.subject, Habilitation.role == row.role,
        Habilitation.id != row.id))
    revoked = _habilitation_dict(row)
    session.execute(delete(Habilitation).where(Habilitation.id == row.id))
    record(session, Outbox, make_event("accounts.role_revoked", region, actor.username, subject=row.subject,
                                       username=row.username, role=row.role, structure_id=row.structure_id,
                                       habilitation_id=row.id))
    session.flush()
    if not others and row.manages_realm_role:
        directory.remove_realm_role(row.subject, row.role)
    try:
        session.commit()
    except BaseException:
        session.rollback()
        if not others and row.manages_realm_role:
            directory.add_realm_role(row.subject, row.role)
        raise
    return revoked

"""Self-service accounts (issue 15), on a SQLAlchemy session and ports (plain Python, no nameko):
registration on the regional portal, conditions of use, "Mon compte", linking an existing ROR account.

Same rules as services.accounts.operations: these functions only flush; the entrypoint (self_service_rpc)
commits with `transaction`. Database checked first, then Keycloak changed with its undo registered
(`on_rollback`), so that the change is undone when the transaction does not commit; what must be kept
although the request fails (a wrong code counted, a refused attempt) is raised with `keeping_changes`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.accounts import activation as activation_rules
from services.accounts import registration as rules
from services.accounts.models import (
    CaptchaUse,
    CguAcceptance,
    ContactDetails,
    EmailChange,
    EmailVerification,
    Habilitation,
    LinkCode,
    Outbox,
    ProvisionedAccount,
    RateCounter,
    Registration,
    RorAccount,
    SmsCode,
)
from services.common import ratelimit
from services.common.actor import Actor
from services.common.db import keeping_changes, on_rollback
from services.common.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    TooManyRequests,
)
from services.common.events import make_event
from services.common.outbox import record, utcnow

log = logging.getLogger(__name__)

# Wording of the guide (guide-idf-kine-sage-femme-78, "Erreur à la création").
DUPLICATE_RPPS = ("Un compte utilisateur semble déjà exister à partir de vos informations "
                  "(même numéro RPPS). Veuillez vous rapprocher du support.")
SMS_PER_PHONE = (3, 15 * 60)  # codes per mobile number per 15 minutes
HOUR = 60 * 60  # per client address: ROR_SMS_PER_IP_HOUR codes, ROR_REGISTRATIONS_PER_IP_HOUR forms
LINK_CODE_MINUTES = 30
# Realm role that privileged roles carry (deploy/keycloak/gen_realms.py MFA_ROLE): their OTP is compulsory.
MFA_ROLE = "mfa_required"


def _limit(session: Session, key: str, limit_window: tuple[int, int], field: str) -> None:
    limit, window = limit_window
    retry_after = ratelimit.hit(session, RateCounter, key, limit, window)
    if retry_after is not None:  # the refused attempt counts too
        raise keeping_changes(TooManyRequests(
            "Trop de demandes : réessayez plus tard",
            {field: f"at most {limit} per {window // 60} minutes", "retry_after": retry_after}))


# =========================================================================== SMS code

def send_sms_code(session: Session, region: str, mobile_phone: str, client_ip: str | None,
                  send: Callable[[str, str], str], region_label: str, per_ip_hour: int = 10,
                  now: datetime | None = None) -> dict:
    """A one-time code for the registration form, sent by SMS to `mobile_phone` (already normalised)."""
    now = now or utcnow()
    _limit(session, f"sms:{region}:phone:{mobile_phone}", SMS_PER_PHONE, "mobile_phone")
    if client_ip:
        _limit(session, f"sms:{region}:ip:{client_ip}", (per_ip_hour, HOUR), "client_ip")
    code, code_hash = rules.new_numeric_code()
    # A new code replaces the previous ones of this number.
    for old in session.scalars(select(SmsCode).where(SmsCode.region == region, SmsCode.phone == mobile_phone,
                                                     SmsCode.used_at.is_(None))):
        old.used_at = now
    session.add(SmsCode(region=region, phone=mobile_phone, code_hash=code_hash, created_at=now,
                        expires_at=now + timedelta(minutes=rules.SMS_CODE_MINUTES)))
    session.flush()  # the code is stored (in this transaction) before it is sent, never the other way
    # Sent before the entrypoint commits: a gateway failure (503) rolls the code back, none is left usable.
    send(rules.international(mobile_phone),
         f"{region_label} : votre code d'inscription est {code}. Il est valable {rules.SMS_CODE_MINUTES} "
         "minutes. Ne le communiquez à personne.")
    return {"mobile_phone": mobile_phone, "expires_in": rules.SMS_CODE_MINUTES * 60,
            "message": f"Un code à usage unique a été envoyé par SMS au {mobile_phone}."}


def _check_sms_code(session: Session, region: str, phone: str, typed: str, now: datetime) -> SmsCode:
    row = session.scalars(select(SmsCode).where(
        SmsCode.region == region, SmsCode.phone == phone, SmsCode.used_at.is_(None))
        .order_by(SmsCode.id.desc()).with_for_update()).first()
    if row is None or now >= row.expires_at:
        raise InvalidInput("Code SMS expiré ou inconnu : demandez un nouveau code",
                           {"sms_code": "no live code for this number"})
    if not rules.code_matches(typed, row.code_hash):
        row.failures += 1
        burnt = row.failures >= rules.MAX_CODE_FAILURES
        if burnt:
            row.used_at = now
        session.flush()
        # Wrong tries are remembered (committed by the entrypoint) even though the registration is refused.
        if burnt:
            raise keeping_changes(TooManyRequests("Trop de codes erronés : demandez un nouveau code par SMS",
                                                  {"sms_code": f"{rules.MAX_CODE_FAILURES} wrong codes"}))
        raise keeping_changes(InvalidInput("Code SMS incorrect", {"sms_code": "wrong code"}))
    return row


# =========================================================================== registration

def register(session: Session, region: str, data: dict, *, directory, captcha_secret: str,
             client_ip: str | None, card_rpps: str | None, national: Callable[[str], list[dict]],
             cgu_version: str, public_url: str, per_ip_hour: int = 10,
             now: datetime | None = None) -> tuple[dict, dict | None]:
    """Self-registration. `data` is RegistrationSchema-validated. Returns (answer, ticket request or None):
    the caller opens the support ticket once the account exists (limited accounts only)."""
    now = now or utcnow()
    if client_ip:
        _limit(session, f"register:{region}:ip:{client_ip}", (per_ip_hour, HOUR), "client_ip")
    if data["cgu_version"] != cgu_version:
        raise InvalidInput("Les conditions d'utilisation ont changé : relisez-les et acceptez la version "
                           "en vigueur", {"cgu_version": f"current version is {cgu_version}"})
    signature, captcha_expires = rules.captcha_signature(data["altcha"], captcha_secret)
    if signature is None:
        raise InvalidInput("Vérification anti-robot invalide : recommencez", {"altcha": "invalid solution"})
    session.add(CaptchaUse(signature=signature, used_at=now, expires_at=captcha_expires))
    try:
        session.flush()
    except IntegrityError as exc:  # the entrypoint rolls back: nothing of this attempt is kept
        raise InvalidInput("Vérification anti-robot déjà utilisée : recommencez",
                           {"altcha": "solution already used"}) from exc
    sms = _check_sms_code(session, region, data["mobile_phone"], data["sms_code"], now)

    # ---- national identifier: from the card, or typed and checked, or none (limited account)
    typed = data.get("national_id")
    refusal = None
    if card_rpps:
        if typed and typed != card_rpps:
            raise InvalidInput("Avec une carte CPS, l'identifiant national est celui de la carte",
                               {"national_id": "differs from the CPS card"})
        rpps, source = card_rpps, "card"
    elif typed and len(typed) == activation_rules.RPPS_LENGTH:
        refusal = rules.rpps_check(typed, data["last_name"], data["first_name"], national(typed))
        rpps, source = (None, "unchecked") if refusal else (typed, "checked")
    else:
        rpps, source = None, "unchecked" if typed else None
        refusal = ("Identifiant national non vérifiable automatiquement (ADELI, FINESS)" if typed
                   else "Aucun identifiant national")
    if rpps and directory.rpps_has_account(rpps):
        raise Conflict(DUPLICATE_RPPS, {"national_id": "an account exists for this RPPS"})
    status = "professional" if rpps else "limited"

    user_id = directory.create_registered_user(
        data["username"], data["email"], data["first_name"], data["last_name"], data["password"], rpps,
        ("professional",) if rpps else ())
    # No Keycloak user without its registration: removed again if this transaction does not commit.
    on_rollback(session, lambda: directory.delete_user(user_id, quiet=True))
    sms.used_at = now
    session.add(Registration(
        region=region, subject=user_id, username=data["username"], email=data["email"],
        civility=data["civility"], last_name=data["last_name"], first_name=data["first_name"],
        profession=data.get("profession"), specialty=data.get("specialty"), national_id=rpps or typed,
        national_id_source=source, status=status, refusal_reason=refusal,
        mobile_phone=data["mobile_phone"], landline_phone=data.get("landline_phone"),
        comment=data.get("comment"), created_at=now))
    session.add(ContactDetails(region=region, subject=user_id, mobile_phone=data["mobile_phone"],
                               landline_phone=data.get("landline_phone"), updated_at=now))
    session.add(CguAcceptance(region=region, subject=user_id, version=cgu_version, accepted_at=now))
    token, token_hash = activation_rules.new_email_token()
    session.add(EmailVerification(region=region, token_hash=token_hash, subject=user_id,
                                  username=data["username"], email=data["email"], created_at=now,
                                  expires_at=now + timedelta(days=activation_rules.EMAIL_TOKEN_DAYS)))
    url = f"{public_url.rstrip('/')}/api/{region}/accounts/verify-email?token={token}"
    record(session, Outbox, make_event(
        "accounts.registered", region, data["username"], username=data["username"], subject=user_id,
        email=data["email"], civility=data["civility"], first_name=data["first_name"],
        last_name=data["last_name"], status=status, verification_url=url,
        recipients=[{"email": data["email"]}], mail_category="security"))
    session.flush()
    ticket = None
    if status == "limited":
        ticket = {"category": "account_creation", "contact_email": data["email"],
                  "subject": f"Inscription à vérifier : {data['last_name']} {data['first_name']} "
                             f"({data['username']})"[:200],
                  "body": (f"Inscription sur le portail sans identifiant national vérifié.\n"
                           f"Identifiant : {data['username']}\nNom : {data['last_name']}\n"
                           f"Prénom : {data['first_name']}\nProfession : {data.get('profession') or '-'}\n"
                           f"Identifiant national saisi : {typed or '-'}\nMotif : {refusal}\n"
                           f"Commentaire : {data.get('comment') or '-'}\n"
                           "Le compte reste limité (consultation) jusqu'à vérification par l'équipe régionale.")}
    message = (f"Votre inscription est enregistrée (identifiant : {data['username']}). Un e-mail « Validation "
               f"de votre inscription » vous a été envoyé à {data['email']} : cliquez sur « Je valide mon "
               "adresse mail » avant de vous connecter.")
    if status == "limited":
        message += (" Votre identifiant national n'a pas pu être vérifié : votre compte permet la consultation "
                    "et l'équipe régionale a été prévenue pour le vérifier.")
    return ({"username": data["username"], "email": data["email"], "email_verified": False, "status": status,
             "national_id_source": source, "refusal_reason": refusal, "message": message}, ticket)


def record_ticket(session: Session, region: str, subject: str, ticket_id: int) -> None:
    row = session.scalar(select(Registration).where(Registration.region == region, Registration.subject == subject))
    if row is not None:
        row.ticket_id = ticket_id
        session.flush()


# =========================================================================== conditions of use

def cgu_state(session: Session, region: str, subject: str, current: str) -> dict:
    accepted = {row.version: row.accepted_at for row in session.scalars(select(CguAcceptance).where(
        CguAcceptance.region == region, CguAcceptance.subject == subject))}
    return {"cgu_version": current, "cgu_required": rules.cgu_required(set(accepted), current),
            "cgu_accepted_at": accepted[current].isoformat() if current in accepted else None}


def accept_cgu(session: Session, region: str, subject: str, version: str, current: str,
               now: datetime | None = None) -> dict:
    if version != current:
        raise InvalidInput("Ce n'est pas la version en vigueur des conditions d'utilisation",
                           {"version": f"current version is {current}"})
    exists = session.scalar(select(CguAcceptance.id).where(
        CguAcceptance.region == region, CguAcceptance.subject == subject, CguAcceptance.version == version))
    if exists is None:
        try:
            with session.begin_nested():  # a savepoint: losing the race below leaves the transaction usable
                session.add(CguAcceptance(region=region, subject=subject, version=version,
                                          accepted_at=now or utcnow()))
        except IntegrityError:  # accepted twice at the same time: once is enough
            pass
    return cgu_state(session, region, subject, current)


# =========================================================================== "Mon compte"

def _contact(session: Session, region: str, subject: str) -> ContactDetails | None:
    return session.scalar(select(ContactDetails).where(ContactDetails.region == region,
                                                       ContactDetails.subject == subject))


def _etag(user: dict, contact: ContactDetails | None, pending: str | None) -> str:
    state = [user.get("email"), contact.mobile_phone if contact else None,
             contact.landline_phone if contact else None, pending]
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()[:32]


def _pending_email(session: Session, region: str, subject: str, now: datetime) -> str | None:
    row = session.scalars(select(EmailChange).where(
        EmailChange.region == region, EmailChange.subject == subject, EmailChange.used_at.is_(None),
        EmailChange.expires_at > now).order_by(EmailChange.id.desc())).first()
    return row.new_email if row else None


def get_account(session: Session, actor: Actor, directory, national: Callable[[str], list[dict]],
                cgu_version: str, now: datetime | None = None) -> tuple[dict, str]:
    """(the "Mon compte" page, its ETag). National data come from the national records, read-only."""
    now = now or utcnow()
    user = directory.get_user(actor.subject)
    contact = _contact(session, actor.region, actor.subject)
    pending = _pending_email(session, actor.region, actor.subject, now)
    people = national(actor.rpps) if actor.rpps else []
    person = people[0] if people else {}
    body = {
        "username": user.get("username"),
        "national": {  # read-only: the RPPS directory is the source
            "rpps": actor.rpps, "civility": person.get("civility"),
            "last_name": person.get("last_name") or user.get("lastName"),
            "first_name": person.get("first_name") or user.get("firstName"),
            "profession_code": person.get("profession_code"), "profession": person.get("profession_label"),
            "addresses": person.get("addresses") or [],
        },
        "email": user.get("email"), "email_verified": bool(user.get("emailVerified")),
        "pending_email": pending,
        "mobile_phone": contact.mobile_phone if contact else None,
        "landline_phone": contact.landline_phone if contact else None,
        "otp_devices": directory.otp_devices(actor.subject),
        "otp_required": MFA_ROLE in directory.effective_realm_roles(actor.subject),
        "sessions": directory.sessions(actor.subject),
        **cgu_state(session, actor.region, actor.subject, cgu_version),
    }
    return body, _etag(user, contact, pending)


def update_account(session: Session, actor: Actor, data: dict, if_match: str, directory,
                   public_url: str, now: datetime | None = None) -> dict:
    """PATCH of "Mon compte" (`data` is AccountPatchSchema-validated): phones at once, a new e-mail after its
    link, the password after the current one was checked. Returns what changed."""
    now = now or utcnow()
    region, subject = actor.region, actor.subject
    user = directory.get_user(subject)
    contact = _contact(session, region, subject)
    if if_match != _etag(user, contact, _pending_email(session, region, subject, now)):
        raise PreconditionFailed("Votre compte a été modifié entre-temps : rechargez la page",
                                 {"If-Match": "stale"})
    done: dict = {}
    if "password" in data and not directory.password_matches(user["username"], data["current_password"]):
        raise InvalidInput("Mot de passe actuel incorrect", {"current_password": "wrong password"})
    for field in ("mobile_phone", "landline_phone"):
        if field in data:
            if contact is None:
                contact = ContactDetails(region=region, subject=subject)
                session.add(contact)
            setattr(contact, field, data[field])
            contact.updated_at = now
            done[field] = data[field]
    if "email" in data and data["email"].lower() != (user.get("email") or "").lower():
        if directory.find_by_email(data["email"]) is not None:
            raise Conflict("Cette adresse e-mail est déjà utilisée par un autre compte", {"email": "already used"})
        token, token_hash = activation_rules.new_email_token()
        session.add(EmailChange(region=region, subject=subject, new_email=data["email"], token_hash=token_hash,
                                expires_at=now + timedelta(days=activation_rules.EMAIL_TOKEN_DAYS)))
        url = f"{public_url.rstrip('/')}/api/{region}/me/account/confirm-email?token={token}"
        record(session, Outbox, make_event(
            "accounts.email_change_requested", region, actor.username, username=actor.username,
            subject=subject, email=data["email"], verification_url=url,
            recipients=[{"email": data["email"]}], mail_category="security"))
        done["pending_email"] = data["email"]
    session.flush()
    # Keycloak last, once every check passed and the rows are flushed; the current password (just
    # checked) is put back if the transaction does not commit.
    if "password" in data:
        directory.set_password(subject, data["password"])
        current = data["current_password"]
        on_rollback(session, lambda: directory.set_password(subject, current))
        done["password_changed"] = True
    return done


def confirm_email_change(session: Session, region: str, token: str, directory, now: datetime | None = None) -> dict:
    now = now or utcnow()
    row = session.scalars(select(EmailChange).where(
        EmailChange.region == region, EmailChange.token_hash == activation_rules.email_token_hash(token))
        .with_for_update()).first()
    if row is None or row.used_at is not None or now >= row.expires_at:
        raise InvalidInput("Lien de validation invalide ou expiré.", {"token": "invalid or expired"})
    row.used_at = now
    record(session, Outbox, make_event("accounts.email_changed", region, row.subject, subject=row.subject,
                                       email=row.new_email))
    session.flush()
    # Keycloak last: should the transaction not commit, the link stays unused and following it again
    # sets the same address (idempotent), so no undo is needed.
    directory.set_email(row.subject, row.new_email)
    return {"email": row.new_email, "email_verified": True,
            "message": "Votre nouvelle adresse mail a été validée avec succès."}


def remove_otp_device(actor: Actor, device_id: str, directory) -> dict:
    devices = directory.otp_devices(actor.subject)
    if not any(d["id"] == device_id for d in devices):
        raise NotFound("Appareil inconnu", {"device_id": device_id})
    if len(devices) == 1 and MFA_ROLE in directory.effective_realm_roles(actor.subject):
        raise Conflict("Votre rôle impose un second facteur : ajoutez un autre appareil avant de retirer "
                       "le dernier", {"device_id": "last one-time-code device of a privileged role"})
    directory.delete_credential(actor.subject, device_id)
    return {"otp_devices": [d for d in devices if d["id"] != device_id]}


def add_otp_device(actor: Actor, directory) -> dict:
    """Keycloak enrols the device itself (QR code) at the next login: its required action CONFIGURE_TOTP."""
    directory.add_required_action(actor.subject, "CONFIGURE_TOTP")
    return {"message": "À votre prochaine connexion, scannez le QR code affiché avec votre application "
                       "d'authentification (FreeOTP, Google Authenticator…)."}


# =========================================================================== linking an existing ROR account

def provision_account(session: Session, region: str, data: dict, actor: Actor, now: datetime | None = None) -> dict:
    """A region admin prepares a ROR account (e.g. for a structure) that someone will link to later."""
    row = ProvisionedAccount(region=region, username=data["username"], email=data["email"], rpps=data.get("rpps"),
                             structure_id=data.get("structure_id"), created_by=actor.username,
                             created_at=now or utcnow())
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:  # the entrypoint rolls back
        raise Conflict("Un compte ROR porte déjà cet identifiant", {"username": "already used"}) from exc
    return _provisioned_dict(row)


def _provisioned_dict(row: ProvisionedAccount) -> dict:
    return {"id": row.id, "username": row.username, "email": row.email, "rpps": row.rpps,
            "structure_id": row.structure_id, "created_by": row.created_by,
            "linked": row.linked_subject is not None}


def _mask(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def request_link(session: Session, actor: Actor, username: str, now: datetime | None = None) -> dict:
    """E-mails a code to the address of the ROR account `username`: whoever reads it controls the account."""
    now = now or utcnow()
    _limit(session, f"link:{actor.region}:{actor.subject}", (5, 3600), "username")
    row = session.scalar(select(ProvisionedAccount).where(
        ProvisionedAccount.region == actor.region, ProvisionedAccount.username == username))
    if row is None or row.linked_subject is not None:  # the look-up counts against the limit all the same
        raise keeping_changes(NotFound("Aucun compte ROR à rattacher ne porte cet identifiant",
                                       {"username": username}))
    code, code_hash = rules.new_numeric_code()
    session.add(LinkCode(region=actor.region, subject=actor.subject, provisioned_id=row.id, code_hash=code_hash,
                         expires_at=now + timedelta(minutes=LINK_CODE_MINUTES)))
    record(session, Outbox, make_event(
        "accounts.link_code_sent", actor.region, actor.username, username=row.username, code=code,
        requested_by=actor.username, minutes=LINK_CODE_MINUTES, recipients=[{"email": row.email}],
        mail_category="security"))
    session.flush()
    return {"message": f"Un code de confirmation a été envoyé à l'adresse du compte ROR ({_mask(row.email)}).",
            "email": _mask(row.email)}


def confirm_link(session: Session, actor: Actor, username: str, code: str, directory,
                 attach_owner: Callable[[str, str, str, str], list], now: datetime | None = None) -> dict:
    now = now or utcnow()
    row = session.scalar(select(ProvisionedAccount).where(
        ProvisionedAccount.region == actor.region, ProvisionedAccount.username == username).with_for_update())
    link = None if row is None else session.scalars(select(LinkCode).where(
        LinkCode.region == actor.region, LinkCode.subject == actor.subject, LinkCode.provisioned_id == row.id,
        LinkCode.used_at.is_(None), LinkCode.expires_at > now).order_by(LinkCode.id.desc())).first()
    if row is None or link is None or row.linked_subject is not None:
        raise InvalidInput("Code expiré ou inconnu : demandez un nouveau code", {"code": "no live code"})
    if not rules.code_matches(code, link.code_hash):
        link.failures += 1
        if link.failures >= rules.MAX_CODE_FAILURES:
            link.used_at = now
        session.flush()
        raise keeping_changes(InvalidInput("Code incorrect", {"code": "wrong code"}))  # the wrong try counts
    rpps = row.rpps or actor.rpps
    if not rpps:
        raise InvalidInput("Ni ce compte ROR ni votre identité ne portent de numéro RPPS",
                           {"rpps": "missing"})
    if session.scalar(select(RorAccount.id).where(RorAccount.region == actor.region,
                                                  (RorAccount.rpps == rpps) | (RorAccount.subject == actor.subject))):
        raise Conflict(DUPLICATE_RPPS, {"rpps": "a ROR account exists for this RPPS"})
    account = RorAccount(region=actor.region, rpps=rpps, subject=actor.subject, username=actor.username,
                         offer_ids=[], created_at=now)
    session.add(account)
    link.used_at, row.linked_subject, row.linked_at = now, actor.subject, now
    gives_role = False
    if row.structure_id is not None:
        gives_role = not directory.has_realm_role(actor.subject, "structure_editor")
        session.add(Habilitation(region=actor.region, subject=actor.subject, username=actor.username,
                                 role="structure_editor", structure_id=row.structure_id,
                                 manages_realm_role=gives_role, granted_by=row.created_by, granted_at=now))
    try:
        session.flush()
    except IntegrityError as exc:  # a ROR account made meanwhile: the entrypoint rolls back
        raise Conflict(DUPLICATE_RPPS, {"rpps": "a ROR account exists for this RPPS"}) from exc
    if gives_role:  # Keycloak once the rows are in; taken back if the transaction does not commit
        directory.add_realm_role(actor.subject, "structure_editor")
        on_rollback(session, lambda: directory.remove_realm_role(actor.subject, "structure_editor"))
    account.offer_ids = list(attach_owner(actor.region, rpps, actor.subject, actor.username) or [])
    record(session, Outbox, make_event("accounts.ror_account_created", actor.region, actor.username,
                                       rpps=rpps, subject=actor.subject, username=actor.username,
                                       offer_ids=account.offer_ids, linked_from=row.username))
    session.flush()
    return {"rpps": rpps, "username": actor.username, "created_at": now.isoformat(),
            "offer_ids": account.offer_ids, "linked_from": row.username, "structure_id": row.structure_id}


def require_actor(actor: Actor | None) -> Actor:
    if actor is None:
        raise Forbidden("Connexion requise", {"token": "missing"})
    return actor

"""Tables of the accounts service (schema `accounts`). Every row carries its region (tenant)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.outbox import OutboxMixin, ProcessedEventMixin, utcnow
from services.common.ratelimit import RateCounterMixin


class Base(DeclarativeBase):
    metadata = MetaData(schema="accounts")


class Outbox(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class RateCounter(RateCounterMixin, Base):
    """Abuse limits of this service (services.accounts.throttle)."""


class ActivationCode(Base):
    """A one-time code mailed to a professional (URPS letter). Only its scrypt hash is kept."""

    __tablename__ = "activation_codes"
    __table_args__ = (
        # One live code per professional: issuing a new letter revokes the previous code.
        Index("uq_activation_codes_live", "region", "rpps", unique=True,
              postgresql_where=text("used_at IS NULL AND revoked_at IS NULL")),
        Index("ix_activation_codes_region_rpps", "region", "rpps"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    rpps: Mapped[str] = mapped_column(String(11))
    code_hash: Mapped[str] = mapped_column(String(200))
    # National data at issue time: the account is created with the names the letter was sent to.
    civility: Mapped[str | None] = mapped_column(String(20))
    last_name: Mapped[str] = mapped_column(String(200))
    first_name: Mapped[str] = mapped_column(String(200))
    profession_code: Mapped[str | None] = mapped_column(String(20))
    issued_by: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ActivationAttempt(Base):
    """Every activation attempt, to limit wrong codes per RPPS (counted here, so all workers agree)."""

    __tablename__ = "activation_attempts"
    __table_args__ = (Index("ix_activation_attempts_lookup", "region", "rpps", "attempted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    rpps: Mapped[str] = mapped_column(String(11))
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
    # Client IP: wrong codes lock an RPPS for that client only, so a stranger cannot lock a professional out.
    client: Mapped[str | None] = mapped_column(String(64))


class Activation(Base):
    """An account created from a code: the Keycloak user it made and the e-mail verification state."""

    __tablename__ = "activations"
    __table_args__ = (
        UniqueConstraint("region", "rpps", name="uq_activations_region_rpps"),
        UniqueConstraint("region", "subject", name="uq_activations_region_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    rpps: Mapped[str] = mapped_column(String(11))
    subject: Mapped[str] = mapped_column(String(64))  # Keycloak user id
    username: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(20))
    code_id: Mapped[int] = mapped_column(Integer)
    activated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EmailVerification(Base):
    """Single-use token of a "Je valide mon adresse mail" link (SHA-256 of it only)."""

    __tablename__ = "email_verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RorAccount(Base):
    """The person's ROR account, created at first connection and owning the offers of its RPPS."""

    __tablename__ = "ror_accounts"
    __table_args__ = (
        UniqueConstraint("region", "rpps", name="uq_ror_accounts_region_rpps"),
        UniqueConstraint("region", "subject", name="uq_ror_accounts_region_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    rpps: Mapped[str] = mapped_column(String(11))
    subject: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(200))
    offer_ids: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Habilitation(Base):
    """A role on one structure, granted by a region admin (e.g. directeur of a CPTS)."""

    __tablename__ = "habilitations"
    __table_args__ = (
        UniqueConstraint("region", "subject", "role", "structure_id", name="uq_habilitations"),
        Index("ix_habilitations_region_subject", "region", "subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    structure_id: Mapped[int] = mapped_column(Integer)
    # True when granting gave the user the realm role: only then does revoking the last one remove it
    # (a role from the realm import, e.g. a demo directeur's, is not ours to take away).
    manages_realm_role: Mapped[bool] = mapped_column(Boolean, default=False)
    granted_by: Mapped[str] = mapped_column(String(200))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# =========================================================================== self-registration (issue 15)

class Registration(Base):
    """A self-registration on the regional portal: what the form said and what was checked."""

    __tablename__ = "registrations"
    __table_args__ = (UniqueConstraint("region", "subject", name="uq_registrations_region_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    civility: Mapped[str] = mapped_column(String(20))
    last_name: Mapped[str] = mapped_column(String(200))
    first_name: Mapped[str] = mapped_column(String(200))
    profession: Mapped[str | None] = mapped_column(String(200))
    specialty: Mapped[str | None] = mapped_column(String(200))
    national_id: Mapped[str | None] = mapped_column(String(20))
    # "card" (from the CPS certificate), "checked" (typed, Luhn + national data + name), "unchecked"
    national_id_source: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))  # professional | limited
    refusal_reason: Mapped[str | None] = mapped_column(String(300))
    ticket_id: Mapped[int | None] = mapped_column(Integer)
    mobile_phone: Mapped[str] = mapped_column(String(20))
    landline_phone: Mapped[str | None] = mapped_column(String(20))
    comment: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SmsCode(Base):
    """A one-time code sent by SMS to a mobile number (its hash only), for the registration form."""

    __tablename__ = "sms_codes"
    __table_args__ = (Index("ix_sms_codes_region_phone", "region", "phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    phone: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CaptchaUse(Base):
    """ALTCHA challenges already solved once: a solution cannot be replayed."""

    __tablename__ = "captcha_uses"

    signature: Mapped[str] = mapped_column(String(128), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class CguAcceptance(Base):
    """Acceptance of one version of the portal's conditions of use (CGU), with its time."""

    __tablename__ = "cgu_acceptances"
    __table_args__ = (UniqueConstraint("region", "subject", "version", name="uq_cgu_acceptances"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(40))
    accepted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ProvisionedAccount(Base):
    """A ROR account a region admin created beforehand (e.g. for a structure), waiting for a person to
    link their SSO identity to it ("Se connecter avec un compte ROR existant")."""

    __tablename__ = "provisioned_accounts"
    __table_args__ = (UniqueConstraint("region", "username", name="uq_provisioned_accounts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    username: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    rpps: Mapped[str | None] = mapped_column(String(11))
    structure_id: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    linked_subject: Mapped[str | None] = mapped_column(String(64))
    linked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LinkCode(Base):
    """Code e-mailed to a provisioned account's address: proves the person controls that account."""

    __tablename__ = "link_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(64))
    provisioned_id: Mapped[int] = mapped_column(Integer, index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EmailChange(Base):
    """A new e-mail address waiting for its "Je valide mon adresse mail" link (token hash only)."""

    __tablename__ = "email_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(64))
    new_email: Mapped[str] = mapped_column(String(320))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ContactDetails(Base):
    """Phones of an account ("Mon compte"); national data stay in the national records."""

    __tablename__ = "contact_details"
    __table_args__ = (UniqueConstraint("region", "subject", name="uq_contact_details"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(64))
    mobile_phone: Mapped[str | None] = mapped_column(String(20))
    landline_phone: Mapped[str | None] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

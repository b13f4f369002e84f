"""Contract of the accounts service (HTTP bodies and RPC answers): the gateway validates HTTP bodies and
dumps answers with these schemas, the service validates its RPC input with the same ones, and they
document /openapi.json. French messages. Imports no model, no domain module and no data file, so that
the gateway can use it without pulling in the service (tests/unit/test_contracts.py)."""

from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from services.common.identifiers import rpps_error
from services.common.roles import STRUCTURE_ROLES

ROLES = STRUCTURE_ROLES  # granted on a structure (habilitations)
REQUIRED = {"required": "Champ obligatoire.", "null": "Champ obligatoire."}


PASSWORD_MIN_LENGTH = 8


def password_errors(password: object) -> list[str]:
    """Every rule `password` breaks (same policy as the realm): ≥ 8 characters, an upper case letter,
    a lower case letter and a digit. Empty list when it is acceptable."""
    if not isinstance(password, str):
        return ["Le mot de passe doit être une chaîne de caractères."]
    errors = []
    if len(password) < PASSWORD_MIN_LENGTH:
        errors.append(f"Le mot de passe doit comporter au moins {PASSWORD_MIN_LENGTH} caractères.")
    if not any(c.isupper() for c in password):
        errors.append("Le mot de passe doit contenir au moins une lettre majuscule.")
    if not any(c.islower() for c in password):
        errors.append("Le mot de passe doit contenir au moins une lettre minuscule.")
    if not any(c.isdigit() for c in password):
        errors.append("Le mot de passe doit contenir au moins un chiffre.")
    return errors



def _rpps(value: str) -> None:
    problem = rpps_error(value)
    if problem:
        raise ValidationError(problem)


def _password(value: str) -> None:
    problems = password_errors(value)
    if problems:
        raise ValidationError(problems)


class ActivateSchema(Schema):
    rpps = fields.String(required=True, validate=_rpps, error_messages=REQUIRED,
                         metadata={"description": "Numéro RPPS (11 chiffres)", "example": "10000000008"})
    activation_code = fields.String(
        required=True, error_messages=REQUIRED,
        validate=validate.Length(min=1, max=40, error="Le code d'activation est invalide."),
        metadata={"description": "Code reçu par courrier (URPS), à usage unique", "example": "K7QX2-M9PRT"},
    )
    password = fields.String(required=True, validate=_password, error_messages=REQUIRED, load_only=True,
                             metadata={"description": "≥ 8 caractères, une majuscule, une minuscule, un chiffre"})
    email = fields.Email(required=True, validate=validate.Length(max=320),
                         error_messages={**REQUIRED, "invalid": "Adresse e-mail invalide."})
    phone = fields.String(
        load_default=None, allow_none=True,
        validate=validate.Regexp(r"^\d{10}$", error="Le téléphone doit comporter 10 chiffres, sans espaces ni points."),
    )


class ActivationResultSchema(Schema):
    username = fields.String(required=True)
    email = fields.String(required=True)
    email_verified = fields.Boolean(required=True)
    message = fields.String(required=True)


class VerifyEmailSchema(Schema):
    token = fields.String(required=True, error_messages=REQUIRED,
                          validate=validate.Length(min=1, max=200, error="Lien de validation invalide."))


class VerifyEmailResultSchema(Schema):
    username = fields.String(required=True)
    email_verified = fields.Boolean(required=True)
    message = fields.String(required=True)


class PasswordResetSchema(Schema):
    username_or_email = fields.String(
        required=True, error_messages=REQUIRED,
        validate=validate.Length(min=1, max=320, error="Identifiant ou adresse e-mail invalide."),
    )


class AcceptedSchema(Schema):
    message = fields.String(required=True)


class IssueCodesSchema(Schema):
    """Who gets a code: one professional, or every professional of a profession (not yet activated)."""

    rpps = fields.String(load_default=None, allow_none=True, validate=_rpps)
    profession_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=20))
    days = fields.Integer(load_default=None, allow_none=True, strict=True,
                          validate=validate.Range(min=1, max=3650, error="Entre 1 et 3650 jours."))

    @validates_schema
    def _one_filter(self, data, **kwargs):
        # Through the API a code batch is always targeted: a whole region is a CLI (operator) action.
        if not data.get("rpps") and not data.get("profession_code"):
            raise ValidationError("Indiquez un numéro RPPS ou un code profession.", "rpps")


class IssuedCodeSchema(Schema):
    rpps = fields.String(required=True)
    civility = fields.String(allow_none=True)
    last_name = fields.String(required=True)
    first_name = fields.String(required=True)
    profession_code = fields.String(allow_none=True)
    code = fields.String(required=True, metadata={"description": "En clair, affiché une seule fois"})
    expires_at = fields.String(required=True)


class GrantSchema(Schema):
    username = fields.String(required=True, error_messages=REQUIRED, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, error_messages=REQUIRED,
                         validate=validate.OneOf(ROLES, error="Rôle inconnu : structure_editor ou directeur."))
    structure_id = fields.Integer(required=True, strict=True, error_messages=REQUIRED,
                                  validate=validate.Range(min=1, error="Identifiant de structure invalide."))


class HabilitationSchema(Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    subject = fields.String(required=True)
    role = fields.String(required=True)
    structure_id = fields.Integer(required=True)
    granted_by = fields.String(required=True)
    granted_at = fields.String(required=True)


class RorAccountSchema(Schema):
    rpps = fields.String(required=True)
    username = fields.String(required=True)
    created_at = fields.String(required=True)
    offer_ids = fields.List(fields.Integer(), required=True)


class NationalProfessionalSchema(Schema):
    """One professional as the offers service returns it (`offers.national_professionals`)."""

    class Meta:
        unknown = "exclude"

    rpps = fields.String(required=True)
    civility = fields.String(load_default=None, allow_none=True)
    last_name = fields.String(required=True)
    first_name = fields.String(load_default="", allow_none=True)
    profession_code = fields.String(load_default=None, allow_none=True)
    profession_label = fields.String(load_default=None, allow_none=True)
    email = fields.String(load_default=None, allow_none=True)
    offer_ids = fields.List(fields.Raw(), load_default=list)


# =========================================================================== self-registration, CGU, "Mon compte",
# linking an existing ROR account (issue 15)

_PHONE_SEPARATORS = re.compile(r"[\s.\-]")


def normalize_phone(value: str) -> str | None:
    """French number as 10 digits (0612345678), from '06 12 34 56 78', '+33 6…' or '0033 6…'."""
    digits = _PHONE_SEPARATORS.sub("", value or "")
    if digits.startswith("+33"):
        digits = "0" + digits[3:]
    elif digits.startswith("0033"):
        digits = "0" + digits[4:]
    return digits if re.fullmatch(r"0[1-9]\d{8}", digits) else None


def is_mobile(phone: str) -> bool:
    return phone[:2] in ("06", "07")




CIVILITIES = ("M", "MME")
USERNAME_RE = r"^[A-Za-z0-9][A-Za-z0-9._@-]{2,59}$"
_NO_CONTROL = validate.Regexp(r"^[^\x00-\x1f\x7f\ud800-\udfff]*$",
                              error="Caractère interdit (contrôle ou demi-caractère Unicode).")
# Multi-line text (comment): line breaks and tabs allowed, NUL and lone surrogates not.
_CLEAN = validate.Regexp(r"^[^\x00\ud800-\udfff]*$", error="Caractère interdit (NUL ou demi-caractère Unicode).")


def _text(max_length: int, required: bool = False, multiline: bool = False, **kwargs):
    checks = [validate.Length(min=1 if required else 0, max=max_length,
                              error=f"Entre 1 et {max_length} caractères." if required
                              else f"{max_length} caractères au plus."), _CLEAN if multiline else _NO_CONTROL]
    if required:
        return fields.String(required=True, error_messages=REQUIRED, validate=checks, **kwargs)
    return fields.String(load_default=None, allow_none=True, validate=checks, **kwargs)


class PhoneField(fields.String):
    """A French number, stored as 10 digits; `mobile` accepts only 06 / 07."""

    def __init__(self, mobile: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.mobile = mobile

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        phone = normalize_phone(text) if len(text) <= 30 else None
        if phone is None:
            raise ValidationError("Numéro de téléphone invalide (10 chiffres, ex. 06 12 34 56 78).")
        if self.mobile and not is_mobile(phone):
            raise ValidationError("Un numéro de téléphone mobile est attendu (06 ou 07).")
        return phone


class SmsCodeRequestSchema(Schema):
    mobile_phone = PhoneField(mobile=True, required=True, error_messages=REQUIRED,
                              metadata={"example": "06 12 34 56 78"})


class SmsCodeSentSchema(Schema):
    mobile_phone = fields.String(required=True)
    expires_in = fields.Integer(required=True, metadata={"description": "secondes"})
    message = fields.String(required=True)


class CaptchaChallengeSchema(Schema):
    """ALTCHA challenge (v2) for the widget (npm `altcha`, served by the portal)."""

    parameters = fields.Dict(required=True)
    signature = fields.String(required=True)


class RegistrationSchema(Schema):
    """The registration form of the guide (Inscription): * fields are required."""

    civility = fields.String(required=True, error_messages=REQUIRED,
                             validate=validate.OneOf(CIVILITIES, error="Titre : M ou MME."))
    last_name = _text(200, required=True)
    first_name = _text(200, required=True)
    email = fields.Email(required=True, validate=validate.Length(max=320),
                         error_messages={**REQUIRED, "invalid": "Adresse e-mail invalide."})
    email_confirmation = fields.String(required=True, error_messages=REQUIRED, load_only=True,
                                       validate=validate.Length(max=320))
    profession = _text(200)
    specialty = _text(200)
    national_id = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(
        r"^\d{9}$|^\d{11}$", error="Identifiant national : RPPS (11 chiffres), ADELI ou FINESS (9 chiffres)."),
        metadata={"description": "RPPS, ADELI ou FINESS ; avec une carte CPS il vient de la carte"})
    mobile_phone = PhoneField(mobile=True, required=True, error_messages=REQUIRED)
    landline_phone = PhoneField(load_default=None, allow_none=True)
    comment = _text(2000, multiline=True)
    username = fields.String(required=True, error_messages=REQUIRED, validate=validate.Regexp(
        USERNAME_RE, error="Identifiant : 3 à 60 caractères (lettres, chiffres, . _ @ -)."))
    password = fields.String(required=True, validate=[_password, _NO_CONTROL], error_messages=REQUIRED,
                             load_only=True)
    password_confirmation = fields.String(required=True, error_messages=REQUIRED, load_only=True,
                                          validate=[validate.Length(max=200), _NO_CONTROL])
    sms_code = fields.String(required=True, error_messages=REQUIRED, load_only=True,
                             validate=validate.Regexp(r"^[\d ]{1,20}$", error="Code SMS invalide."))
    cgu_accepted = fields.Boolean(required=True, error_messages=REQUIRED, load_only=True,
                                  metadata={"description": "J'accepte les conditions d'utilisation du Portail"})
    cgu_version = fields.String(required=True, error_messages=REQUIRED,
                                validate=[validate.Length(min=1, max=40), _NO_CONTROL])
    altcha = fields.String(required=True, error_messages=REQUIRED, load_only=True,
                           validate=validate.Regexp(r"^[A-Za-z0-9+/=_-]{1,4000}$",
                                                    error="Vérification anti-robot invalide."),
                           metadata={"description": "Solution de la vérification anti-robot (widget ALTCHA)"})

    @pre_load
    def _strip(self, data, **kwargs):
        if isinstance(data, dict):
            return {k: v.strip() if isinstance(v, str) and k not in ("password", "password_confirmation") else v
                    for k, v in data.items()}
        return data

    @validates_schema(skip_on_field_errors=False)  # every mistake of the form at once
    def _confirmations(self, data, **kwargs):
        errors = {}
        if "email" in data and str(data.get("email_confirmation", "")).lower() != data["email"].lower():
            errors["email_confirmation"] = ["Les adresses e-mail ne correspondent pas."]
        if "password" in data and data.get("password_confirmation") != data["password"]:
            errors["password_confirmation"] = ["Les mots de passe ne correspondent pas."]
        if data.get("cgu_accepted") is not True and "cgu_accepted" in data:
            errors["cgu_accepted"] = ["Vous devez accepter les conditions d'utilisation du Portail."]
        if errors:
            raise ValidationError(errors)


class RegistrationResultSchema(Schema):
    username = fields.String(required=True)
    email = fields.String(required=True)
    email_verified = fields.Boolean(required=True)
    status = fields.String(required=True, metadata={"description": "professional | limited"})
    national_id_source = fields.String(allow_none=True, metadata={"description": "card | checked | unchecked"})
    refusal_reason = fields.String(allow_none=True)
    ticket_id = fields.Integer(allow_none=True)
    message = fields.String(required=True)


class CguAcceptSchema(Schema):
    version = fields.String(required=True, error_messages=REQUIRED,
                            validate=[validate.Length(min=1, max=40), _NO_CONTROL])


class CguStateSchema(Schema):
    cgu_version = fields.String(required=True)
    cgu_required = fields.Boolean(required=True)
    cgu_accepted_at = fields.String(allow_none=True)


NATIONAL_FIELDS = ("rpps", "national", "last_name", "first_name", "civility", "profession_code",
                   "profession", "addresses", "username")


class AccountPatchSchema(Schema):
    """What "Mon compte" may change; national data are read-only (400 naming the field)."""

    email = fields.Email(validate=validate.Length(max=320), error_messages={"invalid": "Adresse e-mail invalide."})
    mobile_phone = PhoneField(mobile=True, allow_none=True)
    landline_phone = PhoneField(allow_none=True)
    current_password = fields.String(load_only=True, validate=[validate.Length(min=1, max=200), _NO_CONTROL])
    password = fields.String(validate=[_password, _NO_CONTROL], load_only=True)
    password_confirmation = fields.String(load_only=True, validate=[validate.Length(max=200), _NO_CONTROL])

    @pre_load
    def _read_only(self, data, **kwargs):
        if isinstance(data, dict):
            locked = {k: ["Donnée nationale en lecture seule (issue du RPPS)."] for k in data if k in NATIONAL_FIELDS}
            if locked:
                raise ValidationError(locked)
        return data

    @validates_schema
    def _password_change(self, data, **kwargs):
        if "password" in data:
            errors = {}
            if not data.get("current_password"):
                errors["current_password"] = ["Indiquez votre mot de passe actuel."]
            if data.get("password_confirmation") != data["password"]:
                errors["password_confirmation"] = ["Les mots de passe ne correspondent pas."]
            if errors:
                raise ValidationError(errors)


class OtpAddSchema(Schema):
    type = fields.String(required=True, error_messages=REQUIRED, validate=validate.OneOf(
        ("totp",), error="Seules les applications TOTP sont proposées."),
        metadata={"description": "totp (application d'authentification)"})


class ConfirmSchema(Schema):
    """An explicit yes for an action the user cannot undo (closing every session)."""

    confirm = fields.Boolean(required=True, error_messages=REQUIRED,
                             validate=validate.Equal(True, error="Confirmez l'action (confirm: true)."))


class OtpDeviceSchema(Schema):
    id = fields.String(required=True)
    label = fields.String(allow_none=True)
    created_at = fields.Raw(allow_none=True)


class SessionSchema(Schema):
    id = fields.String(required=True)
    ip_address = fields.String(allow_none=True)
    started_at = fields.Raw(allow_none=True)
    last_access_at = fields.Raw(allow_none=True)
    clients = fields.List(fields.String())


class AccountSchema(Schema):
    username = fields.String(required=True)
    national = fields.Dict(required=True, metadata={"description": "Données nationales (lecture seule)"})
    email = fields.String(allow_none=True)
    email_verified = fields.Boolean(required=True)
    pending_email = fields.String(allow_none=True)
    mobile_phone = fields.String(allow_none=True)
    landline_phone = fields.String(allow_none=True)
    otp_devices = fields.List(fields.Nested(OtpDeviceSchema), required=True)
    otp_required = fields.Boolean(required=True)
    sessions = fields.List(fields.Nested(SessionSchema), required=True)
    cgu_version = fields.String(required=True)
    cgu_required = fields.Boolean(required=True)
    cgu_accepted_at = fields.String(allow_none=True)


class AccountChangesSchema(Schema):
    password_changed = fields.Boolean()
    mobile_phone = fields.String(allow_none=True)
    landline_phone = fields.String(allow_none=True)
    pending_email = fields.String()


class ProvisionSchema(Schema):
    username = fields.String(required=True, error_messages=REQUIRED, validate=validate.Regexp(
        USERNAME_RE, error="Identifiant : 3 à 60 caractères (lettres, chiffres, . _ @ -)."))
    email = fields.Email(required=True, validate=validate.Length(max=320),
                         error_messages={**REQUIRED, "invalid": "Adresse e-mail invalide."})
    rpps = fields.String(load_default=None, allow_none=True, validate=_rpps)
    structure_id = fields.Integer(load_default=None, allow_none=True, strict=True,
                                  validate=validate.Range(min=1, max=2**31 - 1))


class ProvisionedSchema(Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    email = fields.String(required=True)
    rpps = fields.String(allow_none=True)
    structure_id = fields.Integer(allow_none=True)
    created_by = fields.String(required=True)
    linked = fields.Boolean(required=True)


class LinkRequestSchema(Schema):
    username = fields.String(required=True, error_messages=REQUIRED,
                             validate=[validate.Length(min=1, max=200), _NO_CONTROL])


class LinkConfirmSchema(LinkRequestSchema):
    code = fields.String(required=True, error_messages=REQUIRED,
                         validate=validate.Regexp(r"^[\d ]{1,20}$", error="Code invalide."))


class LinkSentSchema(Schema):
    message = fields.String(required=True)
    email = fields.String(required=True)


class LinkedAccountSchema(Schema):
    rpps = fields.String(required=True)
    username = fields.String(required=True)
    created_at = fields.String(required=True)
    offer_ids = fields.List(fields.Raw(), required=True)
    linked_from = fields.String(required=True)
    structure_id = fields.Integer(allow_none=True)


class EmailConfirmSchema(Schema):
    token = fields.String(required=True, error_messages=REQUIRED,
                          validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,200}$", error="Lien de validation invalide."))

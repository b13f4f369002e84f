"""Contract of the accounts service (HTTP bodies and RPC answers): the gateway validates HTTP bodies and
dumps answers with these schemas, the service validates its RPC input with the same ones, and they
document /openapi.json. French messages. Imports no model, no domain module and no data file, so that
the gateway can use it without pulling in the service (tests/unit/test_contracts.py)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

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

"""Contract of the anomalies service: the request schemas at its boundaries (gateway requests, RPC
payloads) and the vocabularies both sides share. Imports no model, no domain module and no data file,
so that the gateway can use it without pulling in the service (tests/unit/test_contracts.py)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

# ---- anomalies (services.anomalies.reports takes them from here)
THEMES: dict[str, tuple[str, str]] = {
    "completeness": ("01", "Complétude"),
    "exhaustiveness": ("02", "Exhaustivité"),
    "consistency": ("03", "Cohérence"),
    "timeliness": ("04", "Récence"),
    "structure": ("05", "Structuration"),
    "accuracy": ("06", "Exactitude"),
}
# Our statuses and their TRE_R352 StatutMetierAnomalie (JDV_J244) business status.
STATUSES: dict[str, tuple[str, str, str]] = {
    # status: (TRE_R352 code, TRE_R352 label, French label shown to users)
    "open": ("02", "À traiter", "Ouverte, à traiter par la cellule ROR"),
    "forwarded": ("05", "Envoyé au destinataire", "Transmise à l'autorité d'enregistrement"),
    "accepted": ("05", "Envoyé au destinataire", "Acceptée : la fiche doit être corrigée par son responsable"),
    "rejected": ("09", "Refusé", "Rejetée (non fondée)"),
    "resolved": ("08", "Corrigé", "Résolue"),
}

MESSAGE_MIN, MESSAGE_MAX = 10, 5000
TARGET_KINDS = ("offer", "structure", "national")

# ---- tickets (services.anomalies.tickets takes them from here; it checks TICKET_ACTIONS against its
# state machine at import)
TICKET_STATUSES = {
    "new": "Nouveau", "open": "En cours", "pending_requester": "En attente de votre réponse",
    "pending_expert": "En attente d'un expert", "solved": "Résolu", "closed": "Clos",
}
TICKET_ACTIONS = ("assign", "close", "pend_expert", "pend_requester", "reopen", "solve")

VALUE_MAX = 1000
_CLEAN = validate.Regexp(r"^[^\x00\ud800-\udfff]*$", error="Caractère interdit (NUL ou demi-caractère Unicode).")


def _text(min_len: int = 0, max_len: int = 1000, **kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(min=min_len, max=max_len), _CLEAN], **kwargs)


class TargetSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(TARGET_KINDS))
    id = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(1, 2**31 - 1),
                        metadata={"description": "offer or structure id; for national, one of the caller's "
                                                 "offers (or none: the caller's RPPS record)"})


class AnomalyCreateSchema(Schema):
    target = fields.Nested(TargetSchema, required=True)
    field = _text(1, 255, load_default=None, allow_none=True,
                  metadata={"description": "element path, e.g. address.line or HealthcareService.telecom"})
    wrong_value = _text(0, VALUE_MAX, load_default=None, allow_none=True)
    proposed_value = _text(0, VALUE_MAX, load_default=None, allow_none=True)
    message = fields.String(required=True, validate=[
        validate.Length(min=MESSAGE_MIN, max=MESSAGE_MAX,
                        error=f"Message de {MESSAGE_MIN} à {MESSAGE_MAX} caractères."), _CLEAN])
    theme = fields.String(load_default="accuracy", validate=validate.OneOf(sorted(THEMES)))
    contact_email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254),
                                 metadata={"description": "required without login"})

    @validates_schema
    def national_needs_field(self, data, **kwargs):
        if data.get("target", {}).get("kind") == "national" and not data.get("field"):
            raise ValidationError("Indiquez la donnée nationale erronée.", "field")


class AnomalyTransitionSchema(Schema):
    action = fields.String(required=True, validate=validate.OneOf(("accept", "reject", "resolve")))
    comment = _text(0, MESSAGE_MAX, load_default=None, allow_none=True)


class AnomalyAnswerSchema(Schema):
    body = fields.String(required=True, validate=[validate.Length(min=1, max=MESSAGE_MAX), _CLEAN])


class AnomalyQuerySchema(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(sorted(STATUSES)))
    departement = fields.String(load_default=None, validate=validate.Regexp(r"^(\d{2,3}|2[AB])$"))
    structure_id = fields.Integer(load_default=None, validate=validate.Range(1, 2**31 - 1))
    theme = fields.String(load_default=None, validate=validate.OneOf(sorted(THEMES)))
    mine = fields.Boolean(load_default=False)
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 10**7))


class TicketCreateSchema(Schema):
    category = fields.String(required=True, validate=validate.Length(min=1, max=40))
    subject = fields.String(required=True, validate=[validate.Length(min=3, max=200), _CLEAN])
    body = fields.String(required=True, validate=[validate.Length(min=1, max=10000), _CLEAN])
    contact_email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254))


class TicketMessageSchema(Schema):
    body = fields.String(required=True, validate=[validate.Length(min=1, max=10000), _CLEAN])
    internal = fields.Boolean(load_default=False)


class TicketTransitionSchema(Schema):
    action = fields.String(required=True, validate=validate.OneOf(TICKET_ACTIONS))
    assignee = _text(1, 255, load_default=None, allow_none=True)
    expert_group = _text(1, 40, load_default=None, allow_none=True)
    comment = _text(0, 10000, load_default=None, allow_none=True)


class TicketQuerySchema(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(sorted(TICKET_STATUSES)))
    category = fields.String(load_default=None, validate=validate.Length(max=40))
    assignee = fields.String(load_default=None, validate=validate.Length(max=255))
    overdue = fields.Boolean(load_default=False)
    due_soon = fields.Boolean(load_default=False)
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 10**7))


class TicketAccessSchema(Schema):
    token = fields.String(load_default=None, validate=validate.Length(max=100))
    expert_token = fields.String(load_default=None, validate=validate.Length(max=100))

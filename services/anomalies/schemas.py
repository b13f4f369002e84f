"""Marshmallow schemas at the anomalies service's boundaries (gateway requests, RPC payloads)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.anomalies.reports import MESSAGE_MAX, MESSAGE_MIN, STATUSES, TARGET_KINDS, THEMES
from services.anomalies.tickets import ACTIONS as TICKET_ACTIONS
from services.anomalies.tickets import STATUSES as TICKET_STATUSES

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

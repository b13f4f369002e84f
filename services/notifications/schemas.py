"""Marshmallow schemas of the notifications boundary (gateway bodies, RPC input, /openapi.json)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class MailSchema(Schema):
    id = fields.Integer(required=True)
    event_type = fields.String(required=True)
    category = fields.String(required=True, metadata={"description": "security, reminder or info"})
    recipient_email = fields.String(required=True)
    subject = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "pending, sent, failed or opted_out"})
    attempts = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    sent_at = fields.DateTime(allow_none=True)


class MailListSchema(Schema):
    notifications = fields.List(fields.Nested(MailSchema), required=True)
    next_before = fields.Integer(allow_none=True, metadata={"description": "pass as ?before= for older ones"})


class HistoryQuerySchema(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    before = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**62))


class PreferencesSchema(Schema):
    """Only reminders can be refused; security and information mails are always sent."""

    reminders = fields.Boolean(required=True, truthy={True}, falsy={False},
                               error_messages={"required": "Champ obligatoire.", "null": "Champ obligatoire."},
                               metadata={"description": "false: no more update reminders"})
    security = fields.Boolean(dump_only=True, metadata={"description": "always true (cannot be refused)"})
    info = fields.Boolean(dump_only=True, metadata={"description": "always true (cannot be refused)"})

"""Contract of the notifications service: the bodies the gateway checks, the shapes of the answers
(they feed /openapi.json) and the vocabularies both sides share. Imports no model and no domain
module, so that the gateway can use it without pulling in the service."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

# What connected tools may subscribe to: the facts of the published répertoire (never account or
# security events, whose payloads carry personal links).
WEBHOOK_EVENTS = ("offers.published", "offers.unpublished", "dossiers.published")
DELIVERY_STATUSES = ("pending", "delivered", "failed")
MAIL_STATUSES = ("pending", "sent", "failed", "opted_out")


class MailSchema(Schema):
    id = fields.Integer(required=True)
    event_type = fields.String(required=True)
    category = fields.String(required=True, metadata={"description": "security, reminder or info"})
    recipient_email = fields.String(required=True)
    subject = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "pending, sent, failed or opted_out"})
    attempts = fields.Integer(required=True)
    created_at = fields.String(required=True)
    sent_at = fields.String(allow_none=True)


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


# ------------------------------------------------------------------ webhooks
REQUIRED = {"required": "Champ obligatoire.", "null": "Champ obligatoire."}


def _events_field(**kwargs):
    return fields.List(
        fields.String(validate=validate.OneOf(WEBHOOK_EVENTS, error="Type d'événement inconnu : {input}.")),
        validate=validate.Length(min=1, max=len(WEBHOOK_EVENTS), error="Au moins un type d'événement."),
        metadata={"description": "event types, e.g. offers.published"}, **kwargs)


class WebhookCreateSchema(Schema):
    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False, validate=validate.Length(max=2000),
                     error_messages={**REQUIRED, "invalid": "URL invalide."},
                     metadata={"example": "https://outil.example.fr/ror/webhooks"})
    events = _events_field(required=True, error_messages=REQUIRED)
    description = fields.String(load_default="", validate=validate.Length(max=500))


class WebhookUpdateSchema(Schema):
    url = fields.Url(schemes={"http", "https"}, require_tld=False, validate=validate.Length(max=2000),
                     error_messages={"invalid": "URL invalide."})
    events = _events_field()
    description = fields.String(validate=validate.Length(max=500))
    active = fields.Boolean(truthy={True}, falsy={False}, metadata={"description": "false disables it"})


class WebhookSchema(Schema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    events = fields.List(fields.String(), required=True)
    description = fields.String()
    active = fields.Boolean(required=True)
    disabled_reason = fields.String(allow_none=True)
    created_by = fields.String()
    created_at = fields.String()
    updated_at = fields.String()
    rotation_ends_at = fields.String(allow_none=True,
                                       metadata={"description": "until then the previous secret signs too"})
    secret = fields.String(metadata={"description": "whsec_…, only in the answer that creates it"})
    etag = fields.String()


class WebhookListSchema(Schema):
    webhooks = fields.List(fields.Nested(WebhookSchema), required=True)


class DeliverySchema(Schema):
    id = fields.Integer(required=True)
    event_id = fields.String(required=True)
    event_type = fields.String(required=True)
    message_id = fields.String(required=True, metadata={"description": "the webhook-id header"})
    status = fields.String(required=True, metadata={"description": "pending, delivered or failed"})
    attempts = fields.Integer(required=True)
    next_attempt_at = fields.String(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    attempt_log = fields.List(fields.Dict())
    created_at = fields.String()
    delivered_at = fields.String(allow_none=True)


class DeliveryListSchema(Schema):
    deliveries = fields.List(fields.Nested(DeliverySchema), required=True)
    next_before = fields.Integer(allow_none=True)


class DeliveryQuerySchema(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(DELIVERY_STATUSES))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    before = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**62))


class ReplaySinceSchema(Schema):
    since = fields.AwareDateTime(required=True, error_messages={**REQUIRED, "invalid": "Date invalide."},
                                 metadata={"example": "2026-11-30T00:00:00+01:00"})


class ReplayResultSchema(Schema):
    replayed = fields.Integer(required=True)

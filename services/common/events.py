"""Event envelope shared by every service. Routing key = event type = `<service>.<fact>`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from marshmallow import INCLUDE, Schema, fields, validate

EVENT_TYPES = (
    "accounts.activated", "accounts.email_verified", "accounts.ror_account_created",
    "accounts.role_granted", "accounts.role_revoked",
    "accounts.registered", "accounts.email_change_requested", "accounts.email_changed",
    "accounts.link_code_sent",
    "offers.step_saved", "offers.published", "offers.unpublished", "offers.structure_updated",
    "offers.resource_person_added", "offers.resource_person_removed",
    "dossiers.opened", "dossiers.sheet_finalised", "dossiers.sent", "dossiers.approved",
    "dossiers.validated", "dossiers.rejected", "dossiers.published", "dossiers.cancelled",
    "dossiers.publication_failed",
    "anomalies.declared", "anomalies.ticket_created", "anomalies.ticket_status_changed",
    "anomalies.status_changed", "anomalies.ticket_replied", "anomalies.ticket_assigned",
    "anomalies.ticket_expert_requested", "anomalies.ticket_expert_answered",
    "anomalies.ticket_sla_warning", "anomalies.ticket_sla_breached",
    "notifications.update_reminder_due",
)


class EventSchema(Schema):
    """Every payload carries these; the rest of the data is the fact's own."""

    class Meta:
        unknown = INCLUDE

    event_id = fields.String(required=True)
    event_type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    region = fields.String(required=True, allow_none=True)
    actor = fields.String(required=True, allow_none=True)
    occurred_at = fields.String(required=True)


def make_event(event_type: str, region: str | None, actor: str | None, **data) -> dict:
    event = {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "region": region,
        "actor": actor,
        "occurred_at": datetime.now(UTC).isoformat(),
        **data,
    }
    return EventSchema().load(event)


def source_services() -> list[str]:
    """The services that publish events (each on its `<service>.events` exchange)."""
    return sorted({event_type.split(".", 1)[0] for event_type in EVENT_TYPES})


def split_event_type(event_type: str) -> tuple[str, str]:
    """'offers.published' -> ('offers', 'offers.published'): nameko's (source service, event type)."""
    return event_type.split(".", 1)[0], event_type

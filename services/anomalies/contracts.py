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


# ---- responses (the gateway dumps every answer through these: services.anomalies.reports.view and
# services.anomalies.tickets.view build the dicts; tests/integration check that nothing is dropped)
def _str(**kwargs) -> fields.String:
    return fields.String(required=True, **kwargs)


def _opt(**kwargs) -> fields.String:
    """Always present, possibly null."""
    return fields.String(required=True, allow_none=True, **kwargs)


class CodeDisplaySchema(Schema):
    code = _str()
    display = _str()


class AnomalyTargetViewSchema(Schema):
    kind = _str(metadata={"description": "one of " + ", ".join(TARGET_KINDS)})
    id = fields.Integer(required=True, allow_none=True)
    label = _opt()
    level = _opt(metadata={"description": "legal_entity, site, unit… or offer"})
    departement = _opt()
    structure_path = fields.List(fields.Integer(), required=True, metadata={"description": "the sheet and its ancestors"})


class AnomalyOwnerSchema(Schema):
    label = _opt()


class AnomalyRoutingSchema(Schema):
    kind = _str(metadata={"description": "ror_cell | authority"})
    name = _opt()


class AnomalyNoteViewSchema(Schema):
    author = _opt(metadata={"description": "shown to the regional team only"})
    role = _opt()
    action = _opt()
    body = _opt()
    from_status = _opt()
    to_status = _opt()
    at = _str()


class AnomalyReporterSchema(Schema):
    username = _opt()
    email = _opt()


class AnomalyItemSchema(Schema):
    """An anomaly as lists show it (AnomalyViewSchema: one anomaly, with its ETag)."""
    id = fields.Integer(required=True)
    region = _str()
    status = _str(metadata={"description": "one of " + ", ".join(STATUSES)})
    status_label = _str()
    business_status = fields.Nested(CodeDisplaySchema, required=True,
                                    metadata={"description": "TRE_R352 StatutMetierAnomalie"})
    theme = _str()
    theme_code = fields.Nested(CodeDisplaySchema, required=True, metadata={"description": "TRE_R350"})
    target = fields.Nested(AnomalyTargetViewSchema, required=True)
    owner = fields.Nested(AnomalyOwnerSchema, required=True)
    field = _opt()
    wrong_value = _opt()
    proposed_value = _opt()
    message = _str()
    reporting_system = _opt()
    rule_id = _opt()
    period = _opt()
    routed_to = fields.Nested(AnomalyRoutingSchema, required=True)
    resolution_comment = _opt()
    created_at = _str()
    updated_at = _opt()
    forwarded_at = _opt()
    closed_at = _opt()
    history = fields.List(fields.Nested(AnomalyNoteViewSchema), required=True)
    reporter = fields.Nested(AnomalyReporterSchema, required=True, allow_none=True,
                             metadata={"description": "regional team only"})
    allowed_actions = fields.List(fields.String(), required=True)


class AnomalyViewSchema(AnomalyItemSchema):
    etag = _str(metadata={"description": "If-Match of the transitions"})


class AnomalyListSchema(Schema):
    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)
    items = fields.List(fields.Nested(AnomalyItemSchema), required=True)


class TicketCategorySchema(Schema):
    code = _str()
    label = _str()


class SupportInfoSchema(Schema):
    region = _str()
    label = _str()
    phone = _opt()
    email = _opt()
    hours = _str()
    categories = fields.List(fields.Nested(TicketCategorySchema), required=True)


class TicketMessageViewSchema(Schema):
    id = fields.Integer(required=True)
    author = _opt()
    author_role = _str()
    internal = fields.Boolean(required=True)
    body = _opt()
    action = _opt()
    from_status = _opt()
    to_status = _opt()
    at = _opt()


class TicketDueSchema(Schema):
    first_response_due = _opt()
    update_due = _opt()
    solution_due = _opt()
    sla_paused = fields.Boolean(required=True)
    overdue = fields.List(fields.String(), required=True, metadata={"description": "SLA targets past due"})
    due_soon = fields.List(fields.String(), required=True)


class TicketViewSchema(TicketDueSchema):
    id = fields.Integer(required=True)
    region = _str()
    category = _str()
    category_label = _str()
    subject = _str()
    status = _str(metadata={"description": "one of " + ", ".join(TICKET_STATUSES)})
    status_label = _str()
    created_at = _opt()
    updated_at = _opt()
    solved_at = _opt()
    closed_at = _opt()
    messages = fields.List(fields.Nested(TicketMessageViewSchema), required=True,
                           metadata={"description": "internal notes for agents and experts only"})
    etag = _str()
    # agents only
    assignee = fields.String(allow_none=True, metadata={"description": "agents only"})
    requester = fields.String(allow_none=True, metadata={"description": "agents only"})
    contact_email = fields.String(allow_none=True, metadata={"description": "agents only"})
    expert_group = fields.String(allow_none=True, metadata={"description": "agents only"})
    first_responded_at = fields.String(allow_none=True, metadata={"description": "agents only"})
    allowed_actions = fields.List(fields.String(), metadata={"description": "agents and the requester"})
    access_token = fields.String(metadata={
        "description": "creation without login only: the requester's link token (also e-mailed)"})


class TicketSummarySchema(TicketDueSchema):
    id = fields.Integer(required=True)
    category = _str()
    subject = _str()
    status = _str()
    assignee = _opt()
    created_at = _opt()


class TicketListSchema(Schema):
    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)
    items = fields.List(fields.Nested(TicketSummarySchema), required=True)

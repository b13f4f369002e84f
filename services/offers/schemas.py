"""Marshmallow schemas of the offers HTTP contract (request bodies the gateway checks, and the shapes of
the answers, which also feed /openapi.json). Step bodies are validated by services.offers.steps."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.offers import steps


class PrefillSchema(Schema):
    from_offer_id = fields.Integer(required=True, strict=True,
                                   error_messages={"required": steps.REQUIRED,
                                                   "invalid": "Identifiant d'offre attendu (entier)."},
                                   metadata={"description": "Another offer of the same owner"})


class StepPayloadSchema(Schema):
    """Body of PUT …/steps/{step}: the fields of that step only (documentation of every step's fields;
    each step refuses the fields of the others)."""

    acknowledged = fields.Boolean(metadata={"description": "national: true to validate the national data"})
    age_min = fields.Integer(metadata={"description": "description: required, 0–150"})
    age_max = fields.Integer(allow_none=True, metadata={"description": "description: 0–150, ≥ age_min"})
    operational_activities = fields.List(fields.String(), metadata={"description": "description: ≥ 1 TRE_R211"})
    specific_acts_in_office = fields.List(fields.String(), metadata={"description": "description: TRE_R210"})
    specific_acts_outside_office = fields.List(fields.String(), metadata={"description": "description: TRE_R210"})
    equipments = fields.List(fields.String(), metadata={"description": "description: TRE_R212"})
    specific_competences = fields.List(fields.String(), metadata={"description": "description: TRE_R243"})
    place_accessibility = fields.String(allow_none=True, metadata={"description": "description: conforme, …"})
    comment = fields.String(allow_none=True, metadata={"description": "description: ≤ 2000 characters"})
    reception_modalities = fields.List(fields.String(), metadata={"description": "modalities: TRE_R338"})
    intervention_communes = fields.List(fields.String(), metadata={
        "description": "modalities: INSEE codes, required with home visit (TRE_R338 05)"})
    contacts = fields.List(fields.Nested(steps.ContactSchema), metadata={
        "description": "contacts: ≤ 20 per visibility, ≥ 1 public"})
    weekly = fields.List(fields.Nested(steps.SlotSchema), metadata={"description": "hours: semaine type"})
    exceptional_hours = fields.List(fields.Nested(steps.ExceptionalHoursSchema), metadata={
        "description": "hours: one period (or closure) at a time, else 409"})
    temporary_closure = fields.List(fields.Nested(steps.TemporaryClosureSchema), metadata={
        "description": "hours: one closure (or period) at a time, else 409"})


class NomenclatureItemSchema(Schema):
    code = fields.String(required=True)
    label = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(("active", "deprecated", "future")))


class CommuneSchema(Schema):
    code = fields.String(required=True, metadata={"description": "INSEE code"})
    name = fields.String(required=True)
    departement = fields.String()
    postal_codes = fields.List(fields.String())
    label = fields.String(metadata={"description": "« Mantes-la-Jolie (78200) »"})
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)


class CodeLabelSchema(Schema):
    code = fields.String(required=True)
    label = fields.String(required=True)


class StructureNodeSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={
        "description": "legal_entity, site, pole, service, functional_unit, unit"})
    name = fields.String(required=True)
    finess = fields.String(allow_none=True)
    siret = fields.String(allow_none=True)
    rpps = fields.String(allow_none=True)
    discipline = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    type = fields.String(allow_none=True)
    source = fields.String()
    address = fields.Dict()
    departement = fields.String(allow_none=True)
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    mssante = fields.String(allow_none=True)
    offer = fields.Dict(allow_none=True, metadata={"description": "units: the offer describing the UO"})
    practitioners = fields.List(fields.Dict(), metadata={
        "description": "consultation units: professionals attached (RPPS, profession, specialty, sector)"})
    capacities = fields.List(fields.Dict(), metadata={
        "description": "establishment units: places installées, lits d'hospitalisation complète…"})
    children = fields.List(fields.Nested(lambda: StructureNodeSchema()))


class StructureTreeSchema(Schema):
    region = fields.String(required=True)
    departement = fields.String(allow_none=True)
    discipline = fields.String(allow_none=True)
    total_roots = fields.Integer()
    truncated = fields.Boolean()
    roots = fields.List(fields.Nested(StructureNodeSchema))


class OfferSchema(Schema):
    id = fields.Integer(required=True)
    region = fields.String()
    name = fields.String(required=True)
    unit_id = fields.Integer()
    unit_type = fields.Nested(CodeLabelSchema)
    care_mode = fields.Nested(CodeLabelSchema, allow_none=True)
    status = fields.String(validate=validate.OneOf(("draft", "published", "unpublished")))
    published_at = fields.String(allow_none=True, metadata={"description": "« Fiche mise à jour le »"})
    commune_insee = fields.String(allow_none=True)
    departement = fields.String(allow_none=True)
    version = fields.Integer(metadata={"description": "ETag is \"<id>-<version>\""})
    etag = fields.String()
    audience = fields.String(metadata={"description": "owner, team, professional or public"})
    national = fields.Dict(metadata={"description": "read-only national data (RPPS / FINESS / AMELI)"})
    published = fields.Dict(allow_none=True, metadata={"description": "the public version, by step"})
    draft = fields.Dict(metadata={"description": "owner / team: steps being edited and validated steps"})
    has_unpublished_changes = fields.Boolean()
    missing_for_publication = fields.Dict(metadata={"description": "what step 6 still needs, by field"})
    owner_rpps = fields.String(allow_none=True)
    owner_username = fields.String(allow_none=True)
    unpublished_at = fields.String(allow_none=True)
    updated_at = fields.String(allow_none=True)


class OfferSummarySchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    status = fields.String()
    version = fields.Integer()
    etag = fields.String()
    unit_type = fields.Nested(CodeLabelSchema)
    published_at = fields.String(allow_none=True)
    commune = fields.String(allow_none=True)
    departement = fields.String(allow_none=True)
    resource_persons = fields.List(fields.Dict(), metadata={
        "description": "Personnes ressources en cours (contacts selon leur visibilité)"})
    validated_steps = fields.List(fields.String())
    has_unpublished_changes = fields.Boolean()
    owner_rpps = fields.String(allow_none=True)


class OfferListSchema(Schema):
    total = fields.Integer(required=True)
    limit = fields.Integer()
    offset = fields.Integer()
    items = fields.List(fields.Nested(OfferSummarySchema), required=True)

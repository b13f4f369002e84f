"""Contract of the offers service: the request bodies the gateway checks, the shapes of the answers (the
gateway dumps every answer through them, and they feed /openapi.json) and the vocabularies both sides
share. Imports no model, no domain module and no data file, so that the gateway can use it without
pulling in the service (tests/unit/test_contracts.py). Step bodies are validated by services.offers.steps,
which takes its vocabularies from here."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

STRUCTURE_KINDS = ("legal_entity", "site", "pole", "service", "functional_unit", "unit")
DISCIPLINES = ("MCO", "MSS", "PSY", "SLD", "SMA", "SSR", "VIL")
OFFER_STATUSES = ("draft", "published", "unpublished")
AUDIENCES = ("owner", "team", "professional", "public")

# Search (services.offers.search.query takes them from here)
CATEGORIES = {  # `in` -> (label, index column holding the codes)
    "all": ("Tout le ROR", None),
    "specific_acts": ("Actes spécifiques", "acts"),
    "operational_activities": ("Activités opérationnelles", "activities"),
    "unit_types": ("Types d'UO", "unit_type"),
    "equipments": ("Équipements spécifiques", "equipments"),
    "specific_competences": ("Compétences spécifiques", "competences"),
    "structures": ("Établissements", None),
}
SORTS = ("distance", "relevance")
# What the facets of a search count: its results (at most 200, the default) or every match (slower).
FACET_SCOPES = ("results", "all")
PATIENTELES = {"E": "Enfants", "A": "Adultes"}
OFFER_TYPES = {"liberal": "Offre libérale", "establishment": "Établissement"}

STEPS = ("national", "description", "modalities", "contacts", "hours")
REQUIRED = "Champ obligatoire."
PHONE_CHANNELS = ("phone", "mobile", "fax")
EMAIL_CHANNELS = ("email",)
URL_CHANNELS = ("url_appointment", "url_teleconsultation", "url_teleexpertise", "website")
CHANNELS = PHONE_CHANNELS + EMAIL_CHANNELS + ("mssante",) + URL_CHANNELS
VISIBILITIES = ("public", "professional")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SLOT_KINDS = ("appointment", "walk_in", "home_visit")


# Shapes of the step items, for the documentation of PUT …/steps/{step}; their rules (formats, overlaps,
# one period at a time…) are services.offers.steps'.
class ContactItemSchema(Schema):
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    purpose = fields.String(allow_none=True)
    value = fields.String(required=True)
    visibility = fields.String(required=True, validate=validate.OneOf(VISIBILITIES))


class SlotItemSchema(Schema):
    day = fields.String(validate=validate.OneOf(DAYS), metadata={"description": "monday … sunday, or 1 … 7"})
    start = fields.String(required=True, metadata={"description": "HH:MM"})
    end = fields.String(required=True, metadata={"description": "HH:MM, after start"})
    kind = fields.String(required=True, validate=validate.OneOf(SLOT_KINDS))


class PeriodItemSchema(Schema):
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)
    comment = fields.String(allow_none=True)
    slots = fields.List(fields.Nested(SlotItemSchema), metadata={"description": "exceptional hours only"})


class PrefillSchema(Schema):
    from_offer_id = fields.Integer(required=True, strict=True,
                                   error_messages={"required": REQUIRED,
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
    contacts = fields.List(fields.Nested(ContactItemSchema), metadata={
        "description": "contacts: ≤ 20 per visibility, ≥ 1 public"})
    weekly = fields.List(fields.Nested(SlotItemSchema), metadata={"description": "hours: semaine type"})
    exceptional_hours = fields.List(fields.Nested(PeriodItemSchema), metadata={
        "description": "hours: one period (or closure) at a time, else 409"})
    temporary_closure = fields.List(fields.Nested(PeriodItemSchema), metadata={
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
    status = fields.String(validate=validate.OneOf(OFFER_STATUSES))
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
    resource_persons = fields.List(fields.Dict(), metadata={
        "description": "Personnes ressources en cours (contacts selon leur visibilité)"})


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
    validated_steps = fields.List(fields.String())
    has_unpublished_changes = fields.Boolean()
    owner_rpps = fields.String(allow_none=True)


class OfferListSchema(Schema):
    total = fields.Integer(required=True)
    limit = fields.Integer()
    offset = fields.Integer()
    items = fields.List(fields.Nested(OfferSummarySchema), required=True)


# ------------------------------------------------------------------ « Personnes ressources » (issue 15)
RESOURCE_PERSON_KINDS = {"trainee": "Stagiaire", "colleague": "Confrère / consœur", "replacement": "Remplaçant(e)"}
_NO_CONTROL_RP = validate.Regexp(r"^[^\x00-\x1f\x7f\ud800-\udfff]*$",
                              error="Caractère interdit (contrôle ou demi-caractère Unicode).")
_REQUIRED = {"required": "Champ obligatoire.", "null": "Champ obligatoire."}


def _name():
    return fields.String(required=True, error_messages=_REQUIRED,
                         validate=[validate.Length(min=1, max=255), _NO_CONTROL_RP])


class ResourcePersonSchema(Schema):
    kind = fields.String(required=True, error_messages=_REQUIRED, validate=validate.OneOf(
        sorted(RESOURCE_PERSON_KINDS), error="Type : trainee (stagiaire), colleague (confrère) ou replacement."))
    last_name = _name()
    first_name = _name()
    role = fields.String(load_default=None, allow_none=True, validate=[validate.Length(max=255), _NO_CONTROL_RP])
    starts_on = fields.Date(required=True, error_messages={**_REQUIRED, "invalid": "Date invalide (AAAA-MM-JJ)."})
    ends_on = fields.Date(load_default=None, allow_none=True, error_messages={"invalid": "Date invalide (AAAA-MM-JJ)."})
    rpps = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(
        r"^\d{11}$", error="Le RPPS comporte 11 chiffres."))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(
        r"^0[1-9]\d{8}$", error="Le téléphone doit comporter 10 chiffres, sans espaces ni points."))
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=255),
                         error_messages={"invalid": "Adresse e-mail invalide."})
    contact_visibility = fields.String(load_default="professional", validate=validate.OneOf(
        ("public", "professional"), error="Visibilité : public ou professional."))

    @pre_load
    def _phone(self, data, **kwargs):
        if isinstance(data, dict) and isinstance(data.get("phone"), str):
            data = {**data, "phone": data["phone"].replace(" ", "").replace(".", "")}
        return data

    @validates_schema
    def _period(self, data, **kwargs):
        if data.get("ends_on") and data.get("starts_on") and data["ends_on"] < data["starts_on"]:
            raise ValidationError("La fin de période précède son début.", "ends_on")


class ResourcePersonViewSchema(Schema):
    id = fields.Integer(required=True)
    offer_id = fields.Integer(required=True)
    kind = fields.String(required=True)
    kind_label = fields.String(required=True)
    last_name = fields.String(required=True)
    first_name = fields.String(required=True)
    role = fields.String(allow_none=True)
    starts_on = fields.String(required=True)
    ends_on = fields.String(allow_none=True)
    rpps = fields.String(allow_none=True)
    contact_visibility = fields.String(required=True)
    phone = fields.String(allow_none=True, metadata={"description": "null when not visible to the caller"})
    email = fields.String(allow_none=True)




# ------------------------------------------------------------------ search suggestions, répertoire, favourites
class SuggestionSchema(Schema):
    in_ = fields.String(required=True, data_key="in", attribute="in", metadata={"description": "category of the label"})
    in_label = fields.String(required=True)
    code = fields.String(required=True, metadata={"description": "concept code, or structure id"})
    label = fields.String(required=True)


class SiteAddressSchema(Schema):
    line = fields.String(required=True, allow_none=True)
    postal_code = fields.String(required=True, allow_none=True)
    city = fields.String(required=True, allow_none=True)
    commune_insee = fields.String(required=True, allow_none=True)


class RepertoireSiteSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    name = fields.String(required=True)
    finess = fields.String(required=True, allow_none=True)
    category = fields.String(required=True, allow_none=True)
    address = fields.Nested(SiteAddressSchema, required=True)
    departement = fields.String(required=True, allow_none=True)
    phone = fields.String(required=True, allow_none=True)
    favourite = fields.Boolean(required=True)


class RepertoireLegalEntitySchema(RepertoireSiteSchema):
    sites = fields.List(fields.Nested(RepertoireSiteSchema), required=True)


class RepertoireAnswerSchema(Schema):
    q = fields.String(required=True)
    total = fields.Integer(required=True)
    truncated = fields.Boolean(metadata={"description": "more than 50 legal entities matched"})
    legal_entities = fields.List(fields.Nested(RepertoireLegalEntitySchema), required=True)


class FavouriteSchema(RepertoireSiteSchema):
    added_at = fields.String(required=True)
    created = fields.Boolean(metadata={"description": "PUT: false when it already was a favourite"})


# ------------------------------------------------------------------ structures edited in place (PDL guide §3)
class StructureOfferRefSchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True)
    unit_type = fields.String(required=True, allow_none=True)
    unit_type_label = fields.String(required=True, allow_none=True)


class PractitionerViewSchema(Schema):
    id = fields.Integer(required=True, metadata={"description": "the attachment (DELETE …/practitioners/{id})"})
    rpps = fields.String(required=True, allow_none=True)
    civility = fields.String(required=True, allow_none=True)
    last_name = fields.String(required=True, allow_none=True)
    first_name = fields.String(required=True, allow_none=True)
    profession = fields.String(required=True, allow_none=True)
    specialty = fields.String(required=True, allow_none=True)
    convention_sector = fields.String(required=True, allow_none=True)


class CapacityViewSchema(Schema):
    type = fields.String(required=True)
    label = fields.String(required=True)
    count = fields.Integer(required=True, allow_none=True)


class CapacityObservationSchema(Schema):
    type = fields.String(required=True)
    count = fields.Integer(required=True, allow_none=True)
    observed_at = fields.String(required=True)
    recorded_by = fields.String(required=True, allow_none=True)


class ActivityViewSchema(Schema):
    code = fields.String(required=True)
    label = fields.String(required=True, allow_none=True)


class StructureSheetSchema(Schema):
    """One structure's sheet (services.offers.structure_edits.view_structure)."""
    id = fields.Integer(required=True)
    region = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(STRUCTURE_KINDS))
    parent_id = fields.Integer(required=True, allow_none=True)
    finess = fields.String(required=True, allow_none=True)
    discipline = fields.String(required=True, allow_none=True)
    departement = fields.String(required=True, allow_none=True)
    name = fields.String(required=True)
    address_line = fields.String(required=True, allow_none=True)
    address_complement = fields.String(required=True, allow_none=True)
    postal_code = fields.String(required=True, allow_none=True)
    commune_insee = fields.String(required=True, allow_none=True)
    city = fields.String(required=True, allow_none=True)
    phone = fields.String(required=True, allow_none=True)
    fax = fields.String(required=True, allow_none=True)
    email = fields.String(required=True, allow_none=True)
    mssante = fields.String(required=True, allow_none=True)
    website = fields.String(required=True, allow_none=True)
    director_name = fields.String(required=True, allow_none=True)
    version = fields.Integer(required=True)
    etag = fields.String(required=True)
    updated_at = fields.String(required=True, allow_none=True)
    # units only
    offer = fields.Nested(StructureOfferRefSchema, allow_none=True, metadata={"description": "units only"})
    operational_activities = fields.List(fields.Nested(ActivityViewSchema), metadata={"description": "units only"})
    practitioners = fields.List(fields.Nested(PractitionerViewSchema), metadata={"description": "units only"})
    capacities = fields.List(fields.Nested(CapacityViewSchema), metadata={"description": "units only"})
    capacity_history = fields.List(fields.Nested(CapacityObservationSchema),
                                   metadata={"description": "units only: the last 50 observations"})


class StructureWriteSchema(StructureSheetSchema):
    result = fields.Nested(PractitionerViewSchema, required=True, allow_none=True,
                           metadata={"description": "adding a person: the attachment made; null otherwise"})

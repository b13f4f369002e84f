"""The six-step description path of an offer (UO): one marshmallow schema per editable step and the
rules the guides give (plain module: no nameko, no database).

`validate_step(step, data, previous)` returns the cleaned content to store in the draft, or raises
InvalidInput (400, `fields` naming each bad field with the marshmallow messages) or Conflict (409, a
second exceptional-hours period / temporary closure). Nothing is stored by this module.
"""

from __future__ import annotations

import re
from datetime import date

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates_schema,
)

from services.common.errors import Conflict, InvalidInput
from services.offers import reference
from services.offers.contracts import (  # noqa: F401  the vocabularies of the contract (re-exported)
    CHANNELS,
    DAYS,
    EMAIL_CHANNELS,
    PHONE_CHANNELS,
    REQUIRED,
    SLOT_KINDS,
    STEPS,
    URL_CHANNELS,
    VISIBILITIES,
)

STEP_LABELS = {
    "national": "Informations nationales",
    "description": "Description de l'offre",
    "modalities": "Modalités d'accueil et territoire d'intervention",
    "contacts": "Contacts",
    "hours": "Horaires",
}

NOT_NULL = "Ce champ ne peut pas être vide."
UNKNOWN_FIELD = "Champ inconnu."

CHANNEL_LABELS = {
    "phone": "Téléphone", "mobile": "Téléphone mobile", "fax": "Fax", "email": "Adresse e-mail",
    "mssante": "Boîte de Messagerie Sécurisée de Santé", "url_appointment": "URL/lien vers site de prise de RDV",
    "url_teleconsultation": "URL/lien de téléconsultation", "url_teleexpertise": "URL/lien de téléexpertise",
    "website": "Site internet",
}
MAX_CONTACTS_PER_VISIBILITY = 20
PUBLIC_CONTACT_REQUIRED = "Au moins un contact à destination des patients est obligatoire"
PHONE_MESSAGE = ("Numéro de téléphone invalide : 10 chiffres, "
                 "ne pas mettre de points, ni d'espaces (ex. 0102030405)")
MSSANTE_DOMAIN = "mssante.fr"

DAY_LABELS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
SLOT_KIND_LABELS = {"appointment": "sur rendez-vous", "walk_in": "sans rendez-vous",
                    "home_visit": "visite à domicile / autre structure"}
ONE_PERIOD_AT_A_TIME = ("Il n'est possible d'ajouter qu'une seule saisie de fermeture temporaire "
                        "ou horaire exceptionnel à la fois.")
COMMENT_MAX = 2000

_TIME = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")
_PHONE = re.compile(r"^\d{10}$")


# marshmallow's type messages, in the language of the users (per field instance, not globally:
# other services share the process in tests).
_FRENCH_TYPE_MESSAGES = (
    (fields.Integer, {"invalid": "Nombre entier attendu.", "too_large": "Nombre trop grand."}),
    (fields.Boolean, {"invalid": "Booléen attendu (true ou false)."}),
    (fields.Date, {"invalid": "Date au format AAAA-MM-JJ attendue.", "format": "Date au format AAAA-MM-JJ attendue."}),
    (fields.String, {"invalid": "Texte attendu.", "invalid_utf8": "Texte UTF-8 invalide."}),
    (fields.List, {"invalid": "Liste attendue."}),
    (fields.Nested, {"type": "Objet JSON attendu.", "invalid": "Objet JSON attendu."}),
)


def _frenchify(field: fields.Field) -> None:
    for cls, messages in _FRENCH_TYPE_MESSAGES:
        if isinstance(field, cls):
            field.error_messages.update(messages)
    field.error_messages.setdefault("required", REQUIRED)
    if field.error_messages.get("required", "").startswith("Missing data"):
        field.error_messages["required"] = REQUIRED
    if field.error_messages.get("null", "").startswith("Field may not"):
        field.error_messages["null"] = NOT_NULL
    inner = getattr(field, "inner", None)
    if inner is not None:
        _frenchify(inner)


def _required(**kwargs) -> dict:
    return {"required": True, "error_messages": {"required": REQUIRED, "null": NOT_NULL}, **kwargs}


def _codes(name: str, **kwargs):
    """A list of codes of nomenclature `name` (checked against the files by the schema)."""
    return fields.List(fields.String(validate=validate.Length(min=1, max=20)), metadata={"nomenclature": name},
                       **kwargs)


class StepSchema(Schema):
    """Unknown fields are refused (a typo must not be silently dropped); messages in French."""

    class Meta:
        unknown = RAISE

    error_messages = {"unknown": UNKNOWN_FIELD, "type": "Un objet JSON est attendu."}

    def __init__(self, *args, previous: dict | None = None, today: date | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.previous = previous or {}  # the step as stored before: deprecated codes already there may stay
        self.today = today
        for field in self.fields.values():
            _frenchify(field)

    def check_codes(self, data: dict) -> None:
        errors: dict[str, list[str]] = {}
        for name, field in self.fields.items():
            nomenclature = (field.metadata or {}).get("nomenclature")
            if not nomenclature or not data.get(name):
                continue
            messages = reference.code_errors(nomenclature, data[name], self.previous.get(name) or (),
                                             today=self.today)
            if messages:
                errors[name] = messages
        if errors:
            raise ValidationError(errors)


def _dedupe(values):
    return list(dict.fromkeys(values))


# ------------------------------------------------------------------ step 1

class NationalSchema(StepSchema):
    """Step 1 only acknowledges the national data (RPPS / FINESS / AMELI), which is read-only here."""

    acknowledged = fields.Boolean(load_default=True)

    @pre_load
    def refuse_national_fields(self, data, **kwargs):
        if isinstance(data, dict):
            extra = {key: ["Donnée issue des répertoires nationaux, non modifiable dans le ROR : "
                           "déclarez une anomalie pour la faire corriger."]
                     for key in data if key != "acknowledged"}
            if extra:
                raise ValidationError(extra)
        return data

    @validates_schema
    def must_acknowledge(self, data, **kwargs):
        if data.get("acknowledged") is False:
            raise ValidationError("Validez les informations nationales ou déclarez une anomalie.", "acknowledged")


# ------------------------------------------------------------------ step 2

class DescriptionSchema(StepSchema):
    age_min = fields.Integer(strict=True, validate=validate.Range(0, 150, error="Âge entre 0 et 150 ans."),
                             **_required(metadata={"description": "Âge minimum de la patientèle (ans)"}))
    age_max = fields.Integer(strict=True, allow_none=True, load_default=None,
                             validate=validate.Range(0, 150, error="Âge entre 0 et 150 ans."))
    operational_activities = _codes(
        "operational_activities",
        validate=validate.Length(min=1, error="Au moins une activité opérationnelle est obligatoire."),
        **_required())
    specific_acts_in_office = _codes("specific_acts", load_default=list)
    specific_acts_outside_office = _codes("specific_acts", load_default=list)
    equipments = _codes("equipments", load_default=list)
    specific_competences = _codes("specific_competences", load_default=list)
    place_accessibility = fields.String(allow_none=True, load_default=None)
    comment = fields.String(allow_none=True, load_default=None, validate=validate.Length(
        max=COMMENT_MAX, error=f"Commentaire de {COMMENT_MAX} caractères au plus."))

    @validates_schema
    def rules(self, data, **kwargs):
        errors: dict = {}
        age_min, age_max = data.get("age_min"), data.get("age_max")
        if age_min is not None and age_max is not None and age_min > age_max:
            errors["age_max"] = ["L'âge maximum doit être supérieur ou égal à l'âge minimum."]
        access = data.get("place_accessibility")
        if access is not None and reference.get_concept("place_accessibility", access) is None:
            choices = ", ".join(reference.nomenclature("place_accessibility"))
            errors["place_accessibility"] = [f"Valeur inconnue : {access} (valeurs : {choices})."]
        try:
            self.check_codes(data)
        except ValidationError as err:
            errors.update(err.messages)
        if errors:
            raise ValidationError(errors)

    @post_load
    def clean(self, data, **kwargs):
        for key in ("operational_activities", "specific_acts_in_office", "specific_acts_outside_office",
                    "equipments", "specific_competences"):
            data[key] = _dedupe(data.get(key) or [])
        if data.get("comment") is not None:
            data["comment"] = data["comment"].strip() or None
        return data


# ------------------------------------------------------------------ step 3

class ModalitiesSchema(StepSchema):
    reception_modalities = _codes("reception_modalities", load_default=list)
    intervention_communes = fields.List(fields.String(validate=validate.Regexp(
        r"^(?:\d{5}|2[AB]\d{3})$", error="Code commune INSEE invalide (5 caractères).")), load_default=list,
        metadata={"description": "Communes d'intervention (codes INSEE)"})

    @validates_schema
    def rules(self, data, **kwargs):
        errors: dict = {}
        communes = data.get("intervention_communes") or []
        unknown = [code for code in communes if reference.get_commune(code) is None]
        if unknown:
            errors["intervention_communes"] = [f"Commune inconnue : {code}" for code in unknown]
        if reference.HOME_VISIT in (data.get("reception_modalities") or []) and not communes:
            errors["intervention_communes"] = [
                "Les communes d'intervention sont obligatoires pour une visite à domicile."]
        try:
            self.check_codes(data)
        except ValidationError as err:
            errors.update(err.messages)
        if errors:
            raise ValidationError(errors)

    @post_load
    def clean(self, data, **kwargs):
        data["reception_modalities"] = _dedupe(data.get("reception_modalities") or [])
        data["intervention_communes"] = _dedupe(data.get("intervention_communes") or [])
        return data


# ------------------------------------------------------------------ step 4

class ContactSchema(StepSchema):
    channel = fields.String(validate=validate.OneOf(CHANNELS, error="Moyen de contact inconnu : {input}."),
                            **_required())
    purpose = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=100),
                            metadata={"description": "e.g. « Prise de rendez-vous », « Urgence »"})
    value = fields.String(validate=validate.Length(min=1, max=500), **_required())
    visibility = fields.String(
        validate=validate.OneOf(VISIBILITIES, error="Visibilité : public ou professional."), **_required())

    @validates_schema
    def value_matches_channel(self, data, **kwargs):
        channel, value = data.get("channel"), (data.get("value") or "")
        if channel in PHONE_CHANNELS:
            if not _PHONE.match(value):
                raise ValidationError(PHONE_MESSAGE, "value")
        elif channel in EMAIL_CHANNELS or channel == "mssante":
            try:
                validate.Email(error="Adresse e-mail invalide.")(value)
            except ValidationError as err:
                raise ValidationError(err.messages, "value") from err
            domain = value.rsplit("@", 1)[-1].lower()
            if channel == "mssante" and not (domain == MSSANTE_DOMAIN or domain.endswith("." + MSSANTE_DOMAIN)):
                raise ValidationError(
                    "Une adresse MSSanté doit appartenir à un domaine de messagerie sécurisée (…mssante.fr).",
                    "value")
        elif channel in URL_CHANNELS:
            try:
                validate.URL(schemes={"http", "https"}, error="Adresse web invalide (http:// ou https://).")(value)
            except ValidationError as err:
                raise ValidationError(err.messages, "value") from err

    @post_load
    def clean(self, data, **kwargs):
        data["value"] = data["value"].strip()
        return data


class ContactsSchema(StepSchema):
    contacts = fields.List(fields.Nested(ContactSchema), **_required())

    @validates_schema
    def rules(self, data, **kwargs):
        contacts = data.get("contacts") or []
        errors = []
        for visibility, who in (("public", "patients"), ("professional", "professionnels")):
            count = sum(1 for c in contacts if c.get("visibility") == visibility)
            if count > MAX_CONTACTS_PER_VISIBILITY:
                errors.append(f"{MAX_CONTACTS_PER_VISIBILITY} contacts au plus à destination des {who} "
                              f"({count} reçus).")
        if not any(c.get("visibility") == "public" for c in contacts):
            errors.append(PUBLIC_CONTACT_REQUIRED + ".")
        if errors:
            raise ValidationError(errors, "contacts")


# ------------------------------------------------------------------ step 5

class DayField(fields.Field):
    """monday..sunday or 1..7 (ISO, 1 = Monday); stored as 1..7."""

    default_error_messages = {"invalid": "Jour invalide : monday … sunday ou 1 … 7."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, int) and 1 <= value <= 7:
            return value
        if isinstance(value, str):
            text = value.strip().lower()
            if text in DAYS:
                return DAYS.index(text) + 1
            if text.isdigit() and 1 <= int(text) <= 7:
                return int(text)
        raise self.make_error("invalid")

    def _serialize(self, value, attr, obj, **kwargs):
        return value


def _time_field():
    return fields.String(validate=validate.Regexp(_TIME, error="Heure au format HH:MM (00:00 à 24:00)."),
                         **_required())


class SlotSchema(StepSchema):
    day = DayField(**_required(metadata={"description": "monday … sunday, or 1 … 7"}))
    start = _time_field()
    end = _time_field()
    kind = fields.String(validate=validate.OneOf(
        SLOT_KINDS, error="Type d'horaire : appointment, walk_in ou home_visit."), **_required())

    @validates_schema
    def start_before_end(self, data, **kwargs):
        if data.get("start") and data.get("end") and data["start"] >= data["end"]:
            raise ValidationError("L'heure de fin doit être après l'heure de début.", "end")


class DatedSlotSchema(SlotSchema):
    """Slots of an exceptional period: the day is optional (none = every day of the period)."""

    day = DayField(allow_none=True, load_default=None)


def _overlaps(slots: list[dict], where: str) -> list[str]:
    """Messages for slots of the same kind that overlap on the same day."""
    messages = []
    by_key: dict[tuple, list[dict]] = {}
    for slot in slots:
        by_key.setdefault((slot.get("day"), slot["kind"]), []).append(slot)
    for (day, kind), group in by_key.items():
        group.sort(key=lambda s: s["start"])
        for before, after in zip(group, group[1:], strict=False):
            if after["start"] < before["end"]:
                day_label = DAY_LABELS[day - 1] if day else "chaque jour"
                messages.append(f"{where} : créneaux {SLOT_KIND_LABELS[kind]} qui se chevauchent le {day_label} "
                                f"({before['start']}–{before['end']} et {after['start']}–{after['end']}).")
    return messages


class PeriodSchema(StepSchema):
    start_date = fields.Date(**_required())
    end_date = fields.Date(**_required())
    comment = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=500))

    @validates_schema
    def dates_in_order(self, data, **kwargs):
        if data.get("start_date") and data.get("end_date") and data["start_date"] > data["end_date"]:
            raise ValidationError("La date de fin doit être le jour de début ou après.", "end_date")


class ExceptionalHoursSchema(PeriodSchema):
    slots = fields.List(fields.Nested(DatedSlotSchema), load_default=list)

    @validates_schema
    def no_overlap(self, data, **kwargs):
        messages = _overlaps(data.get("slots") or [], "Horaire exceptionnel")
        if messages:
            raise ValidationError(messages, "slots")


class TemporaryClosureSchema(PeriodSchema):
    pass


class HoursSchema(StepSchema):
    weekly = fields.List(fields.Nested(SlotSchema), load_default=list,
                         metadata={"description": "Semaine type"})
    exceptional_hours = fields.List(fields.Nested(ExceptionalHoursSchema), load_default=list,
                                    metadata={"description": "At most one period (object or list of one)"})
    temporary_closure = fields.List(fields.Nested(TemporaryClosureSchema), load_default=list,
                                    metadata={"description": "At most one period (object or list of one)"})

    @pre_load
    def one_or_many(self, data, **kwargs):
        # The path allows one period at a time, so a single object is the natural input; a list is
        # accepted too so that "a second one" can be expressed (and refused with 409 after validation).
        if isinstance(data, dict):
            data = dict(data)
            for key in ("exceptional_hours", "temporary_closure"):
                if isinstance(data.get(key), dict):
                    data[key] = [data[key]]
                elif data.get(key) is None and key in data:
                    data[key] = []
        return data

    @validates_schema
    def no_overlap(self, data, **kwargs):
        messages = _overlaps(data.get("weekly") or [], "Semaine type")
        if messages:
            raise ValidationError(messages, "weekly")


SCHEMAS: dict[str, type[StepSchema]] = {
    "national": NationalSchema,
    "description": DescriptionSchema,
    "modalities": ModalitiesSchema,
    "contacts": ContactsSchema,
    "hours": HoursSchema,
}


def _jsonable(value):
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _check_one_period(data: dict, today: date) -> None:
    """At most one exceptional-hours period or temporary closure that is not over yet."""
    current = {key: [p for p in data.get(key) or [] if p["end_date"] >= today]
               for key in ("exceptional_hours", "temporary_closure")}
    if sum(len(v) for v in current.values()) > 1:
        raise Conflict(ONE_PERIOD_AT_A_TIME, {key: ONE_PERIOD_AT_A_TIME for key, v in current.items() if v})
    # A finished period no longer describes the offer: it is not kept.
    for key, periods in current.items():
        data[key] = periods


def validate_step(step: str, data, previous: dict | None = None, today: date | None = None,
                  partial: bool | tuple[str, ...] = False) -> dict:
    """Cleaned content of `step`, JSON-ready. Raises InvalidInput (400) or Conflict (409).
    `partial` (marshmallow's) leaves required fields out of the check, for in-place edits of one
    field of a step (e.g. the activities of a hospital unit whose description is not complete yet)."""
    if step not in SCHEMAS:
        raise InvalidInput(f"Étape inconnue : {step}", {"step": f"one of {list(SCHEMAS)}"})
    if data is None or not isinstance(data, dict):
        raise InvalidInput("Un objet JSON est attendu", {"body": "expected a JSON object"})
    schema = SCHEMAS[step](previous=previous, today=today)
    try:
        cleaned = schema.load(data, partial=partial)
    except ValidationError as err:
        messages = err.messages if isinstance(err.messages, dict) else {"_schema": err.messages}
        raise InvalidInput(f"Étape « {STEP_LABELS[step]} » : données invalides", messages) from err
    if step == "hours":
        _check_one_period(cleaned, today or date.today())
    return _jsonable(cleaned)


def public_contacts(contacts: list[dict]) -> list[dict]:
    return [c for c in contacts or [] if c.get("visibility") == "public"]


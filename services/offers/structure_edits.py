"""Changes to the répertoire tree itself (EG, pôle, service, UF, UO), not to one offer's six steps:

- the sheet rules of a dossier collaboratif (`check_sheet`): administrative data of every level, and for
  a UO its description, modalities, contacts and hours with the very rules of the six-step path
  (`steps.validate_step`), its practitioners and capacities;
- the snapshot a dossier copies when it is opened, and the atomic application of a validated dossier;
- the in-place edits of the PDL guide §3 (administrative data, activities, practitioners, capacities),
  each guarded by the structure's ETag and published at once with its event.

Plain module (SQLAlchemy session passed in, no nameko); functions flush, the entrypoint commits.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common import outbox
from services.common.actor import Actor
from services.common.db import is_row_id
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.common.etag import check_if_match, make_etag
from services.common.events import make_event
from services.offers import access, reference, steps, views
from services.offers.fhir import national
from services.offers.models import (
    CAPACITY_TYPES,
    Capacity,
    CapacityObservation,
    Offer,
    Outbox,
    PractitionerAttachment,
    Professional,
    Structure,
)
from services.offers.search import index as search_index

# Sheet kinds of a dossier (the guides' codes) and the structure kinds they stand for.
SHEET_KINDS = {"eg": "site", "pole": "pole", "service": "service", "uf": "functional_unit", "uo": "unit"}
KIND_OF_STRUCTURE = {v: k for k, v in SHEET_KINDS.items()}
# Which sheet may hang below which (a UO may sit directly under the EG, as a CPTS's does).
CHILD_KINDS = {"eg": ("pole", "service", "uf", "uo"), "pole": ("service", "uf", "uo"), "service": ("uf", "uo"),
               "uf": ("uo",), "uo": ()}
KIND_LABELS = {"eg": "Entité géographique", "pole": "Pôle", "service": "Service", "uf": "Unité fonctionnelle",
               "uo": "Unité opérationnelle"}

ADMIN_FIELDS = ("name", "address_line", "address_complement", "postal_code", "commune_insee", "city", "phone",
                "fax", "email", "mssante", "website", "director_name")
# Administrative data required at each level ("champs avec astérisque"): an EG must be reachable.
REQUIRED_ADMIN = {"site": ("name", "phone"), "pole": ("name",), "service": ("name",),
                  "functional_unit": ("name",), "unit": ("name",)}
# Contact fields of a structure checked with the channel rules of the contacts step.
CONTACT_FIELDS = {"phone": "phone", "fax": "fax", "email": "email", "mssante": "mssante", "website": "website"}
UNIT_PARTS = ("description", "modalities", "contacts", "hours")
REQUIRED_UNIT_PARTS = ("description", "contacts")
UNIT_FIELDS = UNIT_PARTS + ("practitioners", "capacities", "care_mode")
CPTS_UNIT_TYPE = "ROR-UO-CPTS"
INSTALLED_BEDS, AVAILABLE_BEDS = "full_hospitalisation_beds", "available_beds"
FULL_HOSPITALISATION = "ROR-UO-HC"
STRUCTURE_ETAG_PREFIX = "s"
_POSTAL = re.compile(r"^\d{5}$")


def utcnow() -> datetime:
    return datetime.now(UTC)


def structure_etag(structure: Structure) -> str:
    return make_etag(STRUCTURE_ETAG_PREFIX, structure.id, structure.version or 1)


# ------------------------------------------------------------------ sheet rules

class AdminSchema(steps.StepSchema):
    """Administrative data of any level; every field optional here, REQUIRED_ADMIN says which must be set."""

    name = fields.String(allow_none=True, validate=validate.Length(min=1, max=255))
    address_line = fields.String(allow_none=True, validate=validate.Length(max=255))
    address_complement = fields.String(allow_none=True, validate=validate.Length(max=255))
    postal_code = fields.String(allow_none=True, validate=validate.Regexp(
        _POSTAL, error="Code postal invalide (5 chiffres)."))
    commune_insee = fields.String(allow_none=True, validate=validate.Regexp(
        r"^(?:\d{5}|2[AB]\d{3})$", error="Code commune INSEE invalide (5 caractères)."))
    city = fields.String(allow_none=True, validate=validate.Length(max=255))
    phone = fields.String(allow_none=True)
    fax = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    mssante = fields.String(allow_none=True)
    website = fields.String(allow_none=True)
    director_name = fields.String(allow_none=True, validate=validate.Length(max=255),
                                  metadata={"description": "Nom du directeur d'établissement"})

    @validates_schema
    def rules(self, data, **kwargs):
        errors: dict = {}
        for name, channel in CONTACT_FIELDS.items():
            value = data.get(name)
            if value in (None, ""):
                continue
            try:
                steps.ContactSchema().load({"channel": channel, "value": value, "visibility": "public"})
            except ValidationError as err:
                messages = err.messages if isinstance(err.messages, dict) else {"value": err.messages}
                errors[name] = messages.get("value") or list(messages.values())
        code = data.get("commune_insee")
        if code and reference.get_commune(code) is None:
            errors["commune_insee"] = [f"Commune inconnue : {code}"]
        if errors:
            raise ValidationError(errors)


class PractitionerSchema(steps.StepSchema):
    """A person attached to a consultation unit ("Ajouter une personne"): by RPPS, or by name."""

    rpps = fields.String(allow_none=True, load_default=None, validate=validate.Regexp(
        r"^\d{11}$", error="Numéro RPPS invalide (11 chiffres)."))
    civility = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=40))
    last_name = fields.String(allow_none=True, load_default=None, validate=validate.Length(min=1, max=255))
    first_name = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=255))
    profession = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=255),
                               metadata={"description": "e.g. Médecin"})
    specialty = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=255),
                              metadata={"description": "e.g. Gynécologie médicale (SM)"})
    convention_sector = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=40),
                                      metadata={"description": "e.g. conventionné en Secteur 2"})

    @validates_schema
    def who(self, data, **kwargs):
        if not data.get("rpps"):
            errors = {}
            if not data.get("last_name"):
                errors["last_name"] = ["Nom obligatoire quand le RPPS n'est pas donné."]
            if not data.get("profession"):
                errors["profession"] = ["Profession obligatoire quand le RPPS n'est pas donné."]
            if errors:
                raise ValidationError(errors)


def _text(messages) -> str:
    """A list of marshmallow messages (or one) as one line."""
    return " ".join(map(str, messages)) if isinstance(messages, list | tuple) else str(messages)


def _flatten(messages, prefix: str = "") -> dict:
    """marshmallow / InvalidInput messages as {"a.b": "message"} (one level per nested key)."""
    out: dict = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    else:
        out[prefix or "_schema"] = _text(messages)
    return out


def _admin_errors(kind: str, data: dict) -> tuple[dict, dict]:
    """(cleaned admin fields, errors) of `data`'s administrative part for structure kind `kind`."""
    admin = {k: data[k] for k in ADMIN_FIELDS if k in data}
    try:
        cleaned = AdminSchema().load(admin)
    except ValidationError as err:
        return admin, _flatten(err.messages)
    errors = {}
    for name in REQUIRED_ADMIN[kind]:
        if not cleaned.get(name):
            errors[name] = steps.REQUIRED
    for key, value in list(cleaned.items()):
        if isinstance(value, str):
            cleaned[key] = value.strip() or None
    return cleaned, errors


def check_unit_type(unit_type: str | None) -> str:
    if not unit_type:
        raise InvalidInput("Le type d'UO est à choisir en premier", {"unit_type": steps.REQUIRED})
    messages = reference.code_errors("unit_types", [unit_type])
    if messages:
        raise InvalidInput("Type d'UO invalide", {"unit_type": messages})
    return unit_type


def check_sheet(kind: str, data, unit_type: str | None = None, finalise: bool = False) -> dict:
    """The rules of one sheet. Returns {"data": content to store, "errors": {field: message}}: the
    cleaned content when valid, else the data as given (a sheet can be saved pending while incomplete).
    Raises InvalidInput when `finalise` and the sheet is invalid, or whatever the state for data that
    cannot even be stored (not an object, unknown fields)."""
    if kind not in SHEET_KINDS:
        raise InvalidInput("Type de fiche inconnu", {"kind": f"one of {list(SHEET_KINDS)}"})
    if not isinstance(data, dict):
        raise InvalidInput("Un objet JSON est attendu", {"data": "expected a JSON object"})
    allowed = ADMIN_FIELDS + (UNIT_FIELDS if kind == "uo" else ())
    unknown = sorted(k for k in data if k not in allowed)
    if unknown:
        raise InvalidInput("Champs inconnus pour cette fiche", {k: steps.UNKNOWN_FIELD for k in unknown})
    structure_kind = SHEET_KINDS[kind]
    cleaned, errors = _admin_errors(structure_kind, data)
    if kind == "uo":
        unit, unit_errors = _unit_parts(data, unit_type)
        cleaned.update(unit)
        errors.update(unit_errors)
    if errors and finalise:
        raise InvalidInput(f"La fiche « {data.get('name') or KIND_LABELS[kind]} » ne peut pas être finalisée",
                           errors)
    return {"data": copy.deepcopy(data) if errors else cleaned, "errors": errors}


def _unit_parts(data: dict, unit_type: str | None) -> tuple[dict, dict]:
    cleaned: dict = {}
    errors: dict = {}
    for part in UNIT_PARTS:
        value = data.get(part)
        if value is None:
            if part in REQUIRED_UNIT_PARTS:
                errors[part] = f"{steps.STEP_LABELS[part]} : à compléter"
            continue
        try:
            cleaned[part] = steps.validate_step(part, value, previous=value)
        except (InvalidInput, Conflict) as exc:
            errors.update(_flatten(exc.fields, part))
    if unit_type == CPTS_UNIT_TYPE and not errors.get("modalities") and \
            not (cleaned.get("modalities") or {}).get("intervention_communes"):
        errors["modalities.intervention_communes"] = "Territoire d'intervention de la CPTS : à compléter"
    if data.get("care_mode") is not None:
        messages = reference.code_errors("care_modes", [data["care_mode"]]) \
            if isinstance(data["care_mode"], str) else ["Texte attendu."]
        if messages:
            errors["care_mode"] = _text(messages)
        else:
            cleaned["care_mode"] = data["care_mode"]
    if "practitioners" in data:
        people = data["practitioners"]
        if not isinstance(people, list):
            errors["practitioners"] = "Liste attendue."
        else:
            try:
                cleaned["practitioners"] = PractitionerSchema(many=True).load(people)
            except ValidationError as err:
                errors.update(_flatten(err.messages, "practitioners"))
    if "capacities" in data:
        caps = data["capacities"]
        if not isinstance(caps, dict):
            errors["capacities"] = "Objet attendu : {type de capacité: nombre}."
        else:
            for key, value in caps.items():
                if key not in CAPACITY_TYPES:
                    errors[f"capacities.{key}"] = f"Type de capacité inconnu (valeurs : {', '.join(CAPACITY_TYPES)})."
                elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100000:
                    errors[f"capacities.{key}"] = "Nombre entier positif attendu."
            if not any(k.startswith("capacities") for k in errors):
                cleaned["capacities"] = dict(caps)
    return cleaned, errors


# ------------------------------------------------------------------ access and views

def load_structure(session: Session, region: str, structure_id: int, for_update: bool = False) -> Structure:
    if not is_row_id(structure_id):
        raise NotFound("Structure introuvable", {"structure_id": f"no structure {structure_id}"})
    stmt = select(Structure).where(Structure.id == structure_id, Structure.region == region)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).first()
    if row is None or not row.active:
        raise NotFound("Structure introuvable", {"structure_id": f"no structure {structure_id} in region {region}"})
    return row


def require_structure_editor(session: Session, actor: Actor, structure: Structure) -> list[int]:
    """The structure's lineage when `actor` is directeur or structure editor on it or an ancestor."""
    ids = access.lineage(session, structure.id)
    if actor.region != structure.region or not actor.has_role_on(access.EDITOR_ROLES, ids):
        raise Forbidden("Vous n'avez pas d'habilitation sur cette structure",
                        {"structure_id": "requires directeur or structure_editor on it or an ancestor"})
    return ids


def _admin_of(s: Structure) -> dict:
    return {name: getattr(s, name) for name in ADMIN_FIELDS}


def _offer_of(session: Session, unit_id: int) -> Offer | None:
    return session.scalar(select(Offer).where(Offer.unit_id == unit_id))


def _practitioners(session: Session, unit_id: int) -> list[dict]:
    rows = session.execute(select(PractitionerAttachment, Professional).join(Professional)
                           .where(PractitionerAttachment.unit_id == unit_id)
                           .order_by(Professional.last_name, Professional.first_name, PractitionerAttachment.id))
    return [{"id": a.id, "rpps": p.rpps, "civility": p.civility, "last_name": p.last_name,
             "first_name": p.first_name, "profession": a.profession_label or p.profession_label,
             "specialty": a.specialty_label or p.specialty_label,
             "convention_sector": a.convention_sector or p.convention_sector} for a, p in rows]


def _capacities(session: Session, unit_id: int) -> dict:
    return {c.capacity_type: c.count for c in session.scalars(select(Capacity).where(Capacity.unit_id == unit_id))}


def _content(offer: Offer | None) -> dict:
    """What the unit describes: its published steps, else those of its draft (a pre-created UO)."""
    if offer is None:
        return {}
    source = offer.published or ((offer.draft or {}).get("steps") or {})
    return {part: copy.deepcopy(source[part]) for part in UNIT_PARTS if source.get(part)}


def view_structure(session: Session, s: Structure) -> dict:
    out = {"id": s.id, "region": s.region, "kind": s.kind, "parent_id": s.parent_id, "finess": s.finess,
           "discipline": s.discipline, "departement": s.departement, **_admin_of(s),
           "version": s.version, "etag": structure_etag(s),
           "updated_at": s.updated_at.isoformat() if s.updated_at else None}
    if s.kind == "unit":
        offer = _offer_of(session, s.id)
        description = _content(offer).get("description") or {}
        out.update({
            "offer": ({"id": offer.id, "status": offer.status, "unit_type": offer.unit_type,
                       "unit_type_label": reference.label_of("unit_types", offer.unit_type)} if offer else None),
            "operational_activities": [{"code": code, "label": reference.label_of("operational_activities", code)}
                                       for code in description.get("operational_activities") or []],
            "practitioners": _practitioners(session, s.id),
            "capacities": [{"type": k, "label": CAPACITY_TYPES.get(k, k), "count": v}
                           for k, v in sorted(_capacities(session, s.id).items())],
            "capacity_history": [
                {"type": o.capacity_type, "count": o.count, "observed_at": o.observed_at.isoformat(),
                 "recorded_by": o.recorded_by}
                for o in session.scalars(select(CapacityObservation).where(CapacityObservation.unit_id == s.id)
                                         .order_by(CapacityObservation.observed_at.desc(),
                                                   CapacityObservation.id.desc()).limit(50))],
        })
    return out


# ------------------------------------------------------------------ in-place edits (PDL guide §3)

def _touched(session: Session, s: Structure, actor: Actor, change: str, **data) -> None:
    """An in-place edit is published at once: its event, and the national ROR's copy (same transaction)."""
    s.version = (s.version or 1) + 1
    s.updated_at = utcnow()
    session.flush()
    outbox.record(session, Outbox, make_event(
        "offers.structure_updated", s.region, actor.subject, structure_id=s.id, kind=s.kind, change=change,
        version=s.version, **data))
    national.enqueue_structure(session, s.id)
    search_index.refresh_structure(session, s.id)  # the search index follows in the same transaction


def _apply_admin(s: Structure, cleaned: dict) -> None:
    for name in ADMIN_FIELDS:
        if name in cleaned:
            setattr(s, name, cleaned[name])
    if cleaned.get("commune_insee"):
        commune = reference.get_commune(cleaned["commune_insee"])
        s.departement = commune.departement if commune else reference.departement_of(cleaned["commune_insee"])
        if not cleaned.get("city") and commune:
            s.city = commune.name
        if s.latitude is None and commune is not None:
            s.latitude, s.longitude = commune.latitude, commune.longitude


def update_admin(session: Session, s: Structure, data, actor: Actor, if_match: str | None) -> Structure:
    """Administrative data (address, phone, website, e-mail, MSSanté, director's name): the fields given
    replace the stored ones; required fields cannot be emptied."""
    require_structure_editor(session, actor, s)
    check_if_match(if_match, structure_etag(s))
    if not isinstance(data, dict) or not data:
        raise InvalidInput("Données administratives attendues", {"body": f"fields among {list(ADMIN_FIELDS)}"})
    unknown = sorted(k for k in data if k not in ADMIN_FIELDS)
    if unknown:
        raise InvalidInput("Champs inconnus", {k: steps.UNKNOWN_FIELD for k in unknown})
    merged = {**_admin_of(s), **data}
    cleaned, errors = _admin_errors(s.kind, merged)
    errors = {k: v for k, v in errors.items() if k in data or k in REQUIRED_ADMIN[s.kind]}
    if errors:
        raise InvalidInput("Données administratives invalides", errors)
    before = _admin_of(s)
    _apply_admin(s, {k: cleaned.get(k) for k in data})
    changed = sorted(k for k in data if before.get(k) != getattr(s, k))
    _republish_offer(session, s, actor)  # first: the national copy below takes the offer as renamed
    _touched(session, s, actor, "administrative", fields=changed)
    return s


def _unit_offer(session: Session, s: Structure) -> Offer:
    if s.kind != "unit":
        raise Conflict("Seule une unité opérationnelle porte des activités, des praticiens ou des capacités",
                       {"structure_id": f"{s.id} is a {s.kind}"})
    offer = _offer_of(session, s.id)
    if offer is None:
        raise Conflict("Cette unité n'a pas encore d'offre décrite", {"structure_id": s.id})
    return offer


def _republish_offer(session: Session, s: Structure, actor: Actor) -> None:
    """A published UO whose structure data changed is sent again to its consumers (search, FHIR…)."""
    if s.kind != "unit":
        return
    offer = _offer_of(session, s.id)
    if offer is not None and offer.name != s.name:
        offer.name = s.name
        offer.version += 1
    if offer is not None and offer.status == "published":
        offer.version += 1
        session.flush()
        outbox.record(session, Outbox, make_event(
            "offers.published", offer.region, actor.subject, offer_id=offer.id, unit_id=offer.unit_id,
            version=offer.version, published_at=(offer.published_at or utcnow()).isoformat(),
            content=views.published_content(offer)))


def set_activities(session: Session, s: Structure, data, actor: Actor, if_match: str | None) -> Structure:
    """Operational activities of a UO: `operational_activities` (the whole list) or `add` / `remove`."""
    require_structure_editor(session, actor, s)
    check_if_match(if_match, structure_etag(s))
    offer = _unit_offer(session, s)
    if not isinstance(data, dict):
        raise InvalidInput("Un objet JSON est attendu", {"body": "expected a JSON object"})
    unknown = sorted(k for k in data if k not in ("operational_activities", "add", "remove"))
    if unknown or not data:
        raise InvalidInput("Champs attendus : operational_activities, ou add / remove",
                           {k: steps.UNKNOWN_FIELD for k in unknown} or {"operational_activities": steps.REQUIRED})
    for key in data:
        if not isinstance(data[key], list) or not all(isinstance(c, str) for c in data[key]):
            raise InvalidInput("Liste de codes attendue", {key: "Liste attendue."})
    published = offer.published is not None
    target = copy.deepcopy(offer.published if published else ((offer.draft or {}).get("steps") or {}))
    description = dict(target.get("description") or {})
    current = list(description.get("operational_activities") or [])
    if "operational_activities" in data:
        wanted = list(data["operational_activities"])
    else:
        wanted = [c for c in current if c not in data.get("remove", [])] + \
                 [c for c in data.get("add", []) if c not in current]
    description["operational_activities"] = wanted
    cleaned = steps.validate_step("description", description, previous=target.get("description") or {},
                                  partial=not published)
    cleaned = {k: v for k, v in cleaned.items() if k in description or k == "operational_activities"} \
        if not published else cleaned
    target["description"] = cleaned
    draft = copy.deepcopy(offer.draft or {})
    draft.setdefault("steps", {})["description"] = copy.deepcopy(cleaned)
    offer.draft = draft
    if published:
        offer.published = target
    offer.version += 1
    _touched(session, s, actor, "activities", operational_activities=wanted)
    if published:
        session.flush()
        outbox.record(session, Outbox, make_event(
            "offers.published", offer.region, actor.subject, offer_id=offer.id, unit_id=offer.unit_id,
            version=offer.version, published_at=(offer.published_at or utcnow()).isoformat(),
            content=views.published_content(offer)))
    return s


def _is_consultation(offer: Offer) -> bool:
    return reference.label_of("unit_types", offer.unit_type).lower().startswith("consultation")


def _attach(session: Session, region: str, unit_id: int, person: dict) -> PractitionerAttachment:
    """Attach a person (cleaned by PractitionerSchema) to a unit; by RPPS they must be known nationally."""
    if person.get("rpps"):
        professional = session.scalar(select(Professional).where(Professional.region == region,
                                                                 Professional.rpps == person["rpps"]))
        if professional is None:
            raise InvalidInput("Ce numéro RPPS n'est pas connu du répertoire de la région",
                               {"rpps": f"unknown RPPS {person['rpps']}"})
    else:
        professional = Professional(region=region, rpps=None, id_type="8", civility=person.get("civility"),
                                    last_name=person["last_name"].strip().upper(),
                                    first_name=person.get("first_name"),
                                    profession_label=person.get("profession"),
                                    specialty_label=person.get("specialty"),
                                    convention_sector=person.get("convention_sector"))
        session.add(professional)
        session.flush()
    existing = session.scalar(select(PractitionerAttachment).where(
        PractitionerAttachment.unit_id == unit_id, PractitionerAttachment.professional_id == professional.id))
    if existing is not None:
        raise Conflict("Cette personne est déjà rattachée à la consultation", {"rpps": person.get("rpps")})
    attachment = PractitionerAttachment(
        region=region, unit_id=unit_id, professional_id=professional.id, source="ror",
        profession_code=professional.profession_code,
        profession_label=person.get("profession") or professional.profession_label,
        specialty_code=professional.specialty_code,
        specialty_label=person.get("specialty") or professional.specialty_label,
        convention_sector=person.get("convention_sector") or professional.convention_sector)
    session.add(attachment)
    session.flush()
    return attachment


def add_practitioner(session: Session, s: Structure, data, actor: Actor, if_match: str | None) -> dict:
    """"Ajouter une personne" to a consultation UO (RPPS, or name and profession)."""
    require_structure_editor(session, actor, s)
    check_if_match(if_match, structure_etag(s))
    offer = _unit_offer(session, s)
    if not _is_consultation(offer):
        raise Conflict("Les professionnels se rattachent aux unités de consultation",
                       {"structure_id": f"unit type {offer.unit_type}"})
    try:
        person = PractitionerSchema().load(data if isinstance(data, dict) else None)
    except ValidationError as err:
        raise InvalidInput("Personne invalide", _flatten(err.messages)) from err
    attachment = _attach(session, s.region, s.id, person)
    _touched(session, s, actor, "practitioner_added", attachment_id=attachment.id, rpps=person.get("rpps"))
    return next(p for p in _practitioners(session, s.id) if p["id"] == attachment.id)


def remove_practitioner(session: Session, s: Structure, attachment_id: int, actor: Actor,
                        if_match: str | None) -> None:
    require_structure_editor(session, actor, s)
    check_if_match(if_match, structure_etag(s))
    row = session.scalar(select(PractitionerAttachment).where(PractitionerAttachment.id == attachment_id,
                                                              PractitionerAttachment.unit_id == s.id)) \
        if is_row_id(attachment_id) else None
    if row is None:
        raise NotFound("Personne non rattachée à cette unité", {"practitioner_id": attachment_id})
    session.delete(row)
    session.flush()
    _touched(session, s, actor, "practitioner_removed", attachment_id=attachment_id)


class CapacitiesSchema(Schema):
    installed_beds = fields.Integer(strict=True, allow_none=True, load_default=None,
                                    validate=validate.Range(0, 100000, error="Nombre entre 0 et 100000."),
                                    metadata={"description": "Lits installés en hospitalisation complète"})
    available_beds = fields.Integer(strict=True, allow_none=True, load_default=None,
                                    validate=validate.Range(0, 100000, error="Nombre entre 0 et 100000."),
                                    metadata={"description": "Lits disponibles à l'heure de la mise à jour"})

    @validates_schema
    def one_at_least(self, data, **kwargs):
        if data.get("installed_beds") is None and data.get("available_beds") is None:
            raise ValidationError("Indiquez les lits installés et/ou disponibles.", "available_beds")


def _set_capacity(session: Session, region: str, unit_id: int, capacity_type: str, count: int,
                  actor: Actor, when: datetime) -> None:
    row = session.scalar(select(Capacity).where(Capacity.unit_id == unit_id, Capacity.capacity_type == capacity_type))
    if row is None:
        row = Capacity(region=region, unit_id=unit_id, capacity_type=capacity_type, count=count)
        session.add(row)
    row.count = count
    row.updated_at = when
    session.add(CapacityObservation(region=region, unit_id=unit_id, capacity_type=capacity_type, count=count,
                                    observed_at=when, recorded_by=actor.username))


def set_capacities(session: Session, s: Structure, data, actor: Actor, if_match: str | None) -> Structure:
    """Capacities in full hospitalisation: installed beds, and available beds at the time of the update
    (every update is kept in `capacity_observations`)."""
    require_structure_editor(session, actor, s)
    check_if_match(if_match, structure_etag(s))
    offer = _unit_offer(session, s)
    if offer.unit_type != FULL_HOSPITALISATION:
        raise Conflict("Les capacités en lits se déclarent sur une unité d'hospitalisation complète",
                       {"structure_id": f"unit type {offer.unit_type}"})
    try:
        wanted = CapacitiesSchema().load(data if isinstance(data, dict) else None)
    except ValidationError as err:
        raise InvalidInput("Capacités invalides", _flatten(err.messages)) from err
    current = _capacities(session, s.id)
    installed = wanted["installed_beds"] if wanted["installed_beds"] is not None else current.get(INSTALLED_BEDS)
    available = wanted["available_beds"]
    if available is not None and installed is not None and available > installed:
        raise InvalidInput("Les lits disponibles ne peuvent dépasser les lits installés",
                           {"available_beds": f"{available} > {installed} lits installés"})
    now = utcnow()
    if wanted["installed_beds"] is not None:
        _set_capacity(session, s.region, s.id, INSTALLED_BEDS, wanted["installed_beds"], actor, now)
    if available is not None:
        _set_capacity(session, s.region, s.id, AVAILABLE_BEDS, available, actor, now)
    session.flush()
    _touched(session, s, actor, "capacities", capacities=_capacities(session, s.id), observed_at=now.isoformat())
    return s


# ------------------------------------------------------------------ dossiers: snapshot and publication

def snapshot(session: Session, region: str, site_id: int) -> dict:
    """An EG and every active structure below it, as the sheets of a new dossier (parents first)."""
    site = load_structure(session, region, site_id)
    if site.kind != "site":
        raise InvalidInput("Un dossier collaboratif s'ouvre sur une entité géographique (EG)",
                           {"structure_id": f"{site_id} is a {site.kind}"})
    nodes = []
    frontier = [site]
    while frontier:
        nxt = []
        for s in frontier:
            item = {"structure_id": s.id, "parent_structure_id": s.parent_id if s.id != site.id else None,
                    "kind": KIND_OF_STRUCTURE[s.kind], "name": s.name, "unit_type": None,
                    "data": {k: v for k, v in _admin_of(s).items() if v is not None}}
            if s.kind == "unit":
                offer = _offer_of(session, s.id)
                item["unit_type"] = offer.unit_type if offer else None
                item["data"].update(_content(offer))
                if offer and offer.care_mode:
                    item["data"]["care_mode"] = offer.care_mode
                people = _practitioners(session, s.id)
                if people:
                    item["data"]["practitioners"] = [{k: v for k, v in p.items() if k != "id"} for p in people]
                caps = _capacities(session, s.id)
                if caps:
                    item["data"]["capacities"] = caps
            nodes.append(item)
            nxt.extend(session.scalars(select(Structure).where(Structure.parent_id == s.id,
                                                               Structure.active.is_(True),
                                                               Structure.kind.in_(list(KIND_OF_STRUCTURE)))
                                       .order_by(Structure.id)))
        frontier = nxt
    return {"site": {"id": site.id, "name": site.name, "region": site.region},
            "lineage": access.lineage(session, site.id), "sheets": nodes}


def _ordered(sheets: list[dict]) -> list[dict]:
    """Parents before children."""
    by_id = {s["id"]: s for s in sheets}
    done: set = set()
    out: list[dict] = []

    def visit(sheet, depth=0):
        if sheet["id"] in done or depth > 32:
            return
        parent = by_id.get(sheet.get("parent_id"))
        if parent is not None:
            visit(parent, depth + 1)
        done.add(sheet["id"])
        out.append(sheet)

    for sheet in sheets:
        visit(sheet)
    return out


def _descendants(session: Session, structure_id: int) -> list[Structure]:
    out, frontier = [], [structure_id]
    while frontier:
        children = list(session.scalars(select(Structure).where(Structure.parent_id.in_(frontier),
                                                                Structure.active.is_(True))))
        out.extend(children)
        frontier = [c.id for c in children]
    return out


def _sync_practitioners(session: Session, region: str, unit_id: int, people: list[dict]) -> None:
    existing = {(p["rpps"] or f"{p['last_name']}|{p['first_name']}|{p['profession']}"): p["id"]
                for p in _practitioners(session, unit_id)}
    wanted = set()
    for person in people:
        key = person.get("rpps") or f"{(person.get('last_name') or '').strip().upper()}|" \
                                    f"{person.get('first_name')}|{person.get('profession')}"
        wanted.add(key)
        if key in existing:
            row = session.get(PractitionerAttachment, existing[key])
            row.specialty_label = person.get("specialty") or row.specialty_label
            row.convention_sector = person.get("convention_sector") or row.convention_sector
            row.profession_label = person.get("profession") or row.profession_label
        else:
            _attach(session, region, unit_id, person)
    for key, attachment_id in existing.items():
        if key not in wanted:
            session.delete(session.get(PractitionerAttachment, attachment_id))
    session.flush()


def _apply_unit(session: Session, s: Structure, sheet: dict, content: dict, actor: Actor, now: datetime) -> Offer:
    offer = _offer_of(session, s.id)
    unit_type = sheet.get("unit_type") or (offer.unit_type if offer else None)
    check_unit_type(unit_type)
    parts = {part: content[part] for part in UNIT_PARTS if part in content}
    if "hours" not in parts:
        parts["hours"] = steps.validate_step("hours", {})
    if offer is None:
        site = s
        while site is not None and site.kind != "site":
            site = session.get(Structure, site.parent_id) if site.parent_id else None
        national = {"source": "ROR", "structure": {"name": site.name if site else s.name,
                                                   "finess": site.finess if site else None},
                    "address": {"line": s.address_line, "postal_code": s.postal_code,
                                "commune_insee": s.commune_insee, "city": s.city}}
        offer = Offer(region=s.region, unit_id=s.id, unit_type=unit_type, name=s.name, national=national,
                      draft={}, version=1, status="draft")
        session.add(offer)
    offer.unit_type = unit_type
    offer.care_mode = content.get("care_mode") or offer.care_mode
    offer.name = s.name
    offer.commune_insee, offer.departement = s.commune_insee, s.departement
    offer.draft = {"steps": {"national": {"acknowledged": True}, **copy.deepcopy(parts)},
                   "validated": list(steps.STEPS)}
    offer.published = copy.deepcopy(parts)
    offer.published_at = now
    offer.status = "published"
    offer.unpublished_at = None
    offer.version = (offer.version or 0) + 1
    session.flush()
    if "practitioners" in content:
        _sync_practitioners(session, s.region, s.id, content["practitioners"])
    for capacity_type, count in (content.get("capacities") or {}).items():
        if _capacities(session, s.id).get(capacity_type) != count:
            _set_capacity(session, s.region, s.id, capacity_type, count, actor, now)
    session.flush()
    outbox.record(session, Outbox, make_event(
        "offers.published", offer.region, actor.subject, offer_id=offer.id, unit_id=offer.unit_id,
        version=offer.version, published_at=now.isoformat(), content=views.published_content(offer)))
    return offer


def apply_dossier(session: Session, region: str, dossier_id: int, site_id: int, sheets: list[dict],
                  actor: Actor) -> dict:
    """Apply a validated dossier's sheets to the répertoire (the caller commits once, or not at all).

    Each sheet: {id, parent_id, kind, structure_id, action: keep|create|update|remove, unit_type, data}.
    Units created by a dossier are keyed `dossier:<id>:<sheet id>`, so applying the same dossier again
    (a retry after a lost answer) finds them instead of creating them twice.
    """
    if not actor.roles & {"regional_validator", "region_admin"} or actor.region != region:
        raise Forbidden("La publication d'un dossier revient à l'équipe régionale", {"actor": actor.username})
    site = load_structure(session, region, site_id, for_update=True)
    if site.kind != "site":
        raise InvalidInput("Dossier sans entité géographique", {"structure_id": site_id})
    tree_ids = {site.id} | {s.id for s in _descendants(session, site.id)}
    now = utcnow()
    structure_of: dict = {}
    applied = {"created": [], "updated": [], "removed": [], "offers": []}
    for sheet in _ordered(sheets):
        action, kind = sheet.get("action", "keep"), sheet["kind"]
        if kind not in SHEET_KINDS:
            raise InvalidInput("Type de fiche inconnu", {f"sheets.{sheet['id']}.kind": kind})
        if sheet.get("structure_id") is not None:
            structure_of[sheet["id"]] = sheet["structure_id"]
            if sheet["structure_id"] not in tree_ids:
                raise Conflict("Une fiche du dossier ne correspond plus à une structure de l'EG",
                               {f"sheets.{sheet['id']}": f"structure {sheet['structure_id']} not under EG {site_id}"})
        if action == "keep":
            continue
        if action == "remove":
            s = load_structure(session, region, sheet["structure_id"], for_update=True)
            for row in [s, *_descendants(session, s.id)]:
                row.active = False
                row.version = (row.version or 1) + 1
                offer = _offer_of(session, row.id)
                if offer is not None and offer.status == "published":
                    offer.status, offer.unpublished_at = "unpublished", now
                    offer.version += 1
                    session.flush()
                    outbox.record(session, Outbox, make_event(
                        "offers.unpublished", region, actor.subject, offer_id=offer.id, unit_id=offer.unit_id,
                        version=offer.version))
                    national.enqueue_offer(session, offer)
                applied["removed"].append(row.id)
                session.flush()
                outbox.record(session, Outbox, make_event(
                    "offers.structure_updated", region, actor.subject, structure_id=row.id, kind=row.kind,
                    change="removed", version=row.version, dossier_id=dossier_id))
            continue
        checked = check_sheet(kind, sheet.get("data") or {}, unit_type=sheet.get("unit_type"), finalise=True)
        content = checked["data"]
        if action == "create":
            parent_id = structure_of.get(sheet.get("parent_id"))
            if parent_id is None:
                raise Conflict("Le parent de cette fiche n'existe pas", {f"sheets.{sheet['id']}.parent_id": "missing"})
            parent = session.get(Structure, parent_id)
            key = f"dossier:{dossier_id}:{sheet['id']}"
            s = session.scalar(select(Structure).where(Structure.region == region, Structure.source_key == key))
            if s is None:
                s = Structure(region=region, kind=SHEET_KINDS[kind], parent_id=parent_id, source="ror", source_key=key,
                              name=content["name"], discipline=parent.discipline, version=1, active=True)
                for name in ("address_line", "postal_code", "commune_insee", "city", "departement", "latitude",
                             "longitude"):
                    setattr(s, name, getattr(parent, name))
                if kind == "uo":
                    s.type_label = reference.label_of("unit_types", sheet.get("unit_type"))
                session.add(s)
                session.flush()
                applied["created"].append(s.id)
            else:
                s.active = True
                applied["updated"].append(s.id)
            structure_of[sheet["id"]] = s.id
            tree_ids.add(s.id)
            change = "created"
        else:  # update
            s = load_structure(session, region, sheet["structure_id"], for_update=True)
            applied["updated"].append(s.id)
            change = "updated"
        _apply_admin(s, {k: content.get(k) for k in ADMIN_FIELDS})
        s.version = (s.version or 1) + 1
        s.updated_at = now
        session.flush()
        outbox.record(session, Outbox, make_event(
            "offers.structure_updated", region, actor.subject, structure_id=s.id, kind=s.kind, change=change,
            version=s.version, dossier_id=dossier_id))
        if kind == "uo":
            applied["offers"].append(_apply_unit(session, s, sheet, content, actor, now).id)
    # The national ROR gets every structure touched (inactive ones included) and the published offers, and
    # the search index shows them, in this same transaction: all of the dossier, or nothing.
    session.flush()
    touched = list(dict.fromkeys(applied["created"] + applied["updated"] + applied["removed"]))
    for structure_id in touched:
        national.enqueue_structure(session, structure_id)
    search_index.refresh_structures(session, touched)  # and the search index
    applied["structures"] = {str(k): v for k, v in structure_of.items()}
    return applied

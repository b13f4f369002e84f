"""Offers entrypoints of the « Personnes ressources » (mixin of OffersService) and their schemas."""

from __future__ import annotations

import logging

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema
from nameko.timer import timer

from services.common.actor import Actor
from services.common.entrypoints import rpc as nameko_rpc
from services.common.errors import Forbidden, RorError, from_marshmallow
from services.common.regions import get_region
from services.offers import access, resource_persons, views

log = logging.getLogger(__name__)
rpc = nameko_rpc(expected_exceptions=RorError)
_NO_CONTROL = validate.Regexp(r"^[^\x00-\x1f\x7f\ud800-\udfff]*$",
                              error="Caractère interdit (contrôle ou demi-caractère Unicode).")
REQUIRED = {"required": "Champ obligatoire.", "null": "Champ obligatoire."}


def _name():
    return fields.String(required=True, error_messages=REQUIRED,
                         validate=[validate.Length(min=1, max=255), _NO_CONTROL])


class ResourcePersonSchema(Schema):
    kind = fields.String(required=True, error_messages=REQUIRED, validate=validate.OneOf(
        sorted(resource_persons.KINDS), error="Type : trainee (stagiaire), colleague (confrère) ou replacement."))
    last_name = _name()
    first_name = _name()
    role = fields.String(load_default=None, allow_none=True, validate=[validate.Length(max=255), _NO_CONTROL])
    starts_on = fields.Date(required=True, error_messages={**REQUIRED, "invalid": "Date invalide (AAAA-MM-JJ)."})
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


class ResourcePersonsRpc:
    def _who(self, region: str, actor: dict | None) -> Actor | None:
        get_region(region)
        who = Actor.from_dict(actor) if actor else None
        if who is not None and who.region != region:
            raise Forbidden("Ce compte n'appartient pas à cette région", {"region": who.region})
        return who

    @rpc
    def list_resource_persons(self, region: str, offer_id: int, actor: dict | None = None) -> list[dict]:
        who = self._who(region, actor)
        offer = access.load_offer(self.db, region, int(offer_id))
        audience = access.audience(self.db, who, offer)
        views.view(offer, audience)  # 404 when this audience may not see the offer at all
        return resource_persons.for_sheet(self.db, offer, audience)

    @rpc
    def add_resource_person(self, region: str, offer_id: int, data: dict, actor: dict) -> dict:
        who = self._who(region, actor)
        try:
            payload = ResourcePersonSchema().load(data or {})
        except ValidationError as err:
            raise from_marshmallow(err) from err
        offer = access.load_offer(self.db, region, int(offer_id), for_update=True)
        person = resource_persons.add(self.db, offer, payload, who)
        self.db.commit()
        return resource_persons.view(person, access.OWNER)

    @rpc
    def remove_resource_person(self, region: str, offer_id: int, person_id: int, actor: dict) -> dict:
        who = self._who(region, actor)
        offer = access.load_offer(self.db, region, int(offer_id), for_update=True)
        removed = resource_persons.remove(self.db, offer, int(person_id), who)
        self.db.commit()
        return removed

    @rpc
    def expire_resource_persons(self) -> int:
        """What the timer does, on demand (tests, operators)."""
        count = resource_persons.expire(self.db)
        self.db.commit()
        return count

    @timer(interval=3600)
    def resource_persons_timer(self):
        try:
            count = resource_persons.expire(self.db)
            self.db.commit()
            if count:
                log.info("%d resource person(s) removed at the end of their period", count)
        except Exception:  # the next tick retries
            self.db.rollback()
            log.exception("resource persons expiry failed")

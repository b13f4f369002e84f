"""Routes of the « Personnes ressources » of an offer (offers service, resource_persons_rpc mixin)."""

from __future__ import annotations

from marshmallow import Schema, fields

from gateway import api
from gateway.api import ANONYMOUS, PROFESSIONAL, Context, endpoint
from services.offers.contracts import ResourcePersonSchema, ResourcePersonViewSchema

TAGS = ("offers",)


class ResourcePersonListSchema(Schema):
    resource_persons = fields.List(fields.Nested(ResourcePersonViewSchema), required=True)


class ResourcePersonsRoutes:
    @endpoint("GET", "/api/<region>/offers/<int:offer_id>/resource-persons", ANONYMOUS,
              response=ResourcePersonListSchema, tags=TAGS)
    def list_resource_persons(self, ctx: Context, offer_id: int):
        """Resource persons of an offer; contacts hidden from the public unless marked public."""
        found = api.call(self.offers, "list_resource_persons", ctx.region, offer_id, actor=ctx.actor())
        return {"resource_persons": found}

    @endpoint("POST", "/api/<region>/offers/<int:offer_id>/resource-persons", PROFESSIONAL,
              request=ResourcePersonSchema, response=ResourcePersonViewSchema, status=201, tags=TAGS)
    def add_resource_person(self, ctx: Context, offer_id: int):
        """Add a trainee, colleague or replacement (period, optional RPPS checked, contact visibility)."""
        ctx.json(ResourcePersonSchema())  # 400 before any RPC
        return api.call(self.offers, "add_resource_person", ctx.region, offer_id, ctx.json(), ctx.actor())

    @endpoint("DELETE", "/api/<region>/offers/<int:offer_id>/resource-persons/<int:person_id>", PROFESSIONAL,
              response=ResourcePersonViewSchema, tags=TAGS)
    def remove_resource_person(self, ctx: Context, offer_id: int, person_id: int):
        """Remove a resource person before the end of their period."""
        return api.call(self.offers, "remove_resource_person", ctx.region, offer_id, person_id, ctx.actor())

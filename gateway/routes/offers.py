"""Routes of the offers service: reference data, structures, offers and their six steps."""

from __future__ import annotations

import base64

from marshmallow import Schema, fields, validate

from gateway import api
from gateway.api import ANONYMOUS, PROFESSIONAL, Context, Reply, endpoint
from services.offers.contracts import (
    DISCIPLINES,
    OFFER_STATUSES,
    CommuneSchema,
    NomenclatureItemSchema,
    OfferListSchema,
    OfferSchema,
    PrefillSchema,
    StepPayloadSchema,
    StructureTreeSchema,
)

TAGS = ("offers",)


class NomenclatureQuerySchema(Schema):
    q = fields.String(load_default=None)
    limit = fields.Integer(load_default=None, validate=validate.Range(1, 1000))


class CommuneQuerySchema(Schema):
    q = fields.String(required=True, validate=validate.Length(min=1, max=100),
                      metadata={"description": "name (or its beginning) or postal code"})
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))
    departement = fields.String(load_default=None)


class StructureQuerySchema(Schema):
    departement = fields.String(load_default=None, validate=validate.Length(min=2, max=3))
    discipline = fields.String(load_default=None, validate=validate.OneOf(DISCIPLINES))


class OfferListQuerySchema(Schema):
    mine = fields.Boolean(load_default=False)
    status = fields.String(load_default=None, validate=validate.OneOf(OFFER_STATUSES))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


def _with_etag(offer: dict, status: int = 200) -> Reply:
    return Reply(offer, status, headers={"ETag": offer["etag"]})


class OffersRoutes:
    # ------------------------------------------------------------------ reference data
    @endpoint("GET", "/api/<region>/nomenclatures/<name>", ANONYMOUS, cache=True,
              response=NomenclatureItemSchema(many=True), tags=TAGS,
              query=NomenclatureQuerySchema)
    def list_nomenclature(self, ctx: Context, name: str):
        """A NOS nomenclature as {code, label, status}; `q` filters labels (accents and case ignored)."""
        args = ctx.query()
        return api.call(self.offers, "nomenclature", name, q=args["q"], limit=args["limit"])

    @endpoint("GET", "/api/<region>/communes", ANONYMOUS, response=CommuneSchema(many=True), tags=TAGS, cache=True,
              query=CommuneQuerySchema)
    def search_communes(self, ctx: Context):
        """Communes by name prefix or postal code (« mantes », « 78200 »)."""
        args = ctx.query()
        return api.call(self.offers, "communes", args["q"], region=ctx.region, limit=args["limit"],
                        departement=args["departement"])

    # ------------------------------------------------------------------ répertoire
    @endpoint("GET", "/api/<region>/structures", PROFESSIONAL, response=StructureTreeSchema, tags=TAGS, cache=True,
              query=StructureQuerySchema)
    def structure_tree(self, ctx: Context):
        """The répertoire tree EJ → EG → pôle / service / UF → UO, by département and discipline."""
        args = ctx.query()
        return api.call(self.offers, "structures", ctx.region, departement=args["departement"],
                        discipline=args["discipline"], timeout=60)

    # ------------------------------------------------------------------ offers
    @endpoint("GET", "/api/<region>/offers", PROFESSIONAL, response=OfferListSchema, tags=TAGS,
              query=OfferListQuerySchema)
    def list_offers(self, ctx: Context):
        """Offers: `mine=true` gives the caller's (with drafts); otherwise published ones."""
        args = ctx.query()
        return api.call(self.offers, "list_offers", ctx.region, ctx.actor(), mine=args["mine"],
                        status=args["status"], limit=args["limit"], offset=args["offset"])

    @endpoint("GET", "/api/<region>/offers/<int:offer_id>", ANONYMOUS, response=OfferSchema, tags=TAGS, cache=True)
    def get_offer(self, ctx: Context, offer_id: int):
        """One offer: its owner sees the draft and the published version, others the published one only."""
        return _with_etag(api.call(self.offers, "get_offer", ctx.region, offer_id, actor=ctx.actor()))

    @endpoint("PUT", "/api/<region>/offers/<int:offer_id>/steps/<step>", PROFESSIONAL,
              request=StepPayloadSchema, response=OfferSchema, tags=TAGS, if_match=True)
    def save_offer_step(self, ctx: Context, offer_id: int, step: str):
        """Validate one step (national, description, modalities, contacts, hours) and save it as a draft."""
        data = ctx.json()
        if_match = ctx.if_match()
        return _with_etag(api.call(self.offers, "save_step", ctx.region, offer_id, step, data, ctx.actor(),
                                   if_match))

    @endpoint("POST", "/api/<region>/offers/<int:offer_id>/publish", PROFESSIONAL, response=OfferSchema,
              tags=TAGS, if_match=True)
    def publish_offer(self, ctx: Context, offer_id: int):
        """Step 6: check the whole draft and publish it."""
        if_match = ctx.if_match()
        return _with_etag(api.call(self.offers, "publish", ctx.region, offer_id, ctx.actor(), if_match))

    @endpoint("POST", "/api/<region>/offers/<int:offer_id>/unpublish", PROFESSIONAL, response=OfferSchema,
              tags=TAGS, if_match=True)
    def unpublish_offer(self, ctx: Context, offer_id: int):
        """Dépublier: the offer leaves the public répertoire."""
        if_match = ctx.if_match()
        return _with_etag(api.call(self.offers, "unpublish", ctx.region, offer_id, ctx.actor(), if_match))

    @endpoint("POST", "/api/<region>/offers/<int:offer_id>/prefill", PROFESSIONAL, request=PrefillSchema,
              response=OfferSchema, tags=TAGS, if_match=True)
    def prefill_offer(self, ctx: Context, offer_id: int):
        """Pre-fill the draft from another offer of the same professional (steps to validate again)."""
        data = ctx.json(PrefillSchema())
        if_match = ctx.if_match()
        return _with_etag(api.call(self.offers, "prefill", ctx.region, offer_id, data["from_offer_id"],
                                   ctx.actor(), if_match))

    @endpoint("GET", "/api/<region>/offers/<int:offer_id>.pdf", ANONYMOUS, tags=TAGS, produces="application/pdf")
    def offer_pdf(self, ctx: Context, offer_id: int):
        """The published sheet as a PDF (public contacts only for the public)."""
        answer = api.call(self.offers, "pdf", ctx.region, offer_id, actor=ctx.actor(), timeout=60)
        return Reply(base64.b64decode(answer["content_base64"]), 200, mimetype="application/pdf",
                     headers={"Content-Disposition": f'inline; filename="{answer["filename"]}"'})

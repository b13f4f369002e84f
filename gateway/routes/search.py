"""Routes of the search and the répertoire (offers service): « Où ? / Que recherchez-vous ? », suggestions,
map (GeoJSON), Excel export, legal entities by name or FINESS, favourites."""

from __future__ import annotations

import base64
import json
import re

from marshmallow import Schema, ValidationError, fields, validate

from gateway import api
from gateway.api import ANONYMOUS, AUTHENTICATED, PROFESSIONAL, Context, Reply, endpoint
from services.offers.contracts import (
    CATEGORIES,
    FACET_SCOPES,
    OFFER_TYPES,
    PATIENTELES,
    SORTS,
    FavouriteSchema,
    RepertoireAnswerSchema,
    SuggestionSchema,
)

TAGS = ("search",)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _printable(value: str) -> None:
    if _CONTROL.search(value):
        raise ValidationError("Caractères de contrôle interdits.")


def _text(max_length: int, **kwargs):
    return fields.String(load_default=None, validate=[validate.Length(max=max_length), _printable], **kwargs)


def _codes(description: str):
    return fields.String(load_default=None, validate=[validate.Length(max=1000), _printable],
                         metadata={"description": description + " (comma-separated codes)"})


class SearchQuerySchema(Schema):
    where = _text(200, metadata={"description": "Où ? commune name, postal code or establishment (optional)"})
    q = _text(200, metadata={"description": "Que recherchez-vous ? free text"})
    in_ = fields.String(data_key="in", load_default="all", validate=validate.OneOf(list(CATEGORIES)),
                        metadata={"description": "Rechercher dans: " + ", ".join(CATEGORIES)})
    sort = fields.String(load_default="distance", validate=validate.OneOf(SORTS))
    page = fields.Integer(load_default=1, validate=validate.Range(1, 14))
    radius_km = fields.Float(load_default=None, allow_nan=False, validate=validate.Range(1, 1000))
    patientele = fields.String(load_default=None, validate=validate.OneOf(list(PATIENTELES)),
                               metadata={"description": "E (enfants) or A (adultes)"})
    offer_type = fields.String(load_default=None, validate=validate.OneOf(list(OFFER_TYPES)))
    home_visit = fields.Boolean(load_default=None, metadata={
        "description": "true: « à domicile », only offers whose intervention territory covers the place"})
    operational_activities = _codes("TRE_R211")
    care_modes = _codes("TRE_R213")
    unit_types = _codes("types d'UO")
    specialties = _codes("savoir-faire")
    professions = _codes("RPPS profession codes")
    departements = _codes("départements")
    facets = fields.String(load_default=None, validate=validate.OneOf(FACET_SCOPES), metadata={
        "description": "results (default): facets count the results (≤ 200); all: every match (slower)"})


class SuggestQuerySchema(Schema):
    q = fields.String(required=True, validate=[validate.Length(min=3, max=200), _printable])
    in_ = fields.String(data_key="in", load_default="all", validate=validate.OneOf(list(CATEGORIES)))
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 50))


class RepertoireQuerySchema(Schema):
    q = fields.String(required=True, validate=[validate.Length(min=1, max=200), _printable],
                      metadata={"description": "EJ name or FINESS number (EJ or EG)"})


class SearchAnswerSchema(Schema):
    total = fields.Integer()
    capped = fields.Boolean()
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer()
    place = fields.Dict(allow_none=True)
    results = fields.List(fields.Dict())
    facets = fields.Dict()
    facets_scope = fields.String(metadata={"description": "what the facets count: results or all"})
    matches = fields.Integer(allow_none=True, metadata={"description": "every match (facets=all), else null"})


def _args(ctx: Context) -> dict:
    args = ctx.query()
    args["in"] = args.pop("in_")
    return {k: v for k, v in args.items() if v is not None}


class SearchRoutes:
    @endpoint("GET", "/api/<region>/search", ANONYMOUS, response=SearchAnswerSchema, tags=TAGS,
              query=SearchQuerySchema)
    def search(self, ctx: Context):
        """Search offers and establishments by place and need: 15 a page, 200 at most, facets."""
        return api.call(self.offers, "search", ctx.region, _args(ctx), actor=ctx.actor())

    @endpoint("GET", "/api/<region>/search.geojson", ANONYMOUS, tags=TAGS, query=SearchQuerySchema,
              produces="application/geo+json")
    def search_geojson(self, ctx: Context):
        """The same search for the map: a GeoJSON FeatureCollection of every result (≤ 200)."""
        answer = api.call(self.offers, "search_geojson", ctx.region, _args(ctx), actor=ctx.actor())
        return Reply(json.dumps(answer, ensure_ascii=False), 200, mimetype="application/geo+json")

    @endpoint("GET", "/api/<region>/search/export.xlsx", PROFESSIONAL, tags=TAGS, query=SearchQuerySchema,
              produces="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    def search_export(self, ctx: Context):
        """The same search as an Excel file: one row per result, the columns of the list."""
        answer = api.call(self.offers, "search_export", ctx.region, _args(ctx), actor=ctx.actor(), timeout=60)
        return Reply(base64.b64decode(answer["content_base64"]), 200,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     headers={"Content-Disposition": f'attachment; filename="{answer["filename"]}"'})

    @endpoint("GET", "/api/<region>/search/suggest", ANONYMOUS, tags=TAGS, query=SuggestQuerySchema, cache=True,
              response=SuggestionSchema(many=True))
    def search_suggest(self, ctx: Context):
        """Suggestions from 3 letters: labels of the category (or of all of the ROR), establishments."""
        args = ctx.query()
        return api.call(self.offers, "search_suggest", ctx.region, args["q"], args["in_"], limit=args["limit"])

    @endpoint("GET", "/api/<region>/repertoire", PROFESSIONAL, tags=TAGS, query=RepertoireQuerySchema,
              response=RepertoireAnswerSchema)
    def repertoire_legal_entities(self, ctx: Context):
        """Répertoire: legal entities (EJ) by name or FINESS number, with their sites and favourites."""
        return api.call(self.offers, "repertoire_legal_entities", ctx.region, ctx.query()["q"], actor=ctx.actor())

    @endpoint("GET", "/api/<region>/favourites", AUTHENTICATED, tags=TAGS,
              response=FavouriteSchema(many=True))
    def list_favourites(self, ctx: Context):
        """The caller's favourite structures."""
        return api.call(self.offers, "favourites", ctx.region, ctx.actor())

    @endpoint("GET", "/api/<region>/favourites/<int:structure_id>", AUTHENTICATED, tags=TAGS,
              response=FavouriteSchema)
    def get_favourite(self, ctx: Context, structure_id: int):
        """200 when the structure is one of the caller's favourites, 404 otherwise."""
        return api.call(self.offers, "favourite", ctx.region, structure_id, ctx.actor())

    @endpoint("PUT", "/api/<region>/favourites/<int:structure_id>", AUTHENTICATED, tags=TAGS,
              response=FavouriteSchema)
    def add_favourite(self, ctx: Context, structure_id: int):
        """« Ajouter aux favoris » (idempotent: 200 whether it was already one or not; `created` tells)."""
        return api.call(self.offers, "add_favourite", ctx.region, structure_id, ctx.actor())

    @endpoint("DELETE", "/api/<region>/favourites/<int:structure_id>", AUTHENTICATED, status=204, tags=TAGS,
              produces="text/plain")
    def remove_favourite(self, ctx: Context, structure_id: int):
        """Remove a structure from the caller's favourites."""
        api.call(self.offers, "remove_favourite", ctx.region, structure_id, ctx.actor())
        return Reply("", 204, mimetype="text/plain")

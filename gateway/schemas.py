"""Marshmallow schemas of the HTTP contract (they also generate /openapi.json)."""

from marshmallow import Schema, fields, validate

from services.accounts.contracts import HabilitationSchema, RorAccountSchema


class ErrorBodySchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    fields = fields.Dict(keys=fields.String())


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


class ComponentHealthSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(("ok", "empty", "down", "unknown")), metadata={
        "description": "ok; empty: a service running with no capability yet (not counted as down); down"})
    capabilities = fields.List(fields.String(), metadata={"description": "what a service declares it does"})
    detail = fields.Raw()


class HealthSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(("ok", "down")),
                           metadata={"description": "ok, or down when a component is down"})
    components = fields.Dict(keys=fields.String(), values=fields.Nested(ComponentHealthSchema))
    down = fields.List(fields.String())


class IdentitySchema(Schema):
    username = fields.String(required=True)
    subject = fields.String()
    region = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)
    rpps = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    ror_account = fields.Nested(RorAccountSchema, allow_none=True)
    habilitations = fields.List(fields.Nested(HabilitationSchema))
    cgu_version = fields.String(metadata={"description": "Version en vigueur des conditions d'utilisation"})
    cgu_required = fields.Boolean(metadata={"description": "Vrai : faire accepter la version en vigueur "
                                                          "(POST /api/{region}/me/cgu)"})
    cgu_accepted_at = fields.String(allow_none=True)

"""Routes of the dossiers collaboratifs (CPTS guide: open, describe, finalise, send; Directeur then
regional team validate; publication) and of the in-place structure updates (PDL guide §3)."""

from __future__ import annotations

import base64

from marshmallow import Schema, fields, validate

from gateway import api
from gateway.api import PROFESSIONAL, Context, Reply, endpoint
from gateway.schemas import ErrorSchema
from services.common.db import ROW_ID_MAX
from services.common.errors import Forbidden
from services.dossiers.contracts import (
    CollaboratorsSchema,
    CommentViewSchema,
    DossierSummarySchema,
    DossierViewSchema,
    HistoryEntryViewSchema,
)
from services.offers.contracts import StructureSheetSchema, StructureWriteSchema

TAGS = ("dossiers",)
ROW_ID = validate.Range(1, ROW_ID_MAX, error="Identifiant inconnu.")
STRUCTURE_TAGS = ("structures",)
DOSSIER_NEEDED = ("Ajouter ou supprimer un pôle, un service, une UF ou une UO passe par un dossier "
                  "collaboratif : ouvrez-en un sur l'EG (POST /api/{region}/dossiers) ou contactez "
                  "l'équipe ROR de votre région")


class OpenDossierSchema(Schema):
    structure_id = fields.Integer(required=True, strict=True, validate=ROW_ID, metadata={"description": "the EG"})
    name = fields.String(load_default=None, validate=validate.Length(min=1, max=255),
                         metadata={"description": "default « Peuplement de <EG> »"})


class RenameSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))


class SheetSaveSchema(Schema):
    data = fields.Dict(required=True, metadata={"description": "fields of the sheet (merged into it)"})
    finalise = fields.Boolean(load_default=False,
                              metadata={"description": "true: « Enr. et finaliser »; false: « Enr. et mettre en attente »"})


class SheetCreateSchema(Schema):
    parent_id = fields.Integer(required=True, strict=True, validate=ROW_ID)
    kind = fields.String(required=True, validate=validate.OneOf(("pole", "service", "uf", "uo")))
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    unit_type = fields.String(load_default=None, metadata={"description": "type d'UO, first (required for a UO)"})


class TransitionSchema(Schema):
    action = fields.String(required=True, validate=validate.OneOf(
        ("send", "approve", "validate", "reject", "cancel", "retry")))
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000),
                            metadata={"description": "required to reject (the reason)"})


class CollaboratorSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=255))


class CommentSchema(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    sheet_id = fields.Integer(load_default=None, allow_none=True, strict=True, validate=ROW_ID)


class DossierListQuerySchema(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(
        ("draft", "finalised", "sent", "approved", "validated", "published", "cancelled")))


class CommentQuerySchema(Schema):
    sheet_id = fields.Integer(load_default=None, validate=ROW_ID)


def _with_etag(dossier: dict, status: int = 200) -> Reply:
    return Reply(dossier, status, headers={"ETag": dossier["etag"]})


class DossiersRoutes:
    # ------------------------------------------------------------------ dossiers
    @endpoint("POST", "/api/<region>/dossiers", PROFESSIONAL, request=OpenDossierSchema, status=201, tags=TAGS,
              response=DossierViewSchema)
    def open_dossier(self, ctx: Context):
        """« Créer un dossier collaboratif » on an EG (directeur or structure editor; one open per EG)."""
        data = ctx.json(OpenDossierSchema())
        return _with_etag(api.call(self.dossiers, "open_dossier", ctx.region, data, ctx.actor(), timeout=60), 201)

    @endpoint("GET", "/api/<region>/dossiers", PROFESSIONAL, tags=TAGS, query=DossierListQuerySchema,
              response=DossierSummarySchema(many=True))
    def list_dossiers(self, ctx: Context):
        """The caller's dossiers; every dossier of the region for the regional team."""
        args = ctx.query()
        return api.call(self.dossiers, "list_dossiers", ctx.region, ctx.actor(), status=args["status"])

    @endpoint("GET", "/api/<region>/dossiers/<int:dossier_id>", PROFESSIONAL, tags=TAGS,
              response=DossierViewSchema)
    def get_dossier(self, ctx: Context, dossier_id: int):
        """The dossier, its status, the actions open to the caller and its sheets (EG → … → UO)."""
        return _with_etag(api.call(self.dossiers, "get_dossier", ctx.region, dossier_id, ctx.actor()))

    @endpoint("PUT", "/api/<region>/dossiers/<int:dossier_id>", PROFESSIONAL, request=RenameSchema, tags=TAGS,
              response=DossierViewSchema)
    def rename_dossier(self, ctx: Context, dossier_id: int):
        """The dossier's name (« Nom * », then « Enregistrer »)."""
        body = ctx.json(RenameSchema())
        if_match = ctx.if_match()
        return _with_etag(api.call(self.dossiers, "rename", ctx.region, dossier_id, body["name"], ctx.actor(),
                                   if_match))

    @endpoint("PUT", "/api/<region>/dossiers/<int:dossier_id>/sheets/<int:sheet_id>", PROFESSIONAL,
              request=SheetSaveSchema, response=DossierViewSchema, tags=TAGS)
    def save_dossier_sheet(self, ctx: Context, dossier_id: int, sheet_id: int):
        """« Enr. et mettre en attente » (finalise false) or « Enr. et finaliser » (finalise true)."""
        body = ctx.json(SheetSaveSchema())
        if_match = ctx.if_match()
        return _with_etag(api.call(self.dossiers, "save_sheet", ctx.region, dossier_id, sheet_id, body["data"],
                                   body["finalise"], ctx.actor(), if_match))

    @endpoint("POST", "/api/<region>/dossiers/<int:dossier_id>/sheets", PROFESSIONAL, request=SheetCreateSchema,
              status=201, response=DossierViewSchema, tags=TAGS)
    def create_dossier_sheet(self, ctx: Context, dossier_id: int):
        """« Créer des unités » below a sheet (for a UO, the type of UO first)."""
        body = ctx.json(SheetCreateSchema())
        if_match = ctx.if_match()
        return _with_etag(api.call(self.dossiers, "add_sheet", ctx.region, dossier_id, body, ctx.actor(),
                                   if_match), 201)

    @endpoint("DELETE", "/api/<region>/dossiers/<int:dossier_id>/sheets/<int:sheet_id>", PROFESSIONAL, tags=TAGS,
              response=DossierViewSchema)
    def remove_dossier_sheet(self, ctx: Context, dossier_id: int, sheet_id: int):
        """Mark an existing unit (and what is below it) for removal."""
        if_match = ctx.if_match()
        return _with_etag(api.call(self.dossiers, "remove_sheet", ctx.region, dossier_id, sheet_id, ctx.actor(),
                                   if_match))

    @endpoint("POST", "/api/<region>/dossiers/<int:dossier_id>/finalise", PROFESSIONAL, tags=TAGS,
              response=DossierViewSchema)
    def finalise_dossier_sheets(self, ctx: Context, dossier_id: int):
        """« Finaliser les fiches »: every valid sheet turns green; 400 lists the others."""
        if_match = ctx.if_match()
        return _with_etag(api.call(self.dossiers, "finalise_sheets", ctx.region, dossier_id, ctx.actor(),
                                   if_match, timeout=60))

    @endpoint("POST", "/api/<region>/dossiers/<int:dossier_id>/transitions", PROFESSIONAL,
              request=TransitionSchema, response=DossierViewSchema, tags=TAGS)
    def dossier_transition(self, ctx: Context, dossier_id: int):
        """send (« Envoyer en validation »), approve (Directeur), validate (regional team, then publication),
        reject (reason required), cancel, retry (publication again after a failure)."""
        body = ctx.json(TransitionSchema())
        if_match = ctx.if_match()
        return _with_etag(api.call(self.dossiers, "transition", ctx.region, dossier_id, body["action"],
                                   body["comment"], ctx.actor(), if_match, timeout=90))

    @endpoint("GET", "/api/<region>/dossiers/<int:dossier_id>/collaborators", PROFESSIONAL, tags=TAGS,
              response=CollaboratorsSchema)
    def list_dossier_collaborators(self, ctx: Context, dossier_id: int):
        """Contributors, and which sheets each changed last."""
        return api.call(self.dossiers, "collaborators", ctx.region, dossier_id, ctx.actor())

    @endpoint("POST", "/api/<region>/dossiers/<int:dossier_id>/collaborators", PROFESSIONAL,
              request=CollaboratorSchema, status=201, response=CollaboratorsSchema, tags=TAGS)
    def add_dossier_collaborator(self, ctx: Context, dossier_id: int):
        """The Directeur (or the editor who opened it) adds a contributor by username."""
        body = ctx.json(CollaboratorSchema())
        if_match = ctx.if_match()
        answer = api.call(self.dossiers, "add_collaborator", ctx.region, dossier_id, body["username"],
                          ctx.actor(), if_match)
        return Reply(answer, 201, headers={"ETag": answer["etag"]})

    @endpoint("GET", "/api/<region>/dossiers/<int:dossier_id>/comments", PROFESSIONAL, tags=TAGS,
              query=CommentQuerySchema, response=CommentViewSchema(many=True))
    def list_dossier_comments(self, ctx: Context, dossier_id: int):
        """Comments on the dossier (`sheet_id` for one sheet's)."""
        args = ctx.query()
        return api.call(self.dossiers, "comments", ctx.region, dossier_id, ctx.actor(), sheet_id=args["sheet_id"])

    @endpoint("POST", "/api/<region>/dossiers/<int:dossier_id>/comments", PROFESSIONAL, request=CommentSchema,
              status=201, response=CommentViewSchema, tags=TAGS)
    def add_dossier_comment(self, ctx: Context, dossier_id: int):
        """Comment on the dossier or on one of its sheets (appended: no If-Match)."""
        body = ctx.json(CommentSchema())
        return api.call(self.dossiers, "add_comment", ctx.region, dossier_id, body, ctx.actor())

    @endpoint("GET", "/api/<region>/dossiers/<int:dossier_id>/history", PROFESSIONAL, tags=TAGS,
              response=HistoryEntryViewSchema(many=True))
    def dossier_history(self, ctx: Context, dossier_id: int):
        """Audit trail: transitions and sheet saves (who, role, when, comment, data before / after)."""
        return api.call(self.dossiers, "history", ctx.region, dossier_id, ctx.actor())

    @endpoint("GET", "/api/<region>/dossiers/<int:dossier_id>.pdf", PROFESSIONAL, tags=TAGS,
              produces="application/pdf")
    def dossier_pdf(self, ctx: Context, dossier_id: int):
        """« Export PDF »: the dossier and all its sheets with their status."""
        answer = api.call(self.dossiers, "pdf", ctx.region, dossier_id, ctx.actor(), timeout=60)
        return Reply(base64.b64decode(answer["content_base64"]), 200, mimetype="application/pdf",
                     headers={"Content-Disposition": f'inline; filename="{answer["filename"]}"'})

    # ------------------------------------------------------------------ structures, in place
    @endpoint("GET", "/api/<region>/structures/<int:structure_id>", PROFESSIONAL, tags=STRUCTURE_TAGS, cache=True,
              response=StructureSheetSchema)
    def get_structure(self, ctx: Context, structure_id: int):
        """One structure's sheet (administrative data; for a UO activities, practitioners, capacities and
        their history) with its ETag."""
        answer = api.call(self.offers, "get_structure", ctx.region, structure_id, ctx.actor())
        return _with_etag(answer)

    @endpoint("PUT", "/api/<region>/structures/<int:structure_id>", PROFESSIONAL, tags=STRUCTURE_TAGS,
              response=StructureWriteSchema)
    def update_structure(self, ctx: Context, structure_id: int):
        """Administrative data (address, phone, website, e-mail, MSSanté, director's name), If-Match."""
        data = ctx.json()
        if_match = ctx.if_match()
        return _with_etag(api.call(self.offers, "update_structure", ctx.region, structure_id, data, ctx.actor(),
                                   if_match))

    @endpoint("PUT", "/api/<region>/structures/<int:structure_id>/activities", PROFESSIONAL, tags=STRUCTURE_TAGS,
              response=StructureWriteSchema)
    def set_structure_activities(self, ctx: Context, structure_id: int):
        """Operational activities of a UO: the whole list, or `add` / `remove` codes."""
        data = ctx.json()
        if_match = ctx.if_match()
        return _with_etag(api.call(self.offers, "set_structure_activities", ctx.region, structure_id, data,
                                   ctx.actor(), if_match))

    @endpoint("POST", "/api/<region>/structures/<int:structure_id>/practitioners", PROFESSIONAL, status=201,
              response=StructureWriteSchema, tags=STRUCTURE_TAGS)
    def add_structure_practitioner(self, ctx: Context, structure_id: int):
        """« Ajouter une personne » to a consultation UO: RPPS, or name and profession; speciality, sector."""
        data = ctx.json()
        if_match = ctx.if_match()
        return _with_etag(api.call(self.offers, "add_structure_practitioner", ctx.region, structure_id, data,
                                   ctx.actor(), if_match), 201)

    @endpoint("DELETE", "/api/<region>/structures/<int:structure_id>/practitioners/<int:practitioner_id>",
              PROFESSIONAL, response=StructureWriteSchema, tags=STRUCTURE_TAGS)
    def remove_structure_practitioner(self, ctx: Context, structure_id: int, practitioner_id: int):
        """Detach a person from a consultation UO."""
        if_match = ctx.if_match()
        return _with_etag(api.call(self.offers, "remove_structure_practitioner", ctx.region, structure_id,
                                   practitioner_id, ctx.actor(), if_match))

    @endpoint("PUT", "/api/<region>/structures/<int:structure_id>/capacities", PROFESSIONAL, tags=STRUCTURE_TAGS,
              response=StructureWriteSchema)
    def set_structure_capacities(self, ctx: Context, structure_id: int):
        """Full hospitalisation: installed beds, available beds (time of the update kept as history)."""
        data = ctx.json()
        if_match = ctx.if_match()
        return _with_etag(api.call(self.offers, "set_structure_capacities", ctx.region, structure_id, data,
                                   ctx.actor(), if_match))

    @endpoint("POST", "/api/<region>/structures", PROFESSIONAL, tags=STRUCTURE_TAGS, status=403,
              response=ErrorSchema)
    def create_structure(self, ctx: Context):
        """Adding a pôle, service, UF or UO goes through a dossier collaboratif (403)."""
        raise Forbidden(DOSSIER_NEEDED.replace("{region}", ctx.region), {"dossier": "required"})

    @endpoint("DELETE", "/api/<region>/structures/<int:structure_id>", PROFESSIONAL, tags=STRUCTURE_TAGS,
              status=403, response=ErrorSchema)
    def delete_structure(self, ctx: Context, structure_id: int):
        """Removing a pôle, service, UF or UO goes through a dossier collaboratif (403)."""
        raise Forbidden(DOSSIER_NEEDED.replace("{region}", ctx.region), {"dossier": "required",
                                                                        "structure_id": structure_id})




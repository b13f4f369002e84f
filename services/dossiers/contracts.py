"""Contract of the dossiers service, shared with the gateway: the roles a caller has on a dossier, the
statuses' French labels and the states in which sheets can change (its pages read them; the state machine
itself is `lifecycle`), and the response schemas the gateway dumps its answers through (built by
services.dossiers.operations: summary, view, sheet_view, collaborators, comments, history). Imports no
model, no domain module and no data file (tests/unit/test_contracts.py)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

# What a caller is to a dossier (computed by operations.roles_on).
DIRECTEUR = "directeur"  # directeur habilitation on the EG or an ancestor
EDITOR = "structure_editor"  # structure_editor habilitation on the EG or an ancestor
OPENER = "opener"  # the account that opened the dossier
CONTRIBUTOR = "contributor"  # added by username to the dossier
VALIDATOR = "regional_validator"  # the regional team of the dossier's region
MEMBERS = frozenset({DIRECTEUR, EDITOR, OPENER, CONTRIBUTOR})
MANAGERS = frozenset({DIRECTEUR, EDITOR, OPENER})  # may cancel the dossier and add contributors

STATUS_LABELS = {
    "draft": "brouillon", "finalised": "fiches finalisées", "sent": "envoyé en validation",
    "approved": "validé par le Directeur", "validated": "validé par l'équipe régionale",
    "published": "publié", "cancelled": "annulé",
}
EDITABLE = ("draft", "finalised")  # sheets can change only before "Envoyer en validation"

STATUSES = tuple(STATUS_LABELS)
SHEET_KINDS = ("eg", "pole", "service", "uf", "uo")
SHEET_STATUSES = ("pending", "finalised")


def _str(**kwargs) -> fields.String:
    return fields.String(required=True, **kwargs)


def _opt(**kwargs) -> fields.String:
    """Always present, possibly null."""
    return fields.String(required=True, allow_none=True, **kwargs)


class DossierSummarySchema(Schema):
    id = fields.Integer(required=True)
    region = _str()
    name = _str()
    status = _str(validate=validate.OneOf(STATUSES))
    status_label = _str()
    structure_id = fields.Integer(required=True, metadata={"description": "the EG"})
    structure_name = _str()
    etag = _str()
    version = fields.Integer(required=True)
    opened_by = _str()
    created_at = _opt()
    updated_at = _opt()


class SheetViewSchema(Schema):
    id = fields.Integer(required=True)
    parent_id = fields.Integer(required=True, allow_none=True)
    kind = _str(validate=validate.OneOf(SHEET_KINDS))
    structure_id = fields.Integer(required=True, allow_none=True,
                                  metadata={"description": "null for a unit the dossier creates"})
    name = _str()
    unit_type = _opt()
    status = _str(metadata={"description": "pending (« en attente ») or finalised"})
    action = _str(metadata={"description": "keep, create, update or remove"})
    data = fields.Dict(required=True, metadata={"description": "fields of the sheet"})
    errors = fields.Dict(required=True, metadata={"description": "what blocks its finalisation, by field"})
    updated_by = _opt()
    updated_at = _opt()


class DossierViewSchema(DossierSummarySchema):
    rejection_reason = _opt()
    publication_error = fields.Dict(required=True, allow_none=True)
    applied = fields.Dict(required=True, allow_none=True, metadata={
        "description": "what the répertoire did on publication (structures created…)"})
    sent_at = _opt()
    published_at = _opt()
    your_roles = fields.List(fields.String(), required=True)
    actions = fields.List(fields.String(), required=True, metadata={"description": "open to the caller"})
    collaborators = fields.List(fields.String(), required=True, metadata={"description": "usernames"})
    sheets = fields.List(fields.Nested(SheetViewSchema), required=True,
                         metadata={"description": "EG → … → UO, depth first"})
    created_sheet_id = fields.Integer(metadata={"description": "POST …/sheets: the sheet created"})


class ChangedSheetSchema(Schema):
    sheet_id = fields.Integer(required=True)
    name = _str()
    at = _str()


class CollaboratorViewSchema(Schema):
    username = _str()
    role = _str(metadata={"description": "opener or contributor"})
    added_by = _opt()
    added_at = _opt()
    last_changed_sheets = fields.List(fields.Nested(ChangedSheetSchema), required=True)


class CollaboratorsSchema(Schema):
    etag = _str()
    collaborators = fields.List(fields.Nested(CollaboratorViewSchema), required=True)


class CommentViewSchema(Schema):
    id = fields.Integer(required=True)
    sheet_id = fields.Integer(required=True, allow_none=True)
    author = _str()
    body = _str()
    created_at = _str()


class HistoryEntryViewSchema(Schema):
    id = fields.Integer(required=True)
    action = _str()
    actor = _str()
    role = _opt()
    at = _str()
    sheet_id = fields.Integer(required=True, allow_none=True)
    comment = _opt()
    from_status = _opt()
    to_status = _opt()
    before = fields.Dict(required=True, allow_none=True, metadata={"description": "sheet data before a save"})
    after = fields.Dict(required=True, allow_none=True)

"""Dossiers collaboratifs: opening one on an EG, its sheets (grey / green), collaboration, the audit
trail, and the transitions of `lifecycle.TRANSITIONS` — publication included.

Plain module (SQLAlchemy session passed in, no nameko). The répertoire is reached through a
`Repertoire` (RPC to the offers service in the service, direct calls in tests): the sheet rules are the
offers service's, never duplicated here. Functions flush; the entrypoint commits once.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common import outbox
from services.common.actor import Actor
from services.common.db import is_row_id
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound, RorError, Unavailable
from services.common.etag import check_if_match, make_etag
from services.common.events import make_event
from services.dossiers import lifecycle
from services.dossiers.lifecycle import (
    ALL_SHEETS_FINALISED,
    APPLIED,
    CONTRIBUTOR,
    DIRECTEUR,
    EDITOR,
    MANAGERS,
    MEMBERS,
    OPENER,
    REASON_GIVEN,
    VALIDATOR,
)
from services.dossiers.models import (
    OPEN_STATUSES,
    Collaborator,
    Comment,
    Dossier,
    HistoryEntry,
    Outbox,
    Sheet,
)

CHILD_KINDS = {"eg": ("pole", "service", "uf", "uo"), "pole": ("service", "uf", "uo"), "service": ("uf", "uo"),
               "uf": ("uo",), "uo": ()}
KIND_LABELS = {"eg": "EG", "pole": "Pôle", "service": "Service", "uf": "UF", "uo": "UO"}
NAME_MAX = 255
COMMENT_MAX = 4000
LIST_MAX = 500  # most recent first
USERNAME = re.compile(r"^[A-Za-z0-9._@+-]{1,255}$")


class Repertoire(Protocol):
    """What the dossiers need from the offers service."""

    def snapshot(self, region: str, structure_id: int) -> dict: ...

    def check_sheet(self, kind: str, data: dict, unit_type: str | None, finalise: bool) -> dict: ...

    def apply(self, region: str, dossier_id: int, site_id: int, sheets: list[dict], actor: dict) -> dict: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


def etag(dossier: Dossier) -> str:
    return make_etag("d", dossier.id, dossier.version)


# ------------------------------------------------------------------ access

def roles_on(actor: Actor, dossier: Dossier) -> set[str]:
    """What `actor` is to `dossier` (lifecycle roles); empty for a stranger or another region."""
    if actor.region != dossier.region:
        return set()
    roles: set[str] = set()
    lineage = dossier.lineage or [dossier.structure_id]
    if actor.has_role_on(("directeur",), lineage):
        roles.add(DIRECTEUR)
    if actor.has_role_on(("structure_editor",), lineage):
        roles.add(EDITOR)
    if actor.subject == dossier.opened_by_subject:
        roles.add(OPENER)
    if any(c.username == actor.username for c in dossier.collaborators):
        roles.add(CONTRIBUTOR)
    if "regional_validator" in actor.roles:
        roles.add(VALIDATOR)
    return roles


def _can_read(actor: Actor, dossier: Dossier, roles: set[str]) -> bool:
    return actor.region == dossier.region and bool(roles or actor.is_team)


def require_reader(actor: Actor, dossier: Dossier) -> set[str]:
    roles = roles_on(actor, dossier)
    if not _can_read(actor, dossier, roles):
        raise Forbidden("Vous n'êtes pas membre de ce dossier collaboratif",
                        {"dossier_id": "requires an habilitation on its EG, to be a contributor, or the regional team"})
    return roles


def require_member(actor: Actor, dossier: Dossier, allowed=MEMBERS) -> set[str]:
    roles = require_reader(actor, dossier)
    if not roles & allowed:
        raise Forbidden("Seuls les membres du dossier peuvent le modifier",
                        {"dossier_id": f"requires one of {sorted(allowed)}"})
    return roles


def _role_label(roles: set[str]) -> str | None:
    return next((r for r in lifecycle.ROLE_PRIORITY if r in roles), None)


def load_dossier(session: Session, region: str, dossier_id: int, for_update: bool = False) -> Dossier:
    if not is_row_id(dossier_id):
        raise NotFound("Dossier introuvable", {"dossier_id": f"no dossier {dossier_id}"})
    stmt = select(Dossier).where(Dossier.id == dossier_id, Dossier.region == region)
    if for_update:
        stmt = stmt.with_for_update()
    dossier = session.scalars(stmt).first()
    if dossier is None:
        raise NotFound("Dossier introuvable", {"dossier_id": f"no dossier {dossier_id} in region {region}"})
    return dossier


# ------------------------------------------------------------------ audit trail and events

def _history(session: Session, dossier: Dossier, action: str, actor: Actor, role: str | None, *,
             sheet_id: int | None = None, comment: str | None = None, before=None, after=None,
             from_status: str | None = None, to_status: str | None = None) -> None:
    session.add(HistoryEntry(dossier_id=dossier.id, sheet_id=sheet_id, action=action, actor=actor.username,
                             role=role, comment=comment, before=before, after=after,
                             from_status=from_status, to_status=to_status, at=utcnow()))


def _contributors(dossier: Dossier) -> list[dict]:
    names = [dossier.opened_by_username] + [c.username for c in dossier.collaborators]
    return [{"username": n} for n in dict.fromkeys(names)]


def _recipients(dossier: Dossier, event_type: str) -> list[dict]:
    if event_type in ("dossiers.rejected", "dossiers.published"):
        return _contributors(dossier)
    if event_type == "dossiers.sent":
        return [{"role": "directeur", "structure_id": sid} for sid in (dossier.lineage or [dossier.structure_id])]
    if event_type == "dossiers.approved":
        return [{"role": "regional_validator", "structure_id": None}]
    return []


def _event(session: Session, dossier: Dossier, event_type: str, actor: Actor, **data) -> None:
    session.flush()
    outbox.record(session, Outbox, make_event(
        event_type, dossier.region, actor.subject, dossier_id=dossier.id, dossier_name=dossier.name,
        structure_id=dossier.structure_id, structure_name=dossier.structure_name, status=dossier.status,
        actor_username=actor.username, recipients=_recipients(dossier, event_type), **data))


def _touch(dossier: Dossier) -> None:
    dossier.version += 1
    dossier.updated_at = utcnow()


def _move(session: Session, dossier: Dossier, transition: lifecycle.Transition, actor: Actor, roles: set[str],
          comment: str | None = None, **event_data) -> None:
    before = dossier.status
    dossier.status = transition.target
    _history(session, dossier, transition.action, actor, lifecycle.acting_role(transition, roles),
             comment=comment, from_status=before, to_status=transition.target)
    if transition.event:
        _event(session, dossier, transition.event, actor, comment=comment, **event_data)


# ------------------------------------------------------------------ opening

def _clean_name(value, field: str = "name") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("Nom obligatoire", {field: "Champ obligatoire."})
    if len(value) > NAME_MAX:
        raise InvalidInput("Nom trop long", {field: f"{NAME_MAX} caractères au plus."})
    return value.strip()


def open_dossier(session: Session, repertoire: Repertoire, region: str, actor: Actor, structure_id: int,
                 name: str | None = None) -> Dossier:
    """"Créer un dossier collaboratif" on an EG: its sheets are copied from the published répertoire."""
    snap = repertoire.snapshot(region, structure_id)
    lineage = snap["lineage"]
    if actor.region != region or not actor.has_role_on(("directeur", "structure_editor"), lineage):
        raise Forbidden("Il faut une habilitation Directeur ou éditeur sur cette EG pour ouvrir un dossier",
                        {"structure_id": "requires directeur or structure_editor on the EG or an ancestor"})
    existing = session.scalar(select(Dossier).where(Dossier.region == region, Dossier.structure_id == structure_id,
                                                    Dossier.status.in_(OPEN_STATUSES)))
    if existing is not None:
        raise Conflict(f"Un dossier est déjà ouvert sur cette EG : « {existing.name} »",
                       {"structure_id": structure_id, "dossier_id": existing.id, "dossier_name": existing.name,
                        "status": existing.status})
    site = snap["site"]
    dossier = Dossier(region=region, structure_id=structure_id, structure_name=site["name"], lineage=lineage,
                      name=_clean_name(name) if name is not None else f"Peuplement de {site['name']}"[:NAME_MAX],
                      status="draft", version=1, opened_by_subject=actor.subject,
                      opened_by_username=actor.username, created_at=utcnow(), updated_at=utcnow())
    session.add(dossier)
    try:
        session.flush()
    except IntegrityError as exc:  # another opening won the race (unique index per EG): the entrypoint rolls back
        raise Conflict("Un dossier vient d'être ouvert sur cette EG", {"structure_id": structure_id}) from exc
    sheet_of: dict[int, Sheet] = {}
    for item in snap["sheets"]:
        parent = sheet_of.get(item["parent_structure_id"]) if item["parent_structure_id"] else None
        sheet = Sheet(dossier_id=dossier.id, parent_id=parent.id if parent else None, kind=item["kind"],
                      structure_id=item["structure_id"], unit_type=item.get("unit_type"), name=item["name"],
                      status="pending", action="keep", data=item["data"], original=copy.deepcopy(item["data"]),
                      errors={}, updated_by=None, updated_at=utcnow())
        session.add(sheet)
        session.flush()
        sheet_of[item["structure_id"]] = sheet
    _history(session, dossier, "open", actor, _role_label(roles_on(actor, dossier)), to_status="draft")
    _event(session, dossier, "dossiers.opened", actor)
    return dossier


# ------------------------------------------------------------------ sheets

def _sheet(dossier: Dossier, sheet_id: int) -> Sheet:
    sheet = next((s for s in dossier.sheets if s.id == sheet_id), None)
    if sheet is None:
        raise NotFound("Fiche introuvable dans ce dossier", {"sheet_id": sheet_id})
    return sheet


def _require_editable(dossier: Dossier) -> None:
    if dossier.status not in lifecycle.EDITABLE:
        raise Conflict(f"Les fiches ne sont plus modifiables : le dossier est "
                       f"{lifecycle.STATUS_LABELS[dossier.status]}",
                       {"status": dossier.status, "allowed_actions": lifecycle.allowed_actions(dossier.status)})


def _live(dossier: Dossier) -> list[Sheet]:
    return [s for s in dossier.sheets if s.action != "remove"]


def _after_sheet_change(session: Session, dossier: Dossier, actor: Actor, roles: set[str]) -> None:
    """Editing a sheet of a finalised dossier returns it to draft; the last sheet turning green
    finalises it."""
    if dossier.status == "finalised" and any(s.status != "finalised" for s in _live(dossier)):
        _move(session, dossier, lifecycle.decide("finalised", "reopen", roles), actor, roles)
    if dossier.status == "draft" and all(s.status == "finalised" for s in _live(dossier)):
        _move(session, dossier, lifecycle.decide("draft", "finalise", roles, {ALL_SHEETS_FINALISED: True}),
              actor, roles)


def _sheet_state(sheet: Sheet) -> dict:
    return {"name": sheet.name, "status": sheet.status, "action": sheet.action, "data": copy.deepcopy(sheet.data)}


def save_sheet(session: Session, repertoire: Repertoire, dossier: Dossier, sheet_id: int, data, finalise: bool,
               actor: Actor, if_match: str | None) -> Sheet:
    """"Enr. et mettre en attente" (finalise false: saved grey, errors shown) or "Enr. et finaliser"
    (finalise true: 400 naming the fields unless valid; the sheet turns green)."""
    roles = require_member(actor, dossier)
    check_if_match(if_match, etag(dossier), "Le dossier")
    _require_editable(dossier)
    sheet = _sheet(dossier, sheet_id)
    if sheet.action == "remove":
        raise Conflict("Cette fiche est marquée pour suppression", {"sheet_id": sheet_id, "action": "remove"})
    if not isinstance(data, dict):
        raise InvalidInput("Un objet JSON est attendu", {"data": "expected a JSON object"})
    merged = {**(sheet.data or {}), **data}
    checked = repertoire.check_sheet(sheet.kind, merged, sheet.unit_type, bool(finalise))
    before = _sheet_state(sheet)
    sheet.data = checked["data"]
    sheet.errors = checked["errors"]
    sheet.name = (checked["data"].get("name") or sheet.name)[:NAME_MAX]
    sheet.status = "finalised" if finalise else "pending"
    if sheet.action != "create":
        sheet.action = "keep" if sheet.data == sheet.original else "update"
    sheet.updated_by = actor.username
    sheet.updated_at = utcnow()
    _history(session, dossier, "finalise_sheet" if finalise else "save_sheet", actor, _role_label(roles),
             sheet_id=sheet.id, before=before, after=_sheet_state(sheet))
    if finalise:
        _event(session, dossier, "dossiers.sheet_finalised", actor, sheet_id=sheet.id, sheet_kind=sheet.kind,
               sheet_name=sheet.name)
    _after_sheet_change(session, dossier, actor, roles)
    _touch(dossier)
    session.flush()
    return sheet


def add_sheet(session: Session, repertoire: Repertoire, dossier: Dossier, body, actor: Actor,
              if_match: str | None) -> Sheet:
    """"Créer des unités": a pôle, service, UF or UO below a sheet (for a UO, its type first)."""
    roles = require_member(actor, dossier)
    check_if_match(if_match, etag(dossier), "Le dossier")
    _require_editable(dossier)
    if not isinstance(body, dict):
        raise InvalidInput("Un objet JSON est attendu", {"body": "expected a JSON object"})
    parent_id, kind = body.get("parent_id"), body.get("kind")
    if isinstance(parent_id, bool) or not isinstance(parent_id, int):
        raise InvalidInput("Fiche parente obligatoire", {"parent_id": "Champ obligatoire (identifiant de fiche)."})
    parent = _sheet(dossier, parent_id)
    if parent.action == "remove":
        raise Conflict("La fiche parente est marquée pour suppression", {"parent_id": parent_id})
    if kind not in CHILD_KINDS.get(parent.kind, ()):
        raise InvalidInput(f"On ne crée pas ce type de fiche sous une fiche {KIND_LABELS[parent.kind]}",
                           {"kind": f"one of {list(CHILD_KINDS[parent.kind])} below a {parent.kind}"})
    name = _clean_name(body.get("name"))
    unit_type = body.get("unit_type")
    if kind != "uo" and unit_type is not None:
        raise InvalidInput("Seule une UO a un type d'UO", {"unit_type": "only for kind uo"})
    if unit_type is not None and not isinstance(unit_type, str):
        raise InvalidInput("Type d'UO invalide", {"unit_type": "Texte attendu."})
    checked = repertoire.check_sheet(kind, {"name": name}, unit_type, False)  # 400 on an unknown UO type
    sheet = Sheet(dossier_id=dossier.id, parent_id=parent.id, kind=kind, structure_id=None, unit_type=unit_type,
                  name=name, status="pending", action="create", data=checked["data"], original=None,
                  errors=checked["errors"], updated_by=actor.username, updated_at=utcnow())
    session.add(sheet)
    session.flush()
    dossier.sheets.append(sheet)
    _history(session, dossier, "create_sheet", actor, _role_label(roles), sheet_id=sheet.id,
             after=_sheet_state(sheet), comment=f"{KIND_LABELS[kind]} « {name} »")
    _after_sheet_change(session, dossier, actor, roles)
    _touch(dossier)
    session.flush()
    return sheet


def _subtree(dossier: Dossier, sheet: Sheet) -> list[Sheet]:
    out, frontier = [sheet], [sheet.id]
    while frontier:
        children = [s for s in dossier.sheets if s.parent_id in frontier]
        out.extend(children)
        frontier = [c.id for c in children]
    return out


def rename(session: Session, dossier: Dossier, name, actor: Actor, if_match: str | None) -> Dossier:
    """The dossier's « Nom * » (« Enregistrer » on the dossier page)."""
    roles = require_member(actor, dossier)
    check_if_match(if_match, etag(dossier), "Le dossier")
    _require_editable(dossier)
    before = dossier.name
    dossier.name = _clean_name(name)
    _history(session, dossier, "rename", actor, _role_label(roles), before={"name": before},
             after={"name": dossier.name})
    _touch(dossier)
    session.flush()
    return dossier


def remove_sheet(session: Session, dossier: Dossier, sheet_id: int, actor: Actor, if_match: str | None) -> None:
    """Mark an existing unit (and what is below it) for removal; a unit this dossier created is dropped."""
    roles = require_member(actor, dossier)
    check_if_match(if_match, etag(dossier), "Le dossier")
    _require_editable(dossier)
    sheet = _sheet(dossier, sheet_id)
    if sheet.kind == "eg":
        raise Conflict("L'EG du dossier ne se supprime pas dans son propre dossier", {"sheet_id": sheet_id})
    for row in reversed(_subtree(dossier, sheet)):
        before = _sheet_state(row)
        if row.action == "create":
            dossier.sheets.remove(row)
            session.delete(row)
            after = None
        else:
            row.action, row.status = "remove", "finalised"  # a removal needs nothing more: green
            row.updated_by, row.updated_at = actor.username, utcnow()
            after = _sheet_state(row)
        _history(session, dossier, "remove_sheet", actor, _role_label(roles), sheet_id=row.id, before=before,
                 after=after)
    session.flush()
    _after_sheet_change(session, dossier, actor, roles)
    _touch(dossier)
    session.flush()


def finalise_all(session: Session, repertoire: Repertoire, dossier: Dossier, actor: Actor,
                 if_match: str | None) -> dict:
    """"Finaliser les fiches": every valid sheet turns green; returns the invalid ones {sheet id: errors}."""
    roles = require_member(actor, dossier)
    check_if_match(if_match, etag(dossier), "Le dossier")
    _require_editable(dossier)
    invalid: dict[str, dict] = {}
    for sheet in _live(dossier):
        if sheet.status == "finalised":
            continue
        checked = repertoire.check_sheet(sheet.kind, sheet.data or {}, sheet.unit_type, False)
        if checked["errors"]:
            sheet.errors = checked["errors"]
            invalid[str(sheet.id)] = {"name": sheet.name, "kind": sheet.kind, "errors": checked["errors"]}
            continue
        before = _sheet_state(sheet)
        sheet.data, sheet.errors, sheet.status = checked["data"], {}, "finalised"
        if sheet.action != "create":
            sheet.action = "keep" if sheet.data == sheet.original else "update"
        sheet.updated_by, sheet.updated_at = actor.username, utcnow()
        _history(session, dossier, "finalise_sheet", actor, _role_label(roles), sheet_id=sheet.id, before=before,
                 after=_sheet_state(sheet))
    _after_sheet_change(session, dossier, actor, roles)
    _touch(dossier)
    session.flush()
    return invalid


# ------------------------------------------------------------------ transitions

def _sheets_payload(dossier: Dossier) -> list[dict]:
    return [{"id": s.id, "parent_id": s.parent_id, "kind": s.kind, "structure_id": s.structure_id,
             "action": s.action, "unit_type": s.unit_type, "data": copy.deepcopy(s.data or {})}
            for s in dossier.sheets]


def _publish(session: Session, repertoire: Repertoire, dossier: Dossier, actor: Actor, roles: set[str]) -> None:
    """Apply the validated dossier to the répertoire (one transaction over there); published on success,
    otherwise it stays validated with the error, for `retry`."""
    try:
        applied = repertoire.apply(dossier.region, dossier.id, dossier.structure_id, _sheets_payload(dossier),
                                   actor.to_dict())
    except Exception as exc:  # noqa: BLE001 - whatever failed over there was rolled back there
        if isinstance(exc, RorError) and not isinstance(exc, Unavailable):
            code, message, fields = exc.code, exc.message, exc.fields
        elif isinstance(exc, Unavailable):
            code, message, fields = exc.code, "Le répertoire n'a pas répondu : relancez la publication (retry)", {}
        else:
            code, message, fields = "internal", "Erreur du répertoire : relancez la publication (retry)", {
                "detail": type(exc).__name__}
        dossier.publication_error = {"code": code, "message": message, "fields": fields,
                                     "at": utcnow().isoformat()}
        _history(session, dossier, "publication_failed", actor, VALIDATOR, comment=message,
                 from_status=dossier.status, to_status=dossier.status)
        _event(session, dossier, "dossiers.publication_failed", actor, error=dossier.publication_error)
        return
    dossier.applied = applied
    dossier.publication_error = None
    dossier.published_at = utcnow()
    _move(session, dossier, lifecycle.decide(dossier.status, "publish", roles, {APPLIED: True}), actor, roles,
          applied=applied)


def transition(session: Session, repertoire: Repertoire, dossier: Dossier, action, comment, actor: Actor,
               if_match: str | None) -> Dossier:
    """send, approve, validate (then publication), reject (reason required), cancel, retry."""
    roles = require_reader(actor, dossier)
    check_if_match(if_match, etag(dossier), "Le dossier")
    if action not in lifecycle.ACTIONS:
        raise InvalidInput("Action inconnue", {"action": f"one of {list(lifecycle.ACTIONS)}"})
    if comment is not None and (not isinstance(comment, str) or len(comment) > COMMENT_MAX):
        raise InvalidInput("Commentaire invalide", {"comment": f"texte de {COMMENT_MAX} caractères au plus"})
    comment = (comment or "").strip() or None
    facts = {ALL_SHEETS_FINALISED: all(s.status == "finalised" for s in _live(dossier)),
             REASON_GIVEN: bool(comment)}
    step = lifecycle.decide(dossier.status, action, roles, facts)
    if action == "reject":
        dossier.rejection_reason = comment
        # Back to draft, sheets kept as they are: "Finaliser les fiches" (or any edit) leads on.
        _move(session, dossier, step, actor, roles, comment, reason=comment)
    elif action == "retry":
        _history(session, dossier, "retry", actor, VALIDATOR, comment=comment, from_status=dossier.status,
                 to_status=dossier.status)
        _publish(session, repertoire, dossier, actor, roles)
    else:
        if action == "send":
            dossier.sent_at = utcnow()
            dossier.rejection_reason = None
        _move(session, dossier, step, actor, roles, comment)
        if action == "validate":
            _publish(session, repertoire, dossier, actor, roles)
    _touch(dossier)
    session.flush()
    return dossier


# ------------------------------------------------------------------ collaboration

def add_collaborator(session: Session, dossier: Dossier, username, actor: Actor, if_match: str | None) -> Collaborator:
    """The Directeur (or the editor who opened the dossier) adds a contributor by username."""
    roles = require_member(actor, dossier, MANAGERS)
    check_if_match(if_match, etag(dossier), "Le dossier")
    if dossier.status in ("published", "cancelled"):
        raise Conflict("Ce dossier est clos", {"status": dossier.status, "allowed_actions": []})
    if not isinstance(username, str) or not USERNAME.match(username):
        raise InvalidInput("Identifiant de compte invalide", {"username": "Identifiant de compte attendu."})
    if username in {c.username for c in dossier.collaborators} or username == dossier.opened_by_username:
        raise Conflict("Ce compte contribue déjà au dossier", {"username": username})
    row = Collaborator(dossier_id=dossier.id, username=username, added_by=actor.username, added_at=utcnow())
    session.add(row)
    dossier.collaborators.append(row)
    _history(session, dossier, "add_collaborator", actor, _role_label(roles), comment=username)
    _touch(dossier)
    session.flush()
    return row


def collaborators(dossier: Dossier) -> list[dict]:
    """Who contributes, and which sheets each changed last ("who changed which sheet last")."""
    last_by: dict[str, list[dict]] = {}
    for sheet in dossier.sheets:
        if sheet.updated_by:
            last_by.setdefault(sheet.updated_by, []).append(
                {"sheet_id": sheet.id, "name": sheet.name, "at": sheet.updated_at.isoformat()})
    people = [{"username": dossier.opened_by_username, "role": "opener", "added_by": None,
               "added_at": dossier.created_at.isoformat() if dossier.created_at else None}]
    people += [{"username": c.username, "role": "contributor", "added_by": c.added_by,
                "added_at": c.added_at.isoformat()} for c in dossier.collaborators]
    for person in people:
        person["last_changed_sheets"] = last_by.get(person["username"], [])
    return people


def add_comment(session: Session, dossier: Dossier, body, actor: Actor) -> Comment:
    """A comment on the dossier or on one of its sheets (members and the regional team). Comments are
    appended, never edited, so they need no If-Match and leave the dossier's ETag alone."""
    roles = require_reader(actor, dossier)
    if not isinstance(body, dict):
        raise InvalidInput("Un objet JSON est attendu", {"body": "expected a JSON object"})
    text_ = body.get("body")
    if not isinstance(text_, str) or not text_.strip():
        raise InvalidInput("Commentaire vide", {"body": "Champ obligatoire."})
    if len(text_) > COMMENT_MAX:
        raise InvalidInput("Commentaire trop long", {"body": f"{COMMENT_MAX} caractères au plus."})
    sheet_id = body.get("sheet_id")
    if sheet_id is not None:
        if isinstance(sheet_id, bool) or not isinstance(sheet_id, int):
            raise InvalidInput("Fiche invalide", {"sheet_id": "identifiant de fiche attendu"})
        _sheet(dossier, sheet_id)
    row = Comment(dossier_id=dossier.id, sheet_id=sheet_id, author=actor.username, body=text_.strip(),
                  created_at=utcnow())
    session.add(row)
    _history(session, dossier, "comment", actor, _role_label(roles), sheet_id=sheet_id, comment=text_.strip())
    session.flush()
    return row


def comments(session: Session, dossier: Dossier, sheet_id: int | None = None) -> list[dict]:
    stmt = select(Comment).where(Comment.dossier_id == dossier.id)
    if sheet_id is not None:
        stmt = stmt.where(Comment.sheet_id == sheet_id)
    return [{"id": c.id, "sheet_id": c.sheet_id, "author": c.author, "body": c.body,
             "created_at": c.created_at.isoformat()} for c in session.scalars(stmt.order_by(Comment.id))]


def history(session: Session, dossier: Dossier) -> list[dict]:
    rows = session.scalars(select(HistoryEntry).where(HistoryEntry.dossier_id == dossier.id)
                           .order_by(HistoryEntry.id))
    return [{"id": h.id, "action": h.action, "actor": h.actor, "role": h.role, "at": h.at.isoformat(),
             "sheet_id": h.sheet_id, "comment": h.comment, "from_status": h.from_status,
             "to_status": h.to_status, "before": h.before, "after": h.after} for h in rows]


# ------------------------------------------------------------------ views

def sheet_view(sheet: Sheet) -> dict:
    return {"id": sheet.id, "parent_id": sheet.parent_id, "kind": sheet.kind, "structure_id": sheet.structure_id,
            "name": sheet.name, "unit_type": sheet.unit_type, "status": sheet.status, "action": sheet.action,
            "data": sheet.data or {}, "errors": sheet.errors or {}, "updated_by": sheet.updated_by,
            "updated_at": sheet.updated_at.isoformat() if sheet.updated_at else None}


def summary(dossier: Dossier) -> dict:
    return {"id": dossier.id, "region": dossier.region, "name": dossier.name, "status": dossier.status,
            "status_label": lifecycle.STATUS_LABELS[dossier.status], "structure_id": dossier.structure_id,
            "structure_name": dossier.structure_name, "etag": etag(dossier), "version": dossier.version,
            "opened_by": dossier.opened_by_username,
            "created_at": dossier.created_at.isoformat() if dossier.created_at else None,
            "updated_at": dossier.updated_at.isoformat() if dossier.updated_at else None}


def _ordered_sheets(dossier: Dossier) -> list[Sheet]:
    """The tree in depth-first order (EG, then each child and its subtree)."""
    children: dict[int | None, list[Sheet]] = {}
    for s in dossier.sheets:
        children.setdefault(s.parent_id, []).append(s)
    out: list[Sheet] = []

    def walk(parent_id):
        for s in sorted(children.get(parent_id, []), key=lambda s: s.id):
            out.append(s)
            walk(s.id)

    walk(None)
    return out


def view(dossier: Dossier, actor: Actor) -> dict:
    roles = roles_on(actor, dossier)
    return {**summary(dossier), "rejection_reason": dossier.rejection_reason,
            "publication_error": dossier.publication_error, "applied": dossier.applied,
            "sent_at": dossier.sent_at.isoformat() if dossier.sent_at else None,
            "published_at": dossier.published_at.isoformat() if dossier.published_at else None,
            "your_roles": sorted(roles), "actions": lifecycle.allowed_actions(dossier.status, roles),
            "collaborators": [c.username for c in dossier.collaborators],
            "sheets": [sheet_view(s) for s in _ordered_sheets(dossier)]}


def list_dossiers(session: Session, region: str, actor: Actor, status: str | None = None) -> list[dict]:
    """The caller's dossiers (structures they hold an habilitation on, opened or contributed to);
    every dossier of the region for the regional team."""
    stmt = select(Dossier).where(Dossier.region == region)
    if status:
        stmt = stmt.where(Dossier.status == status)
    if actor.region != region:
        return []
    rows = session.scalars(stmt.order_by(Dossier.id.desc()).limit(LIST_MAX)).all()
    if actor.is_team:
        return [summary(d) for d in rows]
    mine = set(session.scalars(select(Collaborator.dossier_id).where(Collaborator.username == actor.username)))
    held = {sid for role, sid in actor.habilitations if role in ("directeur", "structure_editor")}
    return [summary(d) for d in rows
            if d.id in mine or d.opened_by_subject == actor.subject or held & set(d.lineage or [])]


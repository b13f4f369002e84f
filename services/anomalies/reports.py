"""Anomalies (« Déclarer / Signaler une anomalie »): routing, the state machine, who sees what.

Plain module (no nameko). The model follows the national ROR's `RORTask` (ANS FHIR IG): theme =
TRE_R350 ThematiqueAnomalie, business status = TRE_R352 StatutMetierAnomalie, inputs = element path,
wrong value, proposed value, reporting system, rule id.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.anomalies.contracts import MESSAGE_MAX, MESSAGE_MIN, STATUSES, TARGET_KINDS, THEMES  # noqa: F401
from services.anomalies.models import Anomaly, AnomalyNote, Outbox
from services.common import outbox
from services.common.actor import Actor
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.common.events import make_event
from services.common.outbox import utcnow
from services.common.regions import get_region, support_desk

# TRE_R350 ThematiqueAnomalie (JDV_J241): API name -> (code, French label)
THEME_BY_CODE = {code: name for name, (code, _label) in THEMES.items()}

# The state machine, one declared table: action -> (allowed from, to, who may do it).
TEAM, OWNER = "team", "owner"
TRANSITIONS: dict[str, tuple[frozenset[str], str, frozenset[str]]] = {
    "accept": (frozenset({"open"}), "accepted", frozenset({TEAM})),
    "reject": (frozenset({"open", "accepted"}), "rejected", frozenset({TEAM})),
    "resolve": (frozenset({"open", "accepted", "forwarded"}), "resolved", frozenset({TEAM, OWNER})),
}
COMMENT_REQUIRED = frozenset({"reject"})
SYSTEM_UI = "IHM"  # RORTask systemRequester of a report typed by a person
SYSTEM_RULES = "ROR-REGLES"

# National data a professional sees read-only at step 1 (RPPS / FINESS / AMELI), by its root element.
NATIONAL_FIELDS = ("civility", "last_name", "first_name", "profession", "specialty", "address", "phone", "email",
                   "rpps", "structure", "finess", "category", "legal_status", "convention_sector",
                   "accepts_vitale", "conventionnement", "practice_mode")


@dataclass(frozen=True)
class Route:
    kind: str  # ror_cell | authority
    key: str | None
    name: str


def route(region: str, target_kind: str, field: str | None = None, profession_code: str | None = None) -> Route:
    """Who fixes it. ROR data → the region's ROR cell. National data → its registering authority:
    conventionnement → CPAM, FINESS → ARS, a professional's RPPS data → the Ordre of the profession
    (the ARS for professions without an Ordre), all read from the region's routing table."""
    desk = support_desk(region)
    if target_kind != "national":
        return Route("ror_cell", None, desk["ror_cell"])
    routing, authorities = desk["routing"], desk["authorities"]
    root = national_field(field)
    key = routing["fields"].get(root) if root else None
    if key is None:
        key = routing["professions"].get(str(profession_code or ""), "ars")
    return Route("authority", key, authorities[key]["name"])


def national_field(path: str | None) -> str | None:
    """'national.address.line' / 'address.line' / 'address' -> 'address'."""
    if not path:
        return None
    parts = [p for p in path.replace("[", ".").split(".") if p]
    if parts and parts[0] == "national":
        parts = parts[1:]
    return parts[0] if parts else None


# ------------------------------------------------------------------ who sees what

def is_quality_team(actor: Actor | None, region: str) -> bool:
    return actor is not None and actor.region == region and actor.is_team


def is_owner(actor: Actor | None, anomaly: Anomaly) -> bool:
    if actor is None or actor.region != anomaly.region:
        return False
    if anomaly.owner_subject and anomaly.owner_subject == actor.subject:
        return True
    if anomaly.owner_rpps and actor.rpps and anomaly.owner_rpps == actor.rpps:
        return True
    return actor.has_role_on(("directeur", "structure_editor"), anomaly.structure_path or [])


def is_reporter(actor: Actor | None, anomaly: Anomaly) -> bool:
    return actor is not None and anomaly.reporter_subject is not None and anomaly.reporter_subject == actor.subject


def can_read(actor: Actor | None, anomaly: Anomaly) -> bool:
    return is_quality_team(actor, anomaly.region) or is_owner(actor, anomaly) or is_reporter(actor, anomaly)


def visibility_filter(actor: Actor):
    """SQL condition: the anomalies a non-team actor may list (theirs, or on their sheets)."""
    conditions = [Anomaly.reporter_subject == actor.subject, Anomaly.owner_subject == actor.subject]
    if actor.rpps:
        conditions.append(Anomaly.owner_rpps == actor.rpps)
    structure_ids = sorted({sid for role, sid in actor.habilitations if role in ("directeur", "structure_editor")})
    if structure_ids:
        conditions.append(Anomaly.structure_path.overlap(structure_ids))
    return or_(*conditions)


# ------------------------------------------------------------------ views

def view(anomaly: Anomaly, actor: Actor | None) -> dict:
    code, label, status_label = STATUSES[anomaly.status]
    theme = THEME_BY_CODE[anomaly.theme]
    team = is_quality_team(actor, anomaly.region)
    body = {
        "id": anomaly.id,
        "region": anomaly.region,
        "status": anomaly.status,
        "status_label": status_label,
        "business_status": {"code": code, "display": label},
        "theme": theme,
        "theme_code": {"code": anomaly.theme, "display": THEMES[theme][1]},
        "target": {"kind": anomaly.target_kind, "id": anomaly.target_id, "label": anomaly.target_label,
                   "level": anomaly.target_level, "departement": anomaly.departement,
                   "structure_path": list(anomaly.structure_path or [])},
        "owner": {"label": anomaly.owner_label},
        "field": anomaly.element_path,
        "wrong_value": anomaly.wrong_value,
        "proposed_value": anomaly.proposed_value,
        "message": anomaly.message,
        "reporting_system": anomaly.reporting_system,
        "rule_id": anomaly.rule_id,
        "period": anomaly.period,
        "routed_to": {"kind": anomaly.routed_kind, "name": anomaly.routed_name},
        "resolution_comment": anomaly.resolution_comment,
        "created_at": anomaly.created_at.isoformat(),
        "updated_at": anomaly.updated_at.isoformat() if anomaly.updated_at else None,
        "forwarded_at": anomaly.forwarded_at.isoformat() if anomaly.forwarded_at else None,
        "closed_at": anomaly.closed_at.isoformat() if anomaly.closed_at else None,
        "history": [{"author": n.author if team else None, "role": n.author_role, "action": n.action,
                     "body": n.body, "from_status": n.from_status, "to_status": n.to_status,
                     "at": n.created_at.isoformat()} for n in anomaly.notes],
    }
    body["reporter"] = ({"username": anomaly.reporter_username, "email": anomaly.reporter_email}
                        if team else None)
    body["allowed_actions"] = allowed_actions(actor, anomaly)
    return body


def allowed_actions(actor: Actor | None, anomaly: Anomaly) -> list[str]:
    roles = _roles(actor, anomaly)
    return [a for a, (sources, _to, who) in TRANSITIONS.items() if anomaly.status in sources and roles & who]


def _roles(actor: Actor | None, anomaly: Anomaly) -> set[str]:
    roles = set()
    if is_quality_team(actor, anomaly.region):
        roles.add(TEAM)
    if is_owner(actor, anomaly):
        roles.add(OWNER)
    return roles


# ------------------------------------------------------------------ writes

def recipients_of(anomaly: Anomaly, include_owner: bool = False) -> list[dict]:
    out: list[dict] = []
    if anomaly.reporter_subject:
        out.append({"subject": anomaly.reporter_subject})
    elif anomaly.reporter_email:
        out.append({"email": anomaly.reporter_email})
    if include_owner:
        out.extend(r for r in owner_recipients(anomaly) if r not in out)
    return out


def owner_recipients(anomaly: Anomaly) -> list[dict]:
    """The owner of the sheet, and whoever edits it through a habilitation on it or an ancestor."""
    out: list[dict] = [{"subject": anomaly.owner_subject}] if anomaly.owner_subject else []
    out.extend({"role": role, "structure_id": sid} for sid in anomaly.structure_path or []
               for role in ("directeur", "structure_editor"))
    return out


def _event_fields(anomaly: Anomaly) -> dict:
    return {"anomaly_id": anomaly.id, "status": anomaly.status, "status_label": STATUSES[anomaly.status][2],
            "theme": THEME_BY_CODE[anomaly.theme], "target_kind": anomaly.target_kind,
            "target_id": anomaly.target_id, "target_label": anomaly.target_label,
            "field": anomaly.element_path, "routed_to": {"kind": anomaly.routed_kind, "name": anomaly.routed_name},
            "message": anomaly.message}


def declare(session: Session, region: str, target: dict, data: dict, actor: Actor | None,
            contact_email: str | None = None) -> Anomaly:
    """A person reports an anomaly. `target` is what the offers service told about the sheet
    (see offers.quality_rpc.anomaly_target); `data` the validated request."""
    get_region(region)
    kind = target["kind"]
    if kind == "national" and national_field(data.get("field")) not in NATIONAL_FIELDS:
        raise InvalidInput("Cette donnée ne provient pas d'un répertoire national",
                           {"field": f"one of {list(NATIONAL_FIELDS)} (optionally prefixed by national.)"})
    rt = route(region, kind, data.get("field"), target.get("profession_code"))
    now = utcnow()
    anomaly = Anomaly(
        region=region, target_kind=kind, target_id=target.get("id"), target_label=target["label"],
        target_level=target.get("level"), structure_path=target.get("structure_path") or [],
        departement=target.get("departement"), owner_subject=target.get("owner_subject"),
        owner_rpps=target.get("owner_rpps"), owner_label=target.get("owner_label"),
        theme=THEMES[data["theme"]][0], element_path=data.get("field"), wrong_value=data.get("wrong_value"),
        proposed_value=data.get("proposed_value"), message=data["message"], reporting_system=SYSTEM_UI,
        routed_kind=rt.kind, routed_key=rt.key, routed_name=rt.name,
        status="forwarded" if rt.kind == "authority" else "open",
        forwarded_at=now if rt.kind == "authority" else None,
        reporter_subject=actor.subject if actor else None, reporter_username=actor.username if actor else None,
        reporter_rpps=actor.rpps if actor else None, reporter_email=None if actor else contact_email,
        created_at=now, updated_at=now,
    )
    session.add(anomaly)
    session.flush()
    session.add(AnomalyNote(anomaly_id=anomaly.id, author=actor.username if actor else contact_email,
                            author_role="reporter", action="declare", body=None, to_status=anomaly.status))
    outbox.record(session, Outbox, make_event(
        "anomalies.declared", region, actor.username if actor else None, **_event_fields(anomaly),
        reporting_system=SYSTEM_UI, recipients=recipients_of(anomaly)))
    session.flush()
    return anomaly


def load(session: Session, region: str, anomaly_id: int, for_update: bool = False) -> Anomaly:
    stmt = select(Anomaly).where(Anomaly.id == anomaly_id, Anomaly.region == region)
    if for_update:
        stmt = stmt.with_for_update()
    anomaly = session.scalars(stmt).first()
    if anomaly is None:
        raise NotFound("Anomalie introuvable", {"anomaly_id": f"no anomaly {anomaly_id} in region {region}"})
    return anomaly


def load_readable(session: Session, region: str, anomaly_id: int, actor: Actor | None) -> Anomaly:
    anomaly = load(session, region, anomaly_id)
    if not can_read(actor, anomaly):
        raise Forbidden("Vous ne pouvez pas consulter cette anomalie",
                        {"anomaly_id": "reporter, owner of the sheet or regional team only"})
    return anomaly


def transition(session: Session, anomaly: Anomaly, action: str, comment: str | None, actor: Actor) -> Anomaly:
    if action not in TRANSITIONS:
        raise InvalidInput("Action inconnue", {"action": f"one of {sorted(TRANSITIONS)}"})
    sources, target, who = TRANSITIONS[action]
    if not (_roles(actor, anomaly) & who):
        raise Forbidden("Cette action est réservée à l'équipe qualité régionale"
                        + (" ou au responsable de la fiche" if OWNER in who else ""), {"action": action})
    if anomaly.status not in sources:
        raise Conflict(f"Action « {action} » impossible : l'anomalie est « {anomaly.status} »",
                       {"status": anomaly.status, "action": f"allowed from {sorted(sources)}"})
    comment = (comment or "").strip() or None
    if action in COMMENT_REQUIRED and not comment:
        raise InvalidInput("Un motif est obligatoire pour rejeter une anomalie", {"comment": "required"})
    previous = anomaly.status
    anomaly.status = target
    anomaly.updated_at = utcnow()
    if target in ("rejected", "resolved"):
        anomaly.closed_at = anomaly.updated_at
        anomaly.resolution_comment = comment
    role = TEAM if TEAM in _roles(actor, anomaly) else OWNER
    session.add(AnomalyNote(anomaly_id=anomaly.id, author=actor.username, author_role=role, action=action,
                            body=comment, from_status=previous, to_status=target))
    outbox.record(session, Outbox, make_event(
        "anomalies.status_changed", anomaly.region, actor.username, **_event_fields(anomaly),
        previous_status=previous, action=action, comment=comment,
        recipients=recipients_of(anomaly, include_owner=(target == "accepted"))))
    session.flush()
    return anomaly


def answer(session: Session, anomaly: Anomaly, body: str, actor: Actor) -> Anomaly:
    """The owner of the sheet (or the team) answers; the reporter sees it in the history."""
    roles = _roles(actor, anomaly)
    if not roles:
        raise Forbidden("Seuls le responsable de la fiche et l'équipe régionale peuvent répondre",
                        {"anomaly_id": "owner or regional team only"})
    session.add(AnomalyNote(anomaly_id=anomaly.id, author=actor.username,
                            author_role=TEAM if TEAM in roles else OWNER, action="answer", body=body))
    anomaly.updated_at = utcnow()
    session.flush()
    session.refresh(anomaly)
    return anomaly


def list_query(region: str, actor: Actor, status: str | None = None, departement: str | None = None,
               structure_id: int | None = None, theme: str | None = None, mine: bool = False):
    stmt = select(Anomaly).where(Anomaly.region == region)
    if mine or not is_quality_team(actor, region):
        stmt = stmt.where(Anomaly.reporter_subject == actor.subject) if mine else stmt.where(
            visibility_filter(actor))
    if status:
        stmt = stmt.where(Anomaly.status == status)
    if departement:
        stmt = stmt.where(Anomaly.departement == departement)
    if structure_id is not None:
        stmt = stmt.where(Anomaly.structure_path.contains([structure_id]))
    if theme:
        stmt = stmt.where(Anomaly.theme == THEMES[theme][0])
    return stmt.order_by(Anomaly.id.desc())


EXPORT_COLUMNS = (
    ("id", "N°"), ("status", "Statut"), ("theme", "Thématique"), ("target_kind", "Type de cible"),
    ("target_id", "Id cible"), ("target_label", "Fiche"), ("departement", "Département"),
    ("field", "Élément en erreur"), ("wrong_value", "Valeur erronée"), ("proposed_value", "Valeur proposée"),
    ("message", "Message"), ("reporting_system", "Système déclarant"), ("rule_id", "Règle"),
    ("routed_to", "Transmise à"), ("created_at", "Créée le"), ("closed_at", "Clôturée le"),
)


def export_rows(anomalies: list[Anomaly]) -> list[list]:
    rows = []
    for a in anomalies:
        rows.append([a.id, STATUSES[a.status][2], THEMES[THEME_BY_CODE[a.theme]][1], a.target_kind, a.target_id,
                     a.target_label, a.departement, a.element_path, a.wrong_value, a.proposed_value, a.message,
                     a.reporting_system, a.rule_id, a.routed_name, a.created_at.isoformat(),
                     a.closed_at.isoformat() if a.closed_at else None])
    return rows

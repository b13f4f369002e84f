"""Habilitations: a role on a structure, granted by the region's administrators. Granting one also
gives the realm role (so that the next token carries it); revoking the last one of a role removes it."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from services.accounts.models import Habilitation, Outbox
from services.accounts.operations.ports import Directory, iso, lock
from services.common.actor import Actor
from services.common.db import on_rollback
from services.common.errors import Conflict, NotFound
from services.common.events import make_event
from services.common.outbox import record


def habilitations_of(session: Session, region: str, subject: str) -> list[Habilitation]:
    return list(session.scalars(select(Habilitation).where(
        Habilitation.region == region, Habilitation.subject == subject).order_by(Habilitation.id)))


def habilitation_dict(h: Habilitation) -> dict:
    return {"id": h.id, "username": h.username, "subject": h.subject, "role": h.role,
            "structure_id": h.structure_id, "granted_by": h.granted_by, "granted_at": iso(h.granted_at)}


def habilitation_pairs(session: Session, region: str, subject: str) -> list[dict]:
    """[{role, structure_id}] as services.common.actor.Actor expects them."""
    return [{"role": h.role, "structure_id": h.structure_id} for h in habilitations_of(session, region, subject)]


def list_habilitations(session: Session, region: str, username: str | None = None) -> list[dict]:
    stmt = select(Habilitation).where(Habilitation.region == region).order_by(Habilitation.id)
    if username:
        stmt = stmt.where(func.lower(Habilitation.username) == username.lower())
    return [habilitation_dict(h) for h in session.scalars(stmt)]


def grant_habilitation(session: Session, region: str, data: dict, actor: Actor, directory: Directory,
                       structure_exists: Callable[[str, int], bool] | None) -> dict:
    """`data` is GrantSchema-validated. Also gives the realm role, so that the next token carries it."""
    user = directory.find_by_username(data["username"])
    if user is None:
        raise NotFound("Utilisateur inconnu dans cette région", {"username": data["username"]})
    role, structure_id, subject = data["role"], data["structure_id"], user["id"]
    if structure_exists is not None and not structure_exists(region, structure_id):
        raise NotFound("Structure inconnue dans cette région", {"structure_id": structure_id})
    lock(session, f"habilitation:{region}:{subject}")
    same_role = [h for h in habilitations_of(session, region, subject) if h.role == role]
    if any(h.structure_id == structure_id for h in same_role):
        raise Conflict("Cette habilitation existe déjà", {"structure_id": structure_id})
    had_role = directory.has_realm_role(subject, role)
    row = Habilitation(region=region, subject=subject, username=user["username"], role=role,
                       structure_id=structure_id, granted_by=actor.username,
                       manages_realm_role=(not had_role) or any(h.manages_realm_role for h in same_role))
    session.add(row)
    session.flush()
    if not had_role:
        directory.add_realm_role(subject, role)
        on_rollback(session, lambda: directory.remove_realm_role(subject, role))
    record(session, Outbox, make_event("accounts.role_granted", region, actor.username, subject=subject,
                                       username=row.username, role=role, structure_id=structure_id,
                                       habilitation_id=row.id))
    session.flush()
    return habilitation_dict(row)


def revoke_habilitation(session: Session, region: str, habilitation_id: int, actor: Actor,
                        directory: Directory) -> dict:
    """Revoking the last habilitation of a role removes the realm role it gave."""
    row = session.scalar(select(Habilitation).where(Habilitation.region == region,
                                                    Habilitation.id == habilitation_id))
    if row is None:
        raise NotFound("Habilitation inconnue", {"habilitation_id": habilitation_id})
    lock(session, f"habilitation:{region}:{row.subject}")
    others = session.scalar(select(func.count()).select_from(Habilitation).where(
        Habilitation.region == region, Habilitation.subject == row.subject, Habilitation.role == row.role,
        Habilitation.id != row.id))
    revoked = habilitation_dict(row)
    session.execute(delete(Habilitation).where(Habilitation.id == row.id))
    record(session, Outbox, make_event("accounts.role_revoked", region, actor.username, subject=row.subject,
                                       username=row.username, role=row.role, structure_id=row.structure_id,
                                       habilitation_id=row.id))
    session.flush()
    if not others and row.manages_realm_role:
        subject, role = row.subject, row.role
        directory.remove_realm_role(subject, role)
        on_rollback(session, lambda: directory.add_realm_role(subject, role))
    return revoked

"""Support desk: tickets, their state machine and their SLA clocks (plain module, no nameko).

Per-region queues worked by that region's agents (`support_agent`, `region_admin`); a requester —
logged in, or anonymous with a contact e-mail and the link e-mailed to them — sees only their tickets
and the public replies. SLAs are modelled like Zammad's (first response, update, solution), counted in
the region's business hours and paused while the ticket waits for the requester.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.anomalies.business_hours import BusinessCalendar
from services.anomalies.contracts import TICKET_ACTIONS
from services.anomalies.contracts import TICKET_STATUSES as STATUSES
from services.anomalies.models import Outbox, SlaNotice, Ticket, TicketMessage
from services.common import outbox
from services.common.actor import Actor
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed
from services.common.events import make_event
from services.common.outbox import utcnow
from services.common.regions import REGIONS, get_region, support_desk
from services.common.roles import SUPPORT_ROLES

ACTIVE = ("new", "open", "pending_requester", "pending_expert")
AGENT_ROLES = SUPPORT_ROLES  # services.common.roles
AGENT, REQUESTER, EXPERT, SYSTEM = "agent", "requester", "expert", "system"

# The state machine, one declared table: (action, from) -> (to, who may do it). `None` = unchanged.
TRANSITIONS: dict[tuple[str, str], tuple[str | None, frozenset[str]]] = {
    ("assign", "new"): ("open", frozenset({AGENT})),
    ("assign", "open"): (None, frozenset({AGENT})),
    ("assign", "pending_requester"): (None, frozenset({AGENT})),
    ("assign", "pending_expert"): (None, frozenset({AGENT})),
    ("pend_requester", "new"): ("pending_requester", frozenset({AGENT})),
    ("pend_requester", "open"): ("pending_requester", frozenset({AGENT})),
    ("pend_requester", "pending_expert"): ("pending_requester", frozenset({AGENT})),
    ("pend_expert", "new"): ("pending_expert", frozenset({AGENT})),
    ("pend_expert", "open"): ("pending_expert", frozenset({AGENT})),
    ("pend_expert", "pending_requester"): ("pending_expert", frozenset({AGENT})),
    ("solve", "new"): ("solved", frozenset({AGENT})),
    ("solve", "open"): ("solved", frozenset({AGENT})),
    ("solve", "pending_requester"): ("solved", frozenset({AGENT})),
    ("solve", "pending_expert"): ("solved", frozenset({AGENT})),
    ("close", "solved"): ("closed", frozenset({AGENT, REQUESTER, SYSTEM})),
    ("reopen", "solved"): ("open", frozenset({AGENT, REQUESTER})),
    ("reopen", "closed"): ("open", frozenset({AGENT, REQUESTER})),
    # implied by messages: an agent's first public reply, the requester's answer, the expert's answer
    ("respond", "new"): ("open", frozenset({SYSTEM})),
    ("resume", "pending_requester"): ("open", frozenset({SYSTEM})),
    ("resume", "pending_expert"): ("open", frozenset({SYSTEM})),
}
ACTIONS = sorted({a for a, _s in TRANSITIONS if a not in ("respond", "resume")})
assert tuple(ACTIONS) == TICKET_ACTIONS, "the contract's ticket actions are the state machine's"
SLA_TARGETS = ("first_response", "update", "solution")


def calendar(region: str) -> BusinessCalendar:
    return BusinessCalendar.of(REGIONS[region])


def sla_policy(region: str, category: str) -> dict[str, int]:
    return support_desk(region)["sla"][category]


def categories(region: str) -> dict[str, str]:
    return support_desk(region)["categories"]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token_matches(stored: str | None, token: str | None) -> bool:
    return bool(stored and token) and hmac.compare_digest(stored, token_hash(token))


@dataclass(frozen=True)
class Caller:
    kind: str  # agent | requester | expert
    name: str
    actor: Actor | None = None


def is_agent(actor: Actor | None, region: str) -> bool:
    return actor is not None and actor.region == region and bool(actor.roles & AGENT_ROLES)


def caller_for(ticket: Ticket, actor: Actor | None, token: str | None = None,
               expert_token: str | None = None) -> Caller:
    """Who is asking about `ticket`: an agent of its region, its requester (logged in, or holding the
    e-mailed link), or the expert group it was forwarded to (their link). Anyone else: 403."""
    if is_agent(actor, ticket.region):
        return Caller(AGENT, actor.username, actor)
    if actor is not None and actor.region == ticket.region and ticket.requester_subject == actor.subject:
        return Caller(REQUESTER, actor.username, actor)
    if _token_matches(ticket.access_token_hash, token):
        return Caller(REQUESTER, ticket.contact_email or "demandeur")
    if ticket.status == "pending_expert" and _token_matches(ticket.expert_token_hash, expert_token):
        return Caller(EXPERT, f"expert:{ticket.expert_group}")
    raise Forbidden("Vous ne pouvez pas consulter ce ticket",
                    {"ticket_id": "its requester (or the link e-mailed to them) and the region's agents only"})


# ------------------------------------------------------------------ SLA

def refresh_due(ticket: Ticket, now: datetime | None = None) -> None:
    """Recompute the due times from the SLA, the clock pauses and what has happened so far."""
    cal, policy = calendar(ticket.region), sla_policy(ticket.region, ticket.category)
    if ticket.status not in ACTIVE or ticket.paused_since is not None:
        # done, or paused while waiting for the requester: nothing is due (the paused time is added back)
        ticket.first_response_due_at = ticket.update_due_at = ticket.solution_due_at = None
        return
    paused = ticket.paused_minutes or 0
    ticket.first_response_due_at = (cal.add(ticket.created_at, policy["first_response"] + paused)
                                     if ticket.first_responded_at is None else None)
    ticket.update_due_at = (cal.add(ticket.awaiting_agent_since, policy["update"])
                            if ticket.first_responded_at is not None and ticket.awaiting_agent_since else None)
    ticket.solution_due_at = cal.add(ticket.created_at, policy["solution"] + paused)


def _pause(ticket: Ticket, now: datetime) -> None:
    if ticket.paused_since is None:
        ticket.paused_since = now


def _resume(ticket: Ticket, now: datetime) -> None:
    if ticket.paused_since is not None:
        ticket.paused_minutes = (ticket.paused_minutes or 0) + round(
            calendar(ticket.region).minutes_between(ticket.paused_since, now))
        ticket.paused_since = None


def due_view(ticket: Ticket, now: datetime | None = None) -> dict:
    now = now or utcnow()
    soon = timedelta(minutes=support_desk(ticket.region)["due_soon_minutes"])
    dues = {t: getattr(ticket, f"{t}_due_at") for t in SLA_TARGETS}
    overdue = [t for t, d in dues.items() if d is not None and d < now]
    due_soon = [t for t, d in dues.items() if d is not None and now <= d <= now + soon]
    return {
        "first_response_due": _iso(dues["first_response"]),
        "update_due": _iso(dues["update"]),
        "solution_due": _iso(dues["solution"]),
        "sla_paused": ticket.paused_since is not None,
        "overdue": overdue,
        "due_soon": due_soon,
    }


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 with the region's offset (Europe/Paris), as agents read it."""
    from services.anomalies.business_hours import PARIS

    return value.astimezone(PARIS).isoformat() if value else None


# ------------------------------------------------------------------ views

def view(ticket: Ticket, caller: Caller, now: datetime | None = None) -> dict:
    internal_ok = caller.kind in (AGENT, EXPERT)
    messages = [
        {"id": m.id, "author": m.author if (internal_ok or m.author_role != AGENT) else "Support ROR",
         "author_role": m.author_role, "internal": m.internal, "body": m.body, "action": m.action,
         "from_status": m.from_status, "to_status": m.to_status, "at": _iso(m.created_at)}
        for m in ticket.messages if internal_ok or not m.internal
    ]
    body = {
        "id": ticket.id, "region": ticket.region, "category": ticket.category,
        "category_label": categories(ticket.region).get(ticket.category, ticket.category),
        "subject": ticket.subject, "status": ticket.status, "status_label": STATUSES[ticket.status],
        "created_at": _iso(ticket.created_at), "updated_at": _iso(ticket.updated_at),
        "solved_at": _iso(ticket.solved_at), "closed_at": _iso(ticket.closed_at),
        "messages": messages, "etag": etag(ticket),
        **due_view(ticket, now),
    }
    if caller.kind == AGENT:
        body.update({"assignee": ticket.assignee, "requester": ticket.requester_username,
                     "contact_email": ticket.contact_email, "expert_group": ticket.expert_group,
                     "first_responded_at": _iso(ticket.first_responded_at),
                     "allowed_actions": allowed_actions(ticket, AGENT)})
    elif caller.kind == REQUESTER:
        body["allowed_actions"] = allowed_actions(ticket, REQUESTER)
    return body


def summary(ticket: Ticket, now: datetime | None = None) -> dict:
    return {"id": ticket.id, "category": ticket.category, "subject": ticket.subject, "status": ticket.status,
            "assignee": ticket.assignee, "created_at": _iso(ticket.created_at), **due_view(ticket, now)}


def etag(ticket: Ticket) -> str:
    return f'"t{ticket.id}-{ticket.version}"'


def check_version(ticket: Ticket, if_match: str | None) -> None:
    value = (if_match or "").strip().removeprefix("W/").strip('"')
    if value != etag(ticket).strip('"'):
        raise PreconditionFailed("Le ticket a changé depuis votre lecture : relisez-le",
                                 {"If-Match": f"expected {etag(ticket)}"})


def allowed_actions(ticket: Ticket, who: str) -> list[str]:
    return sorted({a for (a, s), (_t, w) in TRANSITIONS.items()
                   if s == ticket.status and who in w and a in ACTIONS and _reopen_ok(ticket, a)})


def _reopen_ok(ticket: Ticket, action: str, now: datetime | None = None) -> bool:
    if action != "reopen":
        return True
    days = support_desk(ticket.region)["reopen_days"]
    return ticket.solved_at is not None and (now or utcnow()) - ticket.solved_at <= timedelta(days=days)


# ------------------------------------------------------------------ writes

def requester_recipients(ticket: Ticket) -> list[dict]:
    if ticket.requester_subject:
        return [{"subject": ticket.requester_subject}]
    return [{"email": ticket.contact_email}] if ticket.contact_email else []


def _event(session: Session, ticket: Ticket, event_type: str, actor_name: str | None, **data) -> None:
    outbox.record(session, Outbox, make_event(
        event_type, ticket.region, actor_name, ticket_id=ticket.id, subject=ticket.subject,
        category=ticket.category, category_label=categories(ticket.region).get(ticket.category),
        status=ticket.status, status_label=STATUSES[ticket.status], **data))


def create(session: Session, region: str, data: dict, actor: Actor | None, public_url: str,
           now: datetime | None = None) -> tuple[Ticket, str | None]:
    """A new ticket in the region's queue; for an anonymous requester, the secret of their link."""
    get_region(region)
    if data["category"] not in categories(region):
        raise InvalidInput("Catégorie inconnue", {"category": f"one of {sorted(categories(region))}"})
    if actor is None and not data.get("contact_email"):
        raise InvalidInput("Une adresse e-mail de contact est obligatoire sans connexion",
                           {"contact_email": "required when not logged in"})
    now = now or utcnow()
    token = secrets.token_urlsafe(32) if actor is None else None
    ticket = Ticket(
        region=region, category=data["category"], subject=data["subject"], status="new",
        requester_subject=actor.subject if actor else None, requester_username=actor.username if actor else None,
        contact_email=data.get("contact_email"), access_token_hash=token_hash(token) if token else None,
        created_at=now, updated_at=now, awaiting_agent_since=now, paused_minutes=0, version=1,
    )
    session.add(ticket)
    session.flush()
    session.add(TicketMessage(ticket_id=ticket.id, author=actor.username if actor else data.get("contact_email"),
                              author_role=REQUESTER, internal=False, body=data["body"], action="create",
                              to_status="new", created_at=now))
    refresh_due(ticket, now)
    access_url = f"{public_url.rstrip('/')}/api/{region}/tickets/{ticket.id}?token={token}" if token else None
    _event(session, ticket, "anomalies.ticket_created", actor.username if actor else None,
           recipients=requester_recipients(ticket), access_url=access_url,
           first_response_due=_iso(ticket.first_response_due_at), solution_due=_iso(ticket.solution_due_at))
    session.flush()
    session.refresh(ticket)
    return ticket, token


def load(session: Session, region: str, ticket_id: int, for_update: bool = False) -> Ticket:
    stmt = select(Ticket).where(Ticket.id == ticket_id, Ticket.region == region)
    if for_update:
        stmt = stmt.with_for_update()
    ticket = session.scalars(stmt).first()
    if ticket is None:
        raise NotFound("Ticket introuvable", {"ticket_id": f"no ticket {ticket_id} in region {region}"})
    return ticket


def _move(session: Session, ticket: Ticket, action: str, who: str, caller_name: str, now: datetime,
          comment: str | None = None) -> str | None:
    """Apply one row of the table; returns the previous status when the status changed."""
    row = TRANSITIONS.get((action, ticket.status))
    if row is None:
        sources = sorted(s for (a, s) in TRANSITIONS if a == action)
        raise Conflict(f"Action « {action} » impossible : le ticket est « {STATUSES[ticket.status]} »",
                       {"status": ticket.status, "action": f"allowed from {sources}"})
    target, allowed = row
    if who not in allowed:
        raise Forbidden("Cette action est réservée aux agents du support de la région", {"action": action})
    if not _reopen_ok(ticket, action, now):
        raise Conflict("Ce ticket ne peut plus être rouvert : ouvrez une nouvelle demande",
                       {"action": f"reopen within {support_desk(ticket.region)['reopen_days']} days of solving"})
    previous = ticket.status
    if target is None or target == previous:
        return None
    if previous == "pending_requester":
        _resume(ticket, now)
    if target == "pending_requester":
        _pause(ticket, now)
    if target == "solved":
        ticket.solved_at = now
    if target == "closed":
        ticket.closed_at = now
    if action == "reopen":
        ticket.closed_at = None
        ticket.awaiting_agent_since = now
    ticket.status = target
    session.add(TicketMessage(ticket_id=ticket.id, author=caller_name, author_role=who, internal=False,
                              body=comment, action=action, from_status=previous, to_status=target,
                              created_at=now))
    return previous


def _changed(session: Session, ticket: Ticket, previous: str | None, action: str, actor_name: str | None,
             comment: str | None, now: datetime) -> None:
    ticket.updated_at = now
    ticket.version = (ticket.version or 0) + 1
    refresh_due(ticket, now)
    if previous is not None:
        _event(session, ticket, "anomalies.ticket_status_changed", actor_name, previous_status=previous,
               previous_status_label=STATUSES[previous], action=action,
               comment=comment, recipients=requester_recipients(ticket))


def transition(session: Session, ticket: Ticket, caller: Caller, action: str, data: dict, public_url: str,
               now: datetime | None = None) -> tuple[Ticket, str | None]:
    """An agent or the requester moves the ticket. Returns the expert link's secret for pend_expert."""
    now = now or utcnow()
    if action not in ACTIONS:
        raise InvalidInput("Action inconnue", {"action": f"one of {ACTIONS}"})
    comment = (data.get("comment") or "").strip() or None
    expert_secret = None
    if action == "assign":
        assignee = data.get("assignee") or (caller.name if caller.kind == AGENT else None)
        if not assignee:
            raise InvalidInput("Agent à affecter manquant", {"assignee": "required"})
    if action == "pend_expert":
        groups = support_desk(ticket.region).get("expert_groups", {})
        group = data.get("expert_group") or (next(iter(groups)) if len(groups) == 1 else None)
        if group not in groups:
            raise InvalidInput("Groupe d'experts inconnu", {"expert_group": f"one of {sorted(groups)}"})
    previous = _move(session, ticket, action, caller.kind, caller.name, now, comment)
    if action == "assign":
        ticket.assignee = assignee
        session.add(TicketMessage(ticket_id=ticket.id, author=caller.name, author_role=caller.kind,
                                  internal=True, body=f"Affecté à {assignee}", action="assign", created_at=now))
        _event(session, ticket, "anomalies.ticket_assigned", caller.name, assignee=assignee,
               recipients=[{"username": assignee}])
    if action == "pend_expert":
        expert_secret = secrets.token_urlsafe(32)
        ticket.expert_group = group
        ticket.expert_token_hash = token_hash(expert_secret)
        group_cfg = groups[group]
        question = "\n\n".join(m.body for m in ticket.messages if not m.internal and m.body)
        _event(session, ticket, "anomalies.ticket_expert_requested", caller.name, expert_group=group,
               expert_group_name=group_cfg["name"], question=question, comment=comment,
               answer_url=f"{public_url.rstrip('/')}/api/{ticket.region}/tickets/{ticket.id}"
                          f"?expert_token={expert_secret}",
               recipients=[{"email": group_cfg["email"]}] if group_cfg.get("email") else [])
    _changed(session, ticket, previous, action, caller.name, comment, now)
    session.flush()
    session.refresh(ticket)
    return ticket, expert_secret


def add_message(session: Session, ticket: Ticket, caller: Caller, body: str, internal: bool,
                now: datetime | None = None) -> Ticket:
    """A public reply or an internal note (agents), the requester's answer, or the expert's answer."""
    now = now or utcnow()
    if internal and caller.kind != AGENT:
        raise Forbidden("Seuls les agents peuvent écrire une note interne", {"internal": "agents only"})
    if ticket.status == "closed":
        raise Conflict("Ce ticket est clos : rouvrez-le ou ouvrez une nouvelle demande", {"status": "closed"})
    previous = None
    action = "message"
    if caller.kind == REQUESTER:
        if ticket.status == "solved":
            previous = _move(session, ticket, "reopen", REQUESTER, caller.name, now)
            action = "reopen"
        elif ticket.status == "pending_requester":
            previous = _move(session, ticket, "resume", SYSTEM, caller.name, now)
            action = "resume"
        ticket.awaiting_agent_since = ticket.awaiting_agent_since or now
    elif caller.kind == EXPERT:
        # the expert's answer goes to the agents, who answer the requester
        internal = True
        previous = _move(session, ticket, "resume", SYSTEM, caller.name, now)
        action = "resume"
        ticket.expert_token_hash = None  # one answer per forwarding
        ticket.awaiting_agent_since = now
        if ticket.assignee:
            _event(session, ticket, "anomalies.ticket_expert_answered", caller.name, body=body,
                   expert_group=ticket.expert_group, recipients=[{"username": ticket.assignee}])
    elif not internal:  # an agent's public reply
        if ticket.status == "new":
            previous = _move(session, ticket, "respond", SYSTEM, caller.name, now)
            action = "respond"
        ticket.first_responded_at = ticket.first_responded_at or now
        ticket.awaiting_agent_since = None
    session.add(TicketMessage(ticket_id=ticket.id, author=caller.name, author_role=caller.kind, internal=internal,
                              body=body, action="message", created_at=now))
    if caller.kind == AGENT and not internal:
        _event(session, ticket, "anomalies.ticket_replied", caller.name, body=body,
               recipients=requester_recipients(ticket))
    _changed(session, ticket, previous, action, caller.name, None, now)
    session.flush()
    session.refresh(ticket)
    return ticket


def list_query(region: str, actor: Actor, status: str | None = None, overdue: bool = False,
               due_soon: bool = False, category: str | None = None, assignee: str | None = None,
               now: datetime | None = None):
    now = now or utcnow()
    stmt = select(Ticket).where(Ticket.region == region)
    if not is_agent(actor, region):
        stmt = stmt.where(Ticket.requester_subject == actor.subject)
    if status:
        stmt = stmt.where(Ticket.status == status)
    if category:
        stmt = stmt.where(Ticket.category == category)
    if assignee:
        stmt = stmt.where(Ticket.assignee == assignee)
    dues = (Ticket.first_response_due_at, Ticket.update_due_at, Ticket.solution_due_at)
    if overdue:
        stmt = stmt.where(or_(*(d < now for d in dues)))
    if due_soon:
        until = now + timedelta(minutes=support_desk(region)["due_soon_minutes"])
        stmt = stmt.where(or_(*(and_(d >= now, d <= until) for d in dues)))
    return stmt.order_by(Ticket.solution_due_at.asc().nulls_last(), Ticket.id)


# ------------------------------------------------------------------ timer: warnings, escalations, auto-close

def sla_sweep(session: Session, region: str, now: datetime | None = None) -> dict:
    """Warn the assignee before a deadline, escalate to the region's leads once it is breached (once
    each per deadline), close tickets solved longer ago than the reopen period."""
    now = now or utcnow()
    desk = support_desk(region)
    soon = now + timedelta(minutes=desk["due_soon_minutes"])
    counts = {"warnings": 0, "escalations": 0, "closed": 0}
    active = session.scalars(select(Ticket).where(Ticket.region == region, Ticket.status.in_(ACTIVE),
                                                  Ticket.paused_since.is_(None))).all()
    for ticket in active:
        for target in SLA_TARGETS:
            due = getattr(ticket, f"{target}_due_at")
            if due is None or due > soon:
                continue
            kind = "escalation" if due < now else "warning"
            if not _notice_once(session, ticket, kind, target, due):
                continue
            label = {"first_response": "première réponse", "update": "mise à jour", "solution": "résolution"}[target]
            if kind == "warning":
                recipients = ([{"username": ticket.assignee}] if ticket.assignee
                              else [{"role": "support_agent", "structure_id": None}])
                _event(session, ticket, "anomalies.ticket_sla_warning", None, target=target, target_label=label,
                       due_at=_iso(due), assignee=ticket.assignee, recipients=recipients)
                counts["warnings"] += 1
            else:
                _event(session, ticket, "anomalies.ticket_sla_breached", None, target=target, target_label=label,
                       due_at=_iso(due), assignee=ticket.assignee,
                       recipients=[{"role": "region_admin", "structure_id": None}])
                counts["escalations"] += 1
    limit = now - timedelta(days=desk["reopen_days"])
    for ticket in session.scalars(select(Ticket).where(Ticket.region == region, Ticket.status == "solved",
                                                       Ticket.solved_at < limit).with_for_update(skip_locked=True)):
        previous = _move(session, ticket, "close", SYSTEM, "système", now,
                         f"Clos automatiquement {desk['reopen_days']} jours après sa résolution")
        _changed(session, ticket, previous, "close", None, None, now)
        counts["closed"] += 1
    session.flush()
    return counts


def _notice_once(session: Session, ticket: Ticket, kind: str, target: str, due: datetime) -> bool:
    """Record the notice; False when it was already sent (two timers racing: the unique key decides)."""
    result = session.execute(pg_insert(SlaNotice.__table__).values(
        ticket_id=ticket.id, kind=kind, target=target, due_at=due, created_at=utcnow()).on_conflict_do_nothing())
    return result.rowcount == 1

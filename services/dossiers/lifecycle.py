"""The dossier collaboratif state machine, declared once: states × actions × who × guard.

draft → finalised (every sheet finalised; editing one returns to draft) → sent ("Envoyer en
validation") → approved (first level: the Directeur of the structure) → validated (second level: the
regional team) → published (applied to the répertoire). `reject` (reason required) at sent or approved
returns to draft; `cancel` while draft or finalised. When applying a validated dossier fails it stays
validated with the error, and `retry` applies it again.

Plain module: `decide` answers which transition an action is, or raises 409 (not from this state, with
the allowed actions), 403 (not for this role) or 400 (guard). Nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.common.errors import Conflict, Forbidden, InvalidInput

# The vocabulary (roles on a dossier, status labels, which states are editable) is the contract's, which
# the gateway's pages read too; re-exported here for operations.
from services.dossiers.contracts import (  # noqa: F401
    CONTRIBUTOR,
    DIRECTEUR,
    EDITABLE,
    EDITOR,
    MANAGERS,
    MEMBERS,
    OPENER,
    STATUS_LABELS,
    VALIDATOR,
)

ROLE_PRIORITY = (VALIDATOR, DIRECTEUR, EDITOR, OPENER, CONTRIBUTOR)

# Guards (evaluated by `decide` on the facts the caller gives).
ALL_SHEETS_FINALISED = "all_sheets_finalised"
REASON_GIVEN = "reason_given"
APPLIED = "applied_to_repertoire"


@dataclass(frozen=True)
class Transition:
    action: str
    source: tuple[str, ...]
    target: str
    roles: frozenset[str]
    guard: str | None = None
    event: str | None = None
    public: bool = True  # False: taken by the service itself (finalise when the last sheet turns green…)


TRANSITIONS: tuple[Transition, ...] = (
    Transition("finalise", ("draft",), "finalised", MEMBERS, ALL_SHEETS_FINALISED, public=False),
    Transition("reopen", ("finalised",), "draft", MEMBERS, public=False),
    Transition("send", ("finalised",), "sent", MEMBERS, ALL_SHEETS_FINALISED, "dossiers.sent"),
    Transition("approve", ("sent",), "approved", frozenset({DIRECTEUR}), None, "dossiers.approved"),
    Transition("reject", ("sent",), "draft", frozenset({DIRECTEUR}), REASON_GIVEN, "dossiers.rejected"),
    Transition("validate", ("approved",), "validated", frozenset({VALIDATOR}), None, "dossiers.validated"),
    Transition("reject", ("approved",), "draft", frozenset({VALIDATOR}), REASON_GIVEN, "dossiers.rejected"),
    Transition("publish", ("validated",), "published", frozenset({VALIDATOR}), APPLIED, "dossiers.published",
               public=False),
    Transition("retry", ("validated",), "validated", frozenset({VALIDATOR})),
    Transition("cancel", ("draft", "finalised"), "cancelled", MANAGERS, None, "dossiers.cancelled"),
)
ACTIONS = tuple(dict.fromkeys(t.action for t in TRANSITIONS if t.public))
# The two validation levels of the table, in order (a region's `validation_chain` must be this one).
VALIDATION_CHAIN = tuple(next(iter(t.roles)) for t in TRANSITIONS if t.action in ("approve", "validate"))
STATES = ("draft", "finalised", "sent", "approved", "validated", "published", "cancelled")


def allowed_actions(state: str, roles: Iterable[str] | None = None) -> list[str]:
    """Public actions possible from `state` (for a caller with `roles`, when given)."""
    wanted = None if roles is None else set(roles)
    return list(dict.fromkeys(t.action for t in TRANSITIONS if t.public and state in t.source
                              and (wanted is None or t.roles & wanted)))


def decide(state: str, action: str, roles: Iterable[str], facts: dict | None = None) -> Transition:
    """The transition `action` takes from `state` for a caller with `roles`, its guard checked on
    `facts` ({guard name: bool})."""
    rows = [t for t in TRANSITIONS if t.action == action]
    if not rows:
        raise InvalidInput("Action inconnue", {"action": f"one of {list(ACTIONS)}"})
    here = [t for t in rows if state in t.source]
    if not here:
        label = STATUS_LABELS.get(state, state)
        raise Conflict(f"Action « {action} » impossible : le dossier est {label}",
                       {"status": state, "allowed_actions": allowed_actions(state)})
    roles = set(roles)
    mine = [t for t in here if t.roles & roles]
    if not mine:
        who = sorted({r for t in here for r in t.roles})
        raise Forbidden(f"Votre habilitation ne permet pas l'action « {action} » sur ce dossier",
                        {"action": f"requires one of {who}"})
    transition = mine[0]
    if transition.guard and not (facts or {}).get(transition.guard):
        if transition.guard == REASON_GIVEN:
            raise InvalidInput("Le motif du refus est obligatoire", {"comment": "Champ obligatoire."})
        if transition.guard == ALL_SHEETS_FINALISED:
            raise Conflict("Toutes les fiches doivent être finalisées (icônes vertes) avant l'envoi",
                           {"status": state, "sheets": "pending sheets remain"})
        raise Conflict("Le dossier n'a pas pu être appliqué au répertoire", {"guard": transition.guard})
    return transition


def acting_role(transition: Transition, roles: Iterable[str]) -> str | None:
    """Which of the caller's roles the transition was taken with (for the audit trail)."""
    roles = set(roles)
    return next((r for r in ROLE_PRIORITY if r in roles and r in transition.roles), None)

"""The draft of an offer (the six steps being described) and what keeps it from being published:
read by the views (owner's checklist) and by the writes (publication).

Plain module, no database access.
"""

from __future__ import annotations

import copy
import json
from datetime import date

from services.common.errors import Conflict, InvalidInput
from services.offers import steps
from services.offers.models import Offer


def draft_of(offer: Offer) -> dict:
    """The draft as a copy the caller may change (writes)."""
    draft = copy.deepcopy(offer.draft or {})
    draft.setdefault("steps", {})
    draft.setdefault("validated", [])
    return draft


def read_draft(offer: Offer) -> dict:
    """The draft to read only (views): no copy."""
    draft = offer.draft or {}
    return {**draft, "steps": draft.get("steps") or {}, "validated": draft.get("validated") or []}


_CHECKLISTS: dict[tuple[date, str], dict[str, str]] = {}  # (day, draft) -> missing_for_publication
_CHECKLISTS_MAX = 5000


def missing_for_publication(offer: Offer) -> dict[str, str]:
    """What keeps the draft from being published, by field (empty when it can be).

    Every owner read shows it, and it re-validates every step: the answer is kept per draft content and
    day (it depends on nothing else: the nomenclature files only change with a deployment, a code's
    validity with the date), so reading an unchanged draft validates nothing again."""
    key = (date.today(), json.dumps(offer.draft or {}, sort_keys=True, default=str))
    found = _CHECKLISTS.get(key)
    if found is None:
        if len(_CHECKLISTS) >= _CHECKLISTS_MAX:
            _CHECKLISTS.clear()
        found = _CHECKLISTS[key] = _check_draft(offer)
    return dict(found)


def _check_draft(offer: Offer) -> dict[str, str]:
    draft = draft_of(offer)
    missing: dict[str, str] = {}
    for step in steps.STEPS:
        if step not in draft["validated"] or step not in draft["steps"]:
            missing[f"steps.{step}"] = f"Étape « {steps.STEP_LABELS[step]} » à valider"
            continue
        try:  # nomenclatures change: a stored step must still be valid (codes kept may stay)
            content = draft["steps"][step]
            steps.validate_step(step, content, previous=content)
        except (InvalidInput, Conflict) as exc:
            for field, message in exc.fields.items():
                missing[f"{step}.{field}"] = _as_text(message)
    contacts = (draft["steps"].get("contacts") or {}).get("contacts") or []
    if "steps.contacts" not in missing and not steps.public_contacts(contacts):
        missing["contacts"] = steps.PUBLIC_CONTACT_REQUIRED
    return missing


def _as_text(message) -> str:
    """marshmallow messages (str, list, nested dict) as one line."""
    if isinstance(message, dict):
        return " ; ".join(f"{key} : {_as_text(value)}" for key, value in message.items())
    if isinstance(message, list | tuple):
        return " ".join(_as_text(m) for m in message)
    return str(message)


def has_unpublished_changes(offer: Offer) -> bool:
    draft_steps = read_draft(offer)["steps"]
    published = offer.published or {}
    return any(draft_steps.get(s) != published.get(s) for s in steps.STEPS if s != "national")

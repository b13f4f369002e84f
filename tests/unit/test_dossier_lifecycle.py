"""The declared dossier state machine (services/dossiers/lifecycle.py), as the issue and DESIGN §3 state it."""

from __future__ import annotations

import pytest

from services.common.errors import Conflict, Forbidden, InvalidInput
from services.dossiers import lifecycle
from services.dossiers.lifecycle import (
    ALL_SHEETS_FINALISED,
    CONTRIBUTOR,
    DIRECTEUR,
    EDITOR,
    REASON_GIVEN,
    VALIDATOR,
    decide,
)

ALL_FACTS = {ALL_SHEETS_FINALISED: True, REASON_GIVEN: True, lifecycle.APPLIED: True}

# (state, action, roles) -> target, for every legal public move
LEGAL = {
    ("finalised", "send", CONTRIBUTOR): "sent",
    ("finalised", "send", EDITOR): "sent",
    ("finalised", "send", DIRECTEUR): "sent",
    ("sent", "approve", DIRECTEUR): "approved",
    ("sent", "reject", DIRECTEUR): "draft",
    ("approved", "validate", VALIDATOR): "validated",
    ("approved", "reject", VALIDATOR): "draft",
    ("validated", "retry", VALIDATOR): "validated",
    ("draft", "cancel", DIRECTEUR): "cancelled",
    ("draft", "cancel", EDITOR): "cancelled",
    ("finalised", "cancel", DIRECTEUR): "cancelled",
    ("finalised", "cancel", EDITOR): "cancelled",
}


@pytest.mark.parametrize("state", lifecycle.STATES)
@pytest.mark.parametrize("action", lifecycle.ACTIONS)
@pytest.mark.parametrize("role", [DIRECTEUR, EDITOR, CONTRIBUTOR, VALIDATOR])
def test_every_state_action_and_role(state, action, role):
    expected = LEGAL.get((state, action, role))
    if expected:
        assert decide(state, action, {role}, ALL_FACTS).target == expected
        return
    with pytest.raises((Conflict, Forbidden)) as caught:
        decide(state, action, {role}, ALL_FACTS)
    if isinstance(caught.value, Conflict):  # not from this state: 409 names the state and what is possible
        assert caught.value.fields == {"status": state, "allowed_actions": lifecycle.allowed_actions(state)}
        assert not any(s == state and a == action for s, a, _ in LEGAL)
    else:  # possible from this state, not for this role: 403
        assert any(s == state and a == action for s, a, _ in LEGAL)


def test_a_rejection_needs_its_reason():
    with pytest.raises(InvalidInput) as caught:
        decide("sent", "reject", {DIRECTEUR}, {REASON_GIVEN: False})
    assert "comment" in caught.value.fields


def test_sending_needs_every_sheet_green():
    with pytest.raises(Conflict):
        decide("finalised", "send", {DIRECTEUR}, {ALL_SHEETS_FINALISED: False})


def test_internal_moves_are_not_public_actions():
    assert set(lifecycle.ACTIONS) == {"send", "approve", "validate", "reject", "cancel", "retry"}
    assert decide("draft", "finalise", {CONTRIBUTOR}, ALL_FACTS).target == "finalised"
    assert decide("finalised", "reopen", {CONTRIBUTOR}).target == "draft"
    assert decide("validated", "publish", {VALIDATOR}, ALL_FACTS).target == "published"
    with pytest.raises(InvalidInput):
        decide("draft", "fly", {DIRECTEUR})


def test_nothing_leaves_published_or_cancelled():
    for state in ("published", "cancelled"):
        assert lifecycle.allowed_actions(state) == []


def test_allowed_actions_for_a_caller():
    assert lifecycle.allowed_actions("sent", {DIRECTEUR}) == ["approve", "reject"]
    assert lifecycle.allowed_actions("sent", {VALIDATOR}) == []
    assert lifecycle.allowed_actions("approved", {VALIDATOR}) == ["validate", "reject"]


def test_every_region_uses_the_validation_chain_of_the_table():
    from services.common.regions import REGIONS

    assert lifecycle.VALIDATION_CHAIN == ("directeur", "regional_validator")
    for region in REGIONS.values():
        assert region.validation_chain == lifecycle.VALIDATION_CHAIN, region.code

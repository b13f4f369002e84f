"""Property-based (hypothesis, stateful): random sequences of actions by random people on one dossier —
sheet saves (valid or not, pending or finalised), units created and removed, « Finaliser les fiches »,
and every transition — checked against the issue's rules restated here as an oracle:

- an action succeeds exactly when the oracle says it is legal (no illegal transition ever succeeds);
- after `published`, the répertoire (offers' tables) equals the sheets the regional team validated.

The dossiers domain (`operations`) and the offers domain (`structure_edits`) run against the test
PostgreSQL, each in its own sessions as the two services would; no broker is needed for this property.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import select

from services.common.actor import Actor
from services.common.db import session_factory
from services.common.errors import RorError
from services.dossiers import operations
from services.dossiers.models import Dossier
from services.offers import structure_edits
from services.offers.models import Offer, Structure
from tests.dossiers_support import CPTS_UNIT_TYPE, EG_CONTACTS, cpts_unit_data, new_cpts

pytestmark = pytest.mark.integration

PEOPLE = ("director", "editor", "contributor", "stranger", "validator", "pdl_validator")
ACTIONS = ("send", "approve", "validate", "reject", "cancel", "retry")


class DirectRepertoire:
    """operations.Repertoire calling the offers domain in its own sessions (one transaction per call)."""

    def __init__(self, factory):
        self.factory = factory

    def snapshot(self, region, structure_id):
        with self.factory() as session:
            return structure_edits.snapshot(session, region, structure_id)

    def check_sheet(self, kind, data, unit_type, finalise):
        if kind == "uo":
            structure_edits.check_unit_type(unit_type)
        return structure_edits.check_sheet(kind, data, unit_type=unit_type, finalise=finalise)

    def apply(self, region, dossier_id, site_id, sheets, actor):
        with self.factory() as session:
            try:
                applied = structure_edits.apply_dossier(session, region, dossier_id, site_id, sheets,
                                                        Actor.from_dict(actor))
                session.commit()
                return applied
            except BaseException:
                session.rollback()
                raise


def legal(state: str, action: str, who: str, comment: bool, all_green: bool) -> bool:
    """The issue's lifecycle, restated independently of lifecycle.TRANSITIONS."""
    members = {"director", "editor", "contributor"}
    if who == "pdl_validator" or who == "stranger":
        return False
    return {
        "send": state == "finalised" and who in members and all_green,
        "approve": state == "sent" and who == "director",
        "reject": comment and ((state == "sent" and who == "director") or (state == "approved" and who == "validator")),
        "validate": state == "approved" and who == "validator",
        "cancel": state in ("draft", "finalised") and who in {"director", "editor"},
        "retry": state == "validated" and who == "validator",
    }[action]


@pytest.mark.usefixtures("db_url")
def test_random_action_sequences_never_break_the_lifecycle(db_url):
    factory = session_factory(db_url)

    class DossierMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.cpts = new_cpts(db_url)
            eg = self.cpts["eg"]
            self.people = {
                "director": Actor("s-dir", "dir", "idf", frozenset({"directeur"}), None,
                                  frozenset({("directeur", eg)})),
                "editor": Actor("s-ed", "ed", "idf", frozenset({"structure_editor"}), None,
                                frozenset({("structure_editor", eg)})),
                "contributor": Actor("s-co", "co", "idf", frozenset({"professional"})),
                "stranger": Actor("s-st", "st", "idf", frozenset({"professional"})),
                "validator": Actor("s-va", "va", "idf", frozenset({"regional_validator"})),
                "pdl_validator": Actor("s-pv", "pv", "pdl", frozenset({"regional_validator"})),
            }
            self.repertoire = DirectRepertoire(factory)
            with factory() as session:
                dossier = operations.open_dossier(session, self.repertoire, "idf", self.people["director"], eg)
                operations.add_collaborator(session, dossier, "co", self.people["director"], operations.etag(dossier))
                session.commit()
                self.dossier_id = dossier.id
            self.state = "draft"
            self.validated_sheets: list[dict] | None = None

        # ---------------------------------------------------------------- helpers
        def _run(self, fn):
            """Run `fn(session, dossier)` on the locked dossier; commit on success. Returns the error."""
            with factory() as session:
                dossier = operations.load_dossier(session, "idf", self.dossier_id, for_update=True)
                try:
                    fn(session, dossier)
                except RorError as exc:
                    session.rollback()
                    return exc
                session.commit()
                return None

        def _dossier(self, session) -> Dossier:
            return operations.load_dossier(session, "idf", self.dossier_id)

        def _sheets(self) -> list[dict]:
            with factory() as session:
                return [operations.sheet_view(s) for s in self._dossier(session).sheets]

        def _all_green(self) -> bool:
            return all(s["status"] == "finalised" for s in self._sheets() if s["action"] != "remove")

        def _status(self) -> str:
            with factory() as session:
                return self._dossier(session).status

        # ---------------------------------------------------------------- rules
        @rule(who=st.sampled_from(PEOPLE), finalise=st.booleans(), valid=st.booleans())
        def save_eg(self, who, finalise, valid):
            sheet = self._sheets()[0]
            data = dict(EG_CONTACTS) if valid else {"phone": "12"}
            err = self._run(lambda s, d: operations.save_sheet(
                s, self.repertoire, d, sheet["id"], data, finalise, self.people[who], operations.etag(d)))
            editable = self.state in ("draft", "finalised") and who in ("director", "editor", "contributor")
            assert (err is None) == (editable and (valid or not finalise)), (who, self.state, err)
            self.state = self._status()

        @rule(who=st.sampled_from(PEOPLE))
        def add_unit(self, who):
            eg_sheet = self._sheets()[0]
            body = {"parent_id": eg_sheet["id"], "kind": "uo", "name": "CPTS UNITE", "unit_type": CPTS_UNIT_TYPE}
            err = self._run(lambda s, d: operations.add_sheet(s, self.repertoire, d, body, self.people[who],
                                                              operations.etag(d)))
            editable = self.state in ("draft", "finalised") and who in ("director", "editor", "contributor")
            assert (err is None) == editable, (who, self.state, err)
            self.state = self._status()
            if err is None:
                assert self.state == "draft"  # a new grey sheet

        @precondition(lambda self: len(self._sheets()) > 1)
        @rule(who=st.sampled_from(PEOPLE), finalise=st.booleans(), valid=st.booleans(), pick=st.integers(1, 5))
        def save_unit(self, who, finalise, valid, pick):
            units = [s for s in self._sheets() if s["kind"] == "uo"]
            sheet = units[pick % len(units)]
            data = cpts_unit_data(f"CPTS UNITE {sheet['id']}") if valid else {"description": {"age_min": -1}}
            err = self._run(lambda s, d: operations.save_sheet(
                s, self.repertoire, d, sheet["id"], data, finalise, self.people[who], operations.etag(d)))
            editable = self.state in ("draft", "finalised") and who in ("director", "editor", "contributor")
            if sheet["action"] == "remove":
                editable = False
            assert (err is None) == (editable and (valid or not finalise)), (who, self.state, err)
            self.state = self._status()

        @precondition(lambda self: len(self._sheets()) > 1)
        @rule(who=st.sampled_from(PEOPLE))
        def remove_unit(self, who):
            sheet = [s for s in self._sheets() if s["kind"] == "uo"][-1]
            err = self._run(lambda s, d: operations.remove_sheet(s, d, sheet["id"], self.people[who],
                                                                 operations.etag(d)))
            editable = self.state in ("draft", "finalised") and who in ("director", "editor", "contributor")
            assert (err is None) == editable, (who, self.state, err)
            self.state = self._status()

        @rule(who=st.sampled_from(PEOPLE))
        def finalise_all(self, who):
            invalid: dict = {}

            def run(s, d):
                invalid.update(operations.finalise_all(s, self.repertoire, d, self.people[who], operations.etag(d)))

            err = self._run(run)
            editable = self.state in ("draft", "finalised") and who in ("director", "editor", "contributor")
            assert (err is None) == editable, (who, self.state, err)
            self.state = self._status()
            if err is None and not invalid:
                assert self.state == "finalised"

        @rule(who=st.sampled_from(PEOPLE), action=st.sampled_from(ACTIONS), comment=st.booleans())
        def act(self, who, action, comment):
            before, all_green = self.state, self._all_green()
            sheets_before = self._sheets()
            err = self._run(lambda s, d: operations.transition(
                s, self.repertoire, d, action, "Motif" if comment else None, self.people[who], operations.etag(d)))
            expected = legal(before, action, who, comment, all_green)
            assert (err is None) == expected, (who, action, before, comment, err)
            self.state = self._status()
            if err is not None:
                assert self.state == before
                return
            targets = {"send": "sent", "approve": "approved", "reject": "draft", "cancel": "cancelled",
                       "validate": "published", "retry": "published"}
            assert self.state == targets[action], (action, self.state)
            if action in ("validate", "retry"):
                self.validated_sheets = copy.deepcopy(sheets_before)

        @rule()
        def move_forward(self):
            """The guide's path, one step at a time (random sequences alone seldom reach publication)."""
            if self.state == "draft":
                for sheet in self._sheets():
                    if sheet["action"] == "remove":
                        continue
                    data = dict(EG_CONTACTS) if sheet["kind"] == "eg" else cpts_unit_data(f"CPTS UNITE {sheet['id']}")
                    self.save_eg(who="director", finalise=True, valid=True) if sheet["kind"] == "eg" else \
                        self._run(lambda s, d, sheet=sheet, data=data: operations.save_sheet(
                            s, self.repertoire, d, sheet["id"], data, True, self.people["director"],
                            operations.etag(d)))
                self.state = self._status()
                assert self.state == "finalised"
                return
            step = {"finalised": ("send", "editor"), "sent": ("approve", "director"),
                    "approved": ("validate", "validator")}.get(self.state)
            if step:
                self.act(who=step[1], action=step[0], comment=False)

        # ---------------------------------------------------------------- invariants
        @invariant()
        def published_repertoire_equals_validated_sheets(self):
            if self.state != "published":
                return
            with factory() as session:
                dossier = self._dossier(session)
                applied = dossier.applied["structures"]
                for sheet in self.validated_sheets:
                    structure_id = applied.get(str(sheet["id"]))
                    row = session.get(Structure, structure_id) if structure_id else None
                    if sheet["action"] == "remove":
                        assert row is not None and not row.active
                        continue
                    assert row is not None and row.active, sheet
                    data = sheet["data"]
                    for field in structure_edits.ADMIN_FIELDS:
                        if field in ("commune_insee",) and not data.get(field):
                            continue
                        assert getattr(row, field) == data.get(field), (field, getattr(row, field), data.get(field))
                    if sheet["kind"] == "uo":
                        offer = session.scalar(select(Offer).where(Offer.unit_id == row.id))
                        assert offer.status == "published" and offer.unit_type == CPTS_UNIT_TYPE
                        for part in ("description", "modalities", "contacts"):
                            assert offer.published[part] == data[part]

    DossierMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=25, deadline=None,
                                                suppress_health_check=[HealthCheck.too_slow])
    DossierMachine.TestCase().runTest()

"""The support desk's plain rules: SLA arithmetic in regional business hours (nights, weekends, French
public holidays), the ticket and anomaly state tables, routing to the registering authority, the rules
engine's periods."""

from datetime import UTC, datetime, timedelta

import pytest

from services.anomalies import reports, rules, tickets
from services.anomalies.business_hours import PARIS, BusinessCalendar
from services.anomalies.models import Ticket
from services.common.regions import REGIONS, support_desk

IDF = BusinessCalendar.of(REGIONS["idf"])
PDL = BusinessCalendar.of(REGIONS["pdl"])


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


# ------------------------------------------------------------------ SLA arithmetic (issue 14, item 8)

def test_idf_friday_evening_with_four_hours_is_due_monday_1130():
    # Friday 27 November 2026, 19:30: 30 minutes left that day, then Monday from 08:00.
    assert IDF.add(paris(2026, 11, 27, 19, 30), 4 * 60) == paris(2026, 11, 30, 11, 30)


def test_easter_monday_is_skipped():
    # Friday 26 March 2027 19:30 + 4 h: Monday 29 March 2027 is Easter Monday -> Tuesday 11:30.
    assert IDF.add(paris(2027, 3, 26, 19, 30), 4 * 60) == paris(2027, 3, 30, 11, 30)


def test_fourteenth_of_july_is_skipped():
    # Tuesday 13 July 2027 19:30 + 4 h: Wednesday 14 July is the Fête nationale -> Thursday 11:30.
    assert IDF.add(paris(2027, 7, 13, 19, 30), 4 * 60) == paris(2027, 7, 15, 11, 30)


def test_pdl_1630_with_one_hour_is_due_next_working_day_0930():
    assert PDL.add(paris(2026, 11, 30, 16, 30), 60) == paris(2026, 12, 1, 9, 30)
    # on a Friday, the next working day is Monday
    assert PDL.add(paris(2026, 11, 27, 16, 30), 60) == paris(2026, 11, 30, 9, 30)


def test_night_start_counts_from_the_next_opening_and_results_are_utc():
    due = IDF.add(paris(2026, 12, 1, 2, 0), 30)
    assert due == paris(2026, 12, 1, 8, 30) and due.tzinfo == UTC


def test_business_minutes_between_skip_nights_weekends_and_holidays():
    assert IDF.minutes_between(paris(2026, 11, 27, 19, 30), paris(2026, 11, 30, 11, 30)) == 240
    assert PDL.minutes_between(paris(2026, 12, 24, 16, 0), paris(2026, 12, 28, 10, 0)) == 120  # 25 Dec
    assert IDF.minutes_between(paris(2026, 12, 1, 10, 0), paris(2026, 12, 1, 9, 0)) == 0


def test_daylight_saving_change_does_not_shift_business_hours():
    # Sunday 29 March 2026 clocks go forward; Friday 17:00 + 4 h in PDL = Monday 13:00 local time.
    assert PDL.add(paris(2026, 3, 27, 17, 0), 240) == paris(2026, 3, 30, 13, 0)


def _ticket(region="idf", category="account_creation", created=None, **kw) -> Ticket:
    created = created or paris(2026, 11, 27, 19, 30)
    return Ticket(region=region, category=category, subject="s", status=kw.pop("status", "new"),
                  created_at=created, awaiting_agent_since=created, paused_minutes=kw.pop("paused_minutes", 0),
                  paused_since=kw.pop("paused_since", None), first_responded_at=kw.pop("first_responded_at", None),
                  **kw)


def test_ticket_due_times_follow_the_category_sla():
    ticket = _ticket()
    tickets.refresh_due(ticket)
    assert support_desk("idf")["sla"]["account_creation"]["first_response"] == 240
    assert ticket.first_response_due_at == paris(2026, 11, 30, 11, 30)
    view = tickets.due_view(ticket, now=paris(2026, 11, 30, 12, 0))
    assert view["first_response_due"] == "2026-11-30T11:30:00+01:00" and "first_response" in view["overdue"]


def test_clock_paused_while_pending_requester_moves_the_deadline():
    ticket = _ticket(status="pending_requester", paused_since=paris(2026, 11, 30, 9, 0))
    tickets.refresh_due(ticket)
    assert ticket.solution_due_at is None and ticket.first_response_due_at is None
    # two business hours waiting for the requester: every deadline moves two business hours later
    tickets._resume(ticket, paris(2026, 11, 30, 11, 0))
    ticket.status = "open"
    assert ticket.paused_minutes == 120
    tickets.refresh_due(ticket)
    assert ticket.first_response_due_at == paris(2026, 11, 30, 13, 30)


def test_update_due_runs_from_the_requesters_last_message_once_answered():
    ticket = _ticket(status="open", first_responded_at=paris(2026, 11, 30, 9, 0))
    ticket.awaiting_agent_since = paris(2026, 11, 30, 19, 0)
    tickets.refresh_due(ticket)
    assert ticket.first_response_due_at is None
    assert ticket.update_due_at == IDF.add(paris(2026, 11, 30, 19, 0), 480) == paris(2026, 12, 1, 15, 0)


# ------------------------------------------------------------------ state tables

def test_ticket_state_table_matches_the_lifecycle():
    targets = {(a, s): t for (a, s), (t, _who) in tickets.TRANSITIONS.items()}
    assert targets[("assign", "new")] == "open"
    assert targets[("pend_requester", "open")] == "pending_requester"
    assert targets[("pend_expert", "open")] == "pending_expert"
    assert targets[("solve", "pending_expert")] == "solved"
    assert targets[("close", "solved")] == "closed"
    assert targets[("reopen", "closed")] == "open"
    assert ("close", "open") not in tickets.TRANSITIONS  # solved first
    assert all(t in tickets.STATUSES for t in targets.values() if t)


def test_requester_may_only_close_or_reopen():
    requester = {a for (a, _s), (_t, who) in tickets.TRANSITIONS.items() if tickets.REQUESTER in who}
    assert requester == {"close", "reopen"}


def test_reopen_only_within_seven_days_of_solving():
    now = datetime.now(UTC)
    recent = _ticket(status="solved", solved_at=now - timedelta(days=6))
    old = _ticket(status="closed", solved_at=now - timedelta(days=8))
    assert "reopen" in tickets.allowed_actions(recent, tickets.REQUESTER)
    assert "reopen" not in tickets.allowed_actions(old, tickets.REQUESTER)


def test_anomaly_state_table():
    assert reports.TRANSITIONS["accept"][:2] == (frozenset({"open"}), "accepted")
    assert reports.TRANSITIONS["reject"][1] == "rejected" and "reject" in reports.COMMENT_REQUIRED
    assert "forwarded" in reports.TRANSITIONS["resolve"][0]
    assert reports.STATUSES["rejected"][:2] == ("09", "Refusé")  # TRE_R352


# ------------------------------------------------------------------ routing

@pytest.mark.parametrize("field,profession,expected", [
    ("address", "50", "Ordre des sages-femmes"),  # a sage-femme's wrong RPPS address
    ("national.address.line", "50", "Ordre des sages-femmes"),
    ("last_name", "70", "Ordre des masseurs-kinésithérapeutes"),
    ("specialty", "10", "Conseil national de l'Ordre des médecins (CNOM)"),
    ("convention_sector", "50", "CPAM (Assurance Maladie d'Île-de-France), conventionnement"),
    ("finess", None, "ARS Île-de-France (FINESS)"),
    ("address", "91", "ARS Île-de-France (FINESS)"),  # orthophoniste: ADELI, no Ordre
])
def test_national_data_goes_to_its_registering_authority(field, profession, expected):
    route = reports.route("idf", "national", field, profession)
    assert route.kind == "authority" and route.name == expected


def test_ror_data_goes_to_the_regions_ror_cell():
    assert reports.route("pdl", "offer", "HealthcareService.telecom") == reports.Route(
        "ror_cell", None, support_desk("pdl")["ror_cell"])
    assert reports.route("pdl", "national", "convention_sector", "70").name.startswith("CPAM (Assurance Maladie des Pays")


# ------------------------------------------------------------------ rules engine periods

def test_rule_periods_follow_the_regions_update_period():
    assert rules.period_of(datetime(2026, 6, 30, tzinfo=UTC), 6) == "2026-P1"
    assert rules.period_of(datetime(2026, 7, 1, tzinfo=UTC), 6) == "2026-P2"
    assert rules.period_of(datetime(2026, 11, 30, tzinfo=UTC), 3) == "2026-P4"


def test_add_and_minutes_between_agree_over_two_years_of_random_starts():
    import random

    rng = random.Random(14)
    for _ in range(2000):
        start = paris(2026, 1, 1) + timedelta(minutes=rng.randrange(0, 2 * 365 * 24 * 60))
        budget = rng.choice((1, 60, 240, 719, 720, 1440, 7200))
        for cal in (IDF, PDL):
            due = cal.add(start, budget)
            assert cal.minutes_between(start, due) == budget
            local = due.astimezone(PARIS)
            assert cal.is_working_day(local.date()) and cal.opens < local.time() <= cal.closes

"""Open or closed now (Europe/Paris) from the weekly schedule, exceptional hours and closures."""

from datetime import UTC, date, datetime, time

from services.offers.search.opening import at, open_now

# The guide's kiné: Monday 14:30–19:00 on appointment, Tuesday morning home visits…
HOURS = {"weekly": [
    {"day": 1, "start": "14:30", "end": "19:00", "kind": "appointment"},
    {"day": 2, "start": "08:30", "end": "13:00", "kind": "home_visit"},
    {"day": 5, "start": "20:00", "end": "24:00", "kind": "walk_in"},
], "exceptional_hours": [], "temporary_closure": []}
MONDAY = date(2026, 11, 30)


def test_weekly_schedule_in_paris_time():
    assert open_now(HOURS, at(MONDAY, time(15, 0))) is True
    assert open_now(HOURS, at(MONDAY, time(14, 29))) is False
    assert open_now(HOURS, at(MONDAY, time(19, 0))) is False  # the end is excluded
    assert open_now(HOURS, at(date(2026, 12, 1), time(9, 0))) is True  # home visits count as open
    assert open_now(HOURS, at(date(2026, 12, 4), time(23, 59))) is True  # until 24:00


def test_utc_moments_are_converted_to_paris_time_winter_and_summer():
    # 13:45 UTC = 14:45 in Paris in winter (UTC+1): open; 13:15 UTC in summer = 15:15 (UTC+2)
    assert open_now(HOURS, datetime(2026, 11, 30, 13, 45, tzinfo=UTC)) is True
    assert open_now(HOURS, datetime(2026, 11, 30, 13, 15, tzinfo=UTC)) is False
    assert open_now(HOURS, datetime(2026, 6, 29, 13, 15, tzinfo=UTC)) is True
    assert open_now(HOURS, datetime(2026, 11, 30, 13, 45)) is True  # naive = UTC


def test_a_temporary_closure_closes():
    hours = {**HOURS, "temporary_closure": [{"start_date": "2026-11-28", "end_date": "2026-12-02"}]}
    assert open_now(hours, at(MONDAY, time(15, 0))) is False
    assert open_now(hours, at(date(2026, 12, 7), time(15, 0))) is True  # over: the week applies again


def test_exceptional_hours_replace_the_week():
    hours = {**HOURS, "exceptional_hours": [{"start_date": "2026-11-30", "end_date": "2026-12-06", "slots": [
        {"day": None, "start": "09:00", "end": "12:00", "kind": "appointment"},
        {"day": 3, "start": "14:00", "end": "16:00", "kind": "walk_in"}]}]}
    assert open_now(hours, at(MONDAY, time(15, 0))) is False  # the usual Monday afternoon is replaced
    assert open_now(hours, at(MONDAY, time(10, 0))) is True  # a slot without a day: every day
    assert open_now(hours, at(date(2026, 12, 2), time(15, 0))) is True  # Wednesday's own slot
    no_slots = {**HOURS, "exceptional_hours": [{"start_date": "2026-11-30", "end_date": "2026-11-30"}]}
    assert open_now(no_slots, at(MONDAY, time(15, 0))) is False


def test_no_hours_is_unknown():
    assert open_now(None) is None
    assert open_now({"weekly": [], "exceptional_hours": [], "temporary_closure": []}) is None

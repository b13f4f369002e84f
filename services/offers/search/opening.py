"""Open or closed at a given moment, from the hours step of a published offer (plain module).

Rules (guide IDF, step 5 "Horaires"): a temporary closure covering the day closes the offer; an
exceptional-hours period covering the day replaces the weekly schedule (its slots without a day apply
every day of the period; no slot that day = closed); otherwise the weekly schedule ("semaine type")
applies. Every kind of slot (sur RDV, sans RDV, visite à domicile) counts as open: the offer is
working. Times are wall-clock times in Europe/Paris; "24:00" ends the day. No hours at all → None
(unknown), which the result lists show as neither open nor closed.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def _minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def _in_slots(slots, weekday: int, minute: int, dated: bool) -> bool:
    for slot in slots or []:
        day = slot.get("day")
        if day is None and not dated:
            continue
        if day is not None and int(day) != weekday:
            continue
        try:
            if _minutes(slot["start"]) <= minute < _minutes(slot["end"]):
                return True
        except (KeyError, ValueError, AttributeError):
            continue
    return False


def _covering(periods, today: date) -> dict | None:
    for period in periods or []:
        try:
            start = date.fromisoformat(str(period["start_date"])[:10])
            end = date.fromisoformat(str(period["end_date"])[:10])
        except (KeyError, ValueError):
            continue
        if start <= today <= end:
            return period
    return None


def local_now(now: datetime | None = None) -> datetime:
    """`now` (aware, any zone; naive = UTC) in Europe/Paris; the current time when None."""
    if now is None:
        return datetime.now(PARIS)
    if now.tzinfo is None:
        now = now.replace(tzinfo=ZoneInfo("UTC"))
    return now.astimezone(PARIS)


def open_now(hours: dict | None, now: datetime | None = None) -> bool | None:
    """True / False at `now` (default: the current time), None when the offer gives no hours."""
    if not hours:
        return None
    weekly = hours.get("weekly") or []
    exceptional = hours.get("exceptional_hours") or []
    closures = hours.get("temporary_closure") or []
    if not (weekly or exceptional or closures):
        return None
    moment = local_now(now)
    today, weekday = moment.date(), moment.isoweekday()
    minute = moment.hour * 60 + moment.minute
    if _covering(closures, today) is not None:
        return False
    period = _covering(exceptional, today)
    if period is not None:
        return _in_slots(period.get("slots"), weekday, minute, dated=True)
    return _in_slots(weekly, weekday, minute, dated=False)


def at(day: date, clock: time) -> datetime:
    """A Europe/Paris moment (for tests and callers that think in local time)."""
    return datetime.combine(day, clock, tzinfo=PARIS)

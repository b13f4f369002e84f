"""SLA arithmetic in a region's business hours (plain module, no nameko).

A clock that only runs Monday–Friday between the region's opening and closing times (IDF 08:00–20:00,
PDL 09:00–17:00, Europe/Paris), never on a French public holiday (the `holidays` package keeps the
calendar, Easter-based holidays included).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from services.common.regions import Region

PARIS = ZoneInfo("Europe/Paris")
MAX_DAYS = 3660  # a calendar with no working day must not loop for ever


@dataclass(frozen=True)
class BusinessCalendar:
    days: frozenset[int]  # ISO weekdays (1 = Monday)
    opens: time
    closes: time
    tz: ZoneInfo = PARIS
    public_holidays: holidays.HolidayBase = field(default_factory=holidays.France, compare=False, hash=False)

    @classmethod
    def of(cls, region: Region) -> BusinessCalendar:
        return cls(frozenset(region.support_days), region.support_open, region.support_close)

    def is_working_day(self, day: date) -> bool:
        return day.isoweekday() in self.days and day not in self.public_holidays

    def _window(self, day: date) -> tuple[datetime, datetime]:
        return (datetime.combine(day, self.opens, tzinfo=self.tz),
                datetime.combine(day, self.closes, tzinfo=self.tz))

    def add(self, start: datetime, minutes: int | float) -> datetime:
        """The instant `minutes` business minutes after `start` (UTC)."""
        remaining = timedelta(minutes=minutes)
        current = start.astimezone(self.tz)
        for _ in range(MAX_DAYS):
            day = current.date()
            if self.is_working_day(day):
                opens, closes = self._window(day)
                current = max(current, opens)
                if current < closes:
                    available = closes - current
                    if remaining <= available:
                        return (current + remaining).astimezone(UTC)
                    remaining -= available
            current = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz)
        raise ValueError("no business hours in the calendar")

    def minutes_between(self, start: datetime, end: datetime) -> float:
        """Business minutes elapsed from `start` to `end` (0 when end <= start)."""
        if end <= start:
            return 0.0
        start, end = start.astimezone(self.tz), end.astimezone(self.tz)
        total = timedelta()
        day = start.date()
        while day <= end.date():
            if self.is_working_day(day):
                opens, closes = self._window(day)
                lo, hi = max(opens, start), min(closes, end)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total.total_seconds() / 60

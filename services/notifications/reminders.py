"""Update reminders (plain module, no nameko): a published offer or a structure not updated for longer
than its region's period (PDL: "a minima 2 fois par an", 6 months) gets one reminder per period,
sent to its owners as the event `notifications.update_reminder_due` (an e-mail of category
`reminder`, which people may refuse)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.common.events import make_event
from services.common.outbox import record
from services.common.regions import get_region, months_before
from services.notifications.models import Outbox, ReminderSent

EVENT = "notifications.update_reminder_due"


def periods_elapsed(last_update: datetime, now: datetime, months: int) -> int:
    """Whole periods of `months` between the last update and now (0: not due yet)."""
    count = 0
    while months_before(now, (count + 1) * months) >= last_update:
        count += 1
    return count


def remind(session: Session, region: str, items: Iterable[dict], now: datetime) -> list[dict]:
    """Record one reminder event per due item and cycle not yet reminded (flushes). Items come from
    offers' `stale_publications`: {kind, id, name, last_updated_at, recipients}."""
    months = get_region(region).update_reminder_months
    events = []
    for item in items:
        last = datetime.fromisoformat(item["last_updated_at"])
        periods = periods_elapsed(last, now, months)
        if periods < 1:
            continue
        event = make_event(EVENT, region, None, kind=item["kind"], target_id=item["id"], name=item["name"],
                           last_updated_at=item["last_updated_at"], period_months=months, periods=periods,
                           departement=item.get("departement"), recipients=item["recipients"],
                           mail_category="reminder")
        inserted = session.execute(pg_insert(ReminderSent).values(
            region=region, kind=item["kind"], target_id=item["id"], cycle=f"{item['last_updated_at']}#{periods}",
            event_id=event["event_id"], created_at=now,
        ).on_conflict_do_nothing(constraint="uq_reminders_cycle")).rowcount
        if inserted:
            record(session, Outbox, event)
            events.append(event)
    session.flush()
    return events


def run(session: Session, region: str, now: datetime, fetch: Callable[[str, int], list[dict]],
        editable: Callable[[list[int]], list[int]]) -> Iterator[int]:
    """Page through offers' stale sheets (`fetch(kind, after_id)`), keep structures someone may edit,
    record the reminders; yields how many each page recorded, flushed: the caller commits after each
    page (a crash resumes where it stopped)."""
    for kind in ("offer", "structure"):
        after = 0
        while True:
            page = fetch(kind, after)
            if not page:
                break
            after = page[-1]["id"]
            if kind == "structure":
                keep = set(editable([item["id"] for item in page]))
                page = [item for item in page if item["id"] in keep]
            yield len(remind(session, region, page, now))

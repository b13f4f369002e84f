"""SLA arithmetic speed: due times computed per second in a region's business hours (holidays included).

    .venv/bin/python tests/bench/bench_sla.py [--count 100000]

Prints deadlines/s for `add` (a ticket's due time) and `minutes_between` (a pause's length)."""

from __future__ import annotations

import argparse
import random
import time
from datetime import datetime, timedelta

from services.anomalies.business_hours import PARIS, BusinessCalendar
from services.common.regions import REGIONS


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100000)
    args = parser.parse_args()
    rng = random.Random(14)
    cal = BusinessCalendar.of(REGIONS["idf"])
    base = datetime(2026, 1, 1, tzinfo=PARIS)
    starts = [base + timedelta(minutes=rng.randrange(0, 2 * 365 * 24 * 60)) for _ in range(args.count)]
    budgets = [rng.choice((60, 120, 240, 480, 1440, 7200)) for _ in range(args.count)]
    t0 = time.perf_counter()
    dues = [cal.add(s, b) for s, b in zip(starts, budgets, strict=True)]
    t1 = time.perf_counter()
    for s, d in zip(starts, dues, strict=True):
        cal.minutes_between(s, d)
    t2 = time.perf_counter()
    print(f"add: {args.count / (t1 - t0):,.0f} due times/s; minutes_between: {args.count / (t2 - t1):,.0f} /s "
          f"({args.count} random starts over 2026-2027, budgets 1 h to 5 days)")


if __name__ == "__main__":
    main()

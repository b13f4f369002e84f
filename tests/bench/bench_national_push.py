"""Publication → national ROR: how long from a kiné's publication (HTTP 200 of POST …/publish) until the
national stand-in has stored her HealthcareService. Prints p50 / p95 / max over N publications sent at a
steady rate, and checks that each arrived exactly once.

Needs a running suite (gateway, offers with ROR_NATIONAL_URL pointing at a stand-in) and that stand-in's
folder (its journal.jsonl has the reception times, on this machine's clock):

    .venv/bin/python tests/bench/bench_national_push.py --publications 500 --rate 5 \\
        --gateway http://127.0.0.1:8000 --db-url postgresql+psycopg2://ror:ror@127.0.0.1:5432/ror \\
        --national-dir var/national
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.helpers import password_token  # noqa: E402
from tests.offers_support import complete_draft, make_offer, subject_of  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--publications", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5.0, help="publications per second")
    parser.add_argument("--gateway", default="http://127.0.0.1:8000")
    parser.add_argument("--db-url", default="postgresql+psycopg2://ror:ror@127.0.0.1:5432/ror")
    parser.add_argument("--national-dir", default="var/national")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the last arrival")
    args = parser.parse_args()

    token = password_token("idf", "kine.demo")["access_token"]
    subject = subject_of(token)
    print(f"creating {args.publications} complete drafts…", flush=True)
    draft = complete_draft()
    offers = [make_offer(args.db_url, owner_subject=subject, draft=draft) for _ in range(args.publications)]
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    published: dict[str, float] = {}
    interval = 1.0 / args.rate
    start = time.monotonic()
    for i, offer_id in enumerate(offers):
        time.sleep(max(0.0, start + i * interval - time.monotonic()))
        resp = http.post(f"{args.gateway}/api/idf/offers/{offer_id}/publish", headers={"If-Match": f'"{offer_id}-1"'},
                         timeout=30)
        if resp.status_code != 200:
            raise SystemExit(f"publication of {offer_id} failed: {resp.status_code} {resp.text[:300]}")
        published[f"idf-{offer_id}"] = time.time()
    sent_for = time.monotonic() - start
    journal = Path(args.national_dir) / "journal.jsonl"
    deadline = time.monotonic() + args.timeout
    arrivals: dict[str, list[float]] = {}
    while time.monotonic() < deadline:
        arrivals = {}
        for line in journal.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if entry["type"] == "HealthcareService" and entry["id"] in published and entry["outcome"] != "invalid":
                arrivals.setdefault(entry["id"], []).append(datetime.fromisoformat(entry["received_at"]).timestamp())
        if len(arrivals) == len(published):
            break
        time.sleep(0.5)
    latencies = [min(times) - published[rid] for rid, times in arrivals.items()]
    twice = sum(1 for times in arrivals.values() if len(times) > 1)
    missing = len(published) - len(arrivals)
    print(f"{len(published)} publications in {sent_for:.1f}s ({len(published) / sent_for:.1f}/s); "
          f"received {len(arrivals)}, missing {missing}, received more than once {twice}")
    if latencies:
        print(f"publication → national stand-in stored: p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
              f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms, "
              f"mean {statistics.mean(latencies) * 1000:.0f} ms")


if __name__ == "__main__":
    main()

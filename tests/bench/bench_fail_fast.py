"""Fail fast, measured: latency of `/me` and of an offers endpoint, offers alive then killed.

Starts its own copy of accounts, offers and the gateway (vhost `<ROR_TEST_VHOST>_bench`, gateway on
port 18099, the test database), as the fault tests do, kills offers (kill -9 of its container) and
prints the figures. Needs Keycloak and the demo users (kine.demo).

    PYTHONPATH=. ROR_TEST_DATABASE_URL=... .venv/bin/python tests/bench/bench_fail_fast.py [--rounds 30]
"""

from __future__ import annotations

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402


def timed(fn) -> tuple[float, int]:
    start = time.perf_counter()
    resp = fn()
    return (time.perf_counter() - start) * 1000, resp.status_code


def summary(label: str, samples: list[tuple[float, int]]) -> None:
    ms = sorted(s[0] for s in samples)
    codes = sorted({s[1] for s in samples})
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    print(f"{label:<58} n={len(ms):<3} median {statistics.median(ms):8.1f} ms  p95 {p95:8.1f} ms  "
          f"max {ms[-1]:8.1f} ms  status {codes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=15.0, help="ROR_RPC_TIMEOUT of the gateway")
    args = parser.parse_args()

    from services.common.db import ensure_database
    from services.common.migrations import upgrade_all
    from tests.faults import PrivateSuite
    from tests.helpers import password_token
    from tests.offers_support import make_offer, subject_of

    db = os.environ.get("ROR_TEST_DATABASE_URL", "postgresql+psycopg2://ror:ror@127.0.0.1:5432/ror_test")
    ensure_database(db)
    upgrade_all(db)
    vhost = os.environ.get("ROR_TEST_VHOST", "ror_test") + "_bench"
    suite = PrivateSuite(db, vhost, "127.0.0.1:18099", services=("accounts", "offers", "gateway"),
                         ROR_RPC_TIMEOUT=str(args.timeout)).start()
    try:
        kine = password_token("idf", "kine.demo")["access_token"]
        offer = make_offer(db, owner_subject=subject_of(kine))

        def me():
            return suite.request("GET", "/api/idf/me", token=kine)

        def get_offer():
            return suite.request("GET", f"/api/idf/offers/{offer}", token=kine)

        for _ in range(5):  # warm up
            me(), get_offer()
        summary("/me, offers alive", [timed(me) for _ in range(args.rounds)])
        summary("GET /offers/{id}, offers alive", [timed(get_offer) for _ in range(args.rounds)])

        suite.stop_service("offers", kill=True)
        pool = eventlet.GreenPool()
        started = time.perf_counter()
        burst = [pool.spawn(timed, get_offer) for _ in range(10)]
        during = [timed(me) for _ in range(args.rounds)]
        first = [gt.wait() for gt in burst]
        summary("/me, offers killed, while 10 offer calls wait", during)
        summary("GET /offers/{id}, offers killed, first calls (breaker closed)", first)
        print(f"{'':<58} burst done after {(time.perf_counter() - started) * 1000:.0f} ms")
        summary("GET /offers/{id}, offers killed, breaker open", [timed(get_offer) for _ in range(args.rounds)])
        summary("/me, offers killed, breaker open", [timed(me) for _ in range(args.rounds)])
    finally:
        suite.stop()


if __name__ == "__main__":
    main()

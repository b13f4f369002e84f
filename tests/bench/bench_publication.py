"""Benchmark of what a publication sets off (issue 8): publication → e-mail in the SMTP sink, → webhook
received by a connected tool, → HealthcareService stored by the national ROR stand-in; p50 / p95 / max
over N publications at a steady rate.

    .venv/bin/python tests/bench/bench_publication.py                   # 500 publications, 5 per second
    .venv/bin/python tests/bench/bench_publication.py --count 100 --rate 10

Runs its own copy of the suite, one process per service as `make up` does (accounts, offers,
notifications and the gateway, on the
vhost and database `ror_bench_notify`, created and migrated; the offers made by an earlier run are left
alone), an SMTP sink (deploy/smtp_server.py), a webhook receiver (tests/webhook_receiver.py) and a national
ROR stand-in (deploy/national_server.py) of its own.
It creates N complete offers owned by the demo kiné, registers a webhook subscription for
`offers.published`, then publishes them through the HTTP API (`POST /api/idf/offers/{id}/publish`, as the
kiné) at a steady rate. The clock starts when the publish answer (200) is received: the publication is
committed. The e-mail is timed by the SMTP sink's file name (UTC, µs), the webhook by the receiver's log,
the national push by the stand-in's journal (received_at).
Everything runs on this machine, so one clock serves all. Target: p95 ≤ 1 s for each.
"""

from __future__ import annotations

import argparse
import email
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from email import policy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DB_URL = "postgresql+psycopg2://ror:ror@127.0.0.1:5432/ror_bench_notify"
VHOST = "ror_bench_notify"
RABBIT_MGMT = os.environ.get("ROR_RABBIT_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:15672")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ the suite (child process)

def serve(args) -> None:
    import eventlet

    eventlet.monkey_patch()
    from nameko.runners import ServiceRunner

    from gateway.service import GatewayService
    from services.accounts.service import AccountsService
    from services.notifications.service import NotificationsService
    from services.offers.service import OffersService

    classes = {cls.name: cls for cls in (AccountsService, OffersService, NotificationsService, GatewayService)}
    config = {"AMQP_URI": args.amqp, "WEB_SERVER_ADDRESS": f"127.0.0.1:{args.gateway_port}",
              "ROR_DATABASE_URL": args.db, "ROR_PUBLIC_URL": f"http://127.0.0.1:{args.gateway_port}",
              "ROR_SMTP_PORT": str(args.smtp_port), "ROR_WEBHOOK_ALLOW_LOOPBACK": "1",
              "ROR_NATIONAL_URL": args.national_url,
              "serializer": "json", "max_workers": 10}
    runner = ServiceRunner(config)
    runner.add_service(classes[args.serve])
    runner.start()
    stop = eventlet.event.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.send(True))
    stop.wait()
    runner.stop()


# ------------------------------------------------------------------ preparation

def prepare(db: str) -> None:
    import requests

    from services.common.db import ensure_database
    from services.common.migrations import upgrade_all

    ensure_database(db)
    upgrade_all(db)
    base = RABBIT_MGMT.rstrip("/")
    requests.put(f"{base}/api/vhosts/{VHOST}", timeout=10).raise_for_status()
    requests.put(f"{base}/api/permissions/{VHOST}/guest", json={"configure": ".*", "write": ".*", "read": ".*"},
                 timeout=10).raise_for_status()


def wait_port(port: int, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{what} did not listen on {port}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def report(name: str, latencies: list[float], expected: int) -> bool:
    if not latencies:
        print(f"{name:<26} nothing arrived (0/{expected})")
        return False
    ms = [x * 1000 for x in latencies]
    p95 = percentile(ms, 95)
    print(f"{name:<26} {len(ms)}/{expected} arrived   p50 {percentile(ms, 50):7.0f} ms   p95 {p95:7.0f} ms   "
          f"max {max(ms):7.0f} ms   mean {statistics.mean(ms):7.0f} ms   {'OK' if p95 <= 1000 else 'ABOVE 1 s'}")
    return p95 <= 1000 and len(ms) == expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--rate", type=float, default=5.0, help="publications per second")
    parser.add_argument("--db", default=DB_URL)
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # a service name: run it (child process)
    parser.add_argument("--amqp", default=f"amqp://guest:guest@127.0.0.1:5672/{VHOST}")
    parser.add_argument("--gateway-port", type=int, default=0)
    parser.add_argument("--smtp-port", type=int, default=0)
    parser.add_argument("--national-url", default="")
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return

    import requests

    from tests.helpers import demo_totp, password_token
    from tests.national_support import NationalStandIn
    from tests.notify_support import Receiver, SmtpSink
    from tests.offers_support import complete_draft, make_offer, subject_of

    prepare(args.db)
    work = Path(tempfile.mkdtemp(prefix="bench-publication-"))
    sink = SmtpSink(free_port(), work / "mail")
    receiver = Receiver(free_port(), work / "hooks.jsonl")
    (work / "national").mkdir()
    national = NationalStandIn(work / "national")
    gateway_port = free_port()
    sink.start()
    receiver.start()
    national.start()
    # One process per service, as `make up` runs them (deploy/services.sh).
    suite = [subprocess.Popen([sys.executable, __file__, "--serve", name, "--amqp", args.amqp, "--db", args.db,
                               "--gateway-port", str(gateway_port), "--smtp-port", str(sink.port),
                               "--national-url", national.url], cwd=ROOT)
             for name in ("accounts", "offers", "notifications", "gateway")]
    try:
        wait_port(gateway_port, "the gateway")
        api = f"http://127.0.0.1:{gateway_port}/api/idf"
        http = requests.Session()
        kine = password_token("idf", "kine.demo")["access_token"]
        admin = password_token("idf", "admin", totp=demo_totp())["access_token"]
        deadline = time.monotonic() + 90
        while True:  # the services start in parallel: wait until notifications answers
            hook = http.post(f"{api}/webhooks", headers={"Authorization": f"Bearer {admin}"}, timeout=30,
                             json={"url": f"{receiver.base}/ok", "events": ["offers.published"],
                                   "description": "bench"})
            if hook.status_code == 201 or time.monotonic() > deadline:
                break
            time.sleep(1)
        hook.raise_for_status()
        subscription = hook.json()
        print(f"webhook subscription {hook.json()['id']} -> {receiver.base}/ok")

        run = datetime.now(UTC).strftime("%H%M%S")
        owner = subject_of(kine)
        print(f"creating {args.count} complete offers…", flush=True)
        offers = {make_offer(args.db, owner_subject=owner, last_name=f"BENCH{run}N{i}", draft=complete_draft()): i
                  for i in range(args.count)}
        etags = {}
        for offer_id in offers:
            etags[offer_id] = http.get(f"{api}/offers/{offer_id}", headers={"Authorization": f"Bearer {kine}"},
                                       timeout=30).headers["ETag"]

        published_at: dict[int, float] = {}
        failures: list[str] = []
        lock = threading.Lock()

        def publish(offer_id: int) -> None:
            session = requests.Session()
            resp = session.post(f"{api}/offers/{offer_id}/publish", timeout=30,
                                headers={"Authorization": f"Bearer {kine}", "If-Match": etags[offer_id]})
            done = time.time()
            with lock:
                if resp.status_code == 200:
                    published_at[offer_id] = done
                else:
                    failures.append(f"{offer_id}: {resp.status_code} {resp.text[:200]}")

        print(f"publishing at {args.rate:g}/s…", flush=True)
        start = time.monotonic()
        threads = []
        for n, offer_id in enumerate(offers):
            delay = start + n / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            thread = threading.Thread(target=publish, args=(offer_id,))
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - start
        print(f"{len(published_at)} publications in {elapsed:.1f} s ({len(published_at) / elapsed:.1f}/s), "
              f"{len(failures)} refused" + (f": {failures[:3]}" if failures else ""))

        by_name = {f"BENCH{run}N{i} ": offer_id for offer_id, i in offers.items()}
        deadline = time.monotonic() + 60
        mails: dict[int, float] = {}
        hooks: dict[int, float] = {}
        pushes: dict[int, float] = {}
        by_resource = {f"idf-{offer_id}": offer_id for offer_id in offers}
        read: set[str] = set()
        while time.monotonic() < deadline:
            for path in (work / "mail").glob("*.eml"):
                if path.name in read:
                    continue
                read.add(path.name)
                subject = str(email.message_from_bytes(path.read_bytes(), policy=policy.default)["Subject"])
                name = next((n for n in by_name if n in subject), None)
                if name and "est publiée" in subject:
                    stamp = datetime.strptime(path.name.split("-", 1)[0], "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
                    mails.setdefault(by_name[name], stamp.timestamp())
            for row in receiver.received("/ok"):
                offer_id = json.loads(row["body"])["data"].get("offer_id")
                if offer_id in offers:
                    hooks.setdefault(offer_id, row["at"])
            for entry in national.journal():
                if entry["type"] == "HealthcareService" and entry["id"] in by_resource \
                        and entry["outcome"] in ("created", "updated"):
                    pushes.setdefault(by_resource[entry["id"]], datetime.fromisoformat(entry["received_at"]).timestamp())
            if all(len(x) >= len(published_at) for x in (mails, hooks, pushes)):
                break
            time.sleep(1)

        print(f"\n{len(published_at)} publications at {args.rate:g}/s (steady), clock from the publish answer:")
        ok_mail = report("publication -> e-mail", [mails[o] - published_at[o] for o in published_at if o in mails],
                         len(published_at))
        ok_hook = report("publication -> webhook", [hooks[o] - published_at[o] for o in published_at if o in hooks],
                         len(published_at))
        ok_push = report("publication -> national", [pushes[o] - published_at[o] for o in published_at if o in pushes],
                         len(published_at))
        etag = http.get(f"{api}/webhooks/{subscription['id']}", headers={"Authorization": f"Bearer {admin}"},
                        timeout=30).headers["ETag"]
        http.patch(f"{api}/webhooks/{subscription['id']}", json={"active": False}, timeout=30,
                   headers={"Authorization": f"Bearer {admin}", "If-Match": etag})  # its receiver goes away
        sys.exit(0 if ok_mail and ok_hook and ok_push else 1)
    finally:
        for proc in suite:
            proc.terminate()
        for proc in suite:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        sink.stop()
        receiver.stop()
        national.stop()


if __name__ == "__main__":
    main()

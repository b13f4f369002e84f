#!/usr/bin/env python3
"""National traffic of 18 regions against the one-machine stack: what a cluster needs.

    .venv/bin/python tests/bench/load_national.py [--duration 60] [--scale 1.0] [--regions 18]

Starts its own copy of the suite as six processes (`nameko run`, one per service and the gateway, as
`make up` does) on the machine's RabbitMQ (own vhost), PostgreSQL (own database, demo data of idf and
pdl loaded into it) and Keycloak (the demo users), so the running demo is left alone. Then it sends, for
`--duration` seconds (bounded; loopback only), an open-model mix of requests at the rates of
`--regions` regions (per region: RATES below, a weekday peak hour of a regional ROR as we estimate
it), spread over the two demo regions, and prints per kind of request: target and achieved throughput,
p50/p95/p99, errors by status; and the share of CPU each component used (services, gateway, RabbitMQ,
PostgreSQL, Keycloak, and this load generator itself).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

# Requests per second of ONE region at its weekday peak (our estimate of a regional ROR: ~25,000
# professionals and structures, connected tools polling, a few hundred people editing at once).
RATES = {
    "login": 0.2,          # Keycloak direct grant (password)
    "offer_read": 4.0,     # GET /offers/{id}, 3/4 anonymous (connected tools, public sheets), 1/4 logged in
    "search": 2.0,         # GET /search (or /communes before search exists)
    "me": 1.0,             # GET /me (every page of the back office)
    "write": 0.3,          # PUT /offers/{id}/steps/{step} with If-Match
    "publish": 0.05,       # POST /offers/{id}/publish
}
SERVICES = {
    "accounts": "services.accounts.service", "offers": "services.offers.service",
    "dossiers": "services.dossiers.service", "anomalies": "services.anomalies.service",
    "notifications": "services.notifications.service", "gateway": "gateway.service:GatewayService",
}
VHOST = "ror_bench_load"
DB_NAME = "ror_bench_load"
PORT = 8090
SEARCHES = [("Mantes-la-Jolie", "kinésithérapie"), ("78200", "rééducation"), ("Nantes", "sage-femme"),
            ("Meulan-en-Yvelines", "suivi prénatal"), ("Versailles", "consultation")]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---- CPU accounting ------------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its reaped children, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / ticks


def pids_matching(pattern: str) -> list[int]:
    done = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return [int(p) for p in done.stdout.split()]


def components(stack: dict[str, subprocess.Popen]) -> dict[str, list[int]]:
    found = {name: [proc.pid] for name, proc in stack.items()}
    found["rabbitmq"] = pids_matching("beam.smp")
    found["postgresql"] = pids_matching("postgres")
    found["keycloak"] = pids_matching("keycloak")
    found["load generator"] = [os.getpid()]
    return found


def snapshot(parts: dict[str, list[int]]) -> dict[str, float]:
    return {name: sum(cpu_seconds(p) for p in pids) for name, pids in parts.items()}


# ---- the stack -----------------------------------------------------------------------------------

def start_stack(work: Path) -> tuple[dict[str, subprocess.Popen], str]:
    from services.common.config import setting
    from services.common.db import ensure_database
    from services.common.migrations import upgrade_all

    mgmt = "http://guest:guest@127.0.0.1:15672"
    requests.delete(f"{mgmt}/api/vhosts/{VHOST}", timeout=10)
    requests.put(f"{mgmt}/api/vhosts/{VHOST}", timeout=10).raise_for_status()
    requests.put(f"{mgmt}/api/permissions/{VHOST}/guest", json={"configure": ".*", "write": ".*", "read": ".*"},
                 timeout=10).raise_for_status()
    base_db = setting("ROR_DATABASE_URL")
    db_url = base_db.rsplit("/", 1)[0] + f"/{DB_NAME}"
    ensure_database(db_url)
    upgrade_all(db_url)
    print(f"loading the demo data of idf and pdl into {DB_NAME} …", flush=True)
    from services.offers import demo

    for region in ("idf", "pdl"):
        demo.load(region, db_url)
    config = work / "bench.yaml"
    config.write_text(yaml.safe_dump({
        "AMQP_URI": f"amqp://guest:guest@127.0.0.1:5672/{VHOST}", "WEB_SERVER_ADDRESS": f"127.0.0.1:{PORT}",
        "ROR_DATABASE_URL": db_url, "ROR_PUBLIC_URL": f"http://127.0.0.1:{PORT}", "serializer": "json",
        "max_workers": 10, "ROR_RPC_TIMEOUT": 15,
    }))
    nameko = Path(sys.executable).parent / "nameko"
    stack = {}
    for name, module in SERVICES.items():
        log = (work / f"{name}.log").open("w")
        stack[name] = subprocess.Popen([str(nameko), "run", "--config", str(config), module], cwd=ROOT,
                                       stdout=log, stderr=subprocess.STDOUT,
                                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{PORT}/health", timeout=5).status_code in (200, 503):
                break
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"the bench stack did not start: see {work}/*.log")
        time.sleep(0.5)
    return stack, db_url


def stop_stack(stack: dict[str, subprocess.Popen]) -> None:
    for proc in stack.values():
        proc.terminate()
    for proc in stack.values():
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    requests.delete(f"http://guest:guest@127.0.0.1:15672/api/vhosts/{VHOST}", timeout=10)


# ---- the traffic ---------------------------------------------------------------------------------

class Traffic:
    def __init__(self, base: str):
        from tests.helpers import password_token

        self.base = base
        self.local = threading.local()
        self.tokens = {r: password_token(r, "kine.demo")["access_token"] for r in ("idf", "pdl")}
        self.offers: dict[str, list[int]] = {}
        self.published: dict[str, list[int]] = {}
        self.search_path = "/search"
        paths = requests.get(f"{base}/openapi.json", timeout=30).json()["paths"]
        if "/api/{region}/search" not in paths:
            self.search_path = None  # before the search capability: communes look-ups instead
        self.locks = defaultdict(threading.Lock)

    def http(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def prepare(self, db_url: str, per_region: int = 20) -> None:
        """kine.demo's ROR account in each region, and `per_region` offers of hers filled and published."""
        from tests.offers_support import KINE_STEPS, make_offer, subject_of

        for region, token in self.tokens.items():
            self.http().post(f"{self.base}/api/{region}/me/ror-account", headers=self.auth(region), timeout=30)
            ids = [make_offer(db_url, owner_subject=subject_of(token), region=region,
                              **({} if region == "idf" else {"commune": "44109", "postal_code": "44000",
                                                             "city": "Nantes"}))
                   for _ in range(per_region)]
            for offer_id in ids:
                etag = self.http().get(f"{self.base}/api/{region}/offers/{offer_id}", headers=self.auth(region),
                                       timeout=30).headers["ETag"]
                for step, body in KINE_STEPS.items():
                    if region == "pdl" and step == "modalities":
                        body = {"reception_modalities": ["05"], "intervention_communes": ["44109"]}
                    resp = self.http().put(f"{self.base}/api/{region}/offers/{offer_id}/steps/{step}", json=body,
                                           headers={**self.auth(region), "If-Match": etag}, timeout=30)
                    if resp.status_code != 200:
                        raise SystemExit(f"preparing offer {offer_id}, step {step}: {resp.status_code} {resp.text}")
                    etag = resp.headers["ETag"]
                resp = self.http().post(f"{self.base}/api/{region}/offers/{offer_id}/publish",
                                        headers={**self.auth(region), "If-Match": etag}, timeout=30)
                resp.raise_for_status()
            self.offers[region] = ids
            self.published[region] = list(ids)

    def auth(self, region: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[region]}"}

    def run(self, kind: str) -> int:
        region = random.choice(("idf", "pdl"))
        http, base = self.http(), f"{self.base}/api/{region}"
        if kind == "login":
            from tests.helpers import KEYCLOAK_URL

            resp = http.post(f"{KEYCLOAK_URL}/realms/ror-{region}/protocol/openid-connect/token", timeout=30,
                             data={"grant_type": "password", "client_id": "ror-gateway", "username": "kine.demo",
                                   "password": os.environ.get("ROR_DEMO_PASSWORD", "RorDemo2026")})
        elif kind == "offer_read":
            headers = self.auth(region) if random.random() < 0.25 else {}
            resp = http.get(f"{base}/offers/{random.choice(self.published[region])}", headers=headers, timeout=30)
        elif kind == "search":
            where, what = random.choice(SEARCHES)
            if self.search_path:
                resp = http.get(f"{base}/search", params={"where": where, "q": what}, timeout=30)
            else:
                resp = http.get(f"{base}/communes", params={"q": where[:6]}, timeout=30)
        elif kind == "me":
            resp = http.get(f"{base}/me", headers=self.auth(region), timeout=30)
        elif kind in ("write", "publish"):
            offer_id = random.choice(self.offers[region])
            with self.locks[offer_id]:  # one editor per offer at a time, as in real life
                etag = http.get(f"{base}/offers/{offer_id}", headers=self.auth(region), timeout=30).headers["ETag"]
                if kind == "write":
                    body = {"age_min": random.randint(0, 18), "age_max": 109, "operational_activities": ["339"],
                            "place_accessibility": "conforme"}
                    resp = http.put(f"{base}/offers/{offer_id}/steps/description", json=body, timeout=30,
                                    headers={**self.auth(region), "If-Match": etag})
                else:
                    resp = http.post(f"{base}/offers/{offer_id}/publish", timeout=30,
                                     headers={**self.auth(region), "If-Match": etag})
        else:
            raise ValueError(kind)
        return resp.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (bounded)")
    parser.add_argument("--regions", type=int, default=18)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every rate")
    parser.add_argument("--threads", type=int, default=96)
    args = parser.parse_args()
    args.duration = min(args.duration, 600.0)

    import tempfile

    work = Path(tempfile.mkdtemp(prefix="ror-load-"))
    stack, db_url = start_stack(work)
    try:
        traffic = Traffic(f"http://127.0.0.1:{PORT}")
        print("preparing offers …", flush=True)
        traffic.prepare(db_url)
        rates = {kind: rate * args.regions * args.scale for kind, rate in RATES.items()}
        total_rate = sum(rates.values())
        kinds, weights = zip(*rates.items(), strict=True)
        latencies: dict[str, list[float]] = defaultdict(list)
        statuses: dict[str, Counter] = defaultdict(Counter)
        late = Counter()

        def one(kind: str, due: float) -> None:
            start = time.perf_counter()
            try:
                status = traffic.run(kind)
            except requests.RequestException as exc:
                status = type(exc).__name__
            # latency from the moment it was due: a saturated stack shows as queueing, not as less load
            latencies[kind].append((time.perf_counter() - due) * 1000)
            statuses[kind][status] += 1
            if start - due > 0.5:
                late[kind] += 1

        parts = components(stack)
        before = snapshot(parts)
        print(f"load: {total_rate:.1f} req/s for {args.duration:.0f} s ({args.regions} regions × scale "
              f"{args.scale}) …", flush=True)
        t0 = time.perf_counter()
        rng = random.Random(1)
        with ThreadPoolExecutor(args.threads) as pool:
            due = t0
            while due - t0 < args.duration:
                due += rng.expovariate(total_rate)  # Poisson arrivals
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(one, rng.choices(kinds, weights)[0], due)
        elapsed = time.perf_counter() - t0
        after = snapshot(parts)
    finally:
        stop_stack(stack)

    print(f"\n{'request':<12} {'target/s':>9} {'done/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'late':>6}"
          "  statuses")
    for kind in kinds:
        values = latencies[kind]
        ok = sum(n for s, n in statuses[kind].items() if isinstance(s, int) and s < 400)
        print(f"{kind:<12} {rates[kind]:>9.1f} {len(values) / elapsed:>8.1f} {percentile(values, .5):>8.0f} "
              f"{percentile(values, .95):>8.0f} {percentile(values, .99):>8.0f} {late[kind]:>6}  "
              f"{dict(statuses[kind])} ({ok} ok)")
    all_values = [v for values in latencies.values() for v in values]
    print(f"{'all':<12} {total_rate:>9.1f} {len(all_values) / elapsed:>8.1f} {percentile(all_values, .5):>8.0f} "
          f"{percentile(all_values, .95):>8.0f} {percentile(all_values, .99):>8.0f}")
    used = {name: after[name] - before[name] for name in parts}
    total_cpu = sum(used.values()) or 1.0
    print(f"\nCPU over {elapsed:.0f} s on {os.cpu_count()} cores "
          f"(busy {total_cpu / elapsed / os.cpu_count():.0%} of the machine):")
    for name, seconds in sorted(used.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<15} {seconds:7.1f} s  {seconds / total_cpu:6.1%}  ({seconds / elapsed:.2f} cores)")
    print(f"median of all latencies {statistics.median(all_values):.0f} ms; logs in {work}")


if __name__ == "__main__":
    main()

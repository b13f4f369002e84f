"""Benchmark of the read path against a bare nameko hop, side by side in one run (issue 7).

    .venv/bin/python tests/bench/bench_read_path.py                       # the `make up` suite on :8000
    .venv/bin/python tests/bench/bench_read_path.py --gateway http://127.0.0.1:8011 \
        --amqp amqp://guest:guest@127.0.0.1:5672/ror_test_read --duration 8

Starts its own bare nameko stack on the suite's broker (an HTTP entrypoint making one RPC to a second
service that answers a ~500-byte JSON document), makes sure the professional's first offer is published
(walks the six steps once if needed), then loads with `wrk` (Debian package, installed by
deploy/bootstrap.sh) at 1 and at 20 concurrent connections:

- the bare hop;
- `GET /api/{region}/offers/{id}` of a published offer, anonymously;
- the same with the owner's token (a professional);
- `GET /api/{region}/me`;
- `GET /api/{region}/communes?q=mantes`;
- `GET /api/{region}/structures?departement=78` (with the professional's token);
- each of those again with `Cache-Control: no-cache`, which skips the gateway's read cache
  (gateway.readcache): the whole path, RPC, query and dump included, on every request.

It prints req/s, p50, p99, the number of failed (non-2xx or socket error) answers and the ratio of req/s to
the bare hop, measured again right before each target (on a shared machine, neighbouring measures compare).
Targets: anonymous offer read ≥ 0.8× the bare hop, authenticated reads ≥ 0.7×, p99 ≤ 4× p50 at 20 clients.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

PAYLOAD = {  # ~500 bytes once serialized, like a small offer summary
    "id": 4242, "name": "Consultation kinésithérapie DUBOIS Julien", "status": "published", "version": 7,
    "etag": "4242-7", "unit_type": {"code": "CONSULT", "label": "Consultation"},
    "published_at": "2026-11-30T12:00:00+00:00", "commune": "Mantes-la-Jolie (78200)", "departement": "78",
    "validated_steps": ["national", "description", "modalities", "contacts", "hours"],
    "has_unpublished_changes": False, "owner_rpps": "10101234564",
    "contacts": [{"channel": "phone", "value": "0203040506", "visibility": "public"}],
    "padding": "x" * 90,
}


# ------------------------------------------------------------------ the bare stack (child process)

def serve_bare(amqp: str, port: int) -> None:
    import eventlet

    eventlet.monkey_patch()
    from nameko.rpc import RpcProxy, rpc
    from nameko.runners import ServiceRunner
    from nameko.web.handlers import http
    from werkzeug.wrappers import Response

    suffix = f"{os.getpid()}"
    backend_name = f"bench_bare_backend_{suffix}"

    class Backend:
        name = backend_name

        @rpc
        def item(self):
            return PAYLOAD

    class Front:
        name = f"bench_bare_front_{suffix}"
        backend = RpcProxy(backend_name)

        @http("GET", "/bare")
        def bare(self, request):
            return Response(json.dumps(self.backend.item(), ensure_ascii=False), mimetype="application/json")

    # Same settings as the gateway and the services (deploy/nameko/*.yaml).
    runner = ServiceRunner({"AMQP_URI": amqp, "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
                            "serializer": "json", "max_workers": 10})
    runner.add_service(Backend)
    runner.add_service(Front)
    runner.start()
    stop = eventlet.event.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.send(True))
    stop.wait()
    runner.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_bare(amqp: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve-bare", "--amqp", amqp, "--bare-port", str(port)],
                            cwd=ROOT)
    url = f"http://127.0.0.1:{port}/bare"
    import requests

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return proc, url
        except requests.RequestException:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise SystemExit(f"the bare stack did not answer on {url}")


# ------------------------------------------------------------------ suite preparation

def token_of(region: str, username: str, patience: float = 180) -> str:
    """A fresh access token; waits (up to `patience` s) while Keycloak restarts."""
    import requests

    from tests.helpers import password_token

    deadline = time.monotonic() + patience
    while True:
        try:
            return password_token(region, username)["access_token"]
        except (requests.RequestException, AssertionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(3)


def published_offer(api: str, token: str) -> int:
    """The professional's first offer, published through the six steps if it is not yet."""
    import requests

    auth = {"Authorization": f"Bearer {token}"}
    requests.post(f"{api}/me/ror-account", headers=auth, timeout=30)  # 201 first time, 409 after
    mine = requests.get(f"{api}/offers", params={"mine": "true"}, headers=auth, timeout=30).json()
    items = mine.get("items") or []
    if not items:
        raise SystemExit(f"the professional has no offer: {mine}")
    for item in items:
        if item["status"] == "published":
            return item["id"]
    offer = items[0]["id"]
    etag = requests.get(f"{api}/offers/{offer}", headers=auth, timeout=30).headers["ETag"]
    steps = [
        ("national", {"acknowledged": True}),
        ("description", {"age_min": 18, "age_max": 109, "operational_activities": ["339"],
                         "place_accessibility": "conforme"}),
        ("modalities", {"reception_modalities": ["05"], "intervention_communes": ["78361", "78354"]}),
        ("contacts", {"contacts": [{"channel": "phone", "value": "0203040506", "visibility": "public"}]}),
        ("hours", {"weekly": [{"day": "monday", "start": "14:30", "end": "19:00", "kind": "appointment"}]}),
    ]
    for step, body in steps:
        resp = requests.put(f"{api}/offers/{offer}/steps/{step}", json=body,
                            headers={**auth, "If-Match": etag}, timeout=30)
        if resp.status_code != 200:
            raise SystemExit(f"step {step}: {resp.status_code} {resp.text}")
        etag = resp.headers["ETag"]
    resp = requests.post(f"{api}/offers/{offer}/publish", headers={**auth, "If-Match": etag}, timeout=30)
    if resp.status_code != 200:
        raise SystemExit(f"publish: {resp.status_code} {resp.text}")
    return offer


# ------------------------------------------------------------------ load

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * _UNITS[unit]


def run_wrk(url: str, connections: int, duration: int, token: str | None, no_cache: bool = False) -> dict:
    cmd = ["wrk", f"-t{min(connections, 2)}", f"-c{connections}", f"-d{duration}s", "--latency",
           "--timeout", "30s"]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    if no_cache:
        cmd += ["-H", "Cache-Control: no-cache"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = (int(bad.group(1)) if bad else 0) + (sum(map(int, errors.groups())) if errors else 0)
    return {"rps": rps, "p50": p50, "p99": p99, "requests": total, "failed": failed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gateway", default="http://127.0.0.1:8000")
    parser.add_argument("--amqp", default=os.environ.get("ROR_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"),
                        help="the suite's broker (the bare stack runs there too)")
    parser.add_argument("--region", default="idf")
    parser.add_argument("--user", default="kine.demo", help="a professional of the region's realm")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measure")
    parser.add_argument("--clients", default="1,20")
    parser.add_argument("--cached-only", action="store_true", help="skip the [no-cache] rows")
    parser.add_argument("--no-cache-only", action="store_true", help="only the [no-cache] rows")
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bare-port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.amqp, args.bare_port)
        return
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: run deploy/bootstrap.sh (Debian package wrk)")

    api = f"{args.gateway.rstrip('/')}/api/{args.region}"
    token = token_of(args.region, args.user)
    offer = published_offer(api, token)
    bare, bare_url = start_bare(args.amqp)
    try:
        reads = [
            (f"GET offers/{offer} anonymous", f"{api}/offers/{offer}", None),
            (f"GET offers/{offer} owner's token", f"{api}/offers/{offer}", token),
            ("GET me", f"{api}/me", token),
            ("GET communes?q=mantes", f"{api}/communes?q=mantes", None),
            ("GET structures?departement=78", f"{api}/structures?departement=78", token),
        ]
        # each read as served (gateway.readcache), then with `Cache-Control: no-cache`: the whole path
        targets = [("bare hop (HTTP → 1 RPC → 500 B)", bare_url, None, False)]
        if not args.no_cache_only:
            targets += [(label, url, tok, False) for label, url, tok in reads]
        if not args.cached_only:
            targets += [(f"{label} [no-cache]", url, tok, True) for label, url, tok in reads]
        clients = [int(c) for c in args.clients.split(",")]
        print(f"gateway {args.gateway}, region {args.region}, {args.duration} s per measure, wrk keep-alive; "
              "the bare hop is measured again right before each target (the machine is shared: the ratio "
              "compares two neighbouring measures)")
        print(f"{'target':48} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'p99/p50':>7} "
              f"{'failed':>6} {'bare/s':>7} {'× bare':>6}")
        for c in clients:
            for label, url, tok, no_cache in targets:
                if tok:  # a fresh token per measure: the access token lives a few minutes only
                    tok = token_of(args.region, args.user)
                run_wrk(bare_url, c, 1, None)  # warm-up
                bare_r = run_wrk(bare_url, c, args.duration, None)
                run_wrk(url, c, 1, tok, no_cache)  # warm-up (connections, caches, worker pools)
                r = bare_r if url == bare_url else run_wrk(url, c, args.duration, tok, no_cache)
                ratio = r["rps"] / bare_r["rps"] if bare_r["rps"] else 0
                print(f"{label:48} {c:>7} {r['rps']:>8.0f} {r['p50']:>8.1f} {r['p99']:>8.1f} "
                      f"{r['p99'] / r['p50']:>7.1f} {r['failed']:>6} {bare_r['rps']:>7.0f} {ratio:>6.2f}",
                      flush=True)
    finally:
        bare.send_signal(signal.SIGTERM)
        try:
            bare.wait(20)
        except subprocess.TimeoutExpired:
            bare.kill()


if __name__ == "__main__":
    main()

"""Per-process health for orchestrators (Kubernetes probes), without opening a port per service.

Each service process writes, every `interval` seconds, a small JSON file saying whether its database
and its broker answer. `ror probe` reads it: liveness = the file is fresh (the process and its event
loop are alive); readiness = fresh and every check ok. The RPC `health` of the gateway's /health says
whether *some* replica of a service works; this says whether *this* pod does.

Enabled by `ROR_HEARTBEAT_FILE` (set in deploy/k8s; unset in the dev run, where nothing reads it);
"{service}" in it is replaced by the service name.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import eventlet
from kombu import Connection
from nameko.extensions import DependencyProvider

from services.common.db import database_url, ping

log = logging.getLogger(__name__)


def check(amqp_uri: str, db_url: str | None) -> dict:
    """{"database": "ok"|error, "broker": "ok"|error}; a service without a database omits it."""
    checks = {}
    if db_url:
        try:
            ping(db_url)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"{type(exc).__name__}: {exc}"[:200]
    try:
        with Connection(amqp_uri, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"{type(exc).__name__}: {exc}"[:200]
    return checks


def write(path: Path, service: str, checks: dict) -> None:
    record = {"service": service, "at": time.time(), "checks": checks,
              "ready": all(v == "ok" for v in checks.values())}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)  # the probe never reads half a file


def probe(path: Path, max_age: float, ready: bool) -> tuple[bool, str]:
    """(healthy, why) for the file at `path`: fresh for liveness, fresh and all ok for readiness."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return False, f"no heartbeat: {exc}"
    age = time.time() - float(record.get("at", 0))
    if age > max_age:
        return False, f"heartbeat {age:.0f}s old (max {max_age:.0f}s)"
    if ready and not record.get("ready"):
        return False, f"not ready: {record.get('checks')}"
    return True, f"ok ({record.get('service')}, {age:.0f}s ago)"


class Heartbeat(DependencyProvider):
    def __init__(self, interval: float = 10.0, database: bool = True):
        self.interval = interval
        self.database = database
        self._gt = None

    def setup(self):
        config = self.container.config
        path = config.get("ROR_HEARTBEAT_FILE") or os.environ.get("ROR_HEARTBEAT_FILE")
        # "{service}" lets several services share one config (the in-process test suite)
        self.path = path.replace("{service}", self.container.service_name) if path else None
        self.db_url = database_url(config) if self.database else None

    def start(self):
        if self.path:
            self._gt = self.container.spawn_managed_thread(self._loop)

    def stop(self):
        if self._gt is not None:
            self._gt.kill()

    def _loop(self):
        path = Path(self.path)
        while True:
            try:
                checks = check(self.container.config["AMQP_URI"], self.db_url)  # green I/O: cooperates
                write(path, self.container.service_name, checks)
            except Exception:  # a managed thread that raises kills the container
                log.exception("heartbeat failed")
            eventlet.sleep(self.interval)

    def get_dependency(self, worker_ctx):
        return None

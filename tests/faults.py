"""The suite as separate processes: each service runs in a process of its own (`nameko run`, as `make up`
runs them). Fault tests and the fail-fast benchmark use a private copy (own RabbitMQ vhost and gateway
port, the test database) whose services they stop, kill and start again without disturbing the
session's suite: a killed service is a dead process, and the faults do not depend on how busy the test
process is. The browser tests (tests/e2e) run the whole suite this way, from a pytest process without
eventlet (Playwright's sync driver does not run under its monkey patching)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import requests
import yaml
from kombu import Connection

RABBIT_MGMT = "http://guest:guest@127.0.0.1:15672"
ROOT = Path(__file__).resolve().parent.parent


def ensure_vhost(vhost: str) -> None:
    for attempt in range(10):  # the management listener is sometimes slow to answer on a busy machine
        try:
            requests.put(f"{RABBIT_MGMT}/api/vhosts/{quote(vhost, safe='')}", timeout=10).raise_for_status()
            requests.put(f"{RABBIT_MGMT}/api/permissions/{quote(vhost, safe='')}/guest",
                         json={"configure": ".*", "write": ".*", "read": ".*"}, timeout=10).raise_for_status()
            return
        except requests.RequestException:
            if attempt == 9:
                raise
            time.sleep(2)


def amqp_uri(vhost: str) -> str:
    return f"amqp://guest:guest@127.0.0.1:5672/{quote(vhost, safe='')}"


def queue_depth(vhost: str, queue: str) -> int:
    """Messages ready in `queue` (AMQP passive declare)."""
    with Connection(amqp_uri(vhost)) as conn:
        return conn.default_channel.queue_declare(queue, passive=True).message_count


def _reap(process: subprocess.Popen, timeout: float = 30) -> None:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# name -> the `nameko run` target (deploy/services.sh names the same modules)
SERVICES = {
    "accounts": "services.accounts.service",
    "offers": "services.offers.service",
    "dossiers": "services.dossiers.service",
    "anomalies": "services.anomalies.service",
    "notifications": "services.notifications.service",
    "gateway": "gateway.service:GatewayService",
}


class PrivateSuite:
    """`services` (all six by default) on `vhost`, the gateway on `address`, one process each. `settings`
    are added to the nameko config (tests/conftest.py `suite_config` gives the session suite's);
    the services' logs go to `log_dir` (a temporary folder by default)."""

    def __init__(self, db_url: str, vhost: str, address: str, services=tuple(SERVICES),
                 log_dir: Path | None = None, **settings):
        unknown = set(services) - set(SERVICES)
        assert not unknown and "gateway" in services, f"unknown services {unknown} or no gateway"
        ensure_vhost(vhost)
        self.vhost = vhost
        self.services = tuple(services)
        self.base = f"http://{address}"
        self.config = {
            "AMQP_URI": amqp_uri(vhost),
            "WEB_SERVER_ADDRESS": address, "ROR_DATABASE_URL": db_url, "ROR_PUBLIC_URL": self.base,
            "serializer": "json", "max_workers": 10, "ROR_RATE_LIMIT_FACTOR": "100", "ROR_RPC_CONCURRENCY": "4",
            **settings,
            "LOGGING": {"version": 1, "disable_existing_loggers": False,
                        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
                        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                                "formatter": "plain"}},
                        "root": {"level": "INFO", "handlers": ["stderr"]}},
        }
        if log_dir is None:
            self.dir = Path(tempfile.mkdtemp(prefix=f"suite-{vhost}-"))
        else:
            self.dir = Path(log_dir)
            self.dir.mkdir(parents=True, exist_ok=True)
        self.config_file = self.dir / "config.yaml"
        self.config_file.write_text(yaml.safe_dump(self.config))
        self.processes: dict[str, subprocess.Popen] = {}

    def log_of(self, name: str) -> Path:
        return self.dir / f"{name}.log"

    def start(self) -> PrivateSuite:
        try:
            for name in self.services:
                self.start_service(name)
            self._wait_for_gateway()
            for name in self.services:
                if name != "gateway":
                    self.wait_healthy(name, timeout=60)
        except BaseException:
            self.stop()  # no half-started suite left behind
            raise
        return self

    def start_service(self, name: str) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        with open(self.log_of(name), "ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "nameko", "run", "--config", str(self.config_file), SERVICES[name]],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    def stop_service(self, name: str, kill: bool = False) -> None:
        """Graceful stop (SIGTERM: nameko finishes its workers) or a crash (SIGKILL)."""
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        _reap(process)

    def stop(self) -> None:
        """All of them at once (each nameko process takes seconds to finish its workers)."""
        processes, self.processes = self.processes, {}
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            _reap(process)

    def _wait_for_gateway(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.processes["gateway"].poll() is not None:
                raise AssertionError(f"the private gateway exited; see {self.log_of('gateway')}")
            try:
                requests.get(self.base + "/health", timeout=5)
                return
            except requests.RequestException:
                time.sleep(0.3)
        raise AssertionError(f"private gateway not listening after {timeout}s; see {self.log_of('gateway')}")

    def request(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {}) or {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.base + path, headers=headers, timeout=60, **kwargs)

    def wait_healthy(self, name: str, timeout: float = 30) -> None:
        """Until the gateway reaches `name` (its breaker probes it again after its cool-down)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            health = self.request("GET", "/health").json()
            if health["components"].get(name, {}).get("status") == "ok":
                return
            time.sleep(0.3)
        raise AssertionError(f"{name} not healthy after {timeout}s; see {self.log_of(name)}")

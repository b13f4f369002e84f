"""A private copy of the suite (own RabbitMQ vhost and gateway port, the test database) whose services
a test may stop and start again without disturbing the session's suite: fault tests and the
fail-fast benchmark use it."""

from __future__ import annotations

import time
from urllib.parse import quote

import requests
from kombu import Connection
from nameko.containers import ServiceContainer
from nameko.runners import ServiceRunner

RABBIT_MGMT = "http://guest:guest@127.0.0.1:15672"


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


class PrivateSuite:
    """accounts, offers and the gateway on `vhost`, the gateway on `address`."""

    def __init__(self, db_url: str, vhost: str, address: str, **settings):
        from gateway.service import GatewayService
        from services.accounts.service import AccountsService
        from services.offers.service import OffersService

        ensure_vhost(vhost)
        self.vhost = vhost
        self.base = f"http://{address}"
        self.config = {
            "AMQP_URI": amqp_uri(vhost),
            "WEB_SERVER_ADDRESS": address, "ROR_DATABASE_URL": db_url, "ROR_PUBLIC_URL": self.base,
            "serializer": "json", "max_workers": 10, "ROR_RATE_LIMIT_FACTOR": "100", "ROR_RPC_CONCURRENCY": "4",
            **settings,
        }
        self.classes = {"accounts": AccountsService, "offers": OffersService, "gateway": GatewayService}
        self.runner = ServiceRunner(self.config)
        for cls in self.classes.values():
            self.runner.add_service(cls)
        self.extra: dict[str, ServiceContainer] = {}

    def start(self) -> PrivateSuite:
        self.runner.start()
        return self

    def container(self, name: str) -> ServiceContainer:
        return self.extra.get(name) or self.runner.service_map[name]

    def stop_service(self, name: str, kill: bool = False) -> None:
        container = self.container(name)
        container.kill() if kill else container.stop()

    def start_service(self, name: str) -> None:
        container = ServiceContainer(self.classes[name], self.config)
        container.start()
        self.extra[name] = container

    def stop(self) -> None:
        for container in [*self.extra.values(), *self.runner.containers]:
            if not container._died.ready():
                container.kill()

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
        raise AssertionError(f"{name} not healthy after {timeout}s")

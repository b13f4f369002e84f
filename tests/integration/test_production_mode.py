"""Production mode runs the same code: the five services and the gateway started with
`ROR_QUEUE_TYPE=quorum` (what deploy/k8s sets for the RabbitMQ cluster) on their own vhost of the local
broker — quorum queues work on one node — and a kiné fills the six steps and publishes there."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests
from kombu import Connection, Exchange, Queue
from sqlalchemy.engine import make_url

from services.common.db import ensure_database
from services.common.migrations import upgrade_all
from tests.conftest import GATEWAY_ADDRESS, RABBIT_MGMT, TEST_VHOST, Api
from tests.offers_support import KINE_STEPS, make_offer, subject_of

pytestmark = pytest.mark.integration

VHOST = f"{TEST_VHOST}_quorum"  # per run: parallel runs must not delete each other's vhost
SERVICES = ("accounts", "offers", "dossiers", "anomalies", "notifications", "gateway")


def heartbeats(factory):
    (factory.getbasetemp() / "heartbeats").mkdir(exist_ok=True)
    return factory.getbasetemp() / "heartbeats"
AMQP = f"amqp://guest:guest@127.0.0.1:5672/{VHOST}"


def _mgmt(method: str, path: str, **kw) -> requests.Response:
    return requests.request(method, RABBIT_MGMT.rstrip("/") + path, timeout=10, **kw)


@pytest.fixture(scope="module")
def quorum_db(db_url):
    """Its own database: two suites relaying one outbox would race for its events."""
    url = make_url(db_url)
    url = url.set(database=f"{url.database}_quorum").render_as_string(hide_password=False)
    ensure_database(url)
    upgrade_all(url)
    return url


@pytest.fixture(scope="module")
def quorum_api(suite_config, quorum_db, tmp_path_factory):
    """A second copy of the suite in production queue mode, on a vhost created empty for it."""
    from nameko.runners import ServiceRunner

    from gateway.service import GatewayService
    from services.accounts.service import AccountsService
    from services.anomalies.service import AnomaliesService
    from services.dossiers.service import DossiersService
    from services.notifications.service import NotificationsService
    from services.offers.service import OffersService

    _mgmt("DELETE", f"/api/vhosts/{VHOST}")
    _mgmt("PUT", f"/api/vhosts/{VHOST}").raise_for_status()
    _mgmt("PUT", f"/api/permissions/{VHOST}/guest",
          json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    host, port = GATEWAY_ADDRESS.rsplit(":", 1)
    address = f"{host}:{int(port) + 100}"
    config = {**suite_config, "AMQP_URI": AMQP, "ROR_DATABASE_URL": quorum_db,
              "WEB_SERVER_ADDRESS": address, "ROR_PUBLIC_URL": f"http://{address}", "ROR_QUEUE_TYPE": "quorum",
              "ROR_HEARTBEAT_FILE": str(heartbeats(tmp_path_factory) / "{service}.json")}
    runner = ServiceRunner(config)
    for cls in (AccountsService, OffersService, DossiersService, AnomaliesService, NotificationsService,
                GatewayService):
        runner.add_service(cls)
    runner.start()
    try:
        yield Api(f"http://{address}")
    finally:
        runner.stop()
        _mgmt("DELETE", f"/api/vhosts/{VHOST}")


def test_every_service_queue_is_a_quorum_queue(quorum_api):
    queues = _mgmt("GET", f"/api/queues/{quote(VHOST, safe='')}").json()
    # broadcast queues (one per gateway instance, e.g. its habilitation cache's) are exclusive: classic
    service_queues = {q["name"]: q for q in queues
                      if q["name"].startswith(("rpc-", "evt-")) and not q.get("exclusive")}
    assert {"rpc-accounts", "rpc-offers", "rpc-dossiers", "rpc-anomalies", "rpc-notifications"} <= set(
        service_queues)
    classic = {name: q["type"] for name, q in service_queues.items() if q["type"] != "quorum"}
    assert classic == {}, f"durable service queues must be quorum in production mode: {classic}"


def test_a_kine_publishes_her_offer_in_production_mode(quorum_api, tokens, quorum_db):
    """Publication goes through a quorum queue: a listener bound like a connected tool's receives it."""
    exchange = Exchange("offers.events", type="topic", durable=True)
    listener = Queue("test-quorum-offers-published", exchange=exchange, routing_key="offers.published",
                     durable=True, queue_arguments={"x-queue-type": "quorum"})
    with Connection(AMQP) as conn:
        listener(conn.default_channel).declare()
        kine = tokens("idf", "kine.demo")
        offer_id = make_offer(quorum_db, owner_subject=subject_of(kine))
        resp = quorum_api.get(f"/api/idf/offers/{offer_id}", token=kine)
        assert resp.status_code == 200, resp.text
        etag = resp.headers["ETag"]
        for step, body in KINE_STEPS.items():
            resp = quorum_api.put(f"/api/idf/offers/{offer_id}/steps/{step}", token=kine, json=body,
                                  headers={"If-Match": etag})
            assert resp.status_code == 200, (step, resp.text)
            etag = resp.headers["ETag"]
        resp = quorum_api.post(f"/api/idf/offers/{offer_id}/publish", token=kine, headers={"If-Match": etag})
        assert resp.status_code == 200, resp.text
        assert quorum_api.get(f"/api/idf/offers/{offer_id}").json()["published"]["description"]["age_min"] == 18

        received = []
        with conn.Consumer(listener, callbacks=[lambda body, msg: (received.append(body), msg.ack())],
                           accept=["json"]):
            while not any(e.get("offer_id") == offer_id for e in received):
                conn.drain_events(timeout=10)  # socket.timeout fails the test: the event never came
    assert [e["event_type"] for e in received if e.get("offer_id") == offer_id] == ["offers.published"]


def test_each_process_passes_its_kubernetes_probes(quorum_api, tmp_path_factory):
    """The probes deploy/k8s runs in every pod: `ror probe` (liveness) and `ror probe --ready`."""
    import time

    from click.testing import CliRunner

    from services.common.cli import main

    folder = heartbeats(tmp_path_factory)
    deadline = time.monotonic() + 15
    while not all((folder / f"{name}.json").exists() for name in SERVICES):
        assert time.monotonic() < deadline, sorted(p.name for p in folder.glob("*.json"))
        time.sleep(0.2)
    for name in SERVICES:
        result = CliRunner().invoke(main, ["probe", "--file", str(folder / f"{name}.json"), "--ready"])
        assert result.exit_code == 0, (name, result.output)

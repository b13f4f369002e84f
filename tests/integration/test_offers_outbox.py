"""No publication is lost when RabbitMQ is down at commit time (DESIGN §2, transactional outbox).

The outage is played on a RabbitMQ node of the test's own (`private_broker`, tests/brokers.py), never on
the shared broker that a running `make up` suite and the other tests use. The offers service runs on that
node over a database of its own (so that the session's suite, whose relay reads the test database, cannot
publish the event in its place). The publication is made the way the offers service makes it — the
domain function in a transaction — while the node's broker is stopped: the commit succeeds with its
outbox row; the service's relay cannot deliver it yet; once the broker is back, the relay delivers it, a
consumer sees it exactly once, and the service answers RPCs again (nameko reconnects)."""

from __future__ import annotations

import time

import pytest
from nameko.containers import ServiceContainer
from nameko.events import event_handler
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import select

from services.common.actor import Actor
from services.common.db import session_scope
from services.offers import access, lifecycle
from services.offers.models import Outbox
from services.offers.service import OffersService
from tests.conftest import TEST_DB_URL
from tests.offers_support import complete_draft, fresh_rpps, make_offer

pytestmark = [pytest.mark.integration]

RECEIVED: list[dict] = []


class PublishedProbe:
    """A consumer of offers.published, as the notifications service or a connected tool would be."""

    name = "offers_published_probe"

    @event_handler("offers", "offers.published")
    def handle(self, event):
        RECEIVED.append(event)


def wait_for(predicate, timeout: float, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def outbox_rows(db_url: str, offer_id: int) -> list[Outbox]:
    with session_scope(db_url) as session:
        rows = [r for r in session.scalars(select(Outbox).where(Outbox.event_type == "offers.published"))
                if r.payload.get("offer_id") == offer_id]
        for row in rows:
            session.expunge(row)
        return rows


@pytest.fixture(scope="module")
def outage_db_url():
    """A database of this module's own, migrated like the test database."""
    from services.common.db import ensure_database
    from services.common.migrations import upgrade_all

    url = f"{TEST_DB_URL}_outage"
    ensure_database(url)
    upgrade_all(url)
    return url


@pytest.fixture
def offers_on_private_broker(private_broker, outage_db_url):
    config = {"AMQP_URI": private_broker.amqp_uri, "ROR_DATABASE_URL": outage_db_url, "serializer": "json",
              "max_workers": 4}
    containers = [ServiceContainer(cls, config) for cls in (OffersService, PublishedProbe)]
    for container in containers:  # the probe's durable queue exists before the outage: nothing missed
        container.start()
    yield config
    for container in containers:
        container.stop()


def test_publication_survives_rabbitmq_down_at_commit_and_is_delivered_once(private_broker, outage_db_url,
                                                                            offers_on_private_broker):
    config = offers_on_private_broker
    rpps = fresh_rpps()
    offer_id = make_offer(outage_db_url, rpps=rpps, draft=complete_draft())
    actor = Actor(subject="outbox-test", username="kine.test", region="idf",
                  roles=frozenset({"professional"}), rpps=rpps)
    private_broker.stop_app()
    try:
        # The write does not need the broker: the offer and its event commit together.
        with session_scope(outage_db_url) as session:
            offer = access.load_offer(session, "idf", offer_id, for_update=True)
            lifecycle.publish(session, offer, actor, f'"{offer_id}-1"')
        rows = outbox_rows(outage_db_url, offer_id)
        assert len(rows) == 1 and rows[0].published_at is None
        assert rows[0].payload["content"]["contacts"]["contacts"]
        # The relay of the running offers service tries and fails: the event stays pending.
        failed = wait_for(lambda: outbox_rows(outage_db_url, offer_id)[0].attempts > 0, timeout=15)
        assert failed, "the relay should have tried while RabbitMQ was down"
        assert outbox_rows(outage_db_url, offer_id)[0].published_at is None
        assert not [e for e in RECEIVED if e.get("offer_id") == offer_id]
    finally:
        private_broker.start_app()

    delivered = wait_for(lambda: [e for e in RECEIVED if e.get("offer_id") == offer_id], timeout=90)
    assert delivered, "the event was lost"
    time.sleep(5)  # a duplicate would have arrived by now
    delivered = [e for e in RECEIVED if e.get("offer_id") == offer_id]
    assert len(delivered) == 1
    assert delivered[0]["event_type"] == "offers.published" and delivered[0]["region"] == "idf"
    assert outbox_rows(outage_db_url, offer_id)[0].published_at is not None

    # The service works again after the broker restart: it reconnected and answers its RPCs.
    def offer_status():
        try:
            with ClusterRpcProxy(config, timeout=10) as rpc:
                return rpc.offers.get_offer("idf", offer_id)["status"]
        except Exception:  # still reconnecting
            return None

    assert wait_for(offer_status, timeout=90, interval=2) == "published"

"""No publication is lost when RabbitMQ is down at commit time (DESIGN §2, transactional outbox).

The gateway's RPCs themselves travel over RabbitMQ, so the publication is made the way the offers
service makes it — the domain function in a database transaction — while the broker is stopped. The
commit succeeds with its outbox row; the running offers service's relay cannot deliver it yet; once
RabbitMQ is back, the relay delivers it, and a consumer sees the event exactly once. The suite then
answers again (nameko reconnects)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
import requests
from nameko.containers import ServiceContainer
from nameko.events import event_handler
from sqlalchemy import select

from services.common.actor import Actor
from services.common.db import session_scope
from services.offers import access, lifecycle
from services.offers.models import Outbox
from tests.offers_support import complete_draft, fresh_rpps, make_offer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.environ.get("ROR_TEST_SKIP_BROKER_OUTAGE") == "1",
                       reason="ROR_TEST_SKIP_BROKER_OUTAGE=1: do not stop the shared RabbitMQ"),
]

RECEIVED: list[dict] = []


class PublishedProbe:
    """A consumer of offers.published, as the notifications service or a connected tool would be."""

    name = "offers_published_probe"

    @event_handler("offers", "offers.published")
    def handle(self, event):
        RECEIVED.append(event)


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, timeout=120, capture_output=True)


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


def test_publication_survives_rabbitmq_down_at_commit_and_is_delivered_once(suite, suite_config, db_url,
                                                                            api):
    probe = ServiceContainer(PublishedProbe, suite_config)
    probe.start()  # its durable queue exists before the outage, so nothing can be missed
    rpps = fresh_rpps()
    offer_id = make_offer(db_url, rpps=rpps, draft=complete_draft())
    actor = Actor(subject="outbox-test", username="kine.test", region="idf",
                  roles=frozenset({"professional"}), rpps=rpps)
    try:
        rabbitmqctl("stop_app")
        try:
            # The write does not need the broker: the offer and its event commit together.
            with session_scope(db_url) as session:
                offer = access.load_offer(session, "idf", offer_id, for_update=True)
                lifecycle.publish(session, offer, actor, f'"{offer_id}-1"')
            rows = outbox_rows(db_url, offer_id)
            assert len(rows) == 1 and rows[0].published_at is None
            assert rows[0].payload["content"]["contacts"]["contacts"]
            # The relay of the running offers service tries and fails: the event stays pending.
            failed = wait_for(lambda: outbox_rows(db_url, offer_id)[0].attempts > 0, timeout=15)
            assert failed, "the relay should have tried while RabbitMQ was down"
            assert outbox_rows(db_url, offer_id)[0].published_at is None
            assert not [e for e in RECEIVED if e.get("offer_id") == offer_id]
        finally:
            rabbitmqctl("start_app")
            rabbitmqctl("await_startup")

        delivered = wait_for(lambda: [e for e in RECEIVED if e.get("offer_id") == offer_id], timeout=90)
        assert delivered, "the event was lost"
        time.sleep(5)  # a duplicate would have arrived by now
        delivered = [e for e in RECEIVED if e.get("offer_id") == offer_id]
        assert len(delivered) == 1
        assert delivered[0]["event_type"] == "offers.published" and delivered[0]["region"] == "idf"
        assert outbox_rows(db_url, offer_id)[0].published_at is not None
    finally:
        probe.stop()

    # The suite works again after the broker restart: services reconnected, the gateway answers.
    healthy = wait_for(lambda: requests.get(f"{api.base}/health", timeout=30).status_code == 200, timeout=90,
                       interval=2)
    assert healthy, requests.get(f"{api.base}/health", timeout=30).json()
    assert api.get(f"/api/idf/offers/{offer_id}").json()["status"] == "published"

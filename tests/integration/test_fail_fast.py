"""A dead service: the gateway answers 503 and the write never runs later (the request expires in its
queue; the service drops a request whose deadline passed), a client's retry with the same
Idempotency-Key applies once, the breaker answers quickly, and `/me` does not wait for offers."""

from __future__ import annotations

import json
import time
import uuid

import eventlet
import pytest
from kombu import Connection, Exchange, Producer, Queue

from services.common.db import session_scope
from services.offers.models import Offer
from tests.conftest import GATEWAY_ADDRESS, TEST_VHOST
from tests.faults import PrivateSuite, queue_depth
from tests.offers_support import KINE_STEPS, make_offer, subject_of

pytestmark = pytest.mark.integration

RPC_TIMEOUT = 2.0


def _private_address() -> str:
    host, port = GATEWAY_ADDRESS.rsplit(":", 1)
    return f"{host}:{int(port) + 10000}"


@pytest.fixture(scope="module")
def faults(db_url):
    suite = PrivateSuite(db_url, f"{TEST_VHOST}_faults", _private_address(),
                         services=("accounts", "offers", "gateway"), ROR_RPC_TIMEOUT=str(RPC_TIMEOUT), ROR_BREAKER_COOL_DOWN="1").start()
    yield suite
    suite.stop()


@pytest.fixture
def kine(tokens):
    return tokens("idf", "kine.demo")


def _draft_steps(db_url, offer_id) -> dict:
    with session_scope(db_url) as session:
        return dict(session.get(Offer, offer_id).draft.get("steps", {}))


def test_a_write_answered_503_never_runs_later_and_a_retry_applies_once(faults, db_url, kine):
    offer_id = make_offer(db_url, owner_subject=subject_of(kine))
    path = f"/api/idf/offers/{offer_id}/steps/national"
    faults.wait_healthy("offers")
    deadline = time.monotonic() + 30  # its first reads load the reference data: a short deadline may pass
    while (resp := faults.request("GET", f"/api/idf/offers/{offer_id}", token=kine)).status_code == 503 \
            and time.monotonic() < deadline:
        time.sleep(1)
    assert resp.status_code == 200, resp.text
    etag = resp.headers["ETag"]
    body = KINE_STEPS["national"]
    key = str(uuid.uuid4())

    faults.stop_service("offers")
    try:
        resp = faults.request("PUT", path, token=kine, json=body,
                              headers={"If-Match": etag, "Idempotency-Key": key})
        assert resp.status_code == 503, resp.text
        assert resp.json()["error"]["code"] == "unavailable"
        # The message waited in the durable rpc-offers queue for at most the caller's deadline.
        time.sleep(RPC_TIMEOUT + 0.5)
        assert queue_depth(faults.vhost, "rpc-offers") == 0
    finally:
        faults.start_service("offers")
    faults.wait_healthy("offers")
    time.sleep(1)
    assert "national" not in _draft_steps(db_url, offer_id), "a call answered 503 ran later"

    # The client retries with the same key: applied now, and only once.
    # (a service just back may still answer 503 while it warms up: the client retries, same key)
    deadline = time.monotonic() + 30
    while True:
        first = faults.request("PUT", path, token=kine, json=body, headers={"If-Match": etag, "Idempotency-Key": key})
        if first.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert first.status_code == 200, first.text
    again = faults.request("PUT", path, token=kine, json=body, headers={"If-Match": etag, "Idempotency-Key": key})
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json() and again.headers["ETag"] == first.headers["ETag"]
    # Without the key the same stale If-Match is refused: the replay did not write again.
    assert faults.request("PUT", path, token=kine, json=body, headers={"If-Match": etag}).status_code == 412
    other = faults.request("PUT", path, token=kine, json={"acknowledged": False},
                           headers={"If-Match": etag, "Idempotency-Key": key})
    assert other.status_code == 409, other.text
    assert other.json()["error"]["fields"]["Idempotency-Key"]
    assert "national" in _draft_steps(db_url, offer_id)


def test_the_service_drops_a_request_whose_deadline_passed(faults):
    """Second guard: a request taken from the queue after its caller's deadline is not run."""
    rpc_exchange = Exchange("nameko-rpc", type="topic", durable=True)
    with Connection(faults.config["AMQP_URI"]) as conn:
        name = f"test-reply-{uuid.uuid4().hex}"
        reply_queue = Queue(name, exchange=rpc_exchange, routing_key=name, exclusive=True, auto_delete=True)
        reply_queue(conn.default_channel).declare()
        replies = []
        with conn.Consumer(reply_queue, callbacks=[lambda body, msg: (replies.append(body), msg.ack())],
                           accept=["json"]):
            Producer(conn.default_channel).publish(
                {"args": [], "kwargs": {}}, exchange=rpc_exchange,
                routing_key="offers.health", reply_to=reply_queue.name, correlation_id=str(uuid.uuid4()),
                headers={"nameko.ror_deadline": time.time() - 1}, serializer="json")
            conn.drain_events(timeout=10)
    error = (json.loads(replies[0]) if isinstance(replies[0], str) else replies[0])["error"]
    assert error["exc_type"] == "Unavailable", error


def test_a_dead_service_costs_only_its_endpoints_and_quickly(faults, db_url, kine):
    offer_id = make_offer(db_url, owner_subject=subject_of(kine))
    assert faults.request("GET", "/api/idf/me", token=kine).status_code == 200
    faults.stop_service("offers", kill=True)
    try:
        pool = eventlet.GreenPool()
        # A burst on offers' endpoints while the professional asks who she is.
        slow = [pool.spawn(faults.request, "GET", f"/api/idf/offers/{offer_id}", token=kine) for _ in range(8)]
        me = [faults.request("GET", "/api/idf/me", token=kine) for _ in range(5)]
        assert all(r.status_code == 200 for r in me), [r.text for r in me]
        statuses = [gt.wait() for gt in slow]
        assert all(r.status_code == 503 for r in statuses), [r.text for r in statuses]
        # Open now: the next calls are refused at once, naming the breaker.
        started = time.monotonic()
        resp = faults.request("GET", f"/api/idf/offers/{offer_id}", token=kine)
        assert resp.status_code == 503 and resp.json()["error"]["fields"].get("breaker") == "open", resp.text
        assert time.monotonic() - started < RPC_TIMEOUT
    finally:
        faults.start_service("offers")
    faults.wait_healthy("offers")
    assert faults.request("GET", f"/api/idf/offers/{offer_id}", token=kine).status_code == 200

"""The outbox relay cannot get stuck, on a fresh RabbitMQ vhost where no consumer has ever run: the
publisher declares its exchange and its known consumers' queues (events wait for a consumer that starts
later), a row that fails is retried with backoff and parked without blocking the rows behind it, all
over one AMQP connection; `ror outbox status` shows what waits."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import quote

import pytest
import requests
from click.testing import CliRunner
from kombu import Connection
from sqlalchemy import create_engine
from sqlalchemy.orm import DeclarativeBase, Session

from services.common import outbox
from services.common.events import make_event
from services.common.outbox import OutboxMixin, utcnow
from services.common.publisher import EventPublisher, Subscription, subscriptions
from tests.faults import RABBIT_MGMT, amqp_uri, ensure_vhost, queue_depth

pytestmark = pytest.mark.integration

PUBLISHED_Q = "evt-offers-offers.published--directory.on_published"
UNPUBLISHED_Q = "evt-offers-offers.unpublished--directory.on_unpublished"
KNOWN = (Subscription("offers", "offers.published", PUBLISHED_Q),
         Subscription("offers", "offers.unpublished", UNPUBLISHED_Q))


class Base(DeclarativeBase):
    pass


class RelayOutbox(OutboxMixin, Base):
    """An outbox of its own (SQLite): the session's running services relay the real ones."""


@pytest.fixture
def vhost():
    name = f"ror_test_outbox_{uuid.uuid4().hex[:8]}"
    ensure_vhost(name)
    yield name
    requests.delete(f"{RABBIT_MGMT}/api/vhosts/{quote(name, safe='')}", timeout=10)


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        yield s


def _event(session, event_type: str, **data) -> str:
    event = make_event(event_type, "idf", "kine.demo", **data)
    outbox.record(session, RelayOutbox, event)
    session.commit()
    return event["event_id"]


def _relay(session, publisher, now=None) -> int:
    def publish(event):
        from services.common.events import split_event_type
        from services.common.publisher import BrokerDown

        try:
            publisher.publish(*split_event_type(event["event_type"]), event)
        except BrokerDown as exc:
            raise outbox.BrokerUnavailable(str(exc)) from exc

    sent = outbox.relay(session, RelayOutbox, publish, now=now)
    session.commit()  # the caller's unit of work, as OutboxRelay does
    return sent


def _row(session, event_id) -> RelayOutbox:
    session.expire_all()
    return session.get(RelayOutbox, event_id)


def test_events_published_before_any_consumer_wait_for_it(vhost, session):
    publisher = EventPublisher(amqp_uri(vhost), known=KNOWN)
    first = _event(session, "offers.published", offer_id=1)
    nobody = _event(session, "offers.step_saved", offer_id=1)  # no consumer anywhere: simply sent
    assert _relay(session, publisher) == 2
    assert _row(session, first).published_at and _row(session, nobody).published_at
    assert queue_depth(vhost, PUBLISHED_Q) == 1  # waiting for a consumer that never ran yet

    # The consumer starts later (declaring its queue as nameko does) and gets the event.
    with Connection(amqp_uri(vhost)) as conn:
        message = conn.SimpleQueue(PUBLISHED_Q).get(timeout=5)
        assert message.payload["event_id"] == first
        message.ack()
    publisher.close()


def test_a_failing_row_backs_off_and_is_parked_without_blocking_the_others(vhost, session, db_url):
    publisher = EventPublisher(amqp_uri(vhost), known=KNOWN)
    _event(session, "offers.published", offer_id=1)
    assert _relay(session, publisher) == 1
    # Its queue disappears (deleted by hand): the next such event is returned by the broker.
    with Connection(amqp_uri(vhost)) as conn:
        conn.default_channel.queue_delete(PUBLISHED_Q)
    stuck = _event(session, "offers.published", offer_id=2)
    behind = _event(session, "offers.unpublished", offer_id=3)
    assert _relay(session, publisher) == 1
    row = _row(session, stuck)
    assert row.published_at is None and row.attempts == 1 and "Unroutable" in row.last_error
    assert _row(session, behind).published_at is not None  # not blocked by the row before it
    first_retry = row.next_attempt_at

    # Not due yet: not tried. Due: tried again, and the delay doubles.
    assert _relay(session, publisher) == 0 and _row(session, stuck).attempts == 1
    later = first_retry.replace(tzinfo=utcnow().tzinfo) + timedelta(seconds=1)
    _relay(session, publisher, now=later)
    row = _row(session, stuck)
    assert row.attempts == 2
    assert row.next_attempt_at.replace(tzinfo=later.tzinfo) - later == outbox.backoff(2) == timedelta(seconds=4)

    # Failing for more than PARK_AFTER: parked, counted apart, no longer tried.
    _relay(session, publisher, now=utcnow() + outbox.PARK_AFTER + timedelta(minutes=1))
    state = outbox.status(session, RelayOutbox)
    assert state["parked"] == 1 and state["pending"] == 0 and "Unroutable" in state["last_error"]
    assert _relay(session, publisher, now=utcnow() + timedelta(days=1)) == 0
    assert publisher.connections_opened == 1  # every try on the same connection

    # Once the cause is fixed (a publisher declares the queue again), the parked row goes out.
    assert outbox.unpark(session, RelayOutbox) == 1
    session.commit()
    publisher.close()
    fresh = EventPublisher(amqp_uri(vhost), known=KNOWN)
    assert _relay(session, fresh) == 1 and _row(session, stuck).published_at is not None
    assert queue_depth(vhost, PUBLISHED_Q) == 1
    fresh.close()


def test_a_dead_broker_stops_the_pass_without_charging_the_rows_behind(session):
    publisher = EventPublisher("amqp://guest:guest@127.0.0.1:1/", known=KNOWN, connect_timeout=1)
    first = _event(session, "offers.published", offer_id=1)
    second = _event(session, "offers.published", offer_id=2)
    assert _relay(session, publisher) == 0
    assert _row(session, first).attempts == 1 and "BrokerUnavailable" in _row(session, first).last_error
    assert _row(session, second).attempts == 0


def test_the_suite_s_consumers_are_known_to_the_publishers():
    queues = {s.queue for s in subscriptions()}
    assert "evt-accounts-accounts.activated--notifications.on_account_activated" in queues


def test_ror_outbox_status_lists_every_service(db_url):
    from services.common.cli import main

    result = CliRunner().invoke(main, ["outbox", "status", "--url", db_url])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["service", "pending", "parked"]
    assert {line.split()[0] for line in lines[1:]} >= {"accounts", "offers", "dossiers", "anomalies",
                                                        "notifications"}

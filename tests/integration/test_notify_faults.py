"""Exactly once through faults (issue 8, item 6), on a RabbitMQ node and a database of the test's own:

- the notifications service is stopped, 100 offers are published, it starts again: exactly 100 e-mails,
  100 webhook deliveries and 100 national pushes (HealthcareService stored by the national stand-in),
  none twice;
- the same with the broker restarted in the middle of the publications.

Publications are made the way the offers service makes them (the domain function in a database
transaction, which needs no broker): the outbox relay of the running offers service carries them.
E-mails go to an SMTP sink of the test's own, webhooks to a receiver of its own and national pushes to a
national stand-in of its own, so every message is counted. Bounded: about a minute."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from nameko.containers import ServiceContainer
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy.engine import make_url

from services.accounts.service import AccountsService
from services.common.actor import Actor
from services.common.db import ensure_database, session_scope
from services.common.migrations import upgrade_all
from services.notifications.service import NotificationsService
from services.offers import access, lifecycle
from services.offers.service import OffersService
from tests.local_servers import free_port
from tests.national_support import NationalStandIn
from tests.notify_support import Receiver, SmtpSink
from tests.offers_support import complete_draft, make_offer, subject_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COUNT = 100
ADMIN = {"subject": "fault-test-admin", "username": "admin", "region": "idf", "roles": ["region_admin"],
         "rpps": None, "habilitations": []}


def _drop_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="module")
def fault_db(db_url):
    """Its own database: the suite's offers relay must not carry these publications to the shared vhost."""
    url = make_url(db_url)
    url = url.set(database=f"{url.database}_faults").render_as_string(hide_password=False)
    _drop_database(url)  # from scratch: nothing pending from an earlier run may be counted
    ensure_database(url)
    upgrade_all(url)
    return url


@pytest.fixture
def world(private_broker, fault_db, suite_config, tmp_path, tokens):
    """accounts, offers and notifications on the private node; an SMTP sink and a webhook receiver."""
    sink = SmtpSink(free_port(), tmp_path / "mail")
    receiver = Receiver(free_port(), tmp_path / "hooks.jsonl")
    (tmp_path / "national").mkdir()
    national = NationalStandIn(tmp_path / "national")
    sink.start()
    receiver.start()
    national.start()
    config = {**suite_config, "AMQP_URI": private_broker.amqp_uri, "ROR_DATABASE_URL": fault_db,
              "ROR_SMTP_PORT": str(sink.port), "ROR_NATIONAL_URL": national.url}
    containers = {cls.name: ServiceContainer(cls, config) for cls in (AccountsService, OffersService,
                                                                      NotificationsService)}
    for container in containers.values():
        container.start()
    with ClusterRpcProxy(config, timeout=30) as cluster:
        sub = cluster.notifications.create_webhook("idf", {"url": f"{receiver.base}/ok", "events": ["offers.published"],
                                                           "description": "outil connecté"}, ADMIN)
    kine = tokens("idf", "kine.demo")
    state = {"config": config, "containers": containers, "sink": sink, "receiver": receiver,
             "national": national, "subject": subject_of(kine), "webhook": sub}
    try:
        yield state
    finally:
        try:
            with ClusterRpcProxy(config, timeout=30) as cluster:  # the next test registers its own
                etag = cluster.notifications.get_webhook("idf", sub["id"], ADMIN)["etag"]
                cluster.notifications.update_webhook("idf", sub["id"], {"active": False}, etag, ADMIN)
        finally:
            for container in state["containers"].values():
                container.stop()
            sink.stop()
            receiver.stop()
            national.stop()


def _offers(db_url: str, subject: str, count: int) -> list[int]:
    return [make_offer(db_url, owner_subject=subject, last_name=f"PANNE{i}", draft=complete_draft())
            for i in range(count)]


def _publish(db_url: str, subject: str, offer_id: int) -> None:
    actor = Actor(subject=subject, username="kine.demo", region="idf", roles=frozenset({"professional"}))
    with session_scope(db_url) as session:
        offer = access.load_offer(session, "idf", offer_id, for_update=True)
        lifecycle.publish(session, offer, actor, f'"{offer_id}-{offer.version}"')


def _event_ids_of_mails(sink: SmtpSink) -> Counter:
    return Counter(str(m["X-ROR-Event-Id"]) for m in sink.messages() if "est publiée" in str(m["Subject"]))


def _event_ids_of_hooks(receiver: Receiver) -> Counter:
    return Counter(r["headers"]["webhook-id"].removeprefix("msg_") for r in receiver.received())


def _national_stores(national: NationalStandIn, offer_ids: list[int]) -> Counter:
    """HealthcareServices of these offers stored by the stand-in (a replayed request is not stored)."""
    wanted = {f"idf-{i}" for i in offer_ids}
    return Counter(e["id"] for e in national.journal() if e["type"] == "HealthcareService" and e["id"] in wanted
                   and e["outcome"] in ("created", "updated"))


def _wait_all(world: dict, offer_ids: list[int], timeout: float) -> tuple[Counter, Counter, Counter]:
    def counts():
        return (_event_ids_of_mails(world["sink"]), _event_ids_of_hooks(world["receiver"]),
                _national_stores(world["national"], offer_ids))

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(len(c) >= COUNT for c in counts()):
            break
        time.sleep(0.5)
    time.sleep(4)  # a duplicate (redelivery, second relay pass, retry) would have arrived by now
    return counts()


def _published_event_ids(db_url: str, offer_ids: list[int]) -> set[str]:
    from sqlalchemy import select

    from services.offers.models import Outbox

    wanted = set(offer_ids)
    with session_scope(db_url) as session:
        return {row.event_id for row in session.scalars(select(Outbox).where(Outbox.event_type == "offers.published"))
                if row.payload.get("offer_id") in wanted}


def test_notifications_down_while_100_offers_are_published(world, fault_db):
    offer_ids = _offers(fault_db, world["subject"], COUNT)
    world["containers"]["notifications"].stop()  # its durable queue keeps what is published meanwhile
    for offer_id in offer_ids:
        _publish(fault_db, world["subject"], offer_id)
    expected = _published_event_ids(fault_db, offer_ids)
    assert len(expected) == COUNT
    time.sleep(3)
    assert _event_ids_of_mails(world["sink"]) == Counter() and _event_ids_of_hooks(world["receiver"]) == Counter()

    started = time.monotonic()
    back = ServiceContainer(NotificationsService, world["config"])
    world["containers"]["notifications"] = back
    back.start()
    mails, hooks, pushes = _wait_all(world, offer_ids, timeout=90)
    print(f"\nnotifications down, {COUNT} publications, back: {len(mails)} e-mails "
          f"(max {max(mails.values(), default=0)} per event), {len(hooks)} webhook deliveries "
          f"(max {max(hooks.values(), default=0)} per event), {len(pushes)} national pushes "
          f"(max {max(pushes.values(), default=0)} per offer), all in {time.monotonic() - started:.1f} s")
    assert set(mails) == expected and set(mails.values()) == {1}
    assert set(hooks) == expected and set(hooks.values()) == {1}
    assert len(pushes) == COUNT and set(pushes.values()) == {1}


def test_broker_restarted_in_the_middle_of_100_publications(world, fault_db, private_broker):
    offer_ids = _offers(fault_db, world["subject"], COUNT)
    done = threading.Event()

    def publish_all():
        for i, offer_id in enumerate(offer_ids):
            _publish(fault_db, world["subject"], offer_id)  # needs the database only
            time.sleep(0.05)
            if i == COUNT // 2:
                done.set()

    publisher = threading.Thread(target=publish_all)
    publisher.start()
    done.wait(60)
    private_broker.stop_app()  # mid-way: relays and consumers lose their connections
    time.sleep(3)
    private_broker.start_app()
    publisher.join(120)
    expected = _published_event_ids(fault_db, offer_ids)
    assert len(expected) == COUNT

    mails, hooks, pushes = _wait_all(world, offer_ids, timeout=120)
    print(f"\nbroker restarted mid-way, {COUNT} publications: {len(mails)} e-mails "
          f"(max {max(mails.values(), default=0)} per event), {len(hooks)} webhook deliveries "
          f"(max {max(hooks.values(), default=0)} per event), {len(pushes)} national pushes "
          f"(max {max(pushes.values(), default=0)} per offer)")
    assert set(mails) == expected and set(mails.values()) == {1}
    assert set(hooks) == expected and set(hooks.values()) == {1}
    assert len(pushes) == COUNT and set(pushes.values()) == {1}

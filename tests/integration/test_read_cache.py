"""Maillage asks for the same published sheet many times a second: the gateway keeps the answer a moment
(gateway.readcache). Whoever writes reads the write on the next request, another caller never gets a
view that is not theirs, a change made behind the gateway's back reaches it through its event, and the
events still come after a broker restart."""

from __future__ import annotations

import time

import pytest
from nameko.containers import ServiceContainer
from nameko.standalone.events import event_dispatcher

from gateway.readcache import READ_CACHE, ReadCacheEvents
from services.common.actor import Actor
from tests.offers_support import KINE_STEPS, complete_draft, make_offer, subject_of

pytestmark = pytest.mark.integration


@pytest.fixture
def published(api, tokens, db_url):
    """A kiné's offer, published through the gateway: (path, token)."""
    token = tokens("idf", "kine.demo")
    offer_id = make_offer(db_url, owner_subject=subject_of(token), draft=complete_draft())
    path = f"/api/idf/offers/{offer_id}"
    etag = api.get(path, token=token).headers["ETag"]
    assert api.post(f"{path}/publish", token=token, headers={"If-Match": etag}).status_code == 200
    return path, token


def settled(api, path, **kwargs):
    """The answer once kept: the events of the last write (publication, notifications…) each drop the
    region's entries as they arrive, for a few tens of milliseconds."""
    deadline = time.monotonic() + 3
    while True:
        first = api.get(path, **kwargs)
        second = api.get(path, **kwargs)
        if second.headers["X-Cache"] == "hit" or time.monotonic() > deadline:
            return first, second
        time.sleep(0.05)


def test_the_public_sheet_is_kept_per_caller_and_a_new_publication_is_read_at_once(api, published):
    path, token = published
    first, second = settled(api, path)
    fresh = api.get(path, headers={"Cache-Control": "no-cache"})  # the whole path, as without a cache
    assert second.headers["X-Cache"] == "hit" and fresh.headers["X-Cache"] == "miss"
    assert second.json() == first.json() == fresh.json() and second.headers["ETag"] == fresh.headers["ETag"]
    assert first.json()["audience"] == "public"
    owner = api.get(path, token=token)
    assert owner.headers["X-Cache"] == "miss" and owner.json()["audience"] == "owner"  # one entry per caller

    # the kiné adds a comment and publishes again: the very next anonymous read has it
    description = {**KINE_STEPS["description"], "comment": "Rééducation vestibulaire le mardi"}
    saved = api.put(f"{path}/steps/description", token=token, json=description,
                    headers={"If-Match": owner.headers["ETag"]})
    assert saved.status_code == 200, saved.text
    assert api.post(f"{path}/publish", token=token, headers={"If-Match": saved.headers["ETag"]}).status_code == 200
    after = api.get(path)
    assert after.headers["X-Cache"] == "miss"
    assert after.json()["published"]["description"]["comment"] == "Rééducation vestibulaire le mardi"


def test_a_change_made_behind_the_gateway_reaches_it_through_its_event(api, published, suite_config,
                                                                       monkeypatch):
    from nameko.standalone.rpc import ClusterRpcProxy

    monkeypatch.setenv("ROR_READ_CACHE_TTL", "60")  # the event, not the TTL, must drop the entry
    path, token = published
    offer_id = int(path.rsplit("/", 1)[1])
    assert settled(api, path)[1].headers["X-Cache"] == "hit"
    owner = api.get(path, token=token)
    actor = Actor(subject=subject_of(token), username="kine.demo", region="idf",
                  roles=frozenset({"professional"})).to_dict()
    with ClusterRpcProxy(suite_config, timeout=30) as cluster:  # straight to offers, not through the gateway
        cluster.offers.unpublish("idf", offer_id, actor, owner.headers["ETag"].strip('"'))
    started = time.monotonic()
    while api.get(path).status_code == 200:
        assert time.monotonic() - started < 1.0, "the unpublication did not reach the gateway within 1 s"
        time.sleep(0.02)


class ReadCacheProbe(ReadCacheEvents):
    """The gateway's event consumer alone, on a broker of the test's own."""

    name = "read_cache_probe"


def test_the_event_consumer_comes_back_after_a_broker_restart(private_broker):
    """Events dropped while the broker is down are the TTL's business; once it is back, each gateway's
    exclusive queue is declared again and events drop entries as before."""
    config = {"AMQP_URI": private_broker.amqp_uri, "serializer": "json", "max_workers": 2}
    container = ServiceContainer(ReadCacheProbe, config)
    container.start()
    key = ("idf", None, "/api/idf/offers/test-probe", b"")

    def kept_until_an_event(timeout: float) -> bool:
        """An entry is stored, an offers event of the region is published: is the entry dropped?"""
        READ_CACHE.put(key, "idf", READ_CACHE.generation("idf"), b"{}", 200, {}, "application/json")
        event_dispatcher(config)("offers", "offers.published", {"region": "idf", "offer_id": 0})
        deadline = time.monotonic() + timeout
        while READ_CACHE.get(key, 3600) is not None:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    try:
        assert kept_until_an_event(5)
        private_broker.stop_app()
        private_broker.start_app()
        deadline = time.monotonic() + 90  # nameko reconnects and declares the queue again
        while not kept_until_an_event(2):
            assert time.monotonic() < deadline, "the read cache no longer hears the events"
    finally:
        container.stop()

"""Webhooks for connected tools (Standard Webhooks): a region admin registers Maillage's endpoint, gets
its `whsec_` secret once; each publication arrives signed (checked with the `standardwebhooks` package),
with both signatures while the secret rotates; a slow or failing receiver never delays the others;
failures are retried on schedule, Retry-After is honoured, 410 disables, the last failure parks the
delivery and a replay sends it again; a receiver that was down gets everything, once, when it is back.

The suite runs with a short retry schedule (tests/conftest.py: 0, 1, 2, 3, 5, 8 s) and loopback allowed."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from nameko.standalone.events import event_dispatcher
from standardwebhooks import Webhook, WebhookVerificationError

from services.common.events import make_event
from tests.local_servers import free_port
from tests.notify_support import Receiver
from tests.offers_support import complete_draft, make_offer, subject_of

pytestmark = pytest.mark.integration


@pytest.fixture
def receiver(tmp_path):
    rec = Receiver(free_port(), tmp_path / "received.jsonl")
    rec.start()
    yield rec
    rec.stop()


@pytest.fixture
def subscribe(api, tokens):
    """Registers subscriptions as the idf admin; disables them afterwards (old receivers are gone)."""
    admin = tokens("idf", "admin")
    created = []

    def make(url: str, events=("offers.published",), description: str = "test") -> dict:
        resp = api.post("/api/idf/webhooks", token=admin, json={"url": url, "events": list(events),
                                                                "description": description})
        assert resp.status_code == 201, resp.text
        created.append(resp.json())
        return resp.json()

    yield make
    for sub in created:
        current = api.get(f"/api/idf/webhooks/{sub['id']}", token=admin)
        api.patch(f"/api/idf/webhooks/{sub['id']}", token=admin, json={"active": False},
                  headers={"If-Match": current.headers["ETag"]})


def _publish_events(suite_config, count: int, region: str = "idf") -> list[dict]:
    """offers.published facts as the offers service emits them (without going through six steps)."""
    dispatch = event_dispatcher(suite_config)
    events = []
    for i in range(count):
        event = make_event("offers.published", region, "test", offer_id=900000 + i, unit_id=1, version=2,
                           published_at=datetime.now(UTC).isoformat(), content={"name": f"Offre {i}"},
                           offer_name=f"Offre {i}", recipients=[], mail_category="info")
        dispatch("offers", "offers.published", event)
        events.append(event)
    return events


def _ids(rows: list[dict]) -> Counter:
    return Counter(r["headers"]["webhook-id"] for r in rows)


def test_an_admin_registers_maillage_and_a_publication_arrives_signed(api, tokens, db_url, receiver, subscribe):
    admin = tokens("idf", "admin")
    sub = subscribe(f"{receiver.base}/ok", description="Maillage 78")
    assert sub["secret"].startswith("whsec_") and sub["active"] is True
    listed = api.get("/api/idf/webhooks", token=admin).json()["webhooks"]
    assert [s for s in listed if s["id"] == sub["id"]] and all("secret" not in s for s in listed)
    assert "secret" not in api.get(f"/api/idf/webhooks/{sub['id']}", token=admin).json()

    kine = tokens("idf", "kine.demo")
    offer_id = make_offer(db_url, owner_subject=subject_of(kine), draft=complete_draft())
    etag = api.get(f"/api/idf/offers/{offer_id}", token=kine).headers["ETag"]
    assert api.post(f"/api/idf/offers/{offer_id}/publish", token=kine, headers={"If-Match": etag}).status_code == 200

    rows = receiver.wait(lambda rows: any(json.loads(r["body"])["data"].get("offer_id") == offer_id for r in rows))
    [row] = [r for r in rows if json.loads(r["body"])["data"].get("offer_id") == offer_id]
    payload = Webhook(sub["secret"]).verify(row["body"], row["headers"])  # raises when the signature is wrong
    assert payload["type"] == "offers.published" and payload["data"]["region"] == "idf"
    assert payload["timestamp"] and "recipients" not in payload["data"]
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 44).verify(row["body"], row["headers"])
    print("\nwebhook received:", {k: row["headers"][k] for k in sorted(row["headers"])})
    print("verified by standardwebhooks:", json.dumps(payload, ensure_ascii=False)[:300])

    log = api.get(f"/api/idf/webhooks/{sub['id']}/deliveries", token=admin).json()["deliveries"]
    [delivery] = [d for d in log if d["message_id"] == row["headers"]["webhook-id"]]
    assert delivery["status"] == "delivered" and delivery["attempts"] == 1
    assert delivery["attempt_log"][0]["status_code"] == 204


@pytest.mark.parametrize("body,field", [
    ({"url": "ftp://example.org/x", "events": ["offers.published"]}, "url"),
    ({"url": "http://10.1.2.3/hook", "events": ["offers.published"]}, "url"),
    ({"url": "http://169.254.169.254/latest/meta-data", "events": ["offers.published"]}, "url"),
    ({"url": "https://example.org/hook", "events": ["accounts.activated"]}, "events"),
    ({"url": "https://example.org/hook", "events": []}, "events"),
    ({"url": "https://example.org/hook"}, "events"),
])
def test_bad_subscriptions_are_refused_naming_the_field(api, tokens, body, field):
    resp = api.post("/api/idf/webhooks", token=tokens("idf", "admin"), json=body)
    assert resp.status_code == 400, resp.text
    assert field in json.dumps(resp.json()["error"]["fields"])


def test_during_a_rotation_both_secrets_sign(api, tokens, suite_config, receiver, subscribe):
    admin = tokens("idf", "admin")
    sub = subscribe(f"{receiver.base}/ok")
    assert api.post(f"/api/idf/webhooks/{sub['id']}/rotate-secret", token=admin).status_code == 428
    stale = api.post(f"/api/idf/webhooks/{sub['id']}/rotate-secret", token=admin, headers={"If-Match": '"1-2"'})
    assert stale.status_code == 412
    etag = api.get(f"/api/idf/webhooks/{sub['id']}", token=admin).headers["ETag"]
    rotated = api.post(f"/api/idf/webhooks/{sub['id']}/rotate-secret", token=admin, headers={"If-Match": etag})
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != sub["secret"] and rotated.json()["rotation_ends_at"]

    [event] = _publish_events(suite_config, 1)
    rows = receiver.wait(lambda rows: len(rows) >= 1)
    [row] = [r for r in rows if json.loads(r["body"])["data"]["event_id"] == event["event_id"]]
    assert len(row["headers"]["webhook-signature"].split(" ")) == 2
    for secret in (sub["secret"], new_secret):  # a receiver on either secret accepts it
        assert Webhook(secret).verify(row["body"], row["headers"])["data"]["event_id"] == event["event_id"]


def test_a_slow_or_failing_receiver_never_delays_the_others(api, tokens, suite_config, receiver, subscribe):
    admin = tokens("idf", "admin")
    subscribe(f"{receiver.base}/slow/12")
    failing = subscribe(f"{receiver.base}/status/500")
    subscribe(f"{receiver.base}/ok")
    started = time.monotonic()
    events = _publish_events(suite_config, 6)
    receiver.wait(lambda rows: len(receiver.received("/ok")) >= 6, timeout=10)
    fast = receiver.received("/ok")
    assert len(fast) == 6 and time.monotonic() - started < 5, "the healthy receiver waited for the others"
    assert set(_ids(fast)) == {f"msg_{e['event_id']}" for e in events}

    # The failing one: one attempt per step of the schedule (with jitter), then parked as failed.
    steps = [float(x) for x in suite_config["ROR_WEBHOOK_SCHEDULE"].split(",")]

    def parked():
        log = api.get(f"/api/idf/webhooks/{failing['id']}/deliveries?status=failed", token=admin).json()
        return log["deliveries"] if len(log["deliveries"]) >= 6 else None

    deadline = time.monotonic() + sum(steps) * 1.2 + 15
    while time.monotonic() < deadline and not parked():
        time.sleep(0.5)
    log = parked()
    assert log and all(d["attempts"] == len(steps) and len(d["attempt_log"]) == len(steps) for d in log)
    assert all(a["status_code"] == 500 for a in log[0]["attempt_log"])
    attempts_at = [datetime.fromisoformat(a["at"]) for a in log[0]["attempt_log"]]
    gaps = [(b - a).total_seconds() for a, b in zip(attempts_at, attempts_at[1:], strict=False)]
    assert gaps[-1] >= steps[-1] * 0.8 - 0.1  # the schedule grows (last step ± 20 %)

    # Replay one parked delivery: it goes out again (same webhook-id).
    before = len(receiver.received("/status/500"))
    target = log[0]
    resp = api.post(f"/api/idf/webhooks/{failing['id']}/deliveries/{target['id']}/replay", token=admin)
    assert resp.status_code == 202 and resp.json()["status"] == "pending"
    receiver.wait(lambda rows: len(receiver.received("/status/500")) > before, timeout=10)
    again = receiver.received("/status/500")[before:]
    assert again and again[0]["headers"]["webhook-id"] == target["message_id"]
    assert api.post(f"/api/idf/webhooks/{failing['id']}/deliveries/987654/replay", token=admin).status_code == 404


def test_retry_after_is_honoured_and_410_disables(api, tokens, suite_config, receiver, subscribe):
    admin = tokens("idf", "admin")
    busy = subscribe(f"{receiver.base}/status/503?retry_after=4")
    gone = subscribe(f"{receiver.base}/status/410")
    _publish_events(suite_config, 1)
    rows = receiver.wait(lambda rows: len(receiver.received("/status/503")) >= 2, timeout=20)
    busy_rows = receiver.received("/status/503")
    assert len(busy_rows) >= 2 and busy_rows[1]["at"] - busy_rows[0]["at"] >= 3.5  # not the schedule's 1 s
    assert len(rows) >= 1
    state = api.get(f"/api/idf/webhooks/{gone['id']}", token=admin).json()
    assert state["active"] is False and "410" in state["disabled_reason"]
    _publish_events(suite_config, 1)
    time.sleep(2)
    assert len(receiver.received("/status/410")) == 1  # disabled: nothing more
    assert api.get(f"/api/idf/webhooks/{busy['id']}/deliveries?status=nope", token=admin).status_code == 400


def test_a_receiver_down_for_a_while_gets_everything_once_when_back(api, tokens, suite_config, tmp_path,
                                                                   subscribe):
    admin = tokens("idf", "admin")
    rec = Receiver(free_port(), tmp_path / "down.jsonl")  # not started: connection refused
    sub = subscribe(f"{rec.base}/ok")
    events = _publish_events(suite_config, 5)
    time.sleep(2.5)
    rec.start()
    try:
        rows = rec.wait(lambda rows: len(_ids(rows)) >= 5, timeout=20)
        assert _ids(rows) == Counter({f"msg_{e['event_id']}": 1 for e in events})
        time.sleep(2)
        assert len(rec.received()) == 5  # nothing twice

        # The tool lost its data: replay everything since a date, same ids again.
        since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
        resp = api.post(f"/api/idf/webhooks/{sub['id']}/replay", token=admin, json={"since": since})
        assert resp.status_code == 202 and resp.json() == {"replayed": 5}
        rows = rec.wait(lambda rows: len(rows) >= 10, timeout=15)
        assert _ids(rows) == Counter({f"msg_{e['event_id']}": 2 for e in events})
        bad = api.post(f"/api/idf/webhooks/{sub['id']}/replay", token=admin, json={"since": "hier"})
        assert bad.status_code == 400 and "since" in bad.json()["error"]["fields"]
    finally:
        rec.stop()


def test_a_disabled_subscription_receives_nothing(api, tokens, suite_config, receiver, subscribe):
    admin = tokens("idf", "admin")
    sub = subscribe(f"{receiver.base}/ok")
    etag = api.get(f"/api/idf/webhooks/{sub['id']}", token=admin).headers["ETag"]
    assert api.patch(f"/api/idf/webhooks/{sub['id']}", token=admin, json={"active": False}).status_code == 428
    resp = api.patch(f"/api/idf/webhooks/{sub['id']}", token=admin, json={"active": False}, headers={"If-Match": etag})
    assert resp.status_code == 200 and resp.json()["active"] is False
    _publish_events(suite_config, 2)
    time.sleep(2)
    assert receiver.received() == []

"""Webhook rules without a network: Standard Webhooks signing, schedule with jitter, Retry-After, SSRF."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from services.common.errors import InvalidInput
from services.notifications import webhooks


def test_our_signature_is_the_standard_one():
    secret = webhooks.new_secret()
    assert secret.startswith("whsec_")
    body = webhooks.body_of({"event_id": "e1", "event_type": "offers.published", "region": "idf",
                             "occurred_at": "2026-11-30T10:00:00+00:00", "offer_id": 3,
                             "recipients": [{"subject": "x"}], "mail_category": "info"})
    assert json.loads(body) == {"type": "offers.published", "timestamp": "2026-11-30T10:00:00+00:00",
                                "data": {"event_id": "e1", "event_type": "offers.published", "region": "idf",
                                         "occurred_at": "2026-11-30T10:00:00+00:00", "offer_id": 3}}
    now = int(datetime.now(UTC).timestamp())
    reference = Webhook(secret).sign("msg_e1", datetime.fromtimestamp(now, UTC), body)
    assert webhooks.sign(secret, "msg_e1", now, body) == reference
    other = webhooks.new_secret()
    hdrs = webhooks.headers([other, secret], "msg_e1", now, body)
    assert Webhook(secret).verify(body, hdrs)["data"]["offer_id"] == 3
    assert Webhook(other).verify(body, hdrs)["data"]["offer_id"] == 3


def test_schedule_follows_the_spec_with_jitter():
    assert webhooks.SCHEDULE[:7] == (0, 5, 300, 1800, 7200, 18000, 36000)
    assert webhooks.next_delay(0) == timedelta(0)
    low = webhooks.next_delay(2, rand=lambda: 0.0)
    high = webhooks.next_delay(2, rand=lambda: 1.0)
    assert low == timedelta(seconds=240) and high == timedelta(seconds=360)
    assert webhooks.next_delay(len(webhooks.SCHEDULE)) is None  # parked


def test_retry_after_in_seconds_or_as_a_date_capped_at_a_day():
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert webhooks.retry_after("120", now) == timedelta(seconds=120)
    assert webhooks.retry_after("Mon, 30 Nov 2026 12:10:00 GMT", now) == timedelta(minutes=10)
    assert webhooks.retry_after("999999", now) == timedelta(hours=24)
    assert webhooks.retry_after("demain", now) is None and webhooks.retry_after(None, now) is None


def _resolver(*addresses):
    def resolve(host, port, proto=0):
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in addresses]
    return resolve


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.8", "192.168.1.1", "172.16.0.1", "169.254.169.254",
                                     "::1", "fd00::1", "0.0.0.0", "::ffff:127.0.0.1", "100.64.0.1"])
def test_private_and_loopback_receivers_are_refused(address):
    with pytest.raises(InvalidInput):
        webhooks.check_url("https://outil.example.fr/hook", resolve=_resolver(address))


def test_a_name_resolving_to_any_internal_address_is_refused():
    with pytest.raises(InvalidInput):
        webhooks.check_url("https://outil.example.fr/hook", resolve=_resolver("93.184.215.14", "10.0.0.1"))


def test_settings_allow_loopback_or_private_receivers():
    webhooks.check_url("http://127.0.0.1:9000/hook", allow_loopback=True, resolve=_resolver("127.0.0.1"))
    with pytest.raises(InvalidInput):
        webhooks.check_url("http://10.0.0.1/hook", allow_loopback=True, resolve=_resolver("10.0.0.1"))
    webhooks.check_url("http://10.0.0.1/hook", allow_private=True, resolve=_resolver("10.0.0.1"))
    webhooks.check_url("https://outil.example.fr/hook", resolve=_resolver("93.184.215.14"))


@pytest.mark.parametrize("url", ["ftp://example.org/x", "https:///nohost", "http://user:pw@example.org/"])
def test_only_plain_http_urls(url):
    with pytest.raises(InvalidInput):
        webhooks.check_url(url, resolve=_resolver("93.184.215.14"))

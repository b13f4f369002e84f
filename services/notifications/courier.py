"""Sends webhook deliveries in the background of the notifications process; keeps SMTP connections
(nameko glue).

A loop wakes when an event stored deliveries (kick) and every second for retries; each attempt runs
in its own green thread, which owns its units of work (it commits, like an entrypoint), at most `ROR_WEBHOOK_CONCURRENCY` at a time per subscription, so a receiver
that is slow (up to the 15 s timeout) or failing holds only its own slots and never delays the others.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict

import eventlet
import requests
from eventlet.event import Event
from nameko.extensions import DependencyProvider

from services.common.config import setting
from services.common.db import database_url, session_factory, transaction
from services.notifications import mailer, webhooks

log = logging.getLogger(__name__)

POOL_SIZE = 200
INTERVAL = 1.0


def _flag(name: str, config) -> bool:
    return setting(name, config).strip().lower() in ("1", "true", "yes", "on")


class WebhookCourier(DependencyProvider):
    def setup(self):
        config = self.container.config
        self.factory = session_factory(database_url(config))
        self.allow_loopback = _flag("ROR_WEBHOOK_ALLOW_LOOPBACK", config)
        self.allow_private = _flag("ROR_WEBHOOK_ALLOW_PRIVATE", config)
        self.schedule = tuple(float(x) for x in setting("ROR_WEBHOOK_SCHEDULE", config).split(",") if x.strip())
        self.timeout = float(setting("ROR_WEBHOOK_TIMEOUT", config))
        self.per_subscription = int(setting("ROR_WEBHOOK_CONCURRENCY", config))
        self.pool = eventlet.GreenPool(POOL_SIZE)
        self.in_flight: dict[int, int] = defaultdict(int)
        self.taken: set[int] = set()
        self.http: dict[int, requests.Session] = {}
        self._wake = Event()
        self._gt = None

    def start(self):
        self._gt = self.container.spawn_managed_thread(self._loop)

    def stop(self):
        if self._gt is not None:
            self._gt.kill()
        for gt in list(self.pool.coroutines_running):
            gt.kill()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return self

    # ------------------------------------------------------------------ api for the service
    def url_check(self, url: str) -> None:
        webhooks.check_url(url, allow_loopback=self.allow_loopback, allow_private=self.allow_private)

    def kick(self) -> None:
        if not self._wake.ready():
            self._wake.send()

    def deliver_now(self, deliveries: list[tuple[int, int]]) -> None:
        """First attempt of new deliveries at once, within each subscription's limit (the loop takes
        the rest)."""
        for delivery_id, sub_id in deliveries:
            if delivery_id in self.taken or self.in_flight[sub_id] >= self.per_subscription:
                continue
            self.taken.add(delivery_id)
            self.in_flight[sub_id] += 1
            self.pool.spawn(self._deliver, delivery_id, sub_id)

    # ------------------------------------------------------------------ loop
    def _loop(self):
        while True:
            try:
                self._pass()
            except Exception:  # the database may be down: try again at the next tick
                log.exception("webhook pass failed")
            with eventlet.Timeout(INTERVAL, False):
                self._wake.wait()
            self._wake = Event()

    def _pass(self) -> None:
        session = self.factory()
        try:
            picked = webhooks.due(session, dict(self.in_flight), self.per_subscription)
        finally:
            session.close()
        for delivery_id, sub_id in picked:
            if delivery_id in self.taken:
                continue
            self.taken.add(delivery_id)
            self.in_flight[sub_id] += 1
            self.pool.spawn(self._deliver, delivery_id, sub_id)

    def _deliver(self, delivery_id: int, sub_id: int) -> None:
        session = self.factory()
        try:
            with transaction(session):  # the lease is committed before the call: other senders skip it
                attempt = webhooks.begin(session, delivery_id, self.url_check, schedule=self.schedule)
            if attempt is None:
                return
            status, retry_after, error = None, None, None
            started = time.monotonic()
            try:
                with eventlet.Timeout(self.timeout):
                    resp = self._session(sub_id).post(attempt.url, data=attempt.body.encode(),
                                                      headers=attempt.headers, timeout=self.timeout,
                                                      allow_redirects=False)
                status, retry_after = resp.status_code, resp.headers.get("Retry-After")
                if not 200 <= status < 300:
                    error = f"HTTP {status}: {resp.text[:200]}"
            except eventlet.Timeout:
                error = f"timeout after {self.timeout:g} s"
            except requests.RequestException as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
            elapsed = (time.monotonic() - started) * 1000
            with transaction(session):
                webhooks.finish(session, attempt, status, retry_after, error, elapsed, schedule=self.schedule)
        except Exception:  # rolled back by `transaction`; the lease expires and the delivery is retried
            log.exception("webhook delivery %s failed", delivery_id)
        finally:
            session.close()
            self.taken.discard(delivery_id)
            if self.in_flight[sub_id] >= self.per_subscription:
                self.kick()  # the subscription was at its limit: what waits for a slot may go now
            self.in_flight[sub_id] -= 1

    def _session(self, sub_id: int) -> requests.Session:
        if sub_id not in self.http:
            self.http[sub_id] = requests.Session()
        return self.http[sub_id]


class Smtp(DependencyProvider):
    """One pool of SMTP connections per notifications process (services.notifications.mailer.SmtpPool)."""

    def setup(self):
        config = self.container.config
        self.pool = mailer.SmtpPool(setting("ROR_SMTP_HOST", config), int(setting("ROR_SMTP_PORT", config)))

    def stop(self):
        self.pool.close()

    def get_dependency(self, worker_ctx):
        return self.pool

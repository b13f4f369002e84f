"""Nameko glue of the offers service: the relay that pushes FHIR resources to the national ROR."""

from __future__ import annotations

import logging

import eventlet
import psycopg2
import requests
from eventlet.event import Event
from eventlet.green import select as green_select
from nameko.extensions import DependencyProvider
from sqlalchemy.engine import make_url

from services.common.config import setting
from services.common.db import commit, database_url, session_factory
from services.common.dependencies import Database
from services.offers.fhir import national
from services.offers.fhir.contracts import FHIR_JSON
from services.offers.tree_cache import TreeCache

log = logging.getLogger(__name__)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: the backoff applies


class NationalPushRelay(DependencyProvider):
    """PUTs the `national_pushes` outbox to ROR_NATIONAL_URL: woken after each worker that queued a push (a
    publication is pushed at once) and every `interval` seconds (what waited for the endpoint)."""

    def __init__(self, interval: float = 2.0, timeout: float = 10.0):
        self.interval = interval
        self.timeout = timeout
        self._gt = None
        self._wake: Event | None = None

    def setup(self):
        config = self.container.config
        self.factory = session_factory(database_url(config))
        self.base_url = setting("ROR_NATIONAL_URL", config).rstrip("/")
        self.interval = float(config.get("ROR_NATIONAL_PUSH_INTERVAL", self.interval))
        self.http = requests.Session()

    def start(self):
        self._wake = Event()
        self._gt = self.container.spawn_managed_thread(self._loop)

    def stop(self):
        if self._gt is not None:
            self._gt.kill()

    def send(self, row) -> national.Answer:
        resp = self.http.put(f"{self.base_url}/{row.resource_type}/{row.resource_id}", json=row.body,
                             headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON, "X-Request-Id": row.request_id},
                             timeout=self.timeout)
        return national.Answer(resp.status_code, _retry_after(resp.headers.get("Retry-After")), resp.text[:500])

    def flush(self) -> national.RelayResult:
        session = self.factory()
        try:
            try:
                return national.relay(session, self.send)
            finally:
                commit(session)  # this relay's unit of work, kept even when a later row raised
        except Exception:
            log.exception("national push relay failed")
            session.rollback()
            return national.RelayResult(waiting=True, wait_seconds=self.interval)
        finally:
            session.close()

    def _loop(self):
        while True:
            result = self.flush()
            if result.pushed or result.failed or result.superseded:
                continue  # there may be more behind this batch
            wait = min(self.interval, result.wait_seconds) if result.waiting else self.interval
            with eventlet.Timeout(max(0.05, wait), False):
                self._wake.wait()
            if self._wake.ready():
                self._wake = Event()

    def wake(self):
        if self._wake is not None and not self._wake.ready():
            self._wake.send(True)

    def get_dependency(self, worker_ctx):
        return self

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        # Only after a worker that queued a push: a read must not pay a relay pass (a database transaction);
        # the periodic pass still sends what waited.
        if exc_info is None and any(isinstance(d, Database) and d.flagged(worker_ctx, national.QUEUED)
                                    for d in self.container.dependencies):
            self.wake()


class RepertoireListener(DependencyProvider):
    """LISTEN offers_repertoire on a connection of its own and tell the tree cache (services.offers.tree_cache)
    about every committed change; injects the cache. Reconnects after a lost connection (nothing is
    cached meanwhile)."""

    CHANNEL = "offers_repertoire"

    def __init__(self, retry: float = 1.0, idle: float = 30.0):
        self.retry = retry
        self.idle = idle  # seconds between liveness checks of a quiet connection
        self.cache = TreeCache()
        self._thread = None

    def setup(self):
        self.dsn = make_url(database_url(self.container.config)).set(drivername="postgresql") \
            .render_as_string(hide_password=False)

    def start(self):
        self._thread = eventlet.spawn(self._run)

    def stop(self):
        if self._thread is not None:
            self._thread.kill()
            self._thread = None
        self.cache.listening(False)

    kill = stop

    def _run(self):
        while True:
            try:
                self._listen()
            except Exception:  # a lost connection, a restarted server: forget everything, try again
                log.warning("répertoire listener lost its connection; tree cache off until it is back",
                            exc_info=True)
            self.cache.listening(False)
            eventlet.sleep(self.retry)

    def _listen(self):
        conn = psycopg2.connect(self.dsn)
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f"LISTEN {self.CHANNEL}")
            self.cache.listening(True)  # from here on every committed change is heard
            while True:
                readable, _, _ = green_select.select([conn], [], [], self.idle)
                if not readable:
                    with conn.cursor() as cursor:  # a quiet connection may be a dead one
                        cursor.execute("SELECT 1")
                conn.poll()
                if conn.notifies:
                    conn.notifies.clear()
                    self.cache.changed()
        finally:
            conn.close()

    def get_dependency(self, worker_ctx):
        return self.cache

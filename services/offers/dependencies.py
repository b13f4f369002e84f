"""Nameko glue of the offers service: the relay that pushes FHIR resources to the national ROR."""

from __future__ import annotations

import logging
import time

import eventlet
import psycopg2
import requests
from eventlet.event import Event
from eventlet.semaphore import Semaphore
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
    """The répertoire trees (services.offers.tree_cache) and what keeps them true: a connection of its own
    that LISTENs to offers_repertoire. Before a kept tree is served, `sync()` makes one round trip on that
    connection: PostgreSQL sends the notifications of every transaction committed before the query along
    with its answer, so a change committed before the read (by this service, another process, a test)
    is always heard, and a read sees its own writes. One trivial query instead of four (two recursive)
    and the Python that builds a tree. A lost connection turns the cache off until it is back."""

    CHANNEL = "offers_repertoire"
    APPLICATION_NAME = "ror-offers-repertoire-listener"  # pg_stat_activity

    def __init__(self, retry: float = 1.0, drain: float = 5.0):
        self.retry = retry  # seconds before connecting again after a failure
        self.drain = drain  # seconds between passes reading the notifications of a quiet service
        self.cache = TreeCache()
        self._conn = None
        self._lock = Semaphore(1)
        self._asked = self._done = 0
        self._retry_at = 0.0
        self._gt = None

    def setup(self):
        self.dsn = make_url(database_url(self.container.config)).set(drivername="postgresql") \
            .render_as_string(hide_password=False)

    def start(self):
        self._gt = self.container.spawn_managed_thread(self._drain_loop)

    def stop(self):
        if self._gt is not None:
            self._gt.kill()
            self._gt = None
        self._drop()

    def kill(self):
        self.stop()

    def _drain_loop(self):
        while True:
            self.sync()
            eventlet.sleep(self.drain)

    def _connection(self):
        if self._conn is None:
            if time.monotonic() < self._retry_at:
                return None
            conn = psycopg2.connect(self.dsn, application_name=self.APPLICATION_NAME)
            try:
                conn.autocommit = True
                with conn.cursor() as cursor:
                    cursor.execute(f"LISTEN {self.CHANNEL}")
            except Exception:
                conn.close()
                raise
            self._conn = conn
            self.cache.listening(True)  # from here on every committed change is heard
        return self._conn

    def _drop(self):
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass
        self.cache.listening(False)

    def sync(self) -> bool:
        """Hear every change committed before this call. False when no listener is connected (nothing is
        cached then). Concurrent callers share a round trip that began after they asked."""
        self._asked += 1
        ticket = self._asked
        with self._lock:
            if self._done >= ticket:
                return self.cache.live
            covered = self._asked
            try:
                conn = self._connection()
                if conn is None:
                    return False
                with conn.cursor() as cursor:
                    cursor.execute("SELECT 1")
                if conn.notifies:
                    conn.notifies.clear()
                    self.cache.changed()
                self._done = covered
                return True
            except Exception:
                log.warning("répertoire listener lost its connection; tree cache off until it is back",
                            exc_info=True)
                self._drop()
                self._retry_at = time.monotonic() + self.retry
                return False

    def get(self, key, build):
        """The tree of `key`, kept or built by `build`."""
        if not self.sync():
            return build()
        return self.cache.get(key, build)

    def get_dependency(self, worker_ctx):
        return self

"""Nameko glue shared by the services: a DB session per worker, the outbox relay, error registry.

Kept apart from the domain modules so that they never import nameko.
"""

from __future__ import annotations

import logging

import eventlet
from nameko.events import get_event_exchange
from nameko.exceptions import deserialize_to_instance
from nameko.extensions import DependencyProvider
from nameko.standalone.events import event_dispatcher

from services.common import outbox
from services.common.db import database_url, session_factory
from services.common.errors import ALL_ERRORS
from services.common.events import split_event_type

log = logging.getLogger(__name__)

for _cls in ALL_ERRORS:  # domain errors cross RPC as themselves, not as RemoteError
    deserialize_to_instance(_cls)


class Database(DependencyProvider):
    """Injects a SQLAlchemy Session; closed (rolled back if uncommitted) when the worker ends."""

    def setup(self):
        # psycopg2 blocks the whole process unless it waits through eventlet: with psycogreen, a
        # worker waiting on PostgreSQL lets the others run (concurrent searches use both cores).
        from psycogreen.eventlet import patch_psycopg

        patch_psycopg()
        self.url = database_url(self.container.config)
        self.factory = session_factory(self.url)

    def get_dependency(self, worker_ctx):
        session = self.factory()
        self._sessions = getattr(self, "_sessions", {})
        self._sessions[worker_ctx] = session
        return session

    def worker_teardown(self, worker_ctx):
        session = self._sessions.pop(worker_ctx, None)
        if session is not None:
            session.close()


class OutboxRelay(DependencyProvider):
    """Publishes the service's outbox after each worker and every `interval` seconds.

    The periodic pass is what delivers events recorded while RabbitMQ was down.
    """

    def __init__(self, outbox_cls, interval: float = 2.0):
        self.outbox_cls = outbox_cls
        self.interval = interval
        self._gt = None

    def setup(self):
        self.factory = session_factory(database_url(self.container.config))
        # Publisher retries are short: a dead broker must not block the relay for long.
        # The relay declares its service's events exchange: publishing to an exchange nobody declared
        # (no consumer has bound to it yet) fails the channel and would block the outbox for ever.
        config = self.container.config
        self.dispatch = event_dispatcher(
            config, retry=True, retry_policy={"max_retries": 1, "interval_start": 0.2},
            declare=[get_event_exchange(self.container.service_name, config)],
        )

    def start(self):
        self._gt = self.container.spawn_managed_thread(self._loop)

    def stop(self):
        if self._gt is not None:
            self._gt.kill()

    def _publish(self, event: dict) -> None:
        source, event_type = split_event_type(event["event_type"])
        self.dispatch(source, event_type, event)

    def flush(self) -> int:
        session = self.factory()
        try:
            return outbox.relay(session, self.outbox_cls, self._publish)
        except Exception:
            log.exception("outbox relay failed")
            session.rollback()
            return 0
        finally:
            session.close()

    def _loop(self):
        while True:
            self.flush()
            eventlet.sleep(self.interval)

    def get_dependency(self, worker_ctx):
        return self

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        if exc_info is None:
            self.flush()

"""Nameko glue shared by the services: a DB session per worker, the outbox relay, error registry.

Kept apart from the domain modules so that they never import nameko.
"""

from __future__ import annotations

import logging

import eventlet
from eventlet.semaphore import Semaphore
from nameko.exceptions import deserialize_to_instance
from nameko.extensions import DependencyProvider
from psycogreen.eventlet import patch_psycopg

from services.common import outbox
from services.common.db import commit, database_url, rollback, session_factory
from services.common.entrypoints import queue_arguments
from services.common.errors import ALL_ERRORS
from services.common.events import split_event_type
from services.common.publisher import BrokerDown, EventPublisher

log = logging.getLogger(__name__)

for _cls in ALL_ERRORS:  # domain errors cross RPC as themselves, not as RemoteError
    deserialize_to_instance(_cls)

# psycopg2 is a C extension that eventlet's monkey patching cannot reach: without a wait callback every
# query blocks the whole process (all of its workers) until PostgreSQL answers.
patch_psycopg()


class FrozenHeap(DependencyProvider):
    """Moves what the process built at start (modules, routes, schemas: a few hundred thousand objects)
    out of the garbage collector's reach: a full collection then walks only what requests allocate.
    Without it, those collections are the p99 of a busy process: cached reads at 20 clients, p99 55-65 ms
    without, 15-20 ms with (tests/bench/bench_read_path.py). Once per process: a process running several
    containers (the tests) freezes only what its first start found, and what its first workers
    kept."""

    frozen = False  # per process
    # Once more after this many workers of the process: what the first requests loaded for good
    # (reference files, communes, nomenclatures, compiled statements) joins the frozen heap.
    REFREEZE_AFTER = 200
    workers = 0  # per process

    def start(self):
        if not FrozenHeap.frozen:
            FrozenHeap.frozen = True
            self._freeze()

    def worker_teardown(self, worker_ctx):  # after the reply: the pause delays no answer of this worker
        FrozenHeap.workers += 1
        if FrozenHeap.workers == self.REFREEZE_AFTER:
            self._freeze()

    @staticmethod
    def _freeze() -> None:
        import gc

        gc.collect()
        gc.freeze()


class Database(DependencyProvider):
    """Injects a SQLAlchemy Session. The entrypoint commits (`services.common.db.commit` /
    `transaction`); whatever it left uncommitted is rolled back, and compensated, when the worker ends.

    `Database(read_only=True)`: a session for the read entrypoints, on autocommit connections that
    PostgreSQL keeps read-only (services.common.db.get_engine): no BEGIN/ROLLBACK round trips per read.
    """

    def __init__(self, read_only: bool = False):
        self.read_only = read_only

    def setup(self):
        self.url = database_url(self.container.config)
        self.factory = session_factory(self.url, self.read_only)

    def get_dependency(self, worker_ctx):
        session = self.factory()
        self._sessions = getattr(self, "_sessions", {})
        self._sessions[worker_ctx] = session
        return session

    def recorded_events(self, worker_ctx) -> bool:
        """True when the worker's transaction stored an event in the outbox."""
        return self.flagged(worker_ctx, outbox.RECORDED)

    def flagged(self, worker_ctx, flag: str) -> bool:
        """True when the worker's session carries `flag` in its info (set by what it wrote)."""
        session = getattr(self, "_sessions", {}).get(worker_ctx)
        return bool(session is not None and session.info.get(flag))

    def worker_teardown(self, worker_ctx):
        session = self._sessions.pop(worker_ctx, None)
        if session is not None:
            try:
                rollback(session)
            finally:
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
        # One connection for the relay's life (services.common.publisher), not one per event or try;
        # it declares the exchange and the known consumers' queues (with the deployment's queue type).
        config = self.container.config
        self.publisher = EventPublisher(config["AMQP_URI"], queue_arguments=queue_arguments(config))
        self._flushing = Semaphore(1)

    def start(self):
        self._gt = self.container.spawn_managed_thread(self._loop)

    def stop(self):
        if self._gt is not None:
            self._gt.kill()
        self.publisher.close()

    def _publish(self, event: dict) -> None:
        source, event_type = split_event_type(event["event_type"])
        try:
            self.publisher.publish(source, event_type, event)
        except BrokerDown as exc:
            raise outbox.BrokerUnavailable(str(exc)) from exc

    def flush(self) -> int:
        # One pass at a time per process: the publisher's connection is not shared between greenlets.
        if not self._flushing.acquire(blocking=False):
            return 0
        try:
            return self._flush()
        finally:
            self._flushing.release()

    def _flush(self) -> int:
        session = self.factory()
        try:
            sent = outbox.relay(session, self.outbox_cls, self._publish)
            commit(session)  # the relay's own unit of work: rows marked published (or their failure)
            return sent
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
        # Only after a worker that stored an event: a read must not pay a relay pass (the periodic
        # pass still delivers everything, e.g. events stored while the broker was down).
        if exc_info is None and any(isinstance(d, Database) and d.recorded_events(worker_ctx)
                                    for d in self.container.dependencies):
            self.flush()

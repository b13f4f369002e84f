"""Publishing side of the events (kombu, no nameko worker): what the outbox relay sends through.

- one AMQP connection per relay, reused for every event (re-opened only after it failed);
- the publisher declares its `<service>.events` exchange (as nameko declares it) and the durable queues
  and bindings of the known consumers (nameko's `@event_handler`s of the suite's services, found by
  `subscriptions()`), so an event published before its consumer ever started waits in its queue;
- publishes `mandatory` with publisher confirms: an event that a known consumer should get but that no
  queue took (its queue was deleted meanwhile) is reported `Unroutable` and stays pending in the outbox
  instead of vanishing; an event type nobody subscribes to is simply published.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from functools import cache

from kombu import Connection, Exchange, Producer, Queue
from kombu.entity import PERSISTENT_DELIVERY_MODE as PERSISTENT

log = logging.getLogger(__name__)


class Unroutable(Exception):
    """No queue is bound for this event type: kept pending (a consumer may appear)."""


class BrokerDown(Exception):
    """The broker did not take the event (connection lost, refused, timed out)."""


def events_exchange(source: str) -> Exchange:
    # Same arguments as nameko's get_event_exchange (a different one would be refused by RabbitMQ).
    return Exchange(f"{source}.events", type="topic", durable=True, delivery_mode=PERSISTENT, auto_delete=False)


@dataclass(frozen=True)
class Subscription:
    source: str
    event_type: str
    queue: str


@cache
def subscriptions() -> tuple[Subscription, ...]:
    """Durable event queues of the suite's services: every nameko `@event_handler` (service pool,
    reliable delivery — the only kind the suite uses), named as nameko names them."""
    import nameko.events as nameko_events  # only to recognise the handlers, never to declare a queue

    from services.common.migrations import SERVICES

    found = []
    for name in SERVICES:
        try:
            module = importlib.import_module(f"services.{name}.service")
        except ImportError:  # a service being written may not exist yet
            continue
        for cls in vars(module).values():
            if not isinstance(cls, type) or getattr(cls, "name", None) != name:
                continue
            for attr in dir(cls):
                for entrypoint in getattr(getattr(cls, attr, None), "nameko_entrypoints", ()) or ():
                    if isinstance(entrypoint, nameko_events.EventHandler) \
                            and entrypoint.handler_type is nameko_events.SERVICE_POOL \
                            and entrypoint.reliable_delivery:
                        source, event_type = entrypoint.source_service, entrypoint.event_type
                        found.append(Subscription(source, event_type,
                                                  f"evt-{source}-{event_type}--{name}.{attr}"))
    return tuple(sorted(set(found), key=lambda s: (s.source, s.event_type, s.queue)))


class EventPublisher:
    def __init__(self, amqp_uri: str, known: tuple[Subscription, ...] | None = None, connect_timeout: float = 3,
                 queue_arguments: dict | None = None):
        self.amqp_uri = amqp_uri
        self.queue_arguments = queue_arguments or {}  # the deployment's queue type (entrypoints.py)
        self.known = known
        self.connect_timeout = connect_timeout
        self._conn: Connection | None = None
        self._producer: Producer | None = None
        self._declared: set[str] = set()
        self._returned: list = []
        self.connections_opened = 0  # for tests and `ror outbox status`: one unless the broker failed

    # ------------------------------------------------------------------ connection
    def _channel(self):
        if self._conn is None:
            conn = Connection(self.amqp_uri, connect_timeout=self.connect_timeout,
                              transport_options={"confirm_publish": True})
            try:
                conn.ensure_connection(max_retries=1, timeout=self.connect_timeout)
                channel = conn.channel()
            except Exception as exc:
                conn.release()
                raise BrokerDown(f"{type(exc).__name__}: {exc}") from exc
            # A returned (unroutable) message is recorded, not raised: the confirm that follows it must
            # still be read, or the channel's confirms would fall out of step.
            channel.events["basic_return"].add(lambda exc, exchange, key, message: self._returned.append(key))
            self._conn, self._producer, self._declared = conn, Producer(channel), set()
            self.connections_opened += 1
        return self._producer.channel

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.release()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass
        self._conn = self._producer = None

    def _declare(self, channel, source: str) -> Exchange:
        exchange = events_exchange(source)
        if source not in self._declared:
            exchange(channel).declare()
            subs = self.known if self.known is not None else subscriptions()
            for sub in subs:
                if sub.source == source:
                    Queue(sub.queue, exchange=exchange, routing_key=sub.event_type, durable=True,
                          auto_delete=False, exclusive=False,
                          queue_arguments=self.queue_arguments or None)(channel).declare()
            self._declared.add(source)
        return exchange

    # ------------------------------------------------------------------ publish
    def publish(self, source: str, event_type: str, payload: dict) -> None:
        try:
            channel = self._channel()
            exchange = self._declare(channel, source)
            self._returned.clear()
            self._producer.publish(payload, exchange=exchange, routing_key=event_type, serializer="json",
                                   mandatory=True, delivery_mode=PERSISTENT, retry=False)
        except BrokerDown:
            raise
        except Exception as exc:
            self.close()  # the connection or channel is unusable: a fresh one next time
            raise BrokerDown(f"{type(exc).__name__}: {exc}") from exc
        if self._returned and self._subscribed(source, event_type):
            raise Unroutable(f"no queue bound to {exchange.name} for {event_type}")
        # Returned with no known consumer at all: nobody wants this fact (yet); nothing to keep.

    def _subscribed(self, source: str, event_type: str) -> bool:
        subs = self.known if self.known is not None else subscriptions()
        return any(s.source == source and s.event_type == event_type for s in subs)

"""nameko entrypoints whose durable queues follow the deployment's queue type.

`ROR_QUEUE_TYPE=classic` (default, the single-node dev run) or `quorum` (production: a RabbitMQ cluster
replicates quorum queues, so a broker node lost does not lose a request or an event). Every service
declares its RPC and event queues through these two decorators, never nameko's own, so that one setting
switches them all (a test checks it). Reply queues stay classic: they are per-process and short-lived.

Quorum queues are always durable, never exclusive or auto-delete: broadcast handlers (exclusive
queues) keep the classic type.
"""

from __future__ import annotations

import logging
import sys
import time

from amqp.exceptions import ConnectionError as AmqpConnectionError
from kombu.exceptions import OperationalError
from nameko.amqp.publish import Publisher
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY,
    AMQP_URI_CONFIG_KEY,
    DEFAULT_SERIALIZER,
    LOGIN_METHOD_CONFIG_KEY,
    SERIALIZER_CONFIG_KEY,
)
from nameko.events import EventHandler
from nameko.messaging import QueueConsumer
from nameko.rpc import ReplyListener, Responder, Rpc, RpcConsumer, RpcProxy, get_rpc_exchange

from services.common.config import setting
from services.common.errors import Unavailable
from services.common.rpc import DEADLINE_KEY

log = logging.getLogger(__name__)
# What a broker that went away raises under a publish, an ack or a requeue.
BROKER_GONE = (OSError, AmqpConnectionError, OperationalError)

QUEUE_TYPES = ("classic", "quorum")


def queue_type(config: dict | None) -> str:
    value = setting("ROR_QUEUE_TYPE", config).strip().lower()
    if value not in QUEUE_TYPES:
        raise ValueError(f"ROR_QUEUE_TYPE must be one of {QUEUE_TYPES}, not {value!r}")
    return value


def queue_arguments(config: dict | None, durable: bool = True, exclusive: bool = False,
                    auto_delete: bool = False) -> dict:
    """Arguments for a queue declared by this deployment (publisher side included: a queue
    redeclared with other arguments is refused by RabbitMQ with PRECONDITION_FAILED)."""
    if queue_type(config) == "quorum" and durable and not exclusive and not auto_delete:
        return {"x-queue-type": "quorum"}
    return {}


def _retype(queue, config) -> None:
    extra = queue_arguments(config, durable=queue.durable, exclusive=queue.exclusive,
                            auto_delete=queue.auto_delete)
    if extra:
        queue.queue_arguments = {**(queue.queue_arguments or {}), **extra}


class RorQueueConsumer(QueueConsumer):
    """nameko's, except that losing the connection under an ack or a requeue does not kill the
    container (nameko catches amqp's ConnectionError only; a reset socket raises the builtin one): the
    broker redelivers the unacknowledged message after the reconnection, and handlers are idempotent."""

    def ack_message(self, message):
        try:
            super().ack_message(message)
        except BROKER_GONE as exc:
            log.warning("ack lost with the broker connection (the message comes again): %s", exc)

    def requeue_message(self, message):
        try:
            super().requeue_message(message)
        except BROKER_GONE as exc:
            log.warning("requeue lost with the broker connection (the message comes again): %s", exc)


class _UnconfirmedPublisher(Publisher):
    # A reply is not waited on for the broker's confirm: a confirmed reply may still be lost after it
    # (the caller's reply queue gone), the caller's deadline covers both, and the wait is a broker round
    # trip on every RPC. Requests keep their confirms (mandatory delivery detects a service not started).
    use_confirms = False


class RorResponder(Responder):
    publisher_cls = _UnconfirmedPublisher


class RorRpcConsumer(RpcConsumer):
    queue_consumer = RorQueueConsumer()

    def setup(self):
        super().setup()
        _retype(self.queue, self.container.config)

    def _reply(self, message, result, exc_info):
        """nameko's RpcConsumer.handle_result, with RorResponder."""
        config = self.container.config
        responder = RorResponder(config[AMQP_URI_CONFIG_KEY], get_rpc_exchange(config),
                                 config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER), message,
                                 ssl=config.get(AMQP_SSL_CONFIG_KEY), login_method=config.get(LOGIN_METHOD_CONFIG_KEY))
        result, exc_info = responder.send_response(result, exc_info)
        self.queue_consumer.ack_message(message)
        return result, exc_info

    def handle_result(self, message, result, exc_info):
        """A reply that cannot be published (broker gone) is dropped, not fatal: the caller times out."""
        try:
            return self._reply(message, result, exc_info)
        except BROKER_GONE as exc:
            log.warning("RPC reply lost with the broker connection: %s", exc)
            self.queue_consumer.ack_message(message)
            return result, exc_info


class RorRpc(Rpc):
    """Also drops a request whose caller's deadline has passed (clock in the `nameko.ror_deadline`
    header, see services.common.rpc): a second guard after the message TTL, for a message taken from
    the queue just before it expired or sent without a TTL."""

    rpc_consumer = RorRpcConsumer()

    def handle_message(self, body, message):
        deadline = (message.headers or {}).get(f"nameko.{DEADLINE_KEY}")
        try:
            late = deadline is not None and time.time() > float(deadline)
        except (TypeError, ValueError):
            late = False
        if not late:
            return super().handle_message(body, message)
        log.warning("dropping %s: its caller gave up %.1fs ago", message.delivery_info.get("routing_key"),
                    time.time() - float(deadline))
        try:
            raise Unavailable("Requête abandonnée par l'appelant (délai dépassé)")
        except Unavailable:
            # Replies (to no one, usually) and acks: the request is gone, never run.
            self.rpc_consumer.handle_result(message, None, sys.exc_info())


class RorEventHandler(EventHandler):
    queue_consumer = RorQueueConsumer()

    def setup(self):
        super().setup()
        _retype(self.queue, self.container.config)


class RorReplyListener(ReplyListener):
    queue_consumer = RorQueueConsumer()


class RorRpcProxy(RpcProxy):
    """nameko's RpcProxy whose reply queue survives a broker restart (see RorQueueConsumer)."""

    rpc_reply_listener = RorReplyListener()


rpc = RorRpc.decorator
event_handler = RorEventHandler.decorator

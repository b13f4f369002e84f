"""RPC with a deadline that travels with the request (nameko glue, used by the gateway and the services).

A caller that gives up must be able to trust that its request never runs later. Two guards:

1. the request message carries an AMQP per-message TTL (`expiration`) equal to the time the caller still
   waits: RabbitMQ discards it unconsumed once expired, e.g. while the target service is down and its
   durable `rpc-<service>` queue keeps the messages;
2. it also carries the absolute deadline (epoch seconds) in the `nameko.ror_deadline` header, so the
   server side drops a request taken from the queue after its deadline (services.common.entrypoints.rpc,
   which every service uses), and nested calls
   made by that worker inherit it (nameko forwards `nameko.*` headers as context data).

One clock: every process of the suite runs on the same machine (or NTP-synchronised hosts).
"""

from __future__ import annotations

import time

import eventlet
from nameko.exceptions import UnknownService
from nameko.rpc import MethodProxy

from services.common.errors import Unavailable

DEADLINE_KEY = "ror_deadline"


class _DeadlineMethodProxy(MethodProxy):
    """nameko's method proxy, publishing with an expiration and the deadline header."""

    def __init__(self, worker_ctx, service_name, method_name, reply_listener, deadline: float, **options):
        self.deadline = deadline
        super().__init__(worker_ctx, service_name, method_name, reply_listener, **options)

    def get_message_headers(self, worker_ctx):
        headers = super().get_message_headers(worker_ctx)  # the context data, with an inherited deadline
        headers[self._get_header_name(DEADLINE_KEY)] = self.deadline  # ours is never later (see call)
        return headers


def inherited_deadline(worker_ctx) -> float | None:
    value = (getattr(worker_ctx, "context_data", None) or {}).get(DEADLINE_KEY)
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def call(proxy, method: str, *args, timeout: float, **kwargs):
    """`proxy.method(*args, **kwargs)` answered within `timeout` seconds (and within the deadline of the
    request being served, if any), else Unavailable; the request expires in the broker at that moment."""
    now = time.time()
    deadline = now + timeout
    inherited = inherited_deadline(proxy.worker_ctx)
    if inherited is not None:
        deadline = min(deadline, inherited)
    remaining = deadline - now
    if remaining <= 0:
        raise Unavailable(f"Le service {proxy.service_name} ne répond pas (délai dépassé)")
    options = {**proxy.options, "expiration": max(remaining, 0.001)}
    method_proxy = _DeadlineMethodProxy(proxy.worker_ctx, proxy.service_name, method, proxy.reply_listener,
                                        deadline=deadline, **options)
    try:
        with eventlet.Timeout(remaining, Unavailable(f"Le service {proxy.service_name} ne répond pas")):
            return method_proxy(*args, **kwargs)
    except UnknownService as exc:
        raise Unavailable(f"Le service {proxy.service_name} n'est pas démarré",
                          {"service": proxy.service_name}) from exc

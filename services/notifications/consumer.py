"""One durable queue for every service's events (nameko glue).

nameko's `event_handler` binds one queue per (source service, event type, method): each new event
type would need new code here. Instead this entrypoint declares one durable queue,
`evt-all--notifications.on_event`, bound with `#` to each `<service>.events` topic exchange (kombu declares
a queue's extra bindings on every (re)connection), so a new event type needs only its templates.
"""

from __future__ import annotations

from kombu import Queue, binding
from nameko.messaging import Consumer
from nameko.standalone.events import get_event_exchange

from services.common.entrypoints import RorQueueConsumer, queue_arguments
from services.common.events import source_services

# evt-… like nameko's event queues (the production-mode test finds it by that prefix).
QUEUE_NAME = "evt-all--notifications.on_event"


class EveryEvent(Consumer):
    """Like `event_handler`, for every event of every service (durable, reliable delivery)."""

    queue_consumer = RorQueueConsumer()
    every_event_queue = QUEUE_NAME  # the publishers declare it too (services.common.publisher.subscriptions)

    @staticmethod
    def sources() -> list[str]:
        return source_services()

    def __init__(self, requeue_on_error: bool = True, **kwargs):
        super().__init__(queue=None, requeue_on_error=requeue_on_error, **kwargs)

    def setup(self):
        config = self.container.config
        self.queue = Queue(
            QUEUE_NAME, durable=True, auto_delete=False, queue_arguments=queue_arguments(config) or None,
            bindings=[binding(get_event_exchange(source, config), routing_key="#") for source in source_services()],
        )
        super().setup()


every_event = EveryEvent.decorator

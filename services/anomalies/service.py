"""Anomalies and support tickets service. Today: health and its outbox; tickets come with their issue."""

from services.anomalies.models import Outbox
from services.common.dependencies import Database, OutboxRelay
from services.common.health import service_health
from services.common.rpc import rpc


class AnomaliesService:
    name = "anomalies"

    db = Database()
    outbox = OutboxRelay(Outbox)

    @rpc
    def health(self):
        return service_health(self.name, self.db)

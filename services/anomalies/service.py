"""Anomalies and support tickets service. Today: health and its outbox; tickets come with their issue."""

from services.anomalies.models import Outbox
from services.common.dependencies import Database, OutboxRelay
from services.common.entrypoints import rpc
from services.common.health import service_health
from services.common.heartbeat import Heartbeat


class AnomaliesService:
    name = "anomalies"

    db = Database()
    heartbeat = Heartbeat()  # per-pod probe file (deploy/k8s)
    outbox = OutboxRelay(Outbox)

    @rpc
    def health(self):
        return service_health(self.name, self.db)

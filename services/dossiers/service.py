"""Dossiers collaboratifs service. Today: health and its outbox; the dossier lifecycle comes with its issue."""

from services.common.dependencies import Database, OutboxRelay
from services.common.entrypoints import rpc
from services.common.health import service_health
from services.common.heartbeat import Heartbeat
from services.dossiers.models import Outbox


class DossiersService:
    name = "dossiers"
    capabilities = ()  # none yet: /health reports "empty" (name each capability here as it lands)

    db = Database()
    heartbeat = Heartbeat()  # per-pod probe file (deploy/k8s)
    outbox = OutboxRelay(Outbox)

    @rpc
    def health(self):
        return service_health(self.name, self.db, self.capabilities)

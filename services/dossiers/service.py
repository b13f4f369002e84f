"""Dossiers collaboratifs service. Today: health and its outbox; the dossier lifecycle comes with its issue."""

from services.common.dependencies import Database, OutboxRelay
from services.common.health import service_health
from services.common.rpc import rpc
from services.dossiers.models import Outbox


class DossiersService:
    name = "dossiers"

    db = Database()
    outbox = OutboxRelay(Outbox)

    @rpc
    def health(self):
        return service_health(self.name, self.db)

"""Offers: reference data, structures, the six-step description path and publication."""

from nameko.rpc import rpc

from services.common.dependencies import Database, OutboxRelay
from services.common.health import service_health
from services.offers.models import Outbox


class OffersService:
    name = "offers"

    db = Database()
    outbox = OutboxRelay(Outbox)

    @rpc
    def health(self):
        return service_health(self.name, self.db)

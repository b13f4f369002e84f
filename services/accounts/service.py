"""Accounts: activation codes, activation, e-mail verification, ROR accounts, habilitations."""

from nameko.rpc import rpc

from services.accounts.models import Outbox
from services.common.dependencies import Database, OutboxRelay
from services.common.health import service_health


class AccountsService:
    name = "accounts"

    db = Database()
    outbox = OutboxRelay(Outbox)

    @rpc
    def health(self):
        return service_health(self.name, self.db)

    @rpc
    def profile(self, region: str, identity: dict) -> dict:
        return {"ror_account": None, "habilitations": []}

    @rpc
    def habilitations(self, region: str, subject: str) -> list[dict]:
        return []

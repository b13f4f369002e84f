"""Nameko dependencies of the gateway."""

from nameko.extensions import DependencyProvider

from gateway.auth import JwksCache
from gateway.habilitations import HabilitationCache
from services.common.config import setting


class Jwks(DependencyProvider):
    """One JWKS cache per gateway process, shared by its workers."""

    def setup(self):
        self.cache = JwksCache(setting("ROR_KEYCLOAK_URL", self.container.config))

    def get_dependency(self, worker_ctx):
        return self.cache


class Habilitations(DependencyProvider):
    """One habilitation cache per gateway process (gateway.habilitations)."""

    def setup(self):
        self.cache = HabilitationCache()

    def get_dependency(self, worker_ctx):
        return self.cache


class DownstreamGuards(DependencyProvider):
    """Circuit breaker + concurrency limit per downstream service, shared by the process's workers
    (gateway.resilience). ROR_RPC_CONCURRENCY bounds the calls in flight to one service."""

    def setup(self):
        from gateway.resilience import Guards

        config = self.container.config
        self.guards = Guards(limit=int(setting("ROR_RPC_CONCURRENCY", config)),
                             threshold=int(setting("ROR_BREAKER_THRESHOLD", config)),
                             cool_down=float(setting("ROR_BREAKER_COOL_DOWN", config)))

    def get_dependency(self, worker_ctx):
        return self.guards

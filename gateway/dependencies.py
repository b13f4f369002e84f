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

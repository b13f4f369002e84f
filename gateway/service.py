"""HTTP gateway: maps the HTTP contract onto RPC calls; holds no business state."""

from __future__ import annotations

import eventlet
import requests
from kombu import Connection
from nameko.dependency_providers import Config
from nameko.rpc import RpcProxy

from gateway import api
from gateway.api import Reply
from gateway.dependencies import DownstreamGuards, Habilitations, Jwks
from gateway.edge import http
from gateway.habilitations import HabilitationEvents
from gateway.readcache import ReadCacheEvents
from gateway.routes.accounts import AccountsRoutes
from gateway.routes.anomalies import AnomaliesRoutes
from gateway.routes.dashboard import DashboardRoutes
from gateway.routes.dossiers import DossiersRoutes
from gateway.routes.fhir import FhirRoutes
from gateway.routes.notifications import NotificationsRoutes, WebhooksRoutes
from gateway.routes.offers import OffersRoutes
from gateway.routes.resource_persons import ResourcePersonsRoutes
from gateway.routes.search import SearchRoutes
from gateway.routes.self_service import SelfServiceRoutes
from gateway.schemas import HealthSchema
from gateway.web.routes import WebRoutes
from services.common import rpc
from services.common.config import setting
from services.common.dependencies import ALL_ERRORS, Database, FrozenHeap  # noqa: F401  (registers domain errors for RPC)
from services.common.errors import NotFound
from services.common.heartbeat import Heartbeat
from services.common.migrations import SERVICES

HEALTH_TIMEOUT = 3.0


class GatewayService(AccountsRoutes, OffersRoutes, DossiersRoutes, AnomaliesRoutes, FhirRoutes, SearchRoutes,
                     NotificationsRoutes, WebhooksRoutes, DashboardRoutes, HabilitationEvents, ReadCacheEvents,
                     WebRoutes, SelfServiceRoutes, ResourcePersonsRoutes):
    name = "gateway"

    config = Config()
    jwks = Jwks()
    habilitations = Habilitations()
    guards = DownstreamGuards()
    db = Database()  # schema gateway: rate-limit counters, idempotency keys (gateway.models)
    frozen_heap = FrozenHeap()
    heartbeat = Heartbeat(database=False)  # per-pod probe file (deploy/k8s)
    accounts = RpcProxy("accounts")
    offers = RpcProxy("offers")
    dossiers = RpcProxy("dossiers")
    anomalies = RpcProxy("anomalies")
    notifications = RpcProxy("notifications")

    # ------------------------------------------------------------------ platform
    def _check_service(self, name: str) -> dict:
        """ok, empty (running, no capability declared yet: not counted as down) or down."""
        try:
            answer = rpc.call(getattr(self, name), "health", timeout=HEALTH_TIMEOUT)
        except BaseException as exc:  # noqa: BLE001 - a timeout is a BaseException in eventlet
            self.guards[name].breaker.trip(f"health: {type(exc).__name__}: {exc}")  # fail fast from now
            return {"status": "down", "detail": f"{type(exc).__name__}: {exc}"[:300]}
        self.guards[name].breaker.success()  # it answers: its endpoints may call it again
        status = answer.get("status")
        return {"status": status if status in ("ok", "empty") else "down",
                "capabilities": answer.get("capabilities") or [], "detail": answer}

    def _check_rabbitmq(self) -> dict:
        try:
            with Connection(self.config["AMQP_URI"], connect_timeout=2) as conn:
                conn.ensure_connection(max_retries=1)
            return {"status": "ok"}
        except Exception as exc:
            return {"status": "down", "detail": str(exc)[:300]}

    def _check_keycloak(self) -> dict:
        url = setting("ROR_KEYCLOAK_MANAGEMENT_URL", self.config) + "/health/ready"
        try:
            resp = requests.get(url, timeout=2)
            return {"status": "ok" if resp.status_code == 200 else "down", "detail": resp.json()}
        except Exception as exc:
            return {"status": "down", "detail": str(exc)[:300]}

    @api.endpoint("GET", "/health", api.ANONYMOUS, response=HealthSchema, replies={503: HealthSchema},
                  tags=("platform",))
    def health(self, ctx):
        """Each service (with the capabilities it declares), RabbitMQ, PostgreSQL and Keycloak;
        503 naming what is down. A service with no capability yet is "empty", not "ok", and not down."""
        pool = eventlet.GreenPool()
        checks = {name: pool.spawn(self._check_service, name) for name in SERVICES}
        checks["rabbitmq"] = pool.spawn(self._check_rabbitmq)
        checks["keycloak"] = pool.spawn(self._check_keycloak)
        components = {name: gt.wait() for name, gt in checks.items()}
        db_states = [c["detail"].get("database") for n, c in components.items()
                     if n in SERVICES and isinstance(c.get("detail"), dict)]
        if db_states and all(s == "ok" for s in db_states):
            components["postgresql"] = {"status": "ok"}
        else:
            components["postgresql"] = {"status": "down" if db_states else "unknown",
                                        "detail": db_states or "no service answered"}
        down = sorted(n for n, c in components.items() if c["status"] not in ("ok", "empty"))
        return Reply({"status": "down" if down else "ok", "components": components, "down": down},
                     503 if down else 200)

    @http("GET,POST,PUT,PATCH,DELETE", "/<path:path>")
    def not_found(self, request, path):
        """Werkzeug would answer unknown paths in HTML; the contract wants its error shape.
        Specific rules always win over this catch-all (werkzeug orders rules by specificity)."""
        return api.error_response(NotFound("Ressource inconnue", {"path": f"/{path}"}))

    @http("GET", "/openapi.json")
    def openapi(self, request):
        from gateway.openapi import build_spec

        return api.to_response(build_spec(), 200)

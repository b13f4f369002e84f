"""Accounts: activation codes, activation, e-mail verification, ROR accounts, habilitations.

Thin nameko entrypoints: validate the RPC input, check the actor, then hand over to
the services.accounts.operations modules with the session, the region's Keycloak directory and the offers RPCs,
and commit: the operations only flush (`transaction` commits, or rolls back and undoes Keycloak changes).
"""

from __future__ import annotations

import logging

import eventlet
import eventlet.tpool
from marshmallow import Schema, ValidationError
from nameko.dependency_providers import Config
from nameko.exceptions import RemoteError
from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy

from services.accounts import activation as activation_rules
from services.accounts import recipients_rpc, self_service_rpc, throttle
from services.accounts.directory import directory_for
from services.accounts.models import Outbox
from services.accounts.offers_client import every_professional
from services.accounts.operations import (
    activation,
    codes,
    email_verification,
    password_reset,
    ror_account,
)
from services.accounts.operations import habilitations as habilitation_ops
from services.accounts.schemas import (
    ActivateSchema,
    GrantSchema,
    IssueCodesSchema,
    PasswordResetSchema,
    VerifyEmailSchema,
)
from services.common.actor import Actor
from services.common.config import setting
from services.common.db import database_url, session_scope, transaction
from services.common.dependencies import Database, FrozenHeap, OutboxRelay
from services.common.entrypoints import rpc
from services.common.errors import Forbidden, from_marshmallow
from services.common.health import service_health
from services.common.heartbeat import Heartbeat
from services.common.regions import get_region
from services.common.rpc import call as deadline_call

log = logging.getLogger(__name__)


class Directories(DependencyProvider):
    """region -> Keycloak directory of its realm (admin client cached per process)."""

    def get_dependency(self, worker_ctx):
        config = self.container.config
        return lambda region: directory_for(region, config)


class Background(DependencyProvider):
    """Runs a function in a thread the container manages (it outlives the worker that started it)."""

    def get_dependency(self, worker_ctx):
        return self.container.spawn_managed_thread


def _load(schema: Schema, data) -> dict:
    try:
        return schema.load(data or {})
    except ValidationError as err:
        raise from_marshmallow(err) from err


def _actor(region: str, data: dict, admin: bool = False, team: bool = False) -> Actor:
    """The caller the gateway vouches for; roles re-checked here so that no other caller can skip them."""
    actor = Actor.from_dict(data)
    if actor.region != region:
        raise Forbidden("Ce compte n'appartient pas à cette région", {"region": actor.region})
    if admin and not actor.is_admin:
        raise Forbidden("Réservé aux administrateurs de la région", {"role": "requires region_admin"})
    if team and not actor.is_team:
        raise Forbidden("Réservé à l'équipe régionale", {"role": "requires a regional team role"})
    return actor


# Activation codes' scrypt off the event loop (bounded in services.accounts.activation).
activation_rules.offload = eventlet.tpool.execute


# Mixins through their module: `nameko run` runs every class of this module that has entrypoints.
class AccountsService(recipients_rpc.RecipientsRpc, self_service_rpc.SelfServiceRpc):
    name = "accounts"
    capabilities = ("activation_codes", "activation", "email_verification", "password_reset", "ror_accounts",
                    "habilitations")

    db = Database()
    reader = Database(read_only=True)  # read entrypoints: autocommit, read-only connections
    heartbeat = Heartbeat()  # per-pod probe file (deploy/k8s)
    frozen_heap = FrozenHeap()
    outbox = OutboxRelay(Outbox)
    directory = Directories()
    offers = RpcProxy("offers")
    config = Config()
    background = Background()

    # ------------------------------------------------------------------ plumbing
    def _offers(self, method: str, *args, **kwargs):
        """Offers RPC with a deadline (the in-service proxy has none): a dead service gives 503."""
        return deadline_call(self.offers, method, *args, timeout=float(setting("ROR_RPC_TIMEOUT", self.config)),
                             **kwargs)

    def _structure_exists(self, region: str, structure_id: int) -> bool:
        try:
            return bool(self._offers("structure_exists", region, structure_id))
        except RemoteError as exc:
            if exc.exc_type != "MethodNotFound":
                raise
            # Offers does not offer the check (yet): accept, the id is then only checked by its users.
            log.warning("offers.structure_exists is missing: structure %s not checked", structure_id)
            return True

    # ------------------------------------------------------------------ gateway support
    @rpc
    def health(self):
        return service_health(self.name, self.db, self.capabilities)

    @rpc
    def profile(self, region: str, identity: dict) -> dict:
        """Extra fields of GET /me: the ROR account and the habilitations."""
        get_region(region)
        return {**ror_account.profile(self.reader, region, identity["subject"]),
                **self.cgu_state(region, identity["subject"])}

    @rpc
    def habilitations(self, region: str, subject: str) -> list[dict]:
        """[{role, structure_id}] of a user, for services.common.actor.Actor."""
        get_region(region)
        return habilitation_ops.habilitation_pairs(self.reader, region, subject)

    # ------------------------------------------------------------------ activation codes
    @rpc
    def issue_codes(self, region: str, data: dict, actor: dict) -> list[dict]:
        """Codes for one RPPS or one profession (clear codes returned once)."""
        actor_ = _actor(region, actor, admin=True)
        filters = _load(IssueCodesSchema(), data)
        professionals = every_professional(lambda after, limit: self._offers(
            "national_professionals", region, rpps=filters["rpps"], profession_code=filters["profession_code"],
            after_rpps=after, limit=limit))
        days = filters["days"] or int(setting("ROR_ACTIVATION_CODE_DAYS", self.config))
        with transaction(self.db):
            result = codes.issue_codes(self.db, region, professionals, actor_.username,
                                       self.directory(region), days=days)
        return result.issued

    # ------------------------------------------------------------------ activation
    @rpc
    def activate(self, region: str, data: dict, client: str | None = None) -> dict:
        get_region(region)
        with transaction(self.db):
            return activation.activate(self.db, region, _load(ActivateSchema(), data), self.directory(region),
                                       setting("ROR_PUBLIC_URL", self.config), client=client)

    @rpc
    def verify_email(self, region: str, data: dict) -> dict:
        get_region(region)
        token = _load(VerifyEmailSchema(), data)["token"]
        with transaction(self.db):
            return email_verification.verify_email(self.db, region, token, self.directory(region))

    # ------------------------------------------------------------------ password renewal
    @rpc
    def request_password_reset(self, region: str, data: dict) -> None:
        """Answers at once whether or not the account exists (no enumeration, not even by timing);
        the look-up and Keycloak's e-mail happen in the background."""
        get_region(region)
        value = _load(PasswordResetSchema(), data)["username_or_email"]
        directory = self.directory(region)

        url = database_url(self.config)

        def allowed(user_id: str) -> bool:
            # Its own unit of work (the background thread has no worker session): noted at once, so that
            # a second request within the window finds it.
            with session_scope(url) as session:
                return throttle.reset_allowed(session, region, user_id)

        def send():
            try:
                sent = password_reset.request_password_reset(region, value, directory, allow=allowed)
                log.info("password reset in %s for %r: %s", region, value, "sent" if sent else "no account")
            except Exception:  # a managed thread must not raise: it would kill the container
                log.exception("password reset in %s for %r failed", region, value)

        self.background(send)

    @rpc
    def support_password_reset(self, region: str, username: str, actor: dict) -> dict:
        actor_ = _actor(region, actor, team=True)
        return password_reset.support_password_reset(region, username, actor_, self.directory(region))

    # ------------------------------------------------------------------ ROR account
    @rpc
    def create_ror_account(self, region: str, actor: dict) -> dict:
        actor_ = _actor(region, actor)
        with transaction(self.db):
            return ror_account.create_ror_account(
                self.db, actor_, lambda *args: self._offers("attach_owner", *args))

    # ------------------------------------------------------------------ habilitations
    @rpc
    def list_habilitations(self, region: str, username: str | None, actor: dict) -> list[dict]:
        _actor(region, actor, team=True)
        return habilitation_ops.list_habilitations(self.reader, region, username)

    @rpc
    def grant_habilitation(self, region: str, data: dict, actor: dict) -> dict:
        actor_ = _actor(region, actor, admin=True)
        with transaction(self.db):
            return habilitation_ops.grant_habilitation(self.db, region, _load(GrantSchema(), data), actor_,
                                                       self.directory(region), self._structure_exists)

    @rpc
    def revoke_habilitation(self, region: str, habilitation_id: int, actor: dict) -> dict:
        actor_ = _actor(region, actor, admin=True)
        with transaction(self.db):
            return habilitation_ops.revoke_habilitation(self.db, region, int(habilitation_id), actor_,
                                                        self.directory(region))

"""Dossiers collaboratifs: thin nameko entrypoints over `operations` (the domain) and `lifecycle` (the
declared state machine). The répertoire (snapshot, sheet rules, atomic publication) is the offers
service's, reached by RPC with a deadline; each entrypoint commits once."""

from __future__ import annotations

import base64

import eventlet
from nameko.exceptions import UnknownService
from nameko.rpc import RpcProxy

from services.common.actor import Actor
from services.common.db import is_row_id, keeping_changes, transaction
from services.common.dependencies import Database, FrozenHeap, OutboxRelay
from services.common.entrypoints import rpc as ror_rpc
from services.common.errors import InvalidInput, NotFound, RorError, Unavailable
from services.common.health import service_health
from services.common.heartbeat import Heartbeat
from services.common.regions import get_region
from services.dossiers import operations
from services.dossiers.models import Outbox
from services.dossiers.pdf import render_pdf

rpc = ror_rpc(expected_exceptions=RorError)
RPC_TIMEOUT = 20.0
APPLY_TIMEOUT = 60.0


def _actor(actor: dict | None, region: str) -> Actor:
    get_region(region)
    return Actor.in_region(actor, region)


class OffersRepertoire:
    """operations.Repertoire over RPC, each call with a deadline (a dead offers service gives 503)."""

    def __init__(self, proxy):
        self.proxy = proxy

    def _call(self, method: str, *args, timeout: float = RPC_TIMEOUT):
        try:
            with eventlet.Timeout(timeout, Unavailable("Le service du répertoire ne répond pas")):
                return getattr(self.proxy, method)(*args)
        except UnknownService as exc:
            raise Unavailable("Le service du répertoire n'est pas démarré", {"offers": str(exc)}) from exc

    def snapshot(self, region, structure_id):
        return self._call("structure_snapshot", region, structure_id)

    def check_sheet(self, kind, data, unit_type, finalise):
        return self._call("check_sheet", kind, data, unit_type, finalise)

    def apply(self, region, dossier_id, site_id, sheets, actor):
        return self._call("apply_dossier", region, dossier_id, site_id, sheets, actor, timeout=APPLY_TIMEOUT)


class DossiersService:
    name = "dossiers"
    capabilities = ("dossiers_collaboratifs",)

    db = Database()
    heartbeat = Heartbeat()  # per-pod probe file (deploy/k8s)
    frozen_heap = FrozenHeap()
    outbox = OutboxRelay(Outbox)
    offers = RpcProxy("offers")

    @rpc
    def health(self):
        return service_health(self.name, self.db, self.capabilities)

    def _repertoire(self) -> OffersRepertoire:
        return OffersRepertoire(self.offers)

    def _view(self, dossier, who: Actor) -> dict:
        return operations.view(dossier, who)

    def _write(self, region: str, dossier_id: int, actor: dict, fn):
        """Lock the dossier, run `fn(dossier, who)` in the entrypoint's transaction (committed, or rolled
        back on an error), and answer the dossier as it now is."""
        who = _actor(actor, region)
        with transaction(self.db):
            dossier = operations.load_dossier(self.db, region, int(dossier_id), for_update=True)
            result = fn(dossier, who)
        return dossier, who, result

    @rpc
    def open_dossier(self, region: str, data: dict, actor: dict) -> dict:
        who = _actor(actor, region)
        structure_id = data.get("structure_id") if isinstance(data, dict) else None
        if isinstance(structure_id, bool) or not isinstance(structure_id, int):
            raise InvalidInput("EG obligatoire", {"structure_id": "Champ obligatoire (identifiant de l'EG)."})
        if not is_row_id(structure_id):
            raise NotFound("Structure introuvable", {"structure_id": structure_id})
        with transaction(self.db):
            dossier = operations.open_dossier(self.db, self._repertoire(), region, who, structure_id,
                                              data.get("name"))
        return self._view(dossier, who)

    @rpc
    def list_dossiers(self, region: str, actor: dict, status: str | None = None) -> list[dict]:
        return operations.list_dossiers(self.db, region, _actor(actor, region), status=status)

    @rpc
    def get_dossier(self, region: str, dossier_id: int, actor: dict) -> dict:
        who = _actor(actor, region)
        dossier = operations.load_dossier(self.db, region, int(dossier_id))
        operations.require_reader(who, dossier)
        return self._view(dossier, who)

    @rpc
    def save_sheet(self, region: str, dossier_id: int, sheet_id: int, data, finalise: bool, actor: dict,
                   if_match: str | None) -> dict:
        dossier, who, _ = self._write(region, dossier_id, actor, lambda d, who: operations.save_sheet(
            self.db, self._repertoire(), d, int(sheet_id), data, finalise, who, if_match))
        return self._view(dossier, who)

    @rpc
    def rename(self, region: str, dossier_id: int, name, actor: dict, if_match: str | None) -> dict:
        dossier, who, _ = self._write(region, dossier_id, actor, lambda d, who: operations.rename(
            self.db, d, name, who, if_match))
        return self._view(dossier, who)

    @rpc
    def add_sheet(self, region: str, dossier_id: int, body: dict, actor: dict, if_match: str | None) -> dict:
        dossier, who, sheet = self._write(region, dossier_id, actor, lambda d, who: operations.add_sheet(
            self.db, self._repertoire(), d, body, who, if_match))
        return {**self._view(dossier, who), "created_sheet_id": sheet.id}

    @rpc
    def remove_sheet(self, region: str, dossier_id: int, sheet_id: int, actor: dict, if_match: str | None) -> dict:
        dossier, who, _ = self._write(region, dossier_id, actor, lambda d, who: operations.remove_sheet(
            self.db, d, int(sheet_id), who, if_match))
        return self._view(dossier, who)

    @rpc
    def finalise_sheets(self, region: str, dossier_id: int, actor: dict, if_match: str | None) -> dict:
        def finalise(d, who):
            invalid = operations.finalise_all(self.db, self._repertoire(), d, who, if_match)
            if invalid:  # the valid ones are finalised all the same; the caller is told which are not
                raise keeping_changes(InvalidInput(f"{len(invalid)} fiche(s) ne peuvent pas être finalisées",
                                                   {"sheets": invalid, "etag": operations.etag(d)}))

        dossier, who, _ = self._write(region, dossier_id, actor, finalise)
        return self._view(dossier, who)

    @rpc
    def transition(self, region: str, dossier_id: int, action, comment, actor: dict, if_match: str | None) -> dict:
        dossier, who, _ = self._write(region, dossier_id, actor, lambda d, who: operations.transition(
            self.db, self._repertoire(), d, action, comment, who, if_match))
        return self._view(dossier, who)

    @rpc
    def add_collaborator(self, region: str, dossier_id: int, username, actor: dict, if_match: str | None) -> dict:
        dossier, who, _ = self._write(region, dossier_id, actor, lambda d, who: operations.add_collaborator(
            self.db, d, username, who, if_match))
        return {"etag": operations.etag(dossier), "collaborators": operations.collaborators(dossier)}

    @rpc
    def collaborators(self, region: str, dossier_id: int, actor: dict) -> dict:
        who = _actor(actor, region)
        dossier = operations.load_dossier(self.db, region, int(dossier_id))
        operations.require_reader(who, dossier)
        return {"etag": operations.etag(dossier), "collaborators": operations.collaborators(dossier)}

    @rpc
    def add_comment(self, region: str, dossier_id: int, body, actor: dict) -> dict:
        who = _actor(actor, region)
        with transaction(self.db):
            dossier = operations.load_dossier(self.db, region, int(dossier_id))
            row = operations.add_comment(self.db, dossier, body, who)
        return {"id": row.id, "sheet_id": row.sheet_id, "author": row.author, "body": row.body,
                "created_at": row.created_at.isoformat()}

    @rpc
    def comments(self, region: str, dossier_id: int, actor: dict, sheet_id: int | None = None) -> list[dict]:
        who = _actor(actor, region)
        dossier = operations.load_dossier(self.db, region, int(dossier_id))
        operations.require_reader(who, dossier)
        return operations.comments(self.db, dossier, sheet_id)

    @rpc
    def history(self, region: str, dossier_id: int, actor: dict) -> list[dict]:
        who = _actor(actor, region)
        dossier = operations.load_dossier(self.db, region, int(dossier_id))
        operations.require_reader(who, dossier)
        return operations.history(self.db, dossier)

    @rpc
    def pdf(self, region: str, dossier_id: int, actor: dict) -> dict:
        """The dossier and all its sheets with their status, as a PDF (base64: the RPC serializer is JSON)."""
        who = _actor(actor, region)
        dossier = operations.load_dossier(self.db, region, int(dossier_id))
        operations.require_reader(who, dossier)
        content = render_pdf(operations.view(dossier, who))
        return {"filename": f"dossier-{dossier.id}.pdf", "content_base64": base64.b64encode(content).decode()}

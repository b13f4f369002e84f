"""Offers: reference data, structures, the six-step description path and publication.

Thin nameko entrypoints: each RPC opens the worker's session, calls the plain modules (reference,
steps, access, lifecycle, views, directory, pdf) and commits; the outbox relay publishes the events after the worker.
"""

from __future__ import annotations

import base64

from services.common.actor import Actor
from services.common.dependencies import Database, FrozenHeap, OutboxRelay
from services.common.entrypoints import rpc as nameko_rpc
from services.common.errors import Forbidden, InvalidInput, RorError
from services.common.health import service_health
from services.common.heartbeat import Heartbeat
from services.common.regions import get_region
from services.offers import (
    access,
    directory,
    fhir_rpc,
    lifecycle,
    quality_rpc,
    reference,
    resource_persons,
    resource_persons_rpc,
    search_rpc,
    stats_rpc,
    structures_rpc,
    views,
)
from services.offers.dependencies import NationalPushRelay, RepertoireListener
from services.offers.models import Offer, Outbox
from services.offers.pdf import render_pdf
from services.offers.search import index as search_index

# Domain errors are answers (400, 403, 409…), not failures: nameko logs them as expected, not as crashes.
rpc = nameko_rpc(expected_exceptions=RorError)


def _actor(actor: dict | None, region: str) -> Actor | None:
    if not actor:
        return None
    who = Actor.from_dict(actor)
    if who.region != region:  # a token of one realm never reads or writes another region's data
        raise Forbidden("Ce compte n'appartient pas à cette région", {"region": f"actor of {who.region}"})
    return who


def _required_actor(actor: dict | None, region: str) -> Actor:
    who = _actor(actor, region)
    if who is None:
        raise Forbidden("Authentification requise pour cette action", {"actor": "missing"})
    return who


# Mixins are referenced through their module: `nameko run services.offers.service` runs every class of the
# module that has entrypoints, and a mixin (no `name`) must not be one of them.
class OffersService(quality_rpc.QualityRpc, fhir_rpc.FhirRpc, search_rpc.SearchRpc, structures_rpc.StructuresRpc,
                    stats_rpc.StatsRpc, resource_persons_rpc.ResourcePersonsRpc):
    name = "offers"
    capabilities = ("reference_data", "structures", "offers", "offer_publication", "offer_pdf")

    db = Database()
    reader = Database(read_only=True)  # read entrypoints: autocommit, read-only connections
    heartbeat = Heartbeat()  # per-pod probe file (deploy/k8s)
    frozen_heap = FrozenHeap()
    outbox = OutboxRelay(Outbox)
    national = NationalPushRelay()
    trees = RepertoireListener()  # répertoire trees kept until a change is committed (services.offers.tree_cache)

    @rpc
    def health(self):
        return service_health(self.name, self.db, self.capabilities)

    # ------------------------------------------------------------ reference data
    @rpc
    def nomenclature(self, name: str, q: str | None = None, limit: int | None = None) -> list[dict]:
        return reference.list_concepts(name, q=q, limit=limit)

    @rpc
    def communes(self, q: str, region: str | None = None, limit: int = 20,
                 departement: str | None = None) -> list[dict]:
        insee_region = get_region(region).insee_region if region else None
        return reference.search_communes(q, limit=max(1, min(int(limit), 100)), region=insee_region,
                                         departement=departement)

    # ------------------------------------------------------------ répertoire
    @rpc
    def structures(self, region: str, departement: str | None = None, discipline: str | None = None) -> dict:
        get_region(region)
        return self.trees.get((region, departement, discipline), lambda: directory.structure_tree(
            self.reader, region, departement=departement, discipline=discipline))

    @rpc
    def structure_exists(self, region: str, structure_id: int) -> bool:
        """For the accounts service: habilitations are granted on existing structures only."""
        get_region(region)
        return directory.structure_exists(self.reader, region, int(structure_id))

    @rpc
    def national_professionals(self, region: str, rpps: str | None = None, profession_code: str | None = None,
                               after_rpps: str | None = None, limit: int = 1000) -> list[dict]:
        """For the accounts service: professionals of the RPPS import and their generated offers
        (one page in RPPS order; pass the last RPPS as `after_rpps` for the next)."""
        get_region(region)
        return directory.national_professionals(self.reader, region, rpps=rpps, profession_code=profession_code,
                                                after_rpps=after_rpps, limit=int(limit))

    @rpc
    def attach_owner(self, region: str, rpps: str, subject: str, username: str | None = None) -> list[int]:
        """For the accounts service: the ROR account `subject` now owns the offers generated for `rpps`."""
        get_region(region)
        ids = directory.attach_owner(self.db, region, rpps, subject, username)
        self.db.commit()
        return ids

    # ------------------------------------------------------------ offers
    @rpc
    def list_offers(self, region: str, actor: dict, mine: bool = False, status: str | None = None,
                    limit: int = 50, offset: int = 0) -> dict:
        who = _required_actor(actor, region)
        return directory.list_offers(self.reader, region, who, mine=mine, status=status, limit=limit, offset=offset)

    @rpc
    def get_offer(self, region: str, offer_id: int, actor: dict | None = None) -> dict:
        who = _actor(actor, region)
        offer, people = resource_persons.load_with_current(self.reader, region, offer_id)
        audience = access.audience(self.reader, who, offer)
        return {**views.view(offer, audience),
                "resource_persons": resource_persons.for_sheet(self.reader, offer, audience, people=people)}

    def _locked(self, region: str, offer_id: int, actor: dict) -> tuple[Actor, Offer]:
        """The caller and the offer, row-locked until commit: concurrent writes see each other's version."""
        who = _required_actor(actor, region)
        return who, access.load_offer(self.db, region, offer_id, for_update=True)

    def _committed(self, offer: Offer) -> dict:
        self.db.commit()
        return views.view(offer, access.OWNER)

    @rpc
    def save_step(self, region: str, offer_id: int, step: str, data: dict, actor: dict,
                  if_match: str | None) -> dict:
        who, offer = self._locked(region, offer_id, actor)
        lifecycle.save_step(self.db, offer, step, data, who, if_match)
        return self._committed(offer)

    @rpc
    def publish(self, region: str, offer_id: int, actor: dict, if_match: str | None) -> dict:
        who, offer = self._locked(region, offer_id, actor)
        lifecycle.publish(self.db, offer, who, if_match)
        search_index.refresh_offer(self.db, offer.id)  # the index follows in the same transaction
        return self._committed(offer)

    @rpc
    def unpublish(self, region: str, offer_id: int, actor: dict, if_match: str | None) -> dict:
        who, offer = self._locked(region, offer_id, actor)
        lifecycle.unpublish(self.db, offer, who, if_match)
        search_index.refresh_offer(self.db, offer.id)
        return self._committed(offer)

    @rpc
    def prefill(self, region: str, offer_id: int, from_offer_id: int, actor: dict, if_match: str | None) -> dict:
        if from_offer_id is None:
            raise InvalidInput("Offre source requise", {"from_offer_id": "missing"})
        who, target = self._locked(region, offer_id, actor)
        source = access.load_offer(self.db, region, int(from_offer_id))
        lifecycle.prefill(self.db, target, source, who, if_match)
        return self._committed(target)

    @rpc
    def pdf(self, region: str, offer_id: int, actor: dict | None = None) -> dict:
        """The published sheet as a PDF (base64: the RPC serializer is JSON)."""
        who = _actor(actor, region)
        offer = access.load_offer(self.reader, region, offer_id)
        sheet = views.view(offer, access.audience(self.reader, who, offer))
        if not sheet.get("published"):
            raise InvalidInput("Cette offre n'a pas encore été publiée : pas de fiche à exporter",
                               {"offer_id": "never published"})
        content = render_pdf(sheet)
        return {"filename": f"offre-{offer.id}.pdf", "content_base64": base64.b64encode(content).decode()}

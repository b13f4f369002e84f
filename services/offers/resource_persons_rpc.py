"""Offers entrypoints of the « Personnes ressources » (mixin of OffersService) and their schemas."""

from __future__ import annotations

import logging

from marshmallow import ValidationError
from nameko.timer import timer

from services.common.actor import Actor
from services.common.entrypoints import rpc as nameko_rpc
from services.common.errors import Forbidden, RorError, from_marshmallow
from services.common.regions import get_region
from services.offers import access, resource_persons, views
from services.offers.contracts import ResourcePersonSchema

log = logging.getLogger(__name__)
rpc = nameko_rpc(expected_exceptions=RorError)
class ResourcePersonsRpc:
    def _who(self, region: str, actor: dict | None) -> Actor | None:
        get_region(region)
        who = Actor.from_dict(actor) if actor else None
        if who is not None and who.region != region:
            raise Forbidden("Ce compte n'appartient pas à cette région", {"region": who.region})
        return who

    @rpc
    def list_resource_persons(self, region: str, offer_id: int, actor: dict | None = None) -> list[dict]:
        who = self._who(region, actor)
        offer = access.load_offer(self.db, region, int(offer_id))
        audience = access.audience(self.db, who, offer)
        views.view(offer, audience)  # 404 when this audience may not see the offer at all
        return resource_persons.for_sheet(self.db, offer, audience)

    @rpc
    def add_resource_person(self, region: str, offer_id: int, data: dict, actor: dict) -> dict:
        who = self._who(region, actor)
        try:
            payload = ResourcePersonSchema().load(data or {})
        except ValidationError as err:
            raise from_marshmallow(err) from err
        offer = access.load_offer(self.db, region, int(offer_id), for_update=True)
        person = resource_persons.add(self.db, offer, payload, who)
        self.db.commit()
        return resource_persons.view(person, access.OWNER)

    @rpc
    def remove_resource_person(self, region: str, offer_id: int, person_id: int, actor: dict) -> dict:
        who = self._who(region, actor)
        offer = access.load_offer(self.db, region, int(offer_id), for_update=True)
        removed = resource_persons.remove(self.db, offer, int(person_id), who)
        self.db.commit()
        return removed

    @rpc
    def expire_resource_persons(self) -> int:
        """What the timer does, on demand (tests, operators)."""
        count = resource_persons.expire(self.db)
        self.db.commit()
        return count

    @timer(interval=3600)
    def resource_persons_timer(self):
        try:
            count = resource_persons.expire(self.db)
            self.db.commit()
            if count:
                log.info("%d resource person(s) removed at the end of their period", count)
        except Exception:  # the next tick retries
            self.db.rollback()
            log.exception("resource persons expiry failed")

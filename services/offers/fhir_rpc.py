"""FHIR RPCs of the offers service (mixin of OffersService): read, search and the CapabilityStatement
of a region's published répertoire, for the gateway's /fhir/{region}/ API."""

from __future__ import annotations

from services.common.actor import Actor
from services.common.entrypoints import rpc as nameko_rpc
from services.common.errors import Forbidden, RorError
from services.common.regions import get_region
from services.offers.fhir import exposure, mapping

rpc = nameko_rpc(expected_exceptions=RorError)


def _public(region: str, actor: dict | None) -> bool:
    """Anonymous readers get the patients' contacts only; a user of the region gets the professionals' too."""
    if not actor:
        return True
    who = Actor.from_dict(actor)
    if who.region != region:
        raise Forbidden("Ce compte n'appartient pas à cette région", {"region": f"actor of {who.region}"})
    return False


class FhirRpc:
    @rpc
    def fhir_metadata(self, region: str, base_url: str) -> dict:
        get_region(region)
        return mapping.capability_statement(region, base_url)

    @rpc
    def fhir_read(self, region: str, resource_type: str, resource_id: str, actor: dict | None = None) -> dict:
        get_region(region)
        return exposure.read(self.db, region, resource_type, resource_id, public=_public(region, actor))

    @rpc
    def fhir_search(self, region: str, resource_type: str, params: dict, base_url: str,
                    actor: dict | None = None) -> dict:
        get_region(region)
        return exposure.search(self.db, region, resource_type, params, base_url, public=_public(region, actor))

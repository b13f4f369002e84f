"""Offers entrypoints for the structures themselves (mixed into OffersService): in-place edits of the
PDL guide §3, and what the dossiers service needs (sheet rules, snapshot, atomic publication).
Thin: each calls `structure_edits` with the worker's session and commits once."""

from __future__ import annotations

from services.common.actor import Actor
from services.common.db import transaction
from services.common.entrypoints import rpc as nameko_rpc
from services.common.errors import RorError
from services.offers import structure_edits as edits

rpc = nameko_rpc(expected_exceptions=RorError)


def _actor(actor: dict | None, region: str) -> Actor:
    return Actor.in_region(actor, region)


class StructuresRpc:
    """Needs `self.db` (the service's Database dependency)."""

    def _structure_write(self, region: str, structure_id: int, actor: dict, fn) -> dict:
        who = _actor(actor, region)
        with transaction(self.db):
            structure = edits.load_structure(self.db, region, int(structure_id), for_update=True)
            result = fn(structure, who)
        return {**edits.view_structure(self.db, structure),
                "result": result if isinstance(result, dict) else None}

    @rpc
    def get_structure(self, region: str, structure_id: int, actor: dict) -> dict:
        _actor(actor, region)
        return edits.view_structure(self.db, edits.load_structure(self.db, region, int(structure_id)))

    @rpc
    def update_structure(self, region: str, structure_id: int, data: dict, actor: dict,
                         if_match: str | None) -> dict:
        return self._structure_write(region, structure_id, actor,
                                     lambda s, who: edits.update_admin(self.db, s, data, who, if_match))

    @rpc
    def set_structure_activities(self, region: str, structure_id: int, data: dict, actor: dict,
                                 if_match: str | None) -> dict:
        return self._structure_write(region, structure_id, actor,
                                     lambda s, who: edits.set_activities(self.db, s, data, who, if_match))

    @rpc
    def add_structure_practitioner(self, region: str, structure_id: int, data: dict, actor: dict,
                                   if_match: str | None) -> dict:
        return self._structure_write(region, structure_id, actor,
                                     lambda s, who: edits.add_practitioner(self.db, s, data, who, if_match))

    @rpc
    def remove_structure_practitioner(self, region: str, structure_id: int, practitioner_id: int,
                                      actor: dict, if_match: str | None) -> dict:
        return self._structure_write(
            region, structure_id, actor,
            lambda s, who: edits.remove_practitioner(self.db, s, int(practitioner_id), who, if_match))

    @rpc
    def set_structure_capacities(self, region: str, structure_id: int, data: dict, actor: dict,
                                 if_match: str | None) -> dict:
        return self._structure_write(region, structure_id, actor,
                                     lambda s, who: edits.set_capacities(self.db, s, data, who, if_match))

    # ------------------------------------------------------------ for the dossiers service
    @rpc
    def check_sheet(self, kind: str, data: dict, unit_type: str | None = None, finalise: bool = False) -> dict:
        if kind == "uo":
            edits.check_unit_type(unit_type)
        return edits.check_sheet(kind, data, unit_type=unit_type, finalise=finalise)

    @rpc
    def structure_snapshot(self, region: str, structure_id: int) -> dict:
        return edits.snapshot(self.db, region, int(structure_id))

    @rpc
    def apply_dossier(self, region: str, dossier_id: int, site_id: int, sheets: list, actor: dict) -> dict:
        """Every sheet of a validated dossier in one transaction: all applied, or nothing."""
        who = _actor(actor, region)
        with transaction(self.db):
            return edits.apply_dossier(self.db, region, int(dossier_id), int(site_id), sheets, who)

"""Search and répertoire entrypoints of the offers service (a mixin of OffersService: thin, the rules
live in services.offers.search)."""

from __future__ import annotations

import base64

from services.common.actor import Actor
from services.common.entrypoints import rpc as nameko_rpc
from services.common.errors import Forbidden, RorError
from services.common.regions import get_region
from services.offers import access
from services.offers.search import export, query, repertoire

rpc = nameko_rpc(expected_exceptions=RorError)


def _caller(actor: dict | None, region: str) -> Actor | None:
    if not actor:
        return None
    who = Actor.from_dict(actor)
    if who.region != region:
        raise Forbidden("Ce compte n'appartient pas à cette région", {"region": f"actor of {who.region}"})
    return who


def _audience(actor: dict | None, region: str) -> str:
    """Anonymous callers get the public view; logged-in users of the region the professional one."""
    return access.PUBLIC if _caller(actor, region) is None else access.PROFESSIONAL


def _subject(actor: dict | None, region: str) -> str:
    who = _caller(actor, region)
    if who is None:
        raise Forbidden("Authentification requise pour cette action", {"actor": "missing"})
    return who.subject


class SearchRpc:
    @rpc
    def search(self, region: str, args: dict, actor: dict | None = None) -> dict:
        get_region(region)
        criteria = query.Criteria.from_dict(region, args or {})
        return query.search(self.reader, criteria, _audience(actor, region))

    @rpc
    def search_geojson(self, region: str, args: dict, actor: dict | None = None) -> dict:
        get_region(region)
        return query.geojson(self.reader, query.Criteria.from_dict(region, args or {}), _audience(actor, region))

    @rpc
    def search_export(self, region: str, args: dict, actor: dict | None = None) -> dict:
        get_region(region)
        criteria = query.Criteria.from_dict(region, args or {})
        answer = query.all_results(self.reader, criteria, _audience(actor, region))
        title = " ".join(x for x in (criteria.q, f"dans {query.CATEGORIES[criteria.in_][0]}",
                                     f"à {criteria.where}" if criteria.where else None) if x)
        content = export.workbook(answer, title)
        return {"filename": "recherche-ror.xlsx", "content_base64": base64.b64encode(content).decode()}

    @rpc
    def search_suggest(self, region: str, q: str, in_: str = "all", limit: int = 20) -> list[dict]:
        get_region(region)
        return query.suggest(self.reader, region, q, in_, limit=max(1, min(int(limit), 50)))

    @rpc
    def repertoire_legal_entities(self, region: str, q: str, actor: dict | None = None) -> dict:
        get_region(region)
        who = _caller(actor, region)
        return repertoire.legal_entities(self.reader, region, q, who.subject if who else None)

    @rpc
    def favourites(self, region: str, actor: dict) -> list[dict]:
        get_region(region)
        return repertoire.list_favourites(self.reader, region, _subject(actor, region))

    @rpc
    def favourite(self, region: str, structure_id: int, actor: dict) -> dict:
        get_region(region)
        return repertoire.get_favourite(self.reader, region, _subject(actor, region), int(structure_id))

    @rpc
    def add_favourite(self, region: str, structure_id: int, actor: dict) -> dict:
        get_region(region)
        item, created = repertoire.add_favourite(self.db, region, _subject(actor, region), int(structure_id))
        self.db.commit()
        return {**item, "created": created}

    @rpc
    def remove_favourite(self, region: str, structure_id: int, actor: dict) -> None:
        get_region(region)
        repertoire.remove_favourite(self.db, region, _subject(actor, region), int(structure_id))
        self.db.commit()

"""« Rechercher »: « Où ? » + « Que recherchez-vous ? » with suggestions, facets with their counts, the list
(15 a page, by distance or relevance), the map (Leaflet, markers from the GeoJSON endpoint) and the Excel
export. The page calls the offers RPC `search` as GET /api/{region}/search does."""

from __future__ import annotations

from urllib.parse import urlencode

from marshmallow import ValidationError

from gateway.routes.search import SearchQuerySchema
from gateway.web.framework import Web, page, setting_or_empty
from gateway.web.render import render
from services.common.errors import InvalidInput, from_marshmallow

CATEGORIES = (("all", "Tout le ROR"), ("operational_activities", "Activités opérationnelles"),
              ("specific_acts", "Actes spécifiques"), ("unit_types", "Types d'UO"),
              ("equipments", "Équipements spécifiques"), ("specific_competences", "Compétences spécifiques"))
FACETS = (("patientele", "Patientèles", False), ("offer_type", "Types d'offres", False),
          ("operational_activities", "Activités opérationnelles", True),
          ("care_modes", "Modes de prise en charge", True), ("unit_types", "Types d'UO", True),
          ("specialties", "Savoir-faire", True), ("professions", "Professions", True))
PARAMS = ("where", "q", "in", "sort", "page", "radius_km", "home_visit") + tuple(f for f, _, _ in FACETS)


class SearchPages:
    @page("GET", "/<region>/recherche")
    def web_search(self, web: Web):
        args = {k: v for k in PARAMS if (v := (web.request.args.get(k) or "").strip())}
        answer, errors, error_message = None, {}, None
        if args.get("where") or args.get("q"):
            try:
                answer = web.rpc("offers", "search", web.region.code, _loaded(args), actor=web.actor(), timeout=30)
            except InvalidInput as exc:
                errors, error_message = exc.fields, exc.message
        def link(**change):
            merged = {**args, **change}
            merged.pop("page", None) if "page" not in change else None
            return web.url("/recherche?" + urlencode({k: v for k, v in merged.items() if v not in (None, "")}))
        facets = []
        if answer:
            for name, label, many in FACETS:
                chosen = set((args.get(name) or "").split(",")) - {""}
                values = []
                for v in answer["facets"].get(name, [])[:12]:
                    on = v["code"] in chosen
                    new = (chosen - {v["code"]}) if on else ((chosen | {v["code"]}) if many else {v["code"]})
                    values.append({**v, "on": on, "href": link(**{name: ",".join(sorted(new))})})
                if values:
                    facets.append({"label": label, "values": values})
        query = urlencode({k: v for k, v in args.items() if k != "page"})
        return web.page("search.html", "Rechercher une offre", status=400 if errors else 200, args=args,
                        answer=answer, facets=facets, categories=CATEGORIES, link=link, query=query,
                        tiles=setting_or_empty("ROR_MAP_TILES_URL"),
                        errors=errors, error_message=error_message)

    @page("GET", "/<region>/ui/suggestions")
    def web_search_suggestions(self, web: Web):
        """Suggestions from 3 letters for « Que recherchez-vous ? » (an htmx fragment: a datalist)."""
        q = (web.request.args.get("q") or "").strip()[:200]
        found = []
        if len(q) >= 3:
            found = web.rpc("offers", "search_suggest", web.region.code, q, web.request.args.get("in") or "all",
                            limit=10)
        return render("_suggestions.html", suggestions=found)


def _loaded(args: dict) -> dict:
    """The query checked by the API's own schema (same 400 messages as GET /api/{region}/search)."""
    try:
        loaded = SearchQuerySchema().load(args)
    except ValidationError as err:
        raise from_marshmallow(err, "Paramètres de recherche invalides") from err
    loaded["in"] = loaded.pop("in_")
    return {k: v for k, v in loaded.items() if v is not None}

"""« Où ? » + « Que recherchez-vous ? »: the search of the répertoire (plain module, SQL on the index).

- `where` (optional): a commune name, a postal code, an INSEE code or an establishment name. It gives
  the point distances are measured from and the communes whose home-visit offers are found wherever
  their office is (territoire d'intervention: distance 0 for the served commune).
- `q` + `in`: free text in all of the ROR (offers and establishments) or in one category — a
  nomenclature (actes spécifiques, activités opérationnelles, types d'UO, équipements, compétences),
  whose concepts matching the text select the offers holding them — or the establishments only.
- facet filters, `sort=distance|relevance`, 15 results a page, 200 results at most (`capped`).

Facets count the results (at most 200, the ones a user can page through), or every match with
`facets=all`. With a place, candidates are the offers serving the searched commune and the nearest
matches within `radius_km` (`_nearest`: the entries nearest to the place, then rings of squares in the
GIN index); relevance then ranks the nearest `RELEVANCE_POOL` matches.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.errors import InvalidInput
from services.common.regions import get_region
from services.offers import reference, steps
from services.offers.contracts import (  # noqa: F401  (the contract's)
    CATEGORIES,
    FACET_SCOPES,
    OFFER_TYPES,
    PATIENTELES,
    SORTS,
)
from services.offers.search import reference_tables
from services.offers.search import text as search_text
from services.offers.search.index import CELL_SIZES_KM, KM_PER_DEGREE_LAT, KM_PER_DEGREE_LON, cell_key
from services.offers.search.opening import open_now

PER_PAGE = 15
MAX_RESULTS = 200
RELEVANCE_POOL = 300  # relevance lists the 200 most relevant of the 300 nearest matches
DEFAULT_RADIUS_KM = 150
WALK = 1500  # the first ring reaches this many entries nearest to the place: a common need is there
RING_GROWTH = 1.6  # each ring of the nearest matches reaches at least this many times farther
MIN_RING_KM = 1.0  # the WALK nearest entries may all be at the very point of the place
MAX_CELLS = 128  # squares of one ring's index scan at most
# Great-circle distance (km) from the place (:lat, :lon).
_DISTANCE = """CASE WHEN e.latitude IS NULL THEN NULL ELSE 2 * 6371.0 * asin(sqrt(
               power(sin(radians(e.latitude - :lat) / 2), 2)
               + cos(radians(:lat)) * cos(radians(e.latitude)) * power(sin(radians(e.longitude - :lon) / 2), 2)))
           END"""
# The square of ± radius km around the place, as a filter (a GiST scan of a whole neighbourhood would
# cost more than the nearby matches it is combined with).
_IN_SQUARE = "(e.geo + point(0, 0)) <@ box(point(:x - :radius, :y - :radius), point(:x + :radius, :y + :radius))"
# Estimated travel time: straight-line distance × road detour factor, at an average speed.
ROAD_FACTOR = 1.3
AVERAGE_SPEED_KMH = 45.0

FACETS = {  # facet name -> label (the order of the answer)
    "patientele": "Patientèles",
    "offer_type": "Types d'offres",
    "operational_activities": "Activités opérationnelles",
    "care_modes": "Modes de prise en charge",
    "unit_types": "Types d'UO",
    "specialties": "Spécialités",
    "professions": "Professions",
}
LIST_FILTERS = ("operational_activities", "care_modes", "unit_types", "specialties", "professions",
                "departements")


@dataclass
class Place:
    label: str
    kind: str  # commune | postal_code | establishment
    latitude: float | None
    longitude: float | None
    communes: list[str] = field(default_factory=list)  # served communes that count as "here"

    def to_dict(self) -> dict:
        return {"label": self.label, "kind": self.kind, "latitude": self.latitude, "longitude": self.longitude,
                "communes": self.communes}


@dataclass
class Criteria:
    region: str
    where: str | None = None
    q: str | None = None
    in_: str = "all"
    sort: str = "distance"
    page: int = 1
    radius_km: float = DEFAULT_RADIUS_KM
    patientele: str | None = None
    offer_type: str | None = None
    home_visit: bool = False  # « à domicile »: offers whose territory covers the place (visite à domicile)
    filters: dict[str, list[str]] = field(default_factory=dict)
    facets: str = "results"  # what facets count: the results (≤ 200) or every match (`all_facets`)

    @classmethod
    def from_dict(cls, region: str, args: dict) -> Criteria:
        """From the RPC arguments (already checked by the gateway's schema; checked again here)."""
        in_ = args.get("in") or args.get("in_") or "all"
        if in_ not in CATEGORIES:
            raise InvalidInput("Catégorie de recherche inconnue", {"in": f"one of {list(CATEGORIES)}"})
        sort = args.get("sort") or "distance"
        if sort not in SORTS:
            raise InvalidInput("Tri inconnu", {"sort": f"one of {list(SORTS)}"})
        try:
            page = int(args["page"]) if args.get("page") is not None else 1
            radius = float(args["radius_km"]) if args.get("radius_km") is not None else DEFAULT_RADIUS_KM
        except (TypeError, ValueError):
            raise InvalidInput("Page ou rayon invalide", {"page": "integer ≥ 1", "radius_km": "number"}) from None
        if page < 1:
            raise InvalidInput("Page invalide", {"page": "≥ 1"})
        patientele = args.get("patientele")
        if patientele is not None and patientele not in PATIENTELES:
            raise InvalidInput("Patientèle inconnue", {"patientele": "E (enfants) or A (adultes)"})
        offer_type = args.get("offer_type")
        if offer_type is not None and offer_type not in OFFER_TYPES:
            raise InvalidInput("Type d'offre inconnu", {"offer_type": f"one of {list(OFFER_TYPES)}"})
        if not 1 <= radius <= 1000:
            raise InvalidInput("Rayon invalide", {"radius_km": "between 1 and 1000"})
        filters = {}
        for name in LIST_FILTERS:
            values = args.get(name)
            if isinstance(values, str):
                values = values.split(",")
            values = [v.strip() for v in values or [] if v and v.strip()]
            if values:
                filters[name] = values[:50]
        home_visit = args.get("home_visit") in (True, "true", "1")
        scope = args.get("facets") or "results"
        if scope not in FACET_SCOPES:
            raise InvalidInput("Portée des facettes inconnue", {"facets": f"one of {list(FACET_SCOPES)}"})
        return cls(region=region, where=(args.get("where") or "").strip() or None,
                   q=(args.get("q") or "").strip() or None, in_=in_, sort=sort, page=page, radius_km=radius,
                   patientele=patientele, offer_type=offer_type, home_visit=home_visit, filters=filters,
                   facets=scope)


# ------------------------------------------------------------------ the place

@cache
def _communes_by_name() -> dict[str, list[reference.Commune]]:
    found: dict[str, list[reference.Commune]] = {}
    for commune in reference.communes().values():
        found.setdefault(reference.normalize(commune.name), []).append(commune)
    return found


@cache
def _communes_by_postal_code() -> dict[str, list[reference.Commune]]:
    found: dict[str, list[reference.Commune]] = {}
    for commune in reference.communes().values():
        for code in commune.postal_codes:
            found.setdefault(code, []).append(commune)
    return found


def resolve_place(session: Session, region: str, where: str | None) -> Place | None:
    if not where:
        return None
    insee_region = get_region(region).insee_region
    compact = where.replace(" ", "").upper()
    if compact.isdigit() or (len(compact) == 5 and compact[:2] in ("2A", "2B") and compact[2:].isdigit()):
        found = _communes_by_postal_code().get(compact) or (
            [reference.get_commune(compact)] if reference.get_commune(compact) else [])
        if found:
            best = max(found, key=lambda c: c.population)
            label = f"{best.name} ({compact})" if len(found) == 1 else f"{compact} ({len(found)} communes)"
            return Place(label, "postal_code", best.latitude, best.longitude, [c.code for c in found])
        raise InvalidInput("Lieu introuvable : aucun code postal ni code commune ne correspond",
                           {"where": f"unknown postal code {where}"})
    wanted = reference.normalize(where)
    exact = _communes_by_name().get(wanted)
    if exact:  # homonyms: the region's first, then the most populated
        chosen = min(exact, key=lambda c: (c.region != insee_region, -c.population)).to_dict()
    else:
        communes = reference.search_communes(where, limit=20, region=insee_region)
        starting = [c for c in communes if reference.normalize(c["name"]).startswith(wanted)]
        chosen = (starting or [None])[0]
    if chosen is not None:
        return Place(chosen["label"], "commune", chosen["latitude"], chosen["longitude"], [chosen["code"]])
    tsq = search_text.tsquery(session, where)
    if tsq:
        row = session.execute(text(
            "SELECT name, latitude, longitude, commune_insee FROM offers.search_entries "
            "WHERE region = :r AND entry_kind = 'structure' AND document @@ CAST(:tsq AS tsquery) "
            "ORDER BY ts_rank(document, CAST(:tsq AS tsquery)) DESC, structure_kind = 'site' DESC, name LIMIT 1"),
            {"r": region, "tsq": tsq}).first()
        if row is not None:
            return Place(row.name, "establishment", row.latitude, row.longitude,
                         [row.commune_insee] if row.commune_insee else [])
    raise InvalidInput("Lieu introuvable : saisissez une commune, un code postal ou un établissement",
                       {"where": f"no commune, postal code or establishment matches {where!r}"})


# ------------------------------------------------------------------ SQL

# What sorting and facets need, for every candidate; the rest only for the results shown (`details`).
# (`labels` as text: facets read the labels of a profession or speciality once, not those of every row.)
_COLUMNS = """e.id, e.entry_kind, e.name, e.offer_type, e.unit_type, e.care_mode, e.professions, e.specialties,
    e.activities, e.age_min, e.age_max, e.labels::text AS labels_text"""
_DETAILS = """e.id, e.structure_id, e.offer_id, e.structure_kind, e.parent_id, e.parent_name, e.legal_entity_id,
    e.legal_entity_name, e.finess, e.finess_ej, e.address_line, e.postal_code, e.city, e.commune_insee,
    e.departement, e.latitude, e.longitude, e.phone, e.contacts, e.hours, e.labels, e.published_at"""


def _filters(c: Criteria, params: dict, codes: list[str] | None, tsq: str | None,
             match: tuple[str | None, bool] = (None, False)) -> list[str]:
    """SQL conditions on the entries; `match` is `tsq` for the index, with its prefixes expanded, and
    whether the rows must still be checked against `tsq` (search_text.matching)."""
    where = ["e.region = :region"]
    # The kind as an expression, not the column: the GIN scan narrows by it ('k:…' keys) and the planner
    # would otherwise AND the bitmap of every establishment (the unique index on the kind) with it.
    if c.in_ == "structures":
        where.append("(e.entry_kind || '') = 'structure'")
    elif c.in_ != "all" or c.patientele or c.home_visit or c.filters.keys() - {"departements"}:
        where.append("(e.entry_kind || '') = 'offer'")
    if c.home_visit:
        params["home_visit"] = [reference.HOME_VISIT]
        where.append("e.reception_modalities && CAST(:home_visit AS text[])")
    column = CATEGORIES[c.in_][1]
    if codes is not None:
        params["codes"] = codes
        where.append(f"e.{column} = ANY(:codes)" if column == "unit_type" else f"e.{column} && CAST(:codes AS text[])")
    elif tsq:
        params["tsq"] = tsq
        params["tsq_match"] = match[0] or tsq
        where.append("e.document @@ CAST(:tsq_match AS tsquery)")
        if match[1]:  # a function, not the operator: checked on the rows the index found, not by the index
            where.append("ts_match_vq(e.document, CAST(:tsq AS tsquery))")
    if c.patientele == "E":
        where.append("e.age_min < 18")
    elif c.patientele == "A":
        where.append("coalesce(e.age_max, 150) >= 18")
    if c.offer_type:
        params["offer_type"] = c.offer_type
        where.append("e.offer_type = :offer_type")
    columns = {"operational_activities": ("activities", True), "care_modes": ("care_mode", False),
               "unit_types": ("unit_type", False), "specialties": ("specialties", True),
               "professions": ("professions", True), "departements": ("departement", False)}
    for name, values in c.filters.items():
        column_name, is_array = columns[name]
        params[f"f_{name}"] = values
        where.append(f"e.{column_name} && CAST(:f_{name} AS text[])" if is_array
                     else f"e.{column_name} = ANY(:f_{name})")
    return where


def _category_codes(session: Session, c: Criteria, tsq: str | None) -> list[str] | None:
    """Codes of the category's concepts matching the text (None: no category, or no text)."""
    if c.in_ in ("all", "structures") or tsq is None:
        return None
    if tsq == "":
        return []
    return list(session.execute(text(
        "SELECT code FROM offers.search_concepts WHERE category = :cat AND document @@ CAST(:tsq AS tsquery)"),
        {"cat": c.in_, "tsq": tsq}).scalars())


def _cells_around(x: float, y: float, reach: float, disk: bool = False, inner: float | None = None) -> list[str] | None:
    """Keys of the squares covering [x ± reach] × [y ± reach] — or, with `disk`, only those meeting the
    disk of radius `reach` (a ring's condition is a projected distance) —, at the smallest size that
    needs at most MAX_CELLS of them; None when even the largest squares would need more (no cell
    condition then). Squares lying wholly within the disk of radius `inner` (a previous ring, whose
    matches are all found) are left out."""
    for size in CELL_SIZES_KM:
        xs = range(math.floor((x - reach) / size), math.floor((x + reach) / size) + 1)
        ys = range(math.floor((y - reach) / size), math.floor((y + reach) / size) + 1)
        if len(xs) * len(ys) > (2 if disk else 1) * MAX_CELLS:  # the disk meets about π/4 of them
            continue
        cells = [(fx, fy) for fx in xs for fy in ys if not disk or _gap(x, fx, size) ** 2
                 + _gap(y, fy, size) ** 2 <= reach ** 2]
        if inner is not None:  # (a margin: an entry on the far corner is at most that far, rounding aside)
            cells = [(fx, fy) for fx, fy in cells if _far(x, fx, size) ** 2 + _far(y, fy, size) ** 2
                     >= (inner - 0.001) ** 2]
        if len(cells) <= MAX_CELLS:
            return [cell_key(size, fx, fy) for fx, fy in cells]
    return None


def _gap(v: float, f: int, size: int) -> float:
    """Distance along one axis from `v` to the square [f·size, (f+1)·size] (0 inside)."""
    return max(f * size - v, 0.0, v - (f + 1) * size)


def _far(v: float, f: int, size: int) -> float:
    """Distance along one axis from `v` to the farthest side of the square [f·size, (f+1)·size]."""
    return max(abs(v - f * size), abs(v - (f + 1) * size))


def _key_groups(c: Criteria, codes: list[str] | None) -> list[list[str]]:
    """The criteria that `keys` holds (index.py), as groups of keys: an entry has one key of each group.
    Each mirrors a condition of `_filters` (which stays): with them the one GIN index of the entries
    (text, codes, territory, keys) narrows by kind, UO type, type of offer and patientèle too."""
    groups = []
    if c.in_ == "structures":
        groups.append(["k:structure"])
    elif c.in_ != "all" or c.patientele or c.home_visit or c.filters.keys() - {"departements"}:
        groups.append(["k:offer"])
    if codes is not None and CATEGORIES[c.in_][1] == "unit_type":
        groups.append([f"u:{code}" for code in codes])
    if c.filters.get("unit_types"):
        groups.append([f"u:{code}" for code in c.filters["unit_types"]])
    if c.patientele:
        groups.append([f"p:{c.patientele}"])
    if c.offer_type:
        groups.append([f"o:{c.offer_type}"])
    return groups


def next_reach(reach: float, found: int, pool: int, radius: float) -> float:
    """The radius of the next ring: where `pool` matches should be, at the density of the `found`
    matches within `reach` (at least RING_GROWTH times farther). None found within the reach of WALK
    entries (or more): a rare need, or none around — the square's matches are few: `radius`, one scan
    of them rather than ring after ring over posting lists that do not meet."""
    if found <= 0:
        return radius
    return reach * max(RING_GROWTH, math.sqrt(1.5 * pool / found))


_FIRST_REACH: dict[tuple[float, float, int], float | None] = {}
FIRST_REACH_CACHED = 50_000  # places


def first_reach(session: Session, x: float, y: float) -> float | None:
    """How far the WALK entries nearest to the point go (None: fewer entries in all): the first ring's
    radius. Kept per place in the process: only the cost of the search depends on it, not its results,
    and the directory's density around a commune changes slowly."""
    key = (round(x, 3), round(y, 3), WALK)
    if key not in _FIRST_REACH:
        if len(_FIRST_REACH) >= FIRST_REACH_CACHED:
            _FIRST_REACH.clear()
        _FIRST_REACH[key] = session.execute(text(
            f"SELECT geo <-> point(:x, :y) FROM offers.search_entries WHERE geo IS NOT NULL "
            f"ORDER BY geo <-> point(:x, :y) OFFSET {WALK - 1} LIMIT 1"), {"x": x, "y": y}).scalar()
    return _FIRST_REACH[key]


def _nearest(session: Session, selected: str, where: str, params: dict, pool: int, radius: float) -> list:
    """The `pool` matches nearest to the place (projected distance) within the square of ± `radius` km,
    in that order: the same rows as walking the GiST index outwards with the criteria as a filter, at
    a cost bounded by the nearby matches.

    Rings of growing radius, each one index scan of the need's matches in the squares around the place
    (GIN: text or codes, and keys: squares, kind, UO type…): a ring holding `pool` matches within its
    radius holds the `pool` nearest ones. The first ring reaches the WALK entries nearest to the place
    (an index-only scan of the GiST index: the density of the directory there); the next ones follow the
    density of the matches found; each reads only beyond the previous one (the squares it leaves out lie
    within it). The last ring is the square itself."""
    projected = "(e.geo <-> point(:x, :y))"  # the distance rings and order are measured by
    order = f"ORDER BY {projected} + 0, e.id"  # ties (entries of one site) kept in one order
    reach = first_reach(session, params["x"], params["y"])
    reach = radius if reach is None else max(reach, MIN_RING_KM)  # fewer entries than WALK: the square
    found: list = []
    inner = None  # the previous ring's reach: its matches are all in `found`, the next ring reads beyond
    while True:
        last = reach >= radius
        cells = _cells_around(params["x"], params["y"], radius if last else reach, disk=not last, inner=inner)
        ring = dict(params, reach=reach, inner=inner, cells=cells)
        conditions = [where, _IN_SQUARE if last else f"{projected} <= :reach"]
        if inner is not None:
            conditions.append(f"{projected} > :inner")
        if cells is not None:
            conditions.append("e.keys && CAST(:cells AS text[])")
        found += session.execute(text(f"{selected} WHERE {' AND '.join(conditions)} {order} "
                                      f"LIMIT {pool - len(found)}"), ring).all()
        if last or len(found) >= pool:
            return found
        inner, reach = reach, next_reach(reach, len(found), pool, radius)


NO_RANK = "CAST(0 AS real)"  # (a float like ts_rank's, not a numeric: psycopg2 would make Decimals of it)


def _rank(tsq: str | None) -> str:
    return "ts_rank(e.document, CAST(:tsq AS tsquery))" if tsq else NO_RANK


def _criteria_sql(session: Session, c: Criteria) -> tuple[str, dict, str] | None:
    """(SQL conditions, their parameters, the rank expression) of the criteria but the place; None when
    nothing can match (a word or a category concept found nowhere)."""
    tsq = search_text.tsquery(session, c.q)
    if tsq == "" and c.in_ in ("all", "structures"):
        return None
    codes = _category_codes(session, c, tsq)
    if codes == []:
        return None
    params: dict = {"region": c.region}
    match = search_text.matching(session, tsq) if codes is None else (None, False)
    conditions = _filters(c, params, codes, tsq, match)
    for n, group in enumerate(_key_groups(c, codes)):  # the same criteria, for the GIN scan
        params[f"keys{n}"] = group
        conditions.append(f"e.keys && CAST(:keys{n} AS text[])")
    return " AND ".join(conditions), params, _rank(tsq if codes is None else None)


def _place_params(place: Place, c: Criteria) -> dict:
    return {"x": place.longitude * KM_PER_DEGREE_LON, "y": place.latitude * KM_PER_DEGREE_LAT,
            "radius": c.radius_km, "communes": place.communes, "lat": place.latitude, "lon": place.longitude}


def candidates(session: Session, c: Criteria, place: Place | None) -> tuple[list, bool]:
    """Matching index rows (at most MAX_RESULTS, sorted) and whether more matched."""
    found = _criteria_sql(session, c)
    if found is None:
        return [], False
    where, params, rank = found
    if place is None or place.latitude is None:
        order = f"{rank} DESC, e.name, e.id" if rank != NO_RANK else "e.name, e.id"
        rows = session.execute(text(
            f"SELECT {_COLUMNS}, {rank} AS rank, false AS serves FROM offers.search_entries e "
            f"WHERE {where} ORDER BY {order} LIMIT {MAX_RESULTS + 1}"), params).all()
        return rows[:MAX_RESULTS], len(rows) > MAX_RESULTS
    params.update(_place_params(place, c))
    pool = RELEVANCE_POOL if c.sort == "relevance" else MAX_RESULTS + 1
    # Candidates come with what sorting and facets need, in one statement per source.
    selected = f"""SELECT {_COLUMNS}, {rank} AS rank, (e.served_communes && CAST(:communes AS text[])) AS serves,
           {_DISTANCE} AS distance FROM offers.search_entries e"""
    # Offers serving the place (their territory, the need and the criteria: one GIN scan).
    served = f"{selected} WHERE e.served_communes && CAST(:communes AS text[]) AND {where} LIMIT {pool}"
    rows = list(session.execute(text(served), params))
    if not c.home_visit:  # « à domicile »: only the offers whose territory covers the place
        rows += _nearest(session, selected, where, params, pool, c.radius_km)
    unique = {r.id: r for r in rows}.values()  # an offer serving the place may also be among the nearest
    # (distance from the place: 0 for the offers serving it; rank; the row), those within the radius
    ranked = [(0.0 if r.serves else r.distance, -r.rank, r) for r in unique
              if r.serves or (r.distance is not None and r.distance <= c.radius_km)]
    if c.sort == "relevance":
        ranked.sort(key=lambda k: (k[1], k[0], k[2].name, k[2].id))
    else:
        ranked.sort(key=lambda k: (k[0], k[1], k[2].name, k[2].id))
    return [k[2] for k in ranked[:MAX_RESULTS]], len(ranked) > MAX_RESULTS


# ------------------------------------------------------------------ results

def travel_time_min(distance_km: float | None) -> int | None:
    if distance_km is None:
        return None
    return int(round(distance_km * ROAD_FACTOR / AVERAGE_SPEED_KMH * 60))


def patientele(age_min: int | None, age_max: int | None) -> str | None:
    """E (enfants: under 18 accepted), A (adultes), E+A; None when the offer gives no ages."""
    if age_min is None:
        return None
    kinds = []
    if age_min < 18:
        kinds.append("E")
    if age_max is None or age_max >= 18:
        kinds.append("A")
    return "+".join(kinds) or None


def visible_contacts(contacts: list[dict], audience: str) -> list[dict]:
    """The offer's published contacts this audience may see (the sheet's own rule: steps.public_contacts)."""
    return list(contacts or []) if audience == "professional" else steps.public_contacts(contacts)


def _phone(contacts: list[dict], fallback: str | None) -> str | None:
    for contact in steps.public_contacts(contacts):
        if contact.get("channel") in ("phone", "mobile"):
            return contact.get("value")
    return fallback


def details(session: Session, rows) -> list:
    """The shown rows with every column (same order)."""
    if not rows:
        return []
    full = {r.id: r for r in session.execute(text(f"SELECT {_DETAILS} FROM offers.search_entries e "
                                                  "WHERE e.id = ANY(:ids)"), {"ids": [r.id for r in rows]})}
    # (an entry unpublished between the two statements — each has its own snapshot — is left out)
    return [_Row({**row._asdict(), **full[row.id]._asdict()}) for row in rows if row.id in full]


class _Row(dict):
    __getattr__ = dict.__getitem__


def result(row, place: Place | None, audience: str, now: datetime | None = None) -> dict:
    distance = None
    if place is not None and place.latitude is not None:
        distance = 0.0 if row.serves else (round(row.distance, 1) if row.distance is not None else None)
    contacts = row.contacts or []
    is_offer = row.entry_kind == "offer"
    labels = row.labels or {}
    return {
        "type": row.entry_kind,
        "id": row.offer_id if is_offer else row.structure_id,
        "offer_id": row.offer_id,
        "structure_id": row.structure_id,
        "kind": row.structure_kind,
        "name": row.name,
        "structure": ({"id": row.parent_id, "name": row.parent_name} if row.parent_id else None),
        "legal_entity": ({"id": row.legal_entity_id, "name": row.legal_entity_name, "finess": row.finess_ej}
                         if row.legal_entity_id else None),
        "finess": row.finess,
        "offer_type": row.offer_type,
        "unit_type": ({"code": row.unit_type, "label": reference.label_of("unit_types", row.unit_type)}
                      if row.unit_type else None),
        "category": labels.get("category") if not is_offer else None,
        "address": {"line": row.address_line, "postal_code": row.postal_code, "city": row.city,
                    "commune_insee": row.commune_insee, "departement": row.departement},
        "latitude": row.latitude,
        "longitude": row.longitude,
        "distance_km": distance,
        "travel_time_min": travel_time_min(distance),
        "serves_searched_commune": bool(row.serves),
        "patientele": patientele(row.age_min, row.age_max),
        "phone": _phone(contacts, row.phone) if is_offer else row.phone,
        "contacts": visible_contacts(contacts, audience) if is_offer else [],
        "open_now": open_now(row.hours, now) if is_offer else None,
        "published_at": row.published_at.isoformat() if row.published_at else None,
    }


def facets(rows) -> dict[str, list[dict]]:
    """Counts of the rows per facet value, most frequent first; a profession's or speciality's label is
    the one of the first row holding it."""
    counts: dict[str, Counter] = {name: Counter() for name in FACETS}
    patientele, offer_type, activities, care_modes, unit_types = (
        counts[name] for name in ("patientele", "offer_type", "operational_activities", "care_modes", "unit_types"))
    first: dict[str, dict[str, str | None]] = {"specialties": {}, "professions": {}}  # code -> labels_text
    for row in rows:
        age_min = row.age_min
        if age_min is not None:  # the letters of `patientele`
            if age_min < 18:
                patientele["E"] += 1
            if row.age_max is None or row.age_max >= 18:
                patientele["A"] += 1
        offer_type[row.offer_type] += 1
        if row.activities:
            activities.update(row.activities)
        care_modes[row.care_mode] += 1
        unit_types[row.unit_type] += 1
        for name in ("specialties", "professions"):
            codes = getattr(row, name)
            if codes:
                counts[name].update(codes)
                seen = first[name]
                for code in codes:
                    if code not in seen:
                        seen[code] = row.labels_text

    def label(name: str, code: str) -> str | None:
        if name in first:
            labels = json.loads(first[name][code] or "{}")
            return (labels.get(name) or {}).get(code)
        return _facet_label(name, code)

    answer = {}
    for name, counter in counts.items():
        entries = [{"code": code, "label": label(name, code) or code, "count": n}
                   for code, n in counter.items() if code]  # (no type of offer, care mode, UO type: no value)
        answer[name] = sorted(entries, key=lambda v: (-v["count"], v["label"]))
    return answer


_ALL_FACETS = """
WITH m AS MATERIALIZED ({matches}),
counts AS (
    SELECT 'offer_type' AS facet, offer_type AS code, count(*) AS n, NULL AS label FROM m
     WHERE offer_type IS NOT NULL GROUP BY offer_type
    UNION ALL SELECT 'unit_types', unit_type, count(*), NULL FROM m WHERE unit_type IS NOT NULL GROUP BY unit_type
    UNION ALL SELECT 'care_modes', care_mode, count(*), NULL FROM m WHERE care_mode IS NOT NULL GROUP BY care_mode
    UNION ALL SELECT 'operational_activities', x, count(*), NULL FROM m, unnest(activities) x GROUP BY x
    UNION ALL SELECT 'professions', x, count(*), min(labels #>> ARRAY['professions', x]) FROM m, unnest(professions) x
     GROUP BY x
    UNION ALL SELECT 'specialties', x, count(*), min(labels #>> ARRAY['specialties', x]) FROM m, unnest(specialties) x
     GROUP BY x
    UNION ALL SELECT 'patientele', 'E', count(*), NULL FROM m WHERE age_min < 18
    UNION ALL SELECT 'patientele', 'A', count(*), NULL FROM m WHERE age_min IS NOT NULL
                                                            AND (age_max IS NULL OR age_max >= 18)
    UNION ALL SELECT '', '', count(*), NULL FROM m
)
SELECT facet, code, n, label FROM counts WHERE n > 0
"""
_FACET_COLUMNS = "e.id, e.offer_type, e.unit_type, e.care_mode, e.activities, e.professions, e.specialties, " \
                 "e.age_min, e.age_max, e.labels"


def all_facets(session: Session, c: Criteria, place: Place | None) -> tuple[int, dict[str, list[dict]]]:
    """The number of matches and the facets counted over every one of them (`facets=all`), not only the
    200 a user can page through: with a place, the offers serving it and every match within the radius.
    Its cost grows with the matches (every one is read), unlike the results'."""
    found = _criteria_sql(session, c)
    if found is None:
        return 0, facets([])
    where, params, _ = found
    if place is None or place.latitude is None:
        matches = f"SELECT {_FACET_COLUMNS} FROM offers.search_entries e WHERE {where}"
    else:
        params.update(_place_params(place, c))
        served = f"SELECT {_FACET_COLUMNS} FROM offers.search_entries e WHERE e.served_communes && " \
                 f"CAST(:communes AS text[]) AND {where}"
        if c.home_visit:
            matches = served
        else:
            cells = _cells_around(params["x"], params["y"], c.radius_km)
            params["cells"] = cells
            near = [where, _IN_SQUARE, f"{_DISTANCE} <= :radius"] + (
                ["e.keys && CAST(:cells AS text[])"] if cells is not None else [])
            matches = f"{served} UNION SELECT {_FACET_COLUMNS} FROM offers.search_entries e WHERE {' AND '.join(near)}"
    total, counts = 0, {name: {} for name in FACETS}
    for row in session.execute(text(_ALL_FACETS.format(matches=matches)), params):
        if row.facet == "":
            total = row.n
            continue
        label = row.label if row.facet in ("professions", "specialties") else None
        counts[row.facet][row.code] = {"code": row.code, "count": row.n,
                                       "label": label or _facet_label(row.facet, row.code) or row.code}
    return total, {name: sorted(values.values(), key=lambda v: (-v["count"], v["label"]))
                   for name, values in counts.items()}


def _facet_label(name: str, code: str) -> str | None:
    if name == "patientele":
        return PATIENTELES[code]
    if name == "offer_type":
        return OFFER_TYPES.get(code)
    if name in ("operational_activities", "care_modes", "unit_types"):
        return reference.label_of(name, code)
    return None


def run(session: Session, c: Criteria, audience: str, now: datetime | None = None) -> tuple[Place | None, list, bool]:
    reference_tables.ensure(session)
    place = resolve_place(session, c.region, c.where)
    rows, capped = candidates(session, c, place)
    return place, rows, capped


def search(session: Session, c: Criteria, audience: str, now: datetime | None = None) -> dict:
    place, rows, capped = run(session, c, audience, now)
    start = (c.page - 1) * PER_PAGE
    answer = {
        "total": len(rows), "capped": capped, "page": c.page, "per_page": PER_PAGE,
        "pages": max(1, math.ceil(len(rows) / PER_PAGE)),
        "place": place.to_dict() if place else None,
        "results": [result(r, place, audience, now) for r in details(session, rows[start:start + PER_PAGE])],
    }
    if c.facets == "all":
        answer["matches"], answer["facets"] = all_facets(session, c, place)
    else:
        answer["matches"], answer["facets"] = None, facets(rows)
    answer["facets_scope"] = c.facets
    return answer


def all_results(session: Session, c: Criteria, audience: str, now: datetime | None = None) -> dict:
    """Every result (≤ 200) at once: the map and the Excel export."""
    place, rows, capped = run(session, c, audience, now)
    return {"total": len(rows), "capped": capped, "place": place.to_dict() if place else None,
            "results": [result(r, place, audience, now) for r in details(session, rows)]}


def geojson(session: Session, c: Criteria, audience: str, now: datetime | None = None) -> dict:
    answer = all_results(session, c, audience, now)
    features = []
    for item in answer["results"]:
        if item["latitude"] is None or item["longitude"] is None:
            continue
        properties = {k: v for k, v in item.items() if k not in ("latitude", "longitude", "contacts")}
        features.append({"type": "Feature", "id": f"{item['type']}-{item['id']}",
                         "geometry": {"type": "Point", "coordinates": [item["longitude"], item["latitude"]]},
                         "properties": properties})
    return {"type": "FeatureCollection", "features": features, "total": answer["total"],
            "capped": answer["capped"], "place": answer["place"]}


# ------------------------------------------------------------------ suggestions

def suggest(session: Session, region: str, q: str, in_: str = "all", limit: int = 20) -> list[dict]:
    """Labels to pick from while typing (from 3 letters): concepts of the category, establishments."""
    if in_ not in CATEGORIES:
        raise InvalidInput("Catégorie de recherche inconnue", {"in": f"one of {list(CATEGORIES)}"})
    if len(reference.normalize(q or "").replace(" ", "")) < 3:
        raise InvalidInput("Saisissez au moins 3 lettres", {"q": "at least 3 letters"})
    reference_tables.ensure(session)
    tsq = search_text.tsquery(session, q)
    if not tsq:
        return []
    found: list[dict] = []
    if in_ != "structures":
        categories = list(reference_tables.CATEGORIES[:5]) if in_ == "all" else [in_]
        for row in session.execute(text(
                "SELECT category, code, label FROM offers.search_concepts "
                "WHERE category = ANY(:cats) AND status = 'active' AND document @@ CAST(:tsq AS tsquery) "
                "ORDER BY array_position(CAST(:cats AS text[]), category::text), "
                "ts_rank(document, CAST(:tsq AS tsquery)) DESC, label LIMIT :limit"),
                {"cats": categories, "tsq": tsq, "limit": limit}):
            found.append({"in": row.category, "in_label": CATEGORIES[row.category][0], "code": row.code,
                          "label": row.label})
    if in_ in ("all", "structures") and len(found) < limit:
        for row in session.execute(text(
                "SELECT structure_id, name, city FROM offers.search_entries "
                "WHERE region = :r AND entry_kind = 'structure' AND document @@ CAST(:tsq AS tsquery) "
                "ORDER BY ts_rank(document, CAST(:tsq AS tsquery)) DESC, name LIMIT :limit"),
                {"r": region, "tsq": tsq, "limit": min(5, limit - len(found)) if in_ == "all" else limit}):
            found.append({"in": "structures", "in_label": CATEGORIES["structures"][0],
                          "code": str(row.structure_id), "label": f"{row.name} ({row.city})" if row.city else row.name})
    return found[:limit]

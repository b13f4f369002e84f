"""FHIR read and search over the published répertoire of one region (plain module: a session is passed in).

Search parameters arrive as the raw query string (name -> list of values) and are checked here: an
unknown parameter or a bad value raises InvalidInput naming it (the gateway answers an OperationOutcome).
Paging is by offset in the `next` link, results in a stable order (last update, then id), so that an
incremental pull (`_lastUpdated=gt<last seen>`) never misses a resource.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import and_, func, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from services.common.errors import Gone, InvalidInput, NotFound
from services.offers import reference, resource_persons
from services.offers.fhir import mapping
from services.offers.fhir.contracts import MAX_COUNT, RESOURCE_TYPES
from services.offers.models import Offer, PractitionerAttachment, Professional, Structure

MAX_OFFSET = 100_000
MAX_TOKENS = 50  # values of one token parameter (comma-separated, OR)
MAX_NEAR_KM = 1000.0
EARTH_KM = 6371.0088


# ------------------------------------------------------------------ loading the tree around offers

class Tree:
    """Structures of a region loaded by id with all their ancestors, in a few queries."""

    def __init__(self, session: Session):
        self.session = session
        self.by_id: dict[int, Structure] = {}

    def load(self, ids) -> Tree:
        frontier = {i for i in ids if i is not None and i not in self.by_id}
        depth = 0
        while frontier and depth < 16:
            rows = self.session.scalars(select(Structure).where(Structure.id.in_(frontier))).all()
            for row in rows:
                self.by_id[row.id] = row
            frontier = {r.parent_id for r in rows if r.parent_id is not None and r.parent_id not in self.by_id}
            depth += 1
        return self

    def get(self, structure_id: int | None) -> Structure | None:
        return self.by_id.get(structure_id) if structure_id is not None else None

    def ancestors(self, structure_id: int | None) -> list[Structure]:
        """The structure and its ancestors, nearest first."""
        out, seen = [], set()
        current = self.get(structure_id)
        while current is not None and current.id not in seen and len(out) < 16:
            out.append(current)
            seen.add(current.id)
            current = self.get(current.parent_id)
        return out

    def site_of(self, unit_id: int | None) -> Structure | None:
        chain = self.ancestors(unit_id)
        for node in chain:
            if node.kind == "site":
                return node
        return chain[0] if chain else None

    def provider_of(self, unit_id: int | None) -> Structure | None:
        unit = self.get(unit_id)
        parent = self.get(unit.parent_id) if unit is not None else None
        return parent if parent is not None and parent.kind in mapping.ORGANIZATION_KINDS else None


def practitioners(session: Session, offers: list[Offer]) -> dict[int, list[tuple[Professional, PractitionerAttachment | None]]]:
    """Per offer id: the professionals attached to its unit, then its owner (liberal offer) if not attached."""
    out: dict[int, list] = {o.id: [] for o in offers}
    by_unit = {o.unit_id: o for o in offers}
    if by_unit:
        rows = session.execute(select(PractitionerAttachment, Professional).join(Professional)
                               .where(PractitionerAttachment.unit_id.in_(list(by_unit)))
                               .order_by(PractitionerAttachment.id)).all()
        for attachment, professional in rows:
            out[by_unit[attachment.unit_id].id].append((professional, attachment))
    owners = {(o.region, o.owner_rpps) for o in offers if o.owner_rpps}
    if owners:
        found = {(p.region, p.rpps): p for p in session.scalars(select(Professional).where(
            Professional.rpps.in_([r for _, r in owners]), Professional.region.in_({g for g, _ in owners})))}
        for offer in offers:
            professional = found.get((offer.region, offer.owner_rpps))
            if professional is not None and all(p.id != professional.id for p, _ in out[offer.id]):
                out[offer.id].append((professional, None))
    return out


@dataclass
class OfferResources:
    healthcare_service: dict
    organizations: list[dict]
    location: dict | None
    practitioner_roles: list[dict]

    def all(self) -> list[dict]:
        return [*self.organizations, *([self.location] if self.location else []), self.healthcare_service,
                *self.practitioner_roles]


def offer_resources(session: Session, offer: Offer, public: bool = True, tree: Tree | None = None,
                    people: dict | None = None) -> OfferResources:
    """Everything the national ROR needs to know of one offer: HealthcareService, the organisations
    above its unit (provider up to the EJ), its Location and one PractitionerRole per professional."""
    tree = tree or Tree(session).load([offer.unit_id])
    people = people if people is not None else practitioners(session, [offer])
    provider, site = tree.provider_of(offer.unit_id), tree.site_of(offer.unit_id)
    unit = tree.get(offer.unit_id)
    organizations = [mapping.organization(s) for s in tree.ancestors(offer.unit_id)
                     if s.kind in mapping.ORGANIZATION_KINDS]
    roles = [mapping.practitioner_role(offer, p, a, provider, site) for p, a in people[offer.id]]
    roles += resource_persons.fhir_roles(session, offer, provider, site, public, {r["id"] for r in roles})
    return OfferResources(
        healthcare_service=mapping.healthcare_service(offer, unit, provider, site, public=public),
        organizations=organizations,
        location=mapping.location(site) if site is not None else None,
        practitioner_roles=roles,
    )


def structure_resources(session: Session, structure: Structure) -> list[dict]:
    """A structure as the national ROR sees it: an Organization, and a Location for an EG."""
    out = []
    if structure.kind in mapping.ORGANIZATION_KINDS:
        out.append(mapping.organization(structure))
    if structure.kind == "site":
        out.append(mapping.location(structure))
    return out


# ------------------------------------------------------------------ read

_SIMPLE_ID = re.compile(r"^(?P<region>[a-z]+)-(?P<id>\d{1,9})$")
_ROLE_ID = re.compile(r"^(?P<region>[a-z]+)-(?P<offer>\d{1,9})-(?P<professional>\d{1,9})$")


def _not_found(rtype: str, rid: str) -> NotFound:
    return NotFound(f"{rtype}/{rid} introuvable", {"id": f"no {rtype} {rid}"[:200]})


def read(session: Session, region: str, rtype: str, rid: str, public: bool = True) -> dict:
    if rtype not in RESOURCE_TYPES:
        raise NotFound(f"Type de ressource non servi : {rtype}", {"type": f"one of {list(RESOURCE_TYPES)}"})
    pattern = _ROLE_ID if rtype == "PractitionerRole" else _SIMPLE_ID
    match = pattern.match(rid or "")
    if match is None or match["region"] != region:
        raise _not_found(rtype, rid)
    if rtype == "PractitionerRole":
        offer = _published_offer(session, region, int(match["offer"]), rtype, rid)
        resources = offer_resources(session, offer, public)
        wanted = mapping.resource_id(region, offer.id, int(match["professional"]))
        for role in resources.practitioner_roles:
            if role["id"] == wanted:
                return role
        raise _not_found(rtype, rid)
    number = int(match["id"])
    if rtype == "HealthcareService":
        return offer_resources(session, _published_offer(session, region, number, rtype, rid), public).healthcare_service
    structure = session.scalar(select(Structure).where(Structure.id == number, Structure.region == region))
    if structure is None:
        raise _not_found(rtype, rid)
    if rtype == "Organization" and structure.kind in mapping.ORGANIZATION_KINDS:
        return mapping.organization(structure)
    if rtype == "Location" and structure.kind == "site":
        return mapping.location(structure)
    raise _not_found(rtype, rid)


def _published_offer(session: Session, region: str, offer_id: int, rtype: str, rid: str) -> Offer:
    offer = session.scalar(select(Offer).where(Offer.id == offer_id, Offer.region == region))
    if offer is None or offer.published is None:
        raise _not_found(rtype, rid)
    if offer.status != "published":
        raise Gone(f"{rtype}/{rid} n'est plus publié", {"id": f"unpublished on {offer.unpublished_at}"})
    return offer


# ------------------------------------------------------------------ search parameters

COMMON = {"_count", "_lastUpdated", "_offset", "_format"}
ALLOWED = {
    "HealthcareService": COMMON | {"service-type", "characteristic", "specialty", "location.address-city",
                                   "location.address-postalcode", "location.commune-cog"},
    "Organization": COMMON | {"identifier"},
    "Location": COMMON | {"near", "address-city", "address-postalcode", "commune-cog"},
    "PractitionerRole": COMMON | {"service"},
}
_DATE = re.compile(r"^(?P<prefix>eq|gt|ge|lt|le)?(?P<value>\d{4}(?:-\d{2}(?:-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?"
                   r"(?:Z|[+-]\d{2}:\d{2})?)?)?)?)$")


def _one(params: dict, name: str) -> str | None:
    values = params.get(name) or []
    if len(values) > 1:
        raise InvalidInput(f"Paramètre {name} répété", {name: "give it once"})
    return values[0] if values else None


def _int(params: dict, name: str, default: int, low: int, high: int) -> int:
    raw = _one(params, name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"\d{1,7}", raw.strip()):
        raise InvalidInput(f"Paramètre {name} invalide : nombre entier attendu", {name: raw[:100]})
    value = int(raw)
    if not low <= value <= high:
        raise InvalidInput(f"Paramètre {name} hors limites ({low} à {high})", {name: raw[:100]})
    return value


def _tokens(params: dict, name: str) -> list[tuple[str | None, str]] | None:
    raw = params.get(name)
    if not raw:
        return None
    tokens = []
    for value in raw:  # repeated = AND in FHIR; we keep it simple: one occurrence, commas = OR
        for part in value.split(","):
            part = part.strip()
            system, _, code = part.rpartition("|") if "|" in part else (None, None, part)
            if not code or len(code) > 64:
                raise InvalidInput(f"Paramètre {name} invalide : [system|]code attendu", {name: part[:100]})
            tokens.append((system or None, code))
    if len(raw) > 1:
        raise InvalidInput(f"Paramètre {name} répété : séparez les valeurs par des virgules", {name: "repeated"})
    if len(tokens) > MAX_TOKENS:
        raise InvalidInput(f"Paramètre {name} : {MAX_TOKENS} valeurs au plus", {name: f"{len(tokens)} values"})
    return tokens


def parse_instant(name: str, raw: str) -> tuple[str, datetime, datetime]:
    """`gt2026-11-30T10:00:00Z` -> (prefix, start, end) of the value's precision (end excluded)."""
    text = raw.strip().replace(" ", "+")  # an unencoded '+' of a time zone arrives as a space
    match = _DATE.match(text)
    if match is None:
        raise InvalidInput(f"Paramètre {name} invalide : [gt|ge|lt|le|eq]AAAA[-MM[-JJ[Thh:mm[:ss][Z|±hh:mm]]]]",
                           {name: raw[:100]})
    prefix, value = match["prefix"] or "eq", match["value"]
    try:
        if len(value) == 4:
            start = datetime(int(value), 1, 1, tzinfo=UTC)
            end = start.replace(year=start.year + 1)
        elif len(value) == 7:
            start = datetime(int(value[:4]), int(value[5:7]), 1, tzinfo=UTC)
            end = (start + timedelta(days=32)).replace(day=1)
        elif len(value) == 10:
            start = datetime.fromisoformat(value).replace(tzinfo=UTC)
            end = start + timedelta(days=1)
        else:
            start = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if start.tzinfo is None:
                start = start.replace(tzinfo=UTC)
            time_part = value.split("T", 1)[1]
            time_part = re.split(r"[Z+-]", time_part)[0]
            if "." in time_part:
                end = start + timedelta(microseconds=10 ** (6 - len(time_part.split(".")[1])))
            elif time_part.count(":") == 2:
                end = start + timedelta(seconds=1)
            else:
                end = start + timedelta(minutes=1)
    except ValueError as exc:
        raise InvalidInput(f"Paramètre {name} : date invalide", {name: raw[:100]}) from exc
    return prefix, start, end


def _last_updated(params: dict, column):
    conditions = []
    values = params.get("_lastUpdated") or []
    if len(values) > 2:
        raise InvalidInput("Paramètre _lastUpdated : deux bornes au plus", {"_lastUpdated": f"{len(values)} values"})
    for raw in values:
        prefix, start, end = parse_instant("_lastUpdated", raw)
        conditions.append({"gt": column >= end, "ge": column >= start, "lt": column < start, "le": column < end,
                           "eq": and_(column >= start, column < end)}[prefix])
    return conditions


def _communes(params: dict, prefix: str = "") -> list[str] | None:
    """INSEE codes of the communes that `address-city` (start of the name, accents and case ignored),
    `address-postalcode` (start of a postal code) and `commune-cog` (codes) designate together; None when
    none of them is given."""
    found: set[str] | None = None

    def narrow(codes) -> None:
        nonlocal found
        found = set(codes) if found is None else found & set(codes)

    city = _one(params, prefix + "address-city")
    if city is not None:
        needle = reference.normalize(city)
        if not needle or len(city) > 100:
            raise InvalidInput(f"Paramètre {prefix}address-city invalide", {prefix + "address-city": city[:100]})
        narrow(c.code for c in reference._prefixed(reference._name_index()[0], needle))
    postal = _one(params, prefix + "address-postalcode")
    if postal is not None:
        if not re.fullmatch(r"\d{2,5}", postal.strip()):
            raise InvalidInput(f"Paramètre {prefix}address-postalcode invalide : 2 à 5 chiffres",
                               {prefix + "address-postalcode": postal[:100]})
        narrow(c.code for c in reference.communes().values() if any(p.startswith(postal.strip()) for p in c.postal_codes))
    cog = _tokens(params, prefix + "commune-cog")
    if cog is not None:
        narrow(code for _, code in cog)
    return sorted(found) if found is not None else None


def _check_params(rtype: str, params: dict) -> None:
    unknown = sorted(set(params) - ALLOWED[rtype])
    if unknown:
        raise InvalidInput(f"Paramètre de recherche non pris en charge pour {rtype} : {', '.join(unknown)[:200]}",
                           {name[:100]: f"supported: {sorted(ALLOWED[rtype])}" for name in unknown[:10]})
    fmt = _one(params, "_format")
    if fmt and fmt not in ("json", "application/json", "application/fhir+json"):
        raise InvalidInput("Seul le format JSON est servi", {"_format": fmt[:100]})


# ------------------------------------------------------------------ search

@dataclass
class Page:
    count: int
    offset: int


def search(session: Session, region: str, rtype: str, params: dict, base_url: str, public: bool = True) -> dict:
    """A searchset Bundle. `params`: the query string as name -> list of values; `base_url`: the
    region's FHIR base as the caller sees it (for fullUrl and the paging links)."""
    if rtype not in RESOURCE_TYPES:
        raise NotFound(f"Type de ressource non servi : {rtype}", {"type": f"one of {list(RESOURCE_TYPES)}"})
    params = {k: list(v) if isinstance(v, list | tuple) else [v] for k, v in (params or {}).items()}
    _check_params(rtype, params)
    page = Page(_int(params, "_count", MAX_COUNT, 0, MAX_COUNT), _int(params, "_offset", 0, 0, MAX_OFFSET))
    searcher = {"HealthcareService": _healthcare_services, "Organization": _organizations,
                "Location": _locations, "PractitionerRole": _practitioner_roles}[rtype]
    entries, total, *extra = searcher(session, region, params, page, public)

    def link(offset: int) -> str:
        query = [(k, v) for k, values in params.items() if k not in ("_offset", "_count") for v in values]
        query += [("_count", str(page.count)), ("_offset", str(offset))]
        return f"{base_url}/{rtype}?{urlencode(query)}"

    more = page.count > 0 and page.offset + page.count < total and page.offset + page.count <= MAX_OFFSET
    return mapping.searchset(entries, total, link(page.offset), link(page.offset + page.count) if more else None,
                             base_url, distances=extra[0] if extra else None)


def _token_codes(tokens, systems: set[str] | None = None) -> list[str]:
    """Codes of tokens whose system (if given) is one we use."""
    return [code for system, code in tokens if system is None or systems is None or system in systems]


def _healthcare_services(session: Session, region: str, params: dict, page: Page, public: bool):
    conditions = [Offer.region == region, Offer.status == "published", Offer.published.is_not(None)]
    doc = type_coerce(Offer.published, JSONB)
    types = _tokens(params, "service-type")
    if types is not None:
        wanted = set()
        for system, code in types:
            for discipline, (champ, _) in mapping.CHAMP_ACTIVITE.items():
                if code == champ and system in (None, mapping.nos("TRE_R227-ChampActivite")):
                    wanted.add(discipline)
            if system in (None, mapping.LOCAL_SYSTEM + "champ-activite") and code in mapping.DISCIPLINE_LABELS:
                wanted.add(code)
        units = select(Structure.id).where(Structure.region == region, Structure.discipline.in_(wanted or {""}))
        conditions.append(Offer.unit_id.in_(units))
    characteristics = _tokens(params, "characteristic")
    if characteristics is not None:
        options = []
        for _, code in characteristics:
            options += [Offer.care_mode == code,
                        doc.contains({"modalities": {"reception_modalities": [code]}}),
                        doc.contains({"description": {"specific_acts_in_office": [code]}}),
                        doc.contains({"description": {"specific_acts_outside_office": [code]}}),
                        doc.contains({"description": {"specific_competences": [code]}})]
        conditions.append(or_(*options))
    specialties = _tokens(params, "specialty")
    if specialties is not None:
        conditions.append(or_(*[doc.contains({"description": {"operational_activities": [code]}})
                                for _, code in specialties]))
    codes = _communes(params, "location.")
    if codes is not None:
        conditions.append(Offer.commune_insee.in_(codes or [""]))
    conditions += _last_updated(params, Offer.published_at)
    total = session.scalar(select(func.count()).select_from(Offer).where(*conditions))
    offers = []
    if page.count:
        offers = session.scalars(select(Offer).where(*conditions).order_by(Offer.published_at, Offer.id)
                                 .offset(page.offset).limit(page.count)).all()
    tree = Tree(session).load([o.unit_id for o in offers])
    entries = [mapping.healthcare_service(o, tree.get(o.unit_id), tree.provider_of(o.unit_id), tree.site_of(o.unit_id),
                                          public=public) for o in offers]
    return entries, total


ORG_KINDS = mapping.ORGANIZATION_KINDS


def _organizations(session: Session, region: str, params: dict, page: Page, public: bool):
    conditions = [Structure.region == region, Structure.kind.in_(ORG_KINDS)]
    identifiers = _tokens(params, "identifier")
    if identifiers is not None:
        options = []
        for system, value in identifiers:
            if system in (None, "http://finess.esante.gouv.fr"):
                options.append(Structure.finess == value)
            if system in (None, "http://sirene.fr"):
                options += [Structure.siret == value, Structure.siren == value]
            if system and system.startswith("urn:ror-suite:"):
                match = _SIMPLE_ID.match(value)
                if match and match["region"] == region:
                    options.append(Structure.id == int(match["id"]))
        conditions.append(or_(*options) if options else Structure.id.is_(None))
    conditions += _last_updated(params, Structure.updated_at)
    total = session.scalar(select(func.count()).select_from(Structure).where(*conditions))
    rows = []
    if page.count:
        rows = session.scalars(select(Structure).where(*conditions).order_by(Structure.updated_at, Structure.id)
                               .offset(page.offset).limit(page.count)).all()
    return [mapping.organization(s) for s in rows], total


def parse_near(raw: str) -> tuple[float, float, float]:
    parts = raw.split("|")
    try:
        if len(parts) not in (3, 4):
            raise ValueError
        lat, lon, distance = float(parts[0]), float(parts[1]), float(parts[2])
        unit = parts[3].strip() if len(parts) == 4 else "km"
        if unit not in ("km", "m"):
            raise ValueError
    except ValueError as exc:
        raise InvalidInput("Paramètre near invalide : latitude|longitude|distance[|km ou m]",
                           {"near": raw[:100]}) from exc
    km = distance / 1000 if unit == "m" else distance
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or not (0 < km <= MAX_NEAR_KM) \
            or any(math.isnan(x) for x in (lat, lon, km)):
        raise InvalidInput(f"Paramètre near hors limites (latitude ±90, longitude ±180, distance ≤ {MAX_NEAR_KM:g} km)",
                           {"near": raw[:100]})
    return lat, lon, km


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


def _locations(session: Session, region: str, params: dict, page: Page, public: bool):
    conditions = [Structure.region == region, Structure.kind == "site"]
    conditions += _last_updated(params, Structure.updated_at)
    codes = _communes(params)
    if codes is not None:
        conditions.append(Structure.commune_insee.in_(codes or [""]))
    near = _one(params, "near")
    if near is None:
        total = session.scalar(select(func.count()).select_from(Structure).where(*conditions))
        rows = []
        if page.count:
            rows = session.scalars(select(Structure).where(*conditions).order_by(Structure.updated_at, Structure.id)
                                   .offset(page.offset).limit(page.count)).all()
        return [mapping.location(s) for s in rows], total
    lat, lon, km = parse_near(near)
    # a bounding box in SQL, the exact distance here; nearest first
    dlat = km / 111.0
    dlon = km / max(1e-6, 111.0 * math.cos(math.radians(lat)))
    conditions += [Structure.latitude.between(lat - dlat, lat + dlat),
                   Structure.longitude.between(lon - dlon, lon + dlon)]
    candidates = session.execute(select(Structure.id, Structure.latitude, Structure.longitude)
                                 .where(*conditions)).all()
    within = sorted((distance_km(lat, lon, la, lo), sid) for sid, la, lo in candidates
                    if distance_km(lat, lon, la, lo) <= km)
    chosen = within[page.offset:page.offset + page.count]
    rows = {s.id: s for s in session.scalars(select(Structure).where(Structure.id.in_([i for _, i in chosen])))}
    entries = [mapping.location(rows[sid]) for _, sid in chosen]
    return entries, len(within), {e["id"]: dist for e, (dist, _) in zip(entries, chosen, strict=True)}


def _practitioner_roles(session: Session, region: str, params: dict, page: Page, public: bool):
    service = _one(params, "service")
    if not service:
        raise InvalidInput("Paramètre service requis : HealthcareService/<id>", {"service": "missing"})
    match = _SIMPLE_ID.match(service.removeprefix("HealthcareService/"))
    if match is None or match["region"] != region:
        return [], 0
    conditions = [Offer.id == int(match["id"]), Offer.region == region, Offer.status == "published"]
    conditions += _last_updated(params, Offer.published_at)
    offer = session.scalar(select(Offer).where(*conditions))
    if offer is None:
        return [], 0
    roles = offer_resources(session, offer, public).practitioner_roles
    return roles[page.offset:page.offset + page.count], len(roles)

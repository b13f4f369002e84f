"""The search index: one row per published offer (UO) and per legal entity / site of the répertoire,
in `offers.search_entries`, written in SQL from the offers, structures and reference tables.

The index is maintained in the caller's transaction, by the code that changes what it shows:
`refresh_offer` after a publication or an unpublication, `refresh_structure` after a structure (or
anything below it) changed, `rebuild` after a national import or to build it from scratch. So the
index changes when the change commits, never before and never later.

Geography: `geo` is the point (x, y) in kilometres of an equirectangular projection around France
(x = longitude × 111.32 × cos 46.5°, y = latitude × 110.57): a GiST index orders it by nearness;
distances shown are great-circle distances computed from latitude / longitude.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.offers.search import reference_tables

KM_PER_DEGREE_LAT = 110.57
KM_PER_DEGREE_LON = 111.32 * math.cos(math.radians(46.5))
GEO_SQL = f"point(({{lon}}) * {KM_PER_DEGREE_LON!r}, ({{lat}}) * {KM_PER_DEGREE_LAT!r})"

# Ancestors of the selected structures (the tree is at most six levels deep), nearest first.
_ANCESTORS = """
up(start_id, id, parent_id, kind, name, finess, latitude, longitude, address_line, postal_code, city,
   commune_insee, phone, depth) AS (
    SELECT s.id, s.id, s.parent_id, s.kind, s.name, s.finess, s.latitude, s.longitude, s.address_line,
           s.postal_code, s.city, s.commune_insee, s.phone, 0
      FROM offers.structures s WHERE s.id IN (SELECT id FROM start)
    UNION ALL
    SELECT up.start_id, s.id, s.parent_id, s.kind, s.name, s.finess, s.latitude, s.longitude, s.address_line,
           s.postal_code, s.city, s.commune_insee, s.phone, up.depth + 1
      FROM up JOIN offers.structures s ON s.id = up.parent_id WHERE up.depth < 8
),
anc AS (
    SELECT start_id,
           (array_agg(id ORDER BY depth) FILTER (WHERE kind = 'site' AND depth > 0))[1] AS site_id,
           (array_agg(name ORDER BY depth) FILTER (WHERE kind = 'site' AND depth > 0))[1] AS site_name,
           (array_agg(id ORDER BY depth) FILTER (WHERE kind = 'legal_entity' AND depth > 0))[1] AS ej_id,
           (array_agg(name ORDER BY depth) FILTER (WHERE kind = 'legal_entity' AND depth > 0))[1] AS ej_name,
           (array_agg(finess ORDER BY depth) FILTER (WHERE kind = 'legal_entity' AND depth > 0))[1] AS ej_finess,
           (array_agg(latitude ORDER BY depth) FILTER (WHERE latitude IS NOT NULL AND longitude IS NOT NULL
                                                       AND kind <> 'legal_entity'))[1] AS latitude,
           (array_agg(longitude ORDER BY depth) FILTER (WHERE latitude IS NOT NULL AND longitude IS NOT NULL
                                                        AND kind <> 'legal_entity'))[1] AS longitude,
           (array_agg(address_line ORDER BY depth) FILTER (WHERE address_line IS NOT NULL
                                                           AND kind <> 'legal_entity'))[1] AS address_line,
           (array_agg(postal_code ORDER BY depth) FILTER (WHERE postal_code IS NOT NULL))[1] AS postal_code,
           (array_agg(city ORDER BY depth) FILTER (WHERE city IS NOT NULL))[1] AS city,
           (array_agg(commune_insee ORDER BY depth) FILTER (WHERE commune_insee IS NOT NULL))[1] AS commune_insee,
           (array_agg(phone ORDER BY depth) FILTER (WHERE phone IS NOT NULL AND kind <> 'legal_entity'))[1] AS phone
      FROM up GROUP BY start_id
)"""


def _labels(category: str, codes: str) -> str:
    """Labels (and synonyms) of `codes` from the one-row `lab` map: in-memory lookups, no index scan per row."""
    return f"coalesce((SELECT string_agg(lab.map->'{category}'->>x, ' ') FROM unnest({codes}) AS x), '')"


# Labels of every concept as {category: {code: "label synonyms"}}, computed once per statement.
_LABEL_MAP = """
lab AS (
    SELECT coalesce(jsonb_object_agg(category, m), jsonb_build_object()) AS map FROM (
        SELECT category, jsonb_object_agg(code, label || ' ' || synonyms) AS m
          FROM offers.search_concepts GROUP BY category) x
)"""


def _json_codes(path: str) -> str:
    return f"ARRAY(SELECT jsonb_array_elements_text(coalesce({path}, '[]'::jsonb)))"


_OFFER_UPSERT = f"""
WITH RECURSIVE start AS (SELECT o.unit_id AS id FROM offers.offers o WHERE {{where}}),
{_ANCESTORS},
{_LABEL_MAP},
src AS (
    SELECT o.id AS offer_id, o.region, o.unit_id, u.kind, o.name, o.unit_type, o.care_mode, o.published_at,
           o.owner_rpps, o.national, o.published, anc.*,
           {_json_codes("o.published->'description'->'operational_activities'")} AS activities,
           ({_json_codes("o.published->'description'->'specific_acts_in_office'")}
            || {_json_codes("o.published->'description'->'specific_acts_outside_office'")}) AS acts,
           {_json_codes("o.published->'description'->'equipments'")} AS equipments,
           {_json_codes("o.published->'description'->'specific_competences'")} AS competences,
           {_json_codes("o.published->'modalities'->'reception_modalities'")} AS reception_modalities,
           {_json_codes("o.published->'modalities'->'intervention_communes'")} AS served,
           (SELECT coalesce(jsonb_object_agg(x.code, x.label), jsonb_build_object()) FROM (
                SELECT o.national->'profession'->>'code' AS code, o.national->'profession'->>'label' AS label
                UNION SELECT a.profession_code, a.profession_label FROM offers.practitioner_attachments a
                 WHERE a.unit_id = o.unit_id) x WHERE x.code IS NOT NULL) AS professions,
           (SELECT coalesce(jsonb_object_agg(x.code, x.label), jsonb_build_object()) FROM (
                SELECT o.national->'specialty'->>'code' AS code, o.national->'specialty'->>'label' AS label
                UNION SELECT a.specialty_code, a.specialty_label FROM offers.practitioner_attachments a
                 WHERE a.unit_id = o.unit_id) x WHERE x.code IS NOT NULL) AS specialties
      FROM offers.offers o
      JOIN offers.structures u ON u.id = o.unit_id
      JOIN anc ON anc.start_id = o.unit_id
     WHERE {{where}} AND o.status = 'published' AND o.published IS NOT NULL AND u.active
),
rows AS (
    SELECT src.*, coalesce(src.latitude, cm.latitude) AS lat, coalesce(src.longitude, cm.longitude) AS lon,
           src.commune_insee AS insee,
           setweight(to_tsvector('offers.ror_fr', docs.head), 'A')
           || setweight(to_tsvector('offers.ror_simple', docs.head), 'A')
           || setweight(to_tsvector('offers.ror_fr', docs.needs), 'B')
           || setweight(to_tsvector('offers.ror_simple', docs.needs), 'B')
           || setweight(to_tsvector('offers.ror_simple', docs.others), 'C') AS document
      FROM src
      CROSS JOIN lab
      LEFT JOIN offers.search_communes cm ON cm.code = src.commune_insee
      CROSS JOIN LATERAL (SELECT
           src.name || ' ' || {_labels("unit_types", "ARRAY[src.unit_type]")} AS head,
           {_labels("operational_activities", "src.activities")} || ' ' || {_labels("specific_acts", "src.acts")}
           || ' ' || {_labels("equipments", "src.equipments")} || ' ' || {_labels("specific_competences", "src.competences")}
           AS needs,
           coalesce(src.site_name, '') || ' ' || coalesce(src.ej_name, '') || ' '
           || {_labels("care_modes", "ARRAY[src.care_mode]")} || ' '
           || {_labels("reception_modalities", "src.reception_modalities")} || ' '
           || coalesce((SELECT string_agg(v, ' ') FROM jsonb_each_text(src.professions) AS p(k, v)), '') || ' '
           || coalesce((SELECT string_agg(v, ' ') FROM jsonb_each_text(src.specialties) AS p(k, v)), '') || ' '
           || coalesce(src.national->>'last_name', '') || ' ' || coalesce(src.national->>'first_name', '')
           AS others) docs
)
INSERT INTO offers.search_entries AS e (
    region, entry_kind, structure_id, offer_id, structure_kind, name, parent_id, parent_name,
    legal_entity_id, legal_entity_name, finess, finess_ej, offer_type, unit_type, care_mode, professions,
    specialties, activities, acts, equipments, competences, reception_modalities, age_min, age_max,
    address_line, postal_code, city, commune_insee, departement, latitude, longitude, geo, served_communes,
    phone, contacts, hours, labels, document, published_at, indexed_at)
SELECT region, 'offer', unit_id, offer_id, kind, left(name, 255), site_id, site_name, ej_id, ej_name, NULL,
       ej_finess, CASE WHEN owner_rpps IS NOT NULL THEN 'liberal' ELSE 'establishment' END, unit_type,
       care_mode, ARRAY(SELECT jsonb_object_keys(professions)), ARRAY(SELECT jsonb_object_keys(specialties)),
       activities, acts, equipments, competences, reception_modalities,
       (published->'description'->>'age_min')::int, (published->'description'->>'age_max')::int,
       address_line, postal_code, city, insee,
       (SELECT departement FROM offers.search_communes WHERE code = insee), lat, lon,
       CASE WHEN lat IS NOT NULL THEN {GEO_SQL.format(lon="lon", lat="lat")} END, served, phone,
       coalesce(published->'contacts'->'contacts', '[]'::jsonb), published->'hours',
       jsonb_build_object('professions', professions, 'specialties', specialties), document, published_at, now()
  FROM rows
ON CONFLICT (entry_kind, structure_id) DO UPDATE SET
    region = EXCLUDED.region, offer_id = EXCLUDED.offer_id, structure_kind = EXCLUDED.structure_kind,
    name = EXCLUDED.name, parent_id = EXCLUDED.parent_id, parent_name = EXCLUDED.parent_name,
    legal_entity_id = EXCLUDED.legal_entity_id, legal_entity_name = EXCLUDED.legal_entity_name,
    finess = EXCLUDED.finess, finess_ej = EXCLUDED.finess_ej, offer_type = EXCLUDED.offer_type,
    unit_type = EXCLUDED.unit_type, care_mode = EXCLUDED.care_mode, professions = EXCLUDED.professions,
    specialties = EXCLUDED.specialties, activities = EXCLUDED.activities, acts = EXCLUDED.acts,
    equipments = EXCLUDED.equipments, competences = EXCLUDED.competences,
    reception_modalities = EXCLUDED.reception_modalities, age_min = EXCLUDED.age_min, age_max = EXCLUDED.age_max,
    address_line = EXCLUDED.address_line, postal_code = EXCLUDED.postal_code, city = EXCLUDED.city,
    commune_insee = EXCLUDED.commune_insee, departement = EXCLUDED.departement, latitude = EXCLUDED.latitude,
    longitude = EXCLUDED.longitude, geo = EXCLUDED.geo, served_communes = EXCLUDED.served_communes,
    phone = EXCLUDED.phone, contacts = EXCLUDED.contacts, hours = EXCLUDED.hours, labels = EXCLUDED.labels,
    document = EXCLUDED.document, published_at = EXCLUDED.published_at, indexed_at = now()
RETURNING e.id
"""

# Legal entities and sites of the répertoire (liberal practice sites from RPPS are shown through their
# offers, not as establishments).
_STRUCTURE_UPSERT = f"""
WITH RECURSIVE start AS (
    SELECT s.id FROM offers.structures s
     WHERE {{where}} AND s.kind IN ('legal_entity', 'site') AND s.source <> 'rpps' AND s.active
),
{_ANCESTORS},
rows AS (
    SELECT s.*, anc.ej_id, anc.ej_name, anc.ej_finess,
           coalesce(s.latitude, cm.latitude) AS lat, coalesce(s.longitude, cm.longitude) AS lon,
           setweight(to_tsvector('offers.ror_fr', s.name || ' ' || coalesce(s.long_name, '')), 'A')
           || setweight(to_tsvector('offers.ror_simple', s.name || ' ' || coalesce(s.long_name, '')
                                    || ' ' || coalesce(s.finess, '')), 'A')
           || setweight(to_tsvector('offers.ror_fr', coalesce(s.category_label, '') || ' '
                                    || coalesce(s.type_label, '') || ' ' || coalesce(s.legal_status_label, '')), 'B')
           || setweight(to_tsvector('offers.ror_simple', coalesce(s.category_label, '') || ' '
                                    || coalesce(s.type_label, '') || ' ' || coalesce(anc.ej_name, '') || ' '
                                    || coalesce(anc.ej_finess, '')), 'C') AS document
      FROM offers.structures s
      JOIN anc ON anc.start_id = s.id
      LEFT JOIN offers.search_communes cm ON cm.code = s.commune_insee
     WHERE {{where}} AND s.kind IN ('legal_entity', 'site') AND s.source <> 'rpps' AND s.active
)
INSERT INTO offers.search_entries AS e (
    region, entry_kind, structure_id, structure_kind, name, parent_id, parent_name, legal_entity_id,
    legal_entity_name, finess, finess_ej, offer_type, address_line, postal_code, city, commune_insee,
    departement, latitude, longitude, geo, phone, labels, document, indexed_at)
SELECT region, 'structure', id, kind, name, CASE WHEN kind = 'site' THEN ej_id END,
       CASE WHEN kind = 'site' THEN ej_name END, coalesce(ej_id, CASE WHEN kind = 'legal_entity' THEN id END),
       coalesce(ej_name, CASE WHEN kind = 'legal_entity' THEN name END), finess,
       coalesce(ej_finess, CASE WHEN kind = 'legal_entity' THEN finess END), 'establishment',
       address_line, postal_code, city, commune_insee, departement, lat, lon,
       CASE WHEN lat IS NOT NULL THEN {GEO_SQL.format(lon="lon", lat="lat")} END, phone,
       jsonb_build_object('category', category_label, 'type', type_label, 'discipline', discipline),
       document, now()
  FROM rows
ON CONFLICT (entry_kind, structure_id) DO UPDATE SET
    region = EXCLUDED.region, structure_kind = EXCLUDED.structure_kind, name = EXCLUDED.name,
    parent_id = EXCLUDED.parent_id, parent_name = EXCLUDED.parent_name, legal_entity_id = EXCLUDED.legal_entity_id,
    legal_entity_name = EXCLUDED.legal_entity_name, finess = EXCLUDED.finess, finess_ej = EXCLUDED.finess_ej,
    address_line = EXCLUDED.address_line, postal_code = EXCLUDED.postal_code, city = EXCLUDED.city,
    commune_insee = EXCLUDED.commune_insee, departement = EXCLUDED.departement, latitude = EXCLUDED.latitude,
    longitude = EXCLUDED.longitude, geo = EXCLUDED.geo, phone = EXCLUDED.phone, labels = EXCLUDED.labels,
    document = EXCLUDED.document, indexed_at = now()
RETURNING e.id
"""

_WORDS = """
INSERT INTO offers.search_words (word)
SELECT DISTINCT lexeme FROM offers.search_entries e, unnest(e.document)
 WHERE e.id = ANY(:ids) AND length(lexeme) BETWEEN 3 AND 80 AND lexeme ~ '^[a-z0-9]+$'
ON CONFLICT DO NOTHING
"""


def _upsert_words(session: Session, ids: list[int]) -> None:
    if ids:
        session.execute(text(_WORDS), {"ids": ids})


def refresh_offers(session: Session, offer_ids: Iterable[int]) -> int:
    """Index these offers as they are now: published ones are (re)written, the others removed."""
    ids = sorted({int(i) for i in offer_ids})
    if not ids:
        return 0
    reference_tables.ensure(session)
    written = session.execute(text(_OFFER_UPSERT.format(where="o.id = ANY(:ids)")), {"ids": ids}).scalars().all()
    session.execute(text(
        "DELETE FROM offers.search_entries e USING offers.offers o, offers.structures u "
        "WHERE e.offer_id = o.id AND u.id = o.unit_id AND o.id = ANY(:ids) "
        "AND (o.status <> 'published' OR o.published IS NULL OR NOT u.active)"), {"ids": ids})
    _upsert_words(session, list(written))
    return len(written)


def refresh_offer(session: Session, offer_id: int) -> int:
    """After a publication, an unpublication or any change of a published offer (same transaction)."""
    return refresh_offers(session, [offer_id])


def _subtree(session: Session, structure_ids: list[int]) -> list[int]:
    return list(session.execute(text(
        "WITH RECURSIVE down(id) AS (SELECT id FROM offers.structures WHERE id = ANY(:ids) "
        "UNION SELECT s.id FROM offers.structures s JOIN down ON s.parent_id = down.id) "
        "SELECT id FROM down"), {"ids": structure_ids}).scalars())


def refresh_structures(session: Session, structure_ids: Iterable[int]) -> int:
    """After structures changed (name, address, coordinates, place in the tree, activity, removal):
    their entries and those of every structure and offer below them. Call it in the transaction of the
    change (flushed first)."""
    ids = sorted({int(i) for i in structure_ids})
    if not ids:
        return 0
    reference_tables.ensure(session)
    session.flush()
    below = _subtree(session, ids)
    written = list(session.execute(text(_STRUCTURE_UPSERT.format(where="s.id = ANY(:ids)")),
                                   {"ids": below}).scalars())
    session.execute(text(
        "DELETE FROM offers.search_entries e USING offers.structures s WHERE e.entry_kind = 'structure' "
        "AND e.structure_id = s.id AND s.id = ANY(:ids) "
        "AND (NOT s.active OR s.kind NOT IN ('legal_entity', 'site') OR s.source = 'rpps')"), {"ids": below})
    offer_ids = list(session.execute(text("SELECT id FROM offers.offers WHERE unit_id = ANY(:ids)"),
                                     {"ids": below}).scalars())
    _upsert_words(session, written)
    return len(written) + refresh_offers(session, offer_ids)


def refresh_structure(session: Session, structure_id: int) -> int:
    """After a structure changed (dossier publication, in-place edit, national import)."""
    return refresh_structures(session, [structure_id])


def remove_structures(session: Session, structure_ids: Iterable[int]) -> None:
    """Before deleting structures (the foreign key would cascade anyway; this says it)."""
    session.execute(text("DELETE FROM offers.search_entries WHERE structure_id = ANY(:ids)"),
                    {"ids": sorted({int(i) for i in structure_ids})})


def rebuild(session: Session, region: str) -> dict:
    """The whole index of a region from the répertoire (after a national import, or from scratch)."""
    reference_tables.ensure(session)
    session.flush()
    session.execute(text("DELETE FROM offers.search_entries WHERE region = :r"), {"r": region})
    structures = session.execute(text(_STRUCTURE_UPSERT.format(where="s.region = :r")), {"r": region}).scalars().all()
    offers = session.execute(text(_OFFER_UPSERT.format(where="o.region = :r")), {"r": region}).scalars().all()
    session.execute(text(
        "INSERT INTO offers.search_words (word) SELECT DISTINCT lexeme FROM offers.search_entries e, "
        "unnest(e.document) WHERE e.region = :r AND length(lexeme) BETWEEN 3 AND 80 "
        "AND lexeme ~ '^[a-z0-9]+$' ON CONFLICT DO NOTHING"), {"r": region})
    return {"structures": len(structures), "offers": len(offers)}

"""Copies of the reference files (NOS nomenclatures, communes) inside the offers schema, so that the
index is built and searched in SQL: labels of the codes an offer holds, coordinates of communes,
suggestions. The files in services/offers/data stay the source: a content hash decides when to copy
them again (once per process at most, under an advisory lock so that concurrent workers wait).

A deprecated concept replaced by another (« remplacé par ROR-A101 » in its NOS "Description métier")
gives its label to its replacement as a synonym: "Rééducation vestibulaire" still finds offers
described with "Réadaptation vestibulaire".
"""

from __future__ import annotations

import hashlib
import re
import threading

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.db import get_engine
from services.offers import reference

# Nomenclatures a search can look in ("Rechercher dans") and their order in suggestions.
CATEGORIES = ("unit_types", "operational_activities", "specific_acts", "equipments", "specific_competences",
              "care_modes", "reception_modalities")
_REPLACED_BY = re.compile(r"remplacé par ([A-Z0-9][A-Z0-9\- /]*)", re.IGNORECASE)
_LOCK_KEY = 0x5E4C0DE  # pg_advisory_xact_lock key of the copy
_synced: set[str] = set()
_guard = threading.Lock()


def _files():
    files = [reference.NOMENCLATURE_DIR / reference.NOMENCLATURE_FILES[c] for c in CATEGORIES]
    return files + [reference.COMMUNES_FILE]


def content_hash() -> str:
    digest = hashlib.sha256()
    for path in _files():
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def synonyms() -> dict[tuple[str, str], list[str]]:
    """(category, code) -> labels of the deprecated concepts it replaces."""
    found: dict[tuple[str, str], list[str]] = {}
    for category in CATEGORIES:
        concepts = reference.nomenclature(category)
        for concept in concepts.values():
            match = _REPLACED_BY.search(concept.description or "")
            if not match:
                continue
            for code in re.split(r"[\s/]+", match.group(1).strip()):
                if code in concepts and code != concept.code:
                    found.setdefault((category, code), []).append(concept.label)
    return found


def ensure(session: Session) -> None:
    """Copy the reference files into the tables when they changed (own transaction, committed, on the
    read-write engine of the session's database: a search may run on a read-only session)."""
    key = session.get_bind().url.render_as_string(hide_password=False)
    if key in _synced:
        return
    with _guard:
        if key in _synced:
            return
        digest = content_hash()
        with get_engine(key).begin() as conn:
            current = conn.execute(text("SELECT value FROM offers.search_meta WHERE key = 'reference'")).scalar()
            if current != digest:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
                current = conn.execute(
                    text("SELECT value FROM offers.search_meta WHERE key = 'reference'")).scalar()
                if current != digest:
                    _copy(conn, digest)
        _synced.add(key)


def _copy(conn, digest: str) -> None:
    extra = synonyms()
    rows = []
    for category in CATEGORIES:
        for concept in reference.nomenclature(category).values():
            rows.append({"category": category, "code": concept.code, "label": concept.label,
                         "status": concept.status(), "synonyms": " ".join(extra.get((category, concept.code), []))})
    conn.execute(text("DELETE FROM offers.search_concepts"))
    conn.execute(text(
        "INSERT INTO offers.search_concepts (category, code, label, status, synonyms, document) "
        "VALUES (:category, :code, :label, :status, :synonyms, "
        " to_tsvector('offers.ror_fr', :label || ' ' || :synonyms) "
        " || to_tsvector('offers.ror_simple', :label || ' ' || :synonyms))"), rows)
    communes = [{"code": c.code, "name": c.name, "departement": c.departement, "postal_codes": list(c.postal_codes),
                 "latitude": c.latitude, "longitude": c.longitude} for c in reference.communes().values()]
    conn.execute(text("DELETE FROM offers.search_communes"))
    conn.execute(text("INSERT INTO offers.search_communes (code, name, departement, postal_codes, latitude, longitude) "
                      "VALUES (:code, :name, :departement, :postal_codes, :latitude, :longitude)"), communes)
    # The words of the labels feed the typo correction even before any offer is indexed.
    conn.execute(text(
        "INSERT INTO offers.search_words (word) SELECT DISTINCT lexeme FROM offers.search_concepts, "
        "unnest(document) WHERE length(lexeme) BETWEEN 3 AND 80 AND lexeme ~ '^[a-z0-9]+$' "
        "ON CONFLICT DO NOTHING"))
    conn.execute(text("INSERT INTO offers.search_meta (key, value) VALUES ('reference', :v) "
                      "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"), {"v": digest})


def forget() -> None:
    """Tests that recreate a database call this so that the next `ensure` copies again."""
    _synced.clear()

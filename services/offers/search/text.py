"""French text matching for the search, on PostgreSQL full-text search.

A query is cut into words (accents, case, hyphens and apostrophes folded like the index does:
`reference.normalize`); French stop words are dropped. Each word matches as a prefix, both as typed
(configuration `offers.ror_simple`: unaccent, no stemming) and stemmed (`offers.ror_fr`: unaccent then
the French Snowball stemmer), so "reeduc pelvi" finds "Rééducation pelvi-périnéale". A word that
starts no word of the index vocabulary (`offers.search_words`) is replaced by its nearest words by
trigram similarity (pg_trgm): "kinesiterapie" finds "kinésithérapie". Words are ANDed.

`tsquery` gives the query with its prefixes (for `ts_rank`, and on small tables); `matching` gives the
same query with each prefix replaced by the exact lexemes of the index it starts (`offers.search_lexemes`):
it matches the same entries, and the GIN index intersects exact lexemes by skipping through their
posting lists where a prefix makes it read every posting list the prefix starts, whole.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.offers.reference import normalize

MAX_TERMS = 8
MAX_TERM_LENGTH = 40
CORRECTIONS_PER_TERM = 3
MIN_SIMILARITY = 0.3
MIN_EXPANDED_PREFIX = 3  # shorter prefixes may start lexemes the table does not hold: kept as prefixes
MAX_EXPANSION = 64  # a prefix starting more lexemes is kept as a prefix (a bitmap of them is then cheaper)
STOP_WORDS = frozenset("""
a au aux avec ce ces chez d dans de des du en et l la le les leur mais ou par pour qu que qui sa se ses son
sur un une vos votre""".split())


def terms(query: str | None) -> list[str]:
    """The words of a query as the index knows them: 'Rééducation pelvi-périnéale' ->
    ['reeducation', 'pelvi', 'perineale']."""
    words = re.split(r"[^a-z0-9]+", normalize(query or ""))
    kept = [w[:MAX_TERM_LENGTH] for w in words if w and w not in STOP_WORDS]
    return list(dict.fromkeys(kept))[:MAX_TERMS]


# For each word: itself when it starts a word of the vocabulary, else its nearest words (maybe none: the
# query then matches nothing, ''); then the words' groups ANDed, each word a prefix, stemmed and as typed.
# One statement: a search runs it every time.
_TSQUERY = text("""
WITH alternatives AS (
    SELECT t.n,
           CASE WHEN EXISTS (SELECT 1 FROM offers.search_words w  -- a word starting with the term (index range)
                              WHERE w.word >= t.term AND w.word < t.term || '{')
                THEN ARRAY[t.term]
                ELSE ARRAY(SELECT w.word FROM offers.search_words w
                            WHERE w.word OPERATOR(public.%) t.term
                              AND public.similarity(w.word, t.term) >= :min_similarity
                            ORDER BY public.similarity(w.word, t.term) DESC, length(w.word), w.word
                            LIMIT :per_term)
           END AS words
      FROM unnest(CAST(:terms AS text[])) WITH ORDINALITY AS t(term, n)
)
SELECT CASE WHEN bool_or(cardinality(a.words) = 0) THEN ''
            ELSE string_agg('(' || (to_tsquery('offers.ror_fr', g.q) || to_tsquery('offers.ror_simple', g.q))::text
                            || ')', ' & ' ORDER BY a.n) END
  FROM alternatives a
  CROSS JOIN LATERAL (SELECT string_agg(w || ':*', ' | ') AS q  -- words are [a-z0-9] (terms, search_words)
                        FROM unnest(a.words) AS w) g
""")


def tsquery(session: Session, query: str | None) -> str | None:
    """The tsquery (as text, for `CAST(:tsq AS tsquery)`) of a free-text query; None when the query has
    no word; '' when a word matches nothing in the vocabulary (no result)."""
    words = terms(query)
    if not words:
        return None
    return session.execute(_TSQUERY, {"terms": words, "min_similarity": MIN_SIMILARITY,
                                      "per_term": CORRECTIONS_PER_TERM}).scalar() or ""


_PREFIX = re.compile(r"'([a-z0-9]+)':\*")
_EXPAND = text("""
SELECT p.prefix, ARRAY(SELECT l.lexeme FROM offers.search_lexemes l
                        WHERE l.lexeme >= p.prefix AND l.lexeme < p.prefix || chr(1114111)
                        ORDER BY l.lexeme LIMIT :limit) AS lexemes
  FROM unnest(CAST(:prefixes AS text[])) AS p(prefix)
""")


def _quoted(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def _groups(tsq: str) -> list[str]:
    """The top-level ANDed groups of a tsquery built by `tsquery` ('(…) & (…)')."""
    groups, depth, start = [], 0, 0
    for i, char in enumerate(tsq):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "&" and depth == 0:
            groups.append(tsq[start:i].strip())
            start = i + 1
    groups.append(tsq[start:].strip())
    return [g for g in groups if g]


def _short_prefixes_only(group: str) -> bool:
    """A group whose every word is a prefix shorter than MIN_EXPANDED_PREFIX ('n':*, from "post-n")."""
    words = re.findall(r"'([^']*)'(:\*)?", group)
    return bool(words) and all(star and len(word) < MIN_EXPANDED_PREFIX for word, star in words)


def matching(session: Session, tsq: str | None) -> tuple[str | None, bool]:
    """(the query for the entries' GIN index, whether the rows must still be checked against `tsq`).

    The query is `tsq` with each prefix ('post':*) replaced by the lexemes of the index it starts
    ('post' | 'postnatal' | 'poste'): the same matches. A prefix that starts no lexeme stays (it
    matches nothing either way). A word of one or two letters typed as a prefix beside longer words
    ("suiv post-n") is left out of the index's query — it would read every posting list it starts,
    whole — and checked on the rows instead (True)."""
    if not tsq:
        return tsq, False
    groups = _groups(tsq)
    kept = [g for g in groups if not _short_prefixes_only(g)]
    loose = bool(kept) and len(kept) < len(groups)
    narrowed = " & ".join(kept) if loose else tsq
    prefixes = sorted({p for p in _PREFIX.findall(narrowed) if len(p) >= MIN_EXPANDED_PREFIX})
    if not prefixes:
        return narrowed, loose
    found = {row.prefix: row.lexemes for row in session.execute(
        _EXPAND, {"prefixes": prefixes, "limit": MAX_EXPANSION + 1})}

    def replace(match: re.Match) -> str:
        lexemes = found.get(match.group(1))
        if not lexemes or len(lexemes) > MAX_EXPANSION:
            return match.group(0)
        return "( " + " | ".join(_quoted(x) for x in lexemes) + " )"

    return _PREFIX.sub(replace, narrowed), loose

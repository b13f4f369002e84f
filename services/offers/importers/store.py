"""Database layer of the importers: batched upserts on the offers tables (PostgreSQL only).

One batch = a few thousand rows per table, written in three statements and committed:
1. `COPY` into a temporary staging table shaped like the target (the fastest way in with psycopg2);
2. one `INSERT … SELECT` of the staged rows that are new or differ from the stored ones (a join with
   the target), `ON CONFLICT DO UPDATE … WHERE <changed>` as a safety net, `RETURNING … (xmax = 0)`
   to tell inserted from updated rows — unchanged rows are not even locked;
3. for structures, one join of the staging table with the target for the ids of every staged key
   (parents of the next level).
Nothing is written when nothing changed: no `updated_at`, no version bump.

Natural keys (see services/offers/models.py): structures (region, kind, finess) and
(region, kind, source_key); professionals (region, rpps); offers (unit_id).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from psycopg2.extensions import get_wait_callback
from psycopg2.extras import execute_values

from services.common.db import database_url, get_engine
from services.offers.models import Offer, Professional, Structure

STRUCTURES = Structure.__table__.fullname  # "offers.structures"
PROFESSIONALS = Professional.__table__.fullname
OFFERS = Offer.__table__.fullname


# One row to write, keyed by column name (the names of `Target.columns`).
Row = Mapping[str, object]

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(value: object) -> str:
    """Compact JSON. Key order does not matter: the columns are JSONB, compared by value."""
    return _ENCODER.encode(value)


def _copy_value(value: object) -> str:
    if value is None:
        return "\\N"
    if not isinstance(value, str):
        return str(value)
    # str.replace runs in C; most values need none of them
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def copy_text(rows: Sequence[tuple]) -> str:
    """Rows in COPY text format (tab-separated, \\N for NULL, backslash escapes)."""
    return "".join("\t".join(map(_copy_value, row)) + "\n" for row in rows)


@dataclass
class Outcome:
    """Keys created / updated by one upsert, and the id of every key of the batch."""

    created: set = field(default_factory=set)
    updated: set = field(default_factory=set)
    ids: dict = field(default_factory=dict)

    def status(self, key) -> str:
        if key in self.created:
            return "created"
        if key in self.updated:
            return "updated"
        return "unchanged"

    def counts(self, total: int) -> dict[str, int]:
        return {"created": len(self.created), "updated": len(self.updated),
                "unchanged": total - len(self.created) - len(self.updated)}


@dataclass(frozen=True)
class Target:
    """How one kind of row is upserted: table, staged columns, natural key, compared columns."""

    name: str  # staging table suffix
    table: str
    columns: tuple[str, ...]  # staged and inserted
    key: tuple[str, ...]  # natural key (ON CONFLICT target)
    returned: str  # key column returned to the caller
    compared: tuple[str, ...]  # a difference in one of these is an update
    extra_set: tuple[str, ...] = ()  # more SET items (t = stored row)
    with_ids: bool = False  # look up the id of unchanged rows too

    def changed(self, o: str, n: str) -> str:
        return (f"({', '.join(f'{o}.{c}' for c in self.compared)}) IS DISTINCT FROM "
                f"({', '.join(f'{n}.{c}' for c in self.compared)})")

    def upsert_sql(self, stage: str) -> str:
        cols = ", ".join(self.columns)
        join = " AND ".join(f"e.{k} = s.{k}" for k in self.key)
        sets = [f"{c} = EXCLUDED.{c}" for c in self.compared] + list(self.extra_set) + ["updated_at = now()"]
        return (
            f"INSERT INTO {self.table} AS t ({cols}) "
            f"SELECT {', '.join(f's.{c}' for c in self.columns)} FROM {stage} s "
            f"LEFT JOIN {self.table} e ON {join} "
            f"WHERE e.id IS NULL OR {self.changed('e', 's')} "
            f"ON CONFLICT ({', '.join(self.key)}) DO UPDATE SET {', '.join(sets)} "
            f"WHERE {self.changed('t', 'EXCLUDED')} "
            f"RETURNING t.{self.returned}, t.id, (t.xmax = 0) AS inserted"
        )

    def ids_sql(self, stage: str) -> str:
        join = " AND ".join(f"e.{k} = s.{k}" for k in self.key)
        return f"SELECT s.{self.returned}, e.id FROM {stage} s JOIN {self.table} e ON {join}"


PROFESSIONAL = Target(
    name="professionals", table=PROFESSIONALS, key=("region", "rpps"), returned="rpps",
    columns=("region", "rpps", "id_type", "civility_code", "civility", "last_name", "first_name",
             "profession_code", "profession_label", "category_code", "specialty_code", "specialty_label",
             "practice_mode_code", "practice_mode_label"),
    compared=("id_type", "civility_code", "civility", "last_name", "first_name", "profession_code",
              "profession_label", "category_code", "specialty_code", "specialty_label",
              "practice_mode_code", "practice_mode_label"),
)

# A liberal practice site. `rpps` (its practitioner) is set at creation only: a group practice is
# seen from several professionals' lines and must not flip from one to the other.
RPPS_SITE = Target(
    name="rpps_sites", table=STRUCTURES, key=("region", "kind", "source_key"), returned="source_key",
    columns=("region", "kind", "source", "source_key", "rpps", "siret", "siren", "name", "type_label",
             "discipline", "address_line", "address_complement", "postal_code", "commune_insee", "departement",
             "city", "phone", "fax", "email"),
    compared=("siret", "siren", "name", "type_label", "discipline", "address_line", "address_complement",
              "postal_code", "commune_insee", "departement", "city", "phone", "fax", "email"),
    with_ids=True,
)

RPPS_UNIT = Target(
    name="rpps_units", table=STRUCTURES, key=("region", "kind", "source_key"), returned="source_key",
    columns=("region", "kind", "source", "source_key", "rpps", "parent_id", "name", "type_label", "discipline",
             "postal_code", "commune_insee", "departement", "city"),
    compared=("parent_id", "name", "type_label", "discipline", "postal_code", "commune_insee", "departement",
              "city"),
    with_ids=True,
)

# The draft (pre-filled description) and the unit type and care mode are set at creation only: from
# then on the offer is the professional's, and the import refreshes the national snapshot, the name
# and the place. The version (ETag) is bumped when one of those changes.
OFFER = Target(
    name="offers", table=OFFERS, key=("unit_id",), returned="unit_id",
    columns=("region", "unit_id", "unit_type", "care_mode", "name", "owner_rpps", "commune_insee",
             "departement", "national", "draft"),
    compared=("name", "owner_rpps", "commune_insee", "departement", "national"),
    extra_set=("version = t.version + 1",),
)

# The ET extract names no EJ: the stand-in name is set at creation only, so a real name (EJ
# extract, ROR team) is never overwritten. Nothing else is compared.
LEGAL_ENTITY = Target(
    name="legal_entities", table=STRUCTURES, key=("region", "kind", "finess"), returned="finess",
    columns=("region", "kind", "source", "finess", "name", "departement"),
    compared=("source",), with_ids=True,
)

FINESS_SITE = Target(
    name="finess_sites", table=STRUCTURES, key=("region", "kind", "finess"), returned="finess",
    columns=("region", "kind", "source", "finess", "parent_id", "siret", "name", "long_name", "category_code",
             "category_label", "address_line", "address_complement", "postal_code", "commune_insee",
             "departement", "city", "phone", "fax", "opened_on"),
    compared=("parent_id", "siret", "name", "long_name", "category_code", "category_label", "address_line",
              "address_complement", "postal_code", "commune_insee", "departement", "city", "phone", "fax",
              "opened_on"),
)


class Store:
    """A psycopg2 connection taken from the project's engine, committed once per batch."""

    def __init__(self, region: str, url: str | None = None):
        self.region = region
        self.engine = get_engine(url or database_url())
        self.conn = self.engine.raw_connection()
        self._staged: set[str] = set()
        with self.conn.cursor() as cur:
            # One commit per batch: no need to wait for each WAL flush. A crash loses at most the
            # last batches, which re-running the (idempotent) import writes again.
            cur.execute("SET synchronous_commit = off")
        self.conn.commit()

    def close(self) -> None:
        """Give the connection back to the pool as it was (setting reset, staging tables dropped)."""
        try:
            self.conn.rollback()
            with self.conn.cursor() as cur:
                cur.execute("RESET synchronous_commit; DISCARD TEMP")
            self.conn.commit()
        except Exception:  # a broken connection must not hide the import's own error
            self.conn.invalidate()
        finally:
            self.conn.close()

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    # -- generic ---------------------------------------------------------------------------
    def _stage(self, cur, target: Target, columns: Sequence[str], rows: Sequence[tuple]) -> str:
        stage = f"import_stage_{target.name}"
        if stage not in self._staged:
            # same column types as the target; emptied at each commit
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
                        f"SELECT {', '.join(target.columns)} FROM {target.table} WITH NO DATA")
            self._staged.add(stage)
        # each stage is filled once per batch and emptied by the batch's commit (ON COMMIT DELETE ROWS)
        columns = ", ".join(columns)
        if get_wait_callback() is None:
            data = copy_text(rows)
            # one read of the whole buffer: psycopg2 takes the GIL back for every chunk it reads
            cur.copy_expert(f"COPY {stage} ({columns}) FROM STDIN", io.StringIO(data), size=len(data) + 1)
        else:
            # psycopg2 made green (eventlet's monkey patching: tests, nameko) refuses COPY
            execute_values(cur, f"INSERT INTO {stage} ({columns}) VALUES %s", rows, page_size=len(rows))
        return stage

    def upsert(self, target: Target, rows: Sequence[Row], **fixed: object) -> Outcome:
        """Upsert `rows` (one per natural key), each keyed by the names of `target.columns`; `fixed`
        gives the columns that are the same for the whole batch (region, kind, source)."""
        outcome = Outcome()
        if not rows:
            return outcome
        # Checked once per batch, so that a misnamed or forgotten column fails loudly and early.
        names = tuple(c for c in target.columns if c not in fixed)
        if set(rows[0]) != set(names) or not fixed.keys() <= set(target.columns):
            raise ValueError(f"{target.name}: row columns {sorted(rows[0])} + fixed {sorted(fixed)}, "
                             f"expected {list(target.columns)}")
        # Staged as tuples (the COPY format is positional): the fixed values first, then the row's.
        get, head = itemgetter(*names), tuple(fixed.values())
        tuples = [head + get(row) for row in rows] if len(names) > 1 else [(*head, get(row)) for row in rows]
        with self.conn.cursor() as cur:
            stage = self._stage(cur, target, (*fixed, *names), tuples)
            cur.execute(target.upsert_sql(stage))
            for key, row_id, inserted in cur.fetchall():
                outcome.ids[key] = row_id
                (outcome.created if inserted else outcome.updated).add(key)
            if target.with_ids and len(outcome.ids) < len(rows):
                cur.execute(target.ids_sql(stage))
                outcome.ids.update(cur.fetchall())
        return outcome

    # -- RPPS ------------------------------------------------------------------------------
    def upsert_professionals(self, rows: list[Row]) -> Outcome:
        """rows: PROFESSIONAL.columns but region."""
        return self.upsert(PROFESSIONAL, rows, region=self.region)

    def upsert_rpps_sites(self, rows: list[Row]) -> Outcome:
        """rows: RPPS_SITE.columns but region, kind, source."""
        return self.upsert(RPPS_SITE, rows, region=self.region, kind="site", source="rpps")

    def upsert_rpps_units(self, rows: list[Row]) -> Outcome:
        """rows: RPPS_UNIT.columns but region, kind, source."""
        return self.upsert(RPPS_UNIT, rows, region=self.region, kind="unit", source="rpps")

    def upsert_offers(self, rows: list[Row]) -> Outcome:
        """rows: OFFER.columns but region (national and draft as JSON text). Draft, unit type and
        care mode are only written when the offer is created."""
        return self.upsert(OFFER, rows, region=self.region)

    # -- FINESS ----------------------------------------------------------------------------
    def ensure_legal_entities(self, rows: list[Row]) -> Outcome:
        """rows: finess (the EJ), name (stand-in), departement."""
        return self.upsert(LEGAL_ENTITY, rows, region=self.region, kind="legal_entity", source="finess")

    def upsert_finess_sites(self, rows: list[Row]) -> Outcome:
        """rows: FINESS_SITE.columns but region, kind, source. Coordinates come later."""
        return self.upsert(FINESS_SITE, rows, region=self.region, kind="site", source="finess")

    def update_coordinates(self, rows: list[Row]) -> set[str]:
        """rows: finess (the ET), latitude, longitude; returns the ETs whose coordinates changed."""
        if not rows:
            return set()
        with self.conn.cursor() as cur:
            region = cur.mogrify("%s", (self.region,)).decode()
            changed = execute_values(
                cur,
                f"UPDATE {STRUCTURES} AS t SET latitude = v.lat, longitude = v.lon, updated_at = now() "
                f"FROM (VALUES %s) AS v(finess, lat, lon) "
                f"WHERE t.region = {region} AND t.kind = 'site' AND t.finess = v.finess "
                f"AND (t.latitude IS DISTINCT FROM v.lat OR t.longitude IS DISTINCT FROM v.lon) "
                f"RETURNING t.finess",
                rows, template="(%(finess)s, %(latitude)s::float8, %(longitude)s::float8)", page_size=len(rows),
                fetch=True,
            )
        return {row[0] for row in changed}

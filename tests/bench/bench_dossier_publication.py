"""Benchmark of a hospital-sized dossier collaboratif: opening (copy of the EG's tree), « Finaliser les
fiches », and the atomic publication of every sheet in one transaction.

    .venv/bin/python tests/bench/bench_dossier_publication.py                  # 1 EG, 10 pôles × 10 UO
    .venv/bin/python tests/bench/bench_dossier_publication.py --poles 20 --units 20 --url postgresql+psycopg2://…

Builds an EG → pôles → UO tree in the database given (default `ror_bench_dossiers`, created and migrated
if missing), every UO with a complete published offer, then runs the dossiers and offers domain modules
directly (what the two services run, without the broker) and prints the time of each phase and the
number of sheets. No target is set by the issue: these are the figures to watch.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.common.actor import Actor  # noqa: E402
from services.common.db import ensure_database, session_factory  # noqa: E402
from services.common.migrations import upgrade_all  # noqa: E402
from services.dossiers import operations  # noqa: E402
from services.offers import structure_edits  # noqa: E402
from services.offers.models import Offer, Structure  # noqa: E402
from services.offers.steps import validate_step  # noqa: E402

DEFAULT_URL = "postgresql+psycopg2://ror:ror@127.0.0.1:5432/ror_bench_dossiers"
UNIT = {
    "description": {"age_min": 0, "operational_activities": ["527", "530"]},
    "modalities": {"intervention_communes": ["44109"]},
    "contacts": {"contacts": [{"channel": "phone", "value": "0240083333", "visibility": "public"}]},
    "hours": {"weekly": [{"day": "monday", "start": "08:30", "end": "17:00", "kind": "appointment"}]},
}


class Direct:
    """operations.Repertoire calling the offers domain in its own sessions, as the RPC would."""

    def __init__(self, factory):
        self.factory = factory

    def snapshot(self, region, structure_id):
        with self.factory() as session:
            return structure_edits.snapshot(session, region, structure_id)

    def check_sheet(self, kind, data, unit_type, finalise):
        return structure_edits.check_sheet(kind, data, unit_type=unit_type, finalise=finalise)

    def apply(self, region, dossier_id, site_id, sheets, actor):
        with self.factory() as session:
            applied = structure_edits.apply_dossier(session, region, dossier_id, site_id, sheets,
                                                    Actor.from_dict(actor))
            session.commit()
            return applied


def build_tree(factory, poles: int, units: int) -> int:
    key = uuid.uuid4().hex[:8]
    content = {part: validate_step(part, body) for part, body in UNIT.items()}
    with factory() as session:
        eg = Structure(region="pdl", kind="site", source="ror", source_key=f"bench:{key}:eg", name=f"CH BENCH {key}",
                       discipline="MCO", departement="44", commune_insee="44109", phone="0240083333")
        session.add(eg)
        session.flush()
        for p in range(poles):
            pole = Structure(region="pdl", kind="pole", parent_id=eg.id, source="ror",
                             source_key=f"bench:{key}:p{p}", name=f"Pôle {p}", discipline="MCO")
            session.add(pole)
            session.flush()
            for u in range(units):
                unit = Structure(region="pdl", kind="unit", parent_id=pole.id, source="ror",
                                 source_key=f"bench:{key}:p{p}u{u}", name=f"Consultation {p}-{u}", discipline="MCO")
                session.add(unit)
                session.flush()
                session.add(Offer(region="pdl", unit_id=unit.id, unit_type="ROR-UO-CS", name=unit.name,
                                  status="published", published=content, published_at=datetime.now(UTC),
                                  draft={"steps": content, "validated": list(content)}))
        session.commit()
        return eg.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--poles", type=int, default=10)
    parser.add_argument("--units", type=int, default=10, help="UO per pôle")
    parser.add_argument("--url", default=DEFAULT_URL)
    args = parser.parse_args()
    ensure_database(args.url)
    upgrade_all(args.url)
    factory = session_factory(args.url)
    eg = build_tree(factory, args.poles, args.units)
    director = Actor("bench-dir", "bench.dir", "pdl", frozenset({"directeur"}), None, frozenset({("directeur", eg)}))
    validator = Actor("bench-val", "bench.val", "pdl", frozenset({"regional_validator"}))
    repertoire = Direct(factory)
    timings = {}

    def timed(name, fn):
        start = time.perf_counter()
        with factory() as session:
            result = fn(session)
            session.commit()
        timings[name] = time.perf_counter() - start
        return result

    dossier_id = timed("open (copy of the tree)",
                       lambda s: operations.open_dossier(s, repertoire, "pdl", director, eg).id)

    def load(s):
        return operations.load_dossier(s, "pdl", dossier_id, for_update=True)

    def edit_all(s):  # every UO gets a new phone: every sheet is an update
        d = load(s)
        for sheet in d.sheets:
            if sheet.kind == "uo":
                sheet.data = {**sheet.data, "phone": "0240084444"}
        s.flush()

    timed("edit every UO (direct)", edit_all)
    timed("finalise every sheet", lambda s: operations.finalise_all(s, repertoire, load(s), director,
                                                                       operations.etag(load(s))))
    for action, who in (("send", director), ("approve", director)):
        timed(action, lambda s, a=action, w=who: operations.transition(s, repertoire, load(s), a, None, w,
                                                                         operations.etag(load(s))))
    status = timed("validate + atomic publication",
                   lambda s: operations.transition(s, repertoire, load(s), "validate", None, validator,
                                                   operations.etag(load(s))).status)
    sheets = args.poles * (args.units + 1) + 1
    print(f"dossier {dossier_id}: {sheets} sheets ({args.poles} pôles, {args.poles * args.units} UO), final status {status}")
    for name, seconds in timings.items():
        print(f"  {name:32s} {seconds * 1000:9.0f} ms")


if __name__ == "__main__":
    main()

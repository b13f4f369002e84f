"""Benchmark of the search at national scale: latency through the gateway (1 and 20 clients) and directly
in SQL, index size, and the time for the index to follow a publication.

    .venv/bin/python tests/bench/bench_search.py                  # 520,000 UOs, 1,000 queries
    .venv/bin/python tests/bench/bench_search.py --units 100000 --queries 300 --keep

1. Creates a dedicated database (`ror_bench_search`, dropped first and at the end unless --keep) and
   migrates it.
2. Generates, with COPY, a national-scale répertoire over every commune of communes.csv (population
   weighted, each commune at least one UO): liberal offers (médecins généralistes, infirmiers, kinés,
   sages-femmes, orthophonistes: a practice site + a UO each, ~40 % of kinés / infirmiers / sages-femmes
   with a home-visit territory of nearby communes), establishments (EJ → EG → 2–8 UOs: consultations,
   hospitalisations, SSIAD) and CPTS with their territories; every offer published with a complete
   six-step content (activities, acts, equipments, contacts, hours). All of it in one region (`idf`):
   the worst case for the search, which filters by region.
3. Builds the index with the service's own code (`index.rebuild`), then VACUUM ANALYZE.
4. Starts the offers, accounts and gateway processes (`nameko run`, the deploy configs) on a vhost of
   their own and runs N representative queries (place + need + facets; some typo'd, some prefixes,
   some in one category, some sorted by relevance, some pages 2–3) through HTTP at 1 client and at 20
   concurrent clients, and the same queries directly (the SQL statements the search runs, in this
   process: place, text, candidates).
5. Publishes one more offer through `POST /offers/{id}/publish` (demo user kine.demo, Keycloak token)
   and measures until a search through the gateway returns it.

6. Times `facets=all` (the facets counted over every match, not only the ≤ 200 results) on the first
   200 queries, in SQL.
7. Prints the CPU each part of the path spent per request during the 20-client run (from /proc), and
   with `--floor` runs the 20 clients again against an offers service whose search answers are memoized
   (`search_memoized.py`): the latency and CPU of the path alone, when the search costs nothing.

Targets (issue 9): p95 ≤ 50 ms at 1 client, ≤ 150 ms at 20 clients, ≤ 2× the direct query; the index
follows a publication within 1 s at that size.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from load_national import cpu_seconds, pids_matching  # noqa: E402  (tests/bench: this script's directory)
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from services.offers import reference  # noqa: E402

DEFAULT_URL = "postgresql+psycopg2://ror:ror@127.0.0.1:5432/ror_bench_search"
VHOST = os.environ.get("ROR_BENCH_VHOST", "ror_bench_search")  # a vhost of its own per bench run
RABBIT_MGMT = os.environ.get("ROR_RABBIT_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:15672")
REGION = "idf"
KINE_DEMO_RPPS = "10101234564"  # deploy/demo-accounts.txt: the publication is made as kine.demo

LAST = ("MARTIN BERNARD THOMAS PETIT ROBERT RICHARD DURAND DUBOIS MOREAU LAURENT SIMON MICHEL LEFEBVRE "
        "LEROY ROUX DAVID BERTRAND MOREL FOURNIER GIRARD BONNET DUPONT LAMBERT FONTAINE ROUSSEAU VINCENT "
        "MULLER LEFEVRE FAURE ANDRE MERCIER BLANC GUERIN BOYER GARNIER CHEVALIER FRANCOIS LEGRAND GAUTHIER "
        "GARCIA PERRIN ROBIN CLEMENT MORIN NICOLAS HENRY ROUSSEL MATHIEU GAUTIER MASSON LECLERC ARNAUD "
        "MARCHAND DUVAL DENIS DUMONT MARIE LEMAIRE NOEL MEYER DUFOUR MEUNIER BRUN BLANCHARD GIRAUD JOLY "
        "RIVIERE LUCAS BRUNET GAILLARD BARBIER ARNAUD MARTINEZ GERARD ROCHE RENARD SCHMITT ROY LEROUX "
        "COLIN VIDAL CARON PICARD ROGER FABRE AUBERT LEMOINE RENAUD DUMAS LACROIX OLIVIER PHILIPPE").split()
FIRST = ("Marie Jean Pierre Michel Claire Sophie Nathalie Isabelle Thomas Nicolas Julien Camille Léa Manon "
         "Hugo Louis Chloé Emma Élodie Céline Aurélie François Hélène Jérôme Stéphane Anaïs Benoît Agnès "
         "Laure Mathilde Paul Antoine Lucie Sandrine Valérie Olivier Cécile Karine Vincent").split()
STREETS = ("R DE LA REPUBLIQUE", "AV VICTOR HUGO", "R JEAN JAURES", "R DE PARIS", "BD DU GENERAL DE GAULLE",
           "R PASTEUR", "R DES LILAS", "RTE NATIONALE", "R DE LA GARE", "PL DU MARCHE", "R GAMBETTA")

# profession: (weight, unit type, label, care mode, activities, acts, equipments, home-visit share, RPPS code)
PROFESSIONS = {
    "mg": (32, "ROR-UO-MG", "Consultation médecine générale", "32", ("437", "484", "485", "487", "471", "334"),
           ("0032", "0033"), ("046",), 0.2, ("10", "Médecin")),
    "ide": (30, "ROR-UO-IDE", "Soins infirmiers", "32", ("334", "336", "286", "050"), (), (), 0.6,
            ("60", "Infirmier")),
    "kine": (22, "ROR-UO-KINE", "Consultation kinésithérapie", "32",
             ("339", "417", "418", "419", "420", "421", "422", "423", "424", "425", "426", "427", "428", "561", "562"),
             ("ROR-A101", "ROR-A102", "ROR-A103", "ROR-A104", "ROR-A105", "ROR-A113", "ROR-A116", "ROR-A117",
              "ROR-A119", "ROR-A121", "ROR-A122", "ROR-A125", "ROR-A127", "ROR-A139", "ROR-A146", "ROR-A147",
              "ROR-A149", "1341", "1479"),
             ("ROR-E001", "ROR-E002", "098", "102", "040"), 0.4, ("70", "Masseur-Kinésithérapeute")),
    "sf": (7, "ROR-UO-SF", "Consultation sage femme", "32", ("530", "529", "527", "510"),
           ("1337", "1341", "1356", "1479", "ROR-A201", "ROR-A202", "ROR-A204", "ROR-A205", "ROR-A206"),
           ("033", "034"), 0.4, ("50", "Sage-Femme")),
    "ortho": (9, "ROR-UO-ORTHOPHONIE", "Consultation orthophonie", "32", ("294", "283"), (), (), 0.1,
              ("91", "Orthophoniste")),
}
ESTABLISHMENT_UNITS = (
    ("ROR-UO-HC", "Hospitalisation complète", "28", ("013", "050", "097", "100", "229", "283")),
    ("ROR-UO-HJ", "Hospitalisation de jour", "29", ("090", "283", "227", "336")),
    ("ROR-UO-CS", "Consultation spécialisée", "32", ("013", "053", "081", "097", "100", "510")),
    ("ROR-UO-SSIAD", "Service de soins infirmiers à domicile", "49", ("293", "050", "333")),
)
HOUR_PATTERNS = (
    [{"day": d, "start": "08:30", "end": "12:30", "kind": "appointment"} for d in range(1, 6)]
    + [{"day": d, "start": "14:00", "end": "19:00", "kind": "appointment"} for d in range(1, 6)],
    [{"day": d, "start": "07:00", "end": "12:00", "kind": "home_visit"} for d in range(1, 7)]
    + [{"day": d, "start": "17:00", "end": "20:00", "kind": "walk_in"} for d in range(1, 6)],
    [{"day": d, "start": "09:00", "end": "18:00", "kind": "appointment"} for d in (1, 2, 4, 5)],
    [{"day": d, "start": "00:00", "end": "24:00", "kind": "walk_in"} for d in range(1, 8)],
)


# ------------------------------------------------------------------ database

def admin_engine(url: str):
    return create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")


def drop_database(url: str) -> None:
    from sqlalchemy.exc import ProgrammingError

    engine = admin_engine(url)
    try:
        for attempt in range(15):  # an autovacuum worker (not ours to terminate) may hold it a moment
            try:
                with engine.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
                return
            except ProgrammingError:
                if attempt == 14:
                    raise
                time.sleep(2)
    finally:
        engine.dispose()


def create_database(url: str) -> None:
    from services.common.db import ensure_database
    from services.common.migrations import upgrade_all

    drop_database(url)
    ensure_database(url)
    upgrade_all(url)


# ------------------------------------------------------------------ generation

def _copy_value(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")


class Copier:
    """Rows buffered and sent with COPY every `chunk` rows."""

    def __init__(self, raw, table: str, columns: tuple[str, ...], chunk: int = 50000, after=None):
        self.raw, self.table, self.columns, self.chunk = raw, table, columns, chunk
        self.after = after  # a Copier whose rows these reference (flushed first)
        self.buffer = io.StringIO()
        self.pending = 0
        self.count = 0

    def add(self, *values) -> None:
        self.buffer.write("\t".join(_copy_value(v) for v in values) + "\n")
        self.pending += 1
        if self.pending >= self.chunk:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        if self.after is not None:
            self.after.flush()
        self.buffer.seek(0)
        with self.raw.cursor() as cur:
            cur.copy_expert(f"COPY {self.table} ({', '.join(self.columns)}) FROM STDIN", self.buffer)
        self.count += self.pending
        self.buffer = io.StringIO()
        self.pending = 0


STRUCTURE_COLUMNS = ("id", "region", "kind", "parent_id", "source", "source_key", "finess", "name", "discipline",
                     "category_label", "type_label", "address_line", "postal_code", "commune_insee", "departement",
                     "city", "latitude", "longitude", "phone")
OFFER_COLUMNS = ("id", "region", "unit_id", "unit_type", "care_mode", "name", "owner_rpps", "commune_insee",
                 "departement", "national", "draft", "published", "published_at", "status", "version")


def neighbours(communes: list) -> dict[str, list[str]]:
    """Communes within ~15 km (grid of 0.1° cells), nearest first: home-visit territories."""
    cells: dict[tuple[int, int], list] = {}
    for c in communes:
        cells.setdefault((int(c.latitude * 10), int(c.longitude * 10)), []).append(c)
    found = {}
    for c in communes:
        cy, cx = int(c.latitude * 10), int(c.longitude * 10)
        around = [o for dy in (-1, 0, 1) for dx in (-1, 0, 1) for o in cells.get((cy + dy, cx + dx), ())
                  if o.code != c.code]
        around.sort(key=lambda o: (o.latitude - c.latitude) ** 2
                    + ((o.longitude - c.longitude) * math.cos(math.radians(c.latitude))) ** 2)
        found[c.code] = [o.code for o in around[:25]]
    return found


def generate(url: str, units_target: int, seed: int) -> dict:
    rng = random.Random(seed)
    communes = [c for c in reference.communes().values() if c.latitude is not None]
    near = neighbours(communes)
    population = sum(max(c.population, 1) for c in communes)
    liberal_target = int(units_target * 0.84)
    engine = create_engine(url)
    raw = engine.raw_connection()
    structures = Copier(raw.driver_connection, "offers.structures", STRUCTURE_COLUMNS)
    offers = Copier(raw.driver_connection, "offers.offers", OFFER_COLUMNS, after=structures)
    ids = {"structure": 0, "offer": 0, "rpps": 20000000000}
    names = list(PROFESSIONS)
    weights = [PROFESSIONS[n][0] for n in names]
    now = "2026-11-01T10:00:00+00:00"

    def structure(**values) -> int:
        ids["structure"] += 1
        row = {"id": ids["structure"], "region": REGION, "source": "ror", "discipline": "VIL"} | values
        row.setdefault("source_key", f"bench:{row['kind']}:{ids['structure']}")
        structures.add(*(row.get(c) for c in STRUCTURE_COLUMNS))
        return ids["structure"]

    def place(c, rng) -> dict:
        return {"postal_code": c.postal_codes[0] if c.postal_codes else None, "commune_insee": c.code,
                "departement": c.departement, "city": c.name,
                "latitude": round(c.latitude + rng.uniform(-0.01, 0.01), 6),
                "longitude": round(c.longitude + rng.uniform(-0.01, 0.01), 6),
                "address_line": f"{rng.randint(1, 120)} {rng.choice(STREETS)}"}

    def content(activities, acts, equipments, served, age_min, age_max, hours, phone) -> dict:
        contacts = [{"channel": "phone", "purpose": "Prise de rendez-vous", "value": phone, "visibility": "public"},
                    {"channel": "phone", "purpose": "Usage professionnel", "value": "07" + phone[2:],
                     "visibility": "professional"}]
        return {
            "description": {"age_min": age_min, "age_max": age_max, "operational_activities": activities,
                            "specific_acts_in_office": acts, "specific_acts_outside_office": [],
                            "equipments": equipments, "specific_competences": [], "place_accessibility": None,
                            "comment": None},
            "modalities": {"reception_modalities": ["05"] if served else [], "intervention_communes": served},
            "contacts": {"contacts": contacts},
            "hours": {"weekly": hours, "exceptional_hours": [], "temporary_closure": []},
        }

    def offer(unit_id, unit_type, care_mode, name, owner_rpps, c, national, published) -> None:
        ids["offer"] += 1
        offers.add(ids["offer"], REGION, unit_id, unit_type, care_mode, name, owner_rpps, c.code, c.departement,
                   national, {"steps": {"national": {"acknowledged": True}, **published},
                              "validated": ["national", "description", "modalities", "contacts", "hours"]},
                   published, now, "published", 2)

    def sample(pool, low, high):
        return rng.sample(pool, min(len(pool), rng.randint(low, high)))

    # Liberal offers: population-weighted, at least one in every commune.
    for c in communes:
        expected = liberal_target * max(c.population, 1) / population
        count = max(1, int(expected) + (1 if rng.random() < expected - int(expected) else 0))
        for _ in range(count):
            kind = rng.choices(names, weights)[0]
            _, unit_type, label, care_mode, activities, acts, equipments, home_share, prof = PROFESSIONS[kind]
            ids["rpps"] += 1
            rpps = str(ids["rpps"])
            last, first = rng.choice(LAST), rng.choice(FIRST)
            where = place(c, rng)
            site = structure(kind="site", source="rpps", name="Cabinet individuel", type_label="Cabinet individuel",
                             **where)
            unit = structure(kind="unit", source="rpps", parent_id=site, name=f"{label} {last} {first}",
                             **{k: v for k, v in where.items() if k not in ("address_line", "latitude", "longitude")})
            served = near[c.code][:rng.randint(3, 12)] if rng.random() < home_share else []
            phone = f"0{rng.randint(1, 5)}{rng.randint(10000000, 99999999)}"
            age_min = 0 if kind in ("mg", "ide", "ortho") or rng.random() < 0.5 else 18
            published = content(sample(list(activities), 1, 4), sample(list(acts), 0, 5),
                                 sample(list(equipments), 0, 2), served, age_min, None if rng.random() < 0.8 else 75,
                                 rng.choice(HOUR_PATTERNS), phone)
            national = {"source": "RPPS", "rpps": rpps, "last_name": last, "first_name": first,
                        "profession": {"code": prof[0], "label": prof[1]},
                        "address": {"line": where["address_line"], "postal_code": where["postal_code"],
                                    "city": c.name, "commune_insee": c.code}}
            offer(unit, unit_type, care_mode, f"{label} {last} {first}", rpps, c, national, published)
    liberal = ids["offer"]

    # Establishments: one EG per ~4,000 inhabitants in communes of 2,000+, grouped under EJ.
    big = [c for c in communes if c.population >= 2000]
    big_population = sum(c.population for c in big)
    establishment_target = max(0, units_target - liberal)
    sites = []
    for c in big:
        expected = establishment_target / 5 * c.population / big_population
        count = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
        sites.extend([c] * count)
    ej = None
    for i, c in enumerate(sites):
        if ej is None or rng.random() < 0.4:
            kind_label = rng.choice(("CENTRE HOSPITALIER", "CLINIQUE", "GROUPE HOSPITALIER", "EHPAD", "CENTRE DE SANTE"))
            ej_name = f"{kind_label} {c.name.upper()} {i}"
            ej = structure(kind="legal_entity", source="finess", finess=f"{c.departement[:2]}{i:07d}"[:9],
                           name=ej_name, discipline="MCO", category_label=kind_label.title(), **place(c, rng))
        where = place(c, rng)
        site_name = f"{rng.choice(('HOPITAL', 'CLINIQUE', 'SITE', 'CENTRE'))} {rng.choice(LAST)} {c.name.upper()}"
        site = structure(kind="site", source="finess", finess=f"{c.departement[:2]}9{i:06d}"[:9], name=site_name,
                         parent_id=ej, discipline="MCO", category_label="Centre Hospitalier", phone="0130000000",
                         **where)
        for unit_type, label, care_mode, activities in rng.sample(ESTABLISHMENT_UNITS, rng.randint(2, 4)) * 2:
            if ids["offer"] >= units_target:
                break
            unit_name = f"{label} {rng.choice(('adulte', 'pédiatrique', 'gériatrique', 'polyvalente'))}"
            unit = structure(kind="unit", parent_id=site, name=unit_name, discipline="MCO",
                             type_label=label, **where)
            served = near[c.code][:20] if unit_type == "ROR-UO-SSIAD" else []
            published = content(sample(list(activities), 1, 3), [], [], served, 0 if "pédia" in unit_name else 18,
                                17 if "pédia" in unit_name else None, HOUR_PATTERNS[3], "0130000000")
            national = {"source": "FINESS", "structure": {"name": site_name, "legal_entity": ej_name}}
            offer(unit, unit_type, care_mode, unit_name, None, c, national, published)
    # CPTS: one per ~40,000 inhabitants, territory = the nearby communes.
    for c in (x for x in big if x.population >= 20000):
        where = place(c, rng)
        cpts_ej = structure(kind="legal_entity", name=f"CPTS {c.name.upper()}", category_label="Association",
                            **where)
        site = structure(kind="site", parent_id=cpts_ej, name=f"CPTS {c.name}", type_label="CPTS", **where)
        unit = structure(kind="unit", parent_id=site, name=f"CPTS {c.name}", type_label="CPTS", **where)
        published = content(["335", "475"], [], [], [c.code] + near[c.code], 0, None, HOUR_PATTERNS[2],
                            "0140000000")
        offer(unit, "ROR-UO-CPTS", "58", f"CPTS {c.name}", None, c, {"source": "ROR"}, published)
    structures.flush()
    offers.flush()
    with raw.driver_connection.cursor() as cur:
        cur.execute("SELECT setval('offers.structures_id_seq', %s)", (ids["structure"],))
        cur.execute("SELECT setval('offers.offers_id_seq', %s)", (ids["offer"],))
    raw.driver_connection.commit()
    raw.close()
    engine.dispose()
    return {"structures": structures.count, "offers": offers.count, "liberal": liberal,
            "communes": len(communes)}


# ------------------------------------------------------------------ queries

NEEDS = (  # (q, in) as users type them; some prefixes, some typos (see `typo`)
    ("Rééducation vestibulaire", "specific_acts"), ("reeduc pelvi", "all"), ("kinésithérapie", "all"),
    ("kinesitherapie respiratoire", "all"), ("suivi prénatal", "operational_activities"),
    ("Suivi post-natal", "all"), ("sage femme", "all"), ("médecine générale", "operational_activities"),
    ("soins infirmiers", "unit_types"), ("orthophonie", "all"), ("CPTS", "all"), ("balnéo", "all"),
    ("Accouchement à domicile", "specific_acts"), ("entretien postnatal", "specific_acts"),
    ("hospitalisation complète", "unit_types"), ("gériatrie", "all"), ("kine sport", "all"),
    ("échographie", "all"), ("réadaptation du rachis", "specific_acts"), ("lymphoedème", "all"),
    ("fauteuil rotatoire", "equipments"), ("centre hospitalier", "structures"), ("clinique", "structures"),
    ("education therapeutique", "all"), ("Soins palliatifs", "all"), ("neurologie", "all"),
)


def typo(q: str, rng: random.Random) -> str:
    words = q.split()
    i = max(range(len(words)), key=lambda k: len(words[k]))
    w = words[i]
    if len(w) > 6:
        j = rng.randint(2, len(w) - 3)
        w = w[:j] + w[j + 1:] if rng.random() < 0.5 else w[:j] + w[j + 1] + w[j] + w[j + 2:]
    words[i] = w
    return " ".join(words)


def queries(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed + 1)
    communes = [c for c in reference.communes().values() if c.latitude is not None and c.postal_codes]
    weights = [max(c.population, 50) for c in communes]
    found = []
    for _ in range(count):
        c = rng.choices(communes, weights)[0]
        q, in_ = rng.choice(NEEDS)
        roll = rng.random()
        if roll < 0.15:
            q = typo(q, rng)
        elif roll < 0.30:
            q = " ".join(w[:max(4, len(w) * 2 // 3)] for w in q.split())  # prefixes
        params = {"where": c.postal_codes[0] if rng.random() < 0.3 else c.name, "q": q, "in": in_}
        if in_ != "structures" and rng.random() < 0.3:  # facet filters, as ticked in the left panel
            facet = rng.choice(("patientele", "offer_type", "unit_types"))
            params[facet] = {"patientele": rng.choice("EA"), "offer_type": rng.choice(("liberal", "establishment")),
                             "unit_types": rng.choice(("ROR-UO-KINE", "ROR-UO-SF", "ROR-UO-IDE,ROR-UO-MG"))}[facet]
        if rng.random() < 0.2:
            params["sort"] = "relevance"
        if rng.random() < 0.15:
            params["page"] = rng.choice((2, 3))
        found.append(params)
    return found


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)

    def p(x: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(x / 100 * len(ordered)) - 1))]

    return {"p50": p(50), "p95": p(95), "p99": p(99), "mean": statistics.fmean(ordered), "n": len(ordered)}


def run_direct(url: str, params_list: list[dict]) -> tuple[list[float], list[int]]:
    """The SQL the search runs (place, text, candidates), in this process, without RPC nor HTTP."""
    from services.common.db import session_factory
    from services.offers.search import query

    session = session_factory(url)()
    timings, totals = [], []
    for params in params_list:
        criteria = query.Criteria.from_dict(REGION, params)
        start = time.perf_counter()
        place = query.resolve_place(session, REGION, criteria.where)
        rows, _ = query.candidates(session, criteria, place)
        timings.append((time.perf_counter() - start) * 1000)
        totals.append(len(rows))
        session.rollback()
    session.close()
    return timings, totals


def run_all_facets(url: str, params_list: list[dict]) -> tuple[list[float], list[int]]:
    """`facets=all`: the facets counted over every match (in this process, SQL), and the matches."""
    from services.common.db import session_factory
    from services.offers.search import query

    session = session_factory(url)()
    timings, matches = [], []
    for params in params_list:
        criteria = query.Criteria.from_dict(REGION, {**params, "facets": "all"})
        place = query.resolve_place(session, REGION, criteria.where)
        start = time.perf_counter()
        total, _ = query.all_facets(session, criteria, place)
        timings.append((time.perf_counter() - start) * 1000)
        matches.append(total)
        session.rollback()
    session.close()
    return timings, matches


def run_http(base: str, params_list: list[dict], clients: int) -> tuple[list[float], int]:
    """Timings (ms) of the queries through the gateway, `clients` at a time, and the number of errors."""
    local = threading.local()
    errors = []

    def one(params):
        http = getattr(local, "http", None)
        if http is None:
            http = local.http = requests.Session()
        start = time.perf_counter()
        resp = http.get(f"{base}/api/{REGION}/search", params=params, timeout=60)
        elapsed = (time.perf_counter() - start) * 1000
        if resp.status_code != 200:
            errors.append(f"{resp.status_code} {params} {resp.text[:200]}")
        return elapsed

    with ThreadPoolExecutor(max_workers=clients) as pool:
        timings = list(pool.map(one, params_list))
    for e in errors[:5]:
        print("  error:", e)
    return timings, len(errors)


def throughput(timings: list[float], clients: int) -> float:
    """Requests per second of a run of `clients` concurrent clients in a closed loop."""
    return len(timings) / (sum(timings) / 1000 / clients)


def cpu_per_request(procs: list[subprocess.Popen], run) -> tuple[object, dict[str, float]]:
    """run()'s result and the CPU (ms) each part of the path spent per request during it (utime + stime
    from /proc: the service processes, every PostgreSQL and RabbitMQ process, this client)."""
    def parts() -> dict[str, list[int]]:
        offers, _, gateway = procs
        return {"PostgreSQL": pids_matching("postgres"), "offers": [offers.pid], "gateway": [gateway.pid],
                "RabbitMQ": pids_matching("beam.smp"), "benchmark client": [os.getpid()]}

    # (a backend opened during the run counts whole: it was not there before)
    before = {name: {pid: cpu_seconds(pid) for pid in pids} for name, pids in parts().items()}
    answer = run()
    after = {name: {pid: cpu_seconds(pid) for pid in pids} for name, pids in parts().items()}
    spent = {name: sum(t - before[name].get(pid, 0.0) for pid, t in after[name].items()) for name in after}
    return answer, {name: seconds * 1000 / len(answer[0]) for name, seconds in spent.items()}


def cpu_line(cpu: dict[str, float]) -> str:
    total = sum(cpu.values())
    cores = os.cpu_count() or 1
    return (", ".join(f"{name} {ms:.1f}" for name, ms in cpu.items()) + f" = {total:.1f} ms: at most "
            f"{cores * 1000 / total:.0f} req/s on {cores} cores")


# ------------------------------------------------------------------ services

def ensure_vhost() -> None:
    base = RABBIT_MGMT.rstrip("/")
    requests.put(f"{base}/api/vhosts/{VHOST}", timeout=10).raise_for_status()
    requests.put(f"{base}/api/permissions/{VHOST}/guest", json={"configure": ".*", "write": ".*", "read": ".*"},
                 timeout=10).raise_for_status()


def start_services(url: str, address: str, logdir: Path,
                   offers: str = "services.offers.service:OffersService") -> list[subprocess.Popen]:
    env = dict(os.environ, ROR_DATABASE_URL=url, ROR_AMQP_URI=f"amqp://guest:guest@127.0.0.1:5672/{VHOST}",
               ROR_GATEWAY_ADDRESS=address, PYTHONPATH=os.pathsep.join((str(ROOT), str(Path(__file__).parent))))
    nameko = str(Path(sys.executable).with_name("nameko"))
    procs = []
    for name, module in (("offers", offers), ("accounts", "services.accounts.service"),
                         ("gateway", "gateway.service:GatewayService")):
        log = open(logdir / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        procs.append(subprocess.Popen([nameko, "run", "--config", str(ROOT / "deploy" / "nameko" / f"{name}.yaml"),
                                       module], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://{address}/api/{REGION}/search/suggest?q=kine", timeout=5).status_code == 200:
                return procs
        except requests.RequestException:
            pass
        time.sleep(0.5)
    stop_services(procs)
    raise SystemExit(f"services did not answer on {address}; see {logdir}")


def stop_services(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def publication_follow(url: str, base: str) -> float | None:
    """Seconds from the publish request of one more offer (as kine.demo) until the gateway search finds it
    (the publish request's own time, which the index shares, is printed)."""
    from tests.helpers import password_token

    engine = create_engine(url)
    with engine.begin() as conn:
        unit_id, commune = conn.execute(text(
            "SELECT o.unit_id, o.commune_insee FROM offers.offers o WHERE o.unit_type = 'ROR-UO-KINE' "
            "ORDER BY o.id LIMIT 1")).one()
        offer_id = conn.execute(text(
            "UPDATE offers.offers SET owner_rpps = :rpps, status = 'draft', published = NULL, "
            "draft = jsonb_set(draft, '{steps,national}', '{\"acknowledged\": true}'), "
            "name = 'Consultation kinésithérapie BENCHPUBLICATION Anne' WHERE unit_id = :u RETURNING id"),
            {"rpps": KINE_DEMO_RPPS, "u": unit_id}).scalar()
        conn.execute(text("DELETE FROM offers.search_entries WHERE offer_id = :o"), {"o": offer_id})
    engine.dispose()
    token = password_token(REGION, "kine.demo")["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    etag = requests.get(f"{base}/api/{REGION}/offers/{offer_id}", headers=auth, timeout=30).headers["ETag"]
    commune_name = reference.get_commune(commune).name
    start = time.perf_counter()
    resp = requests.post(f"{base}/api/{REGION}/offers/{offer_id}/publish", headers={**auth, "If-Match": etag},
                         timeout=30)
    if resp.status_code != 200:
        print("  publish failed:", resp.status_code, resp.text[:300])
        return None
    print(f"  the publish request itself answered in {(time.perf_counter() - start) * 1000:.0f} ms")
    while time.perf_counter() - start < 10:
        answer = requests.get(f"{base}/api/{REGION}/search", params={"where": commune_name, "q": "benchpublication"},
                              timeout=30).json()
        if any(r["offer_id"] == offer_id for r in answer.get("results", [])):
            return time.perf_counter() - start
    return None


def sizes(url: str) -> dict:
    engine = create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT pg_table_size('offers.search_entries'), pg_indexes_size('offers.search_entries'), "
            "pg_total_relation_size('offers.search_words'), (SELECT count(*) FROM offers.search_words), "
            "(SELECT count(*) FROM offers.search_entries), pg_database_size(current_database())")).one()
        indexes = conn.execute(text(
            "SELECT indexrelname, pg_relation_size(indexrelid) FROM pg_stat_user_indexes "
            "WHERE relname = 'search_entries' ORDER BY 2 DESC")).all()
    engine.dispose()
    return {"table": row[0], "indexes": row[1], "words": row[2], "word_count": row[3], "entries": row[4],
            "database": row[5], "by_index": indexes}


def mb(n: int) -> str:
    return f"{n / 1024 / 1024:,.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--units", type=int, default=520_000, help="UOs (offers) to generate (≥ 500,000 for the target)")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--address", default=os.environ.get("ROR_BENCH_GATEWAY_ADDRESS", "127.0.0.1:8015"))
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--keep", action="store_true", help="Keep the database (and reuse it with --reuse)")
    parser.add_argument("--reuse", action="store_true", help="Reuse a kept database: skip generation")
    parser.add_argument("--reuse-index", action="store_true", help="With --reuse: keep its index too")
    parser.add_argument("--floor", action="store_true", help="Also run the 20 clients against an offers service "
                        "whose search answers are memoized: what the path costs when the search costs nothing")
    args = parser.parse_args()

    print(f"database {make_url(args.url).database}")
    if not args.reuse:
        t0 = time.perf_counter()
        create_database(args.url)
        counts = generate(args.url, args.units, args.seed)
        t_gen = time.perf_counter() - t0
        print(f"generated {counts['offers']:,} published UOs ({counts['liberal']:,} liberal) and "
              f"{counts['structures']:,} structures over {counts['communes']:,} communes in {t_gen:.0f} s")
    else:  # a database kept by an older version of the code: its schema first
        from services.common.migrations import upgrade_all

        t0 = time.perf_counter()
        upgrade_all(args.url)
        print(f"migrated to the current schema in {time.perf_counter() - t0:.0f} s")
    if not args.reuse_index:
        from services.common.db import session_scope
        from services.offers.search import index

        t0 = time.perf_counter()
        with session_scope(args.url) as session:
            built = index.rebuild(session, REGION)
        t_index = time.perf_counter() - t0
        engine = create_engine(args.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("VACUUM ANALYZE"))
        engine.dispose()
        print(f"index built in {t_index:.0f} s: {built['offers']:,} offers, {built['structures']:,} establishments")
    size = sizes(args.url)
    params_list = queries(args.queries, args.seed)

    run_direct(args.url, params_list[:50])  # warm the cache like the service's
    direct, totals = run_direct(args.url, params_list)
    print(f"queries: {len(params_list)}, results per query: median {statistics.median(totals):.0f}, "
          f"none for {sum(1 for t in totals if t == 0)}, capped at 200 for {sum(1 for t in totals if t >= 200)}")

    every, matches = run_all_facets(args.url, params_list[:200])

    ensure_vhost()
    logdir = Path(tempfile.mkdtemp(prefix="bench-search-"))
    procs = start_services(args.url, args.address, logdir)
    base = f"http://{args.address}"
    try:
        run_http(base, params_list[:50], 1)  # warm-up
        one, errors_one = run_http(base, params_list, 1)
        (many, errors_many), cpu = cpu_per_request(procs, lambda: run_http(base, params_list, args.clients))
        try:
            follow = publication_follow(args.url, base)
        except requests.ConnectionError as exc:  # the follow test logs in through Keycloak (`make up`)
            print(f"publication follow not measured: {exc.__class__.__name__} (is Keycloak running?)")
            follow = None
    finally:
        stop_services(procs)
    floor = None
    if args.floor:
        procs = start_services(args.url, args.address, logdir, offers="search_memoized:OffersService")
        try:
            run_http(base, params_list, 4)  # computes and keeps every answer
            floor = cpu_per_request(procs, lambda: run_http(base, params_list, args.clients))
        finally:
            stop_services(procs)

    d, g1, g20 = percentiles(direct), percentiles(one), percentiles(many)
    print()
    load = os.getloadavg()
    print(f"load average during the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores shared)")
    print(f"| {len(params_list)} queries, {size['entries']:,} index entries | p50 ms | p95 ms | p99 ms | mean ms |"
          " p95 / direct p95 |")
    print("|---|---|---|---|---|---|")
    print(f"| direct SQL (same statements, in process) | {d['p50']:.1f} | {d['p95']:.1f} | {d['p99']:.1f} | "
          f"{d['mean']:.1f} | 1.0 |")
    print(f"| gateway HTTP, 1 client | {g1['p50']:.1f} | {g1['p95']:.1f} | {g1['p99']:.1f} | {g1['mean']:.1f} | "
          f"{g1['p95'] / d['p95']:.2f} |")
    print(f"| gateway HTTP, {args.clients} clients | {g20['p50']:.1f} | {g20['p95']:.1f} | {g20['p99']:.1f} | "
          f"{g20['mean']:.1f} | {g20['p95'] / d['p95']:.2f} |")
    print()
    f = percentiles(every)
    print(f"facets=all (every match, SQL in process, first {f['n']} queries, median "
          f"{statistics.median(matches):,.0f} matches): p50 {f['p50']:.1f} ms, p95 {f['p95']:.1f} ms, "
          f"p99 {f['p99']:.1f} ms (on top of the search)")
    print(f"HTTP errors: {errors_one} (1 client), {errors_many} ({args.clients} clients); "
          f"throughput at {args.clients} clients ≈ {throughput(many, args.clients):.0f} req/s")
    print(f"CPU per request at {args.clients} clients (ms): {cpu_line(cpu)}")
    if floor is not None:
        (timings, errors), floor_cpu = floor
        f = percentiles(timings)
        print(f"floor — {args.clients} clients, search answers memoized (the path alone): p50 {f['p50']:.1f} ms, "
              f"p95 {f['p95']:.1f} ms, p99 {f['p99']:.1f} ms, {throughput(timings, args.clients):.0f} "
              f"req/s, {errors} errors; CPU per request (ms): {cpu_line(floor_cpu)}")
    print(f"index: table {mb(size['table'])}, its indexes {mb(size['indexes'])}, vocabulary "
          f"{size['word_count']:,} words {mb(size['words'])}; database {mb(size['database'])}")
    print("  " + ", ".join(f"{name} {mb(n)}" for name, n in size["by_index"]))
    print(f"publication → found by a search through the gateway: "
          f"{'%.0f ms' % (follow * 1000) if follow is not None else 'NOT FOUND within 10 s'}")
    print(f"targets: p95 1 client ≤ 50 ms: {g1['p95']:.0f}; p95 {args.clients} clients ≤ 150 ms: {g20['p95']:.0f}; "
          f"≤ 2× direct: {g1['p95'] / d['p95']:.2f}×; follow ≤ 1 s: {follow}")
    if not args.keep:
        drop_database(args.url)
        print("database dropped")


if __name__ == "__main__":
    main()

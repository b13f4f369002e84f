"""Benchmark of `ror import rpps`: lines per second and peak memory on a generated extract.

    .venv/bin/python tests/bench/bench_import_rpps.py                 # 1,000,000 lines
    .venv/bin/python tests/bench/bench_import_rpps.py --lines 200000 --runs 2

Generates a realistic `PS_LibreAcces_Personne_activite` file (official header, `|`-separated,
every line ending with `|`): mostly Île-de-France professionals, some of other regions, the usual
mix of professions and practice modes, 1-3 activities per professional, group practices, and a
few malformed lines. Then imports it with the real command line into a separate database
(`ror_bench`, created and migrated if missing, emptied first unless --keep-data) and prints, for
each run, the lines per second and the peak resident memory of the import process.

Targets (issue 4): ≥ 20,000 lines/s and peak memory < 300 MB on the 2-core machine.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.offers.importers.rpps import format_header, format_line  # noqa: E402
from services.offers.importers.validation import luhn_complete  # noqa: E402

DEFAULT_URL = "postgresql+psycopg2://ror:ror@127.0.0.1:5432/ror_bench"
COMMUNES_CSV = ROOT / "services" / "offers" / "data" / "communes" / "communes.csv"

# (code, label, weight, specialties as (code, label, weight))
PROFESSIONS = (
    ("10", "Médecin", 30, (("SM54", "Médecine Générale", 30), ("SM53", "Spécialiste en Médecine Générale", 15),
                           ("SM26", "Qualifié en Médecine Générale", 5), ("SM04", "Cardiologie et maladies vasculaires", 10),
                           ("SM15", "Gynécologie-obstétrique", 10), ("SM40", "Pédiatrie", 10),
                           ("SM42", "Psychiatrie", 20))),
    ("70", "Masseur-Kinésithérapeute", 20, ()),
    ("50", "Sage-Femme", 8, ()),
    ("60", "Infirmier", 20, ()),
    ("21", "Pharmacien", 10, ()),
    ("40", "Chirurgien-Dentiste", 7, (("SCD01", "Orthopédie dento-faciale", 10), ("", "", 90))),
    ("91", "Orthophoniste", 5, ()),
)
MODES = (("L", "Libéral", 50), ("S", "Salarié", 45), ("B", "Bénévole", 5))
LAST = ("MARTIN BERNARD THOMAS PETIT ROBERT RICHARD DURAND DUBOIS MOREAU LAURENT SIMON MICHEL LEFEBVRE "
        "LEROY ROUX DAVID BERTRAND MOREL FOURNIER GIRARD BONNET DUPONT LAMBERT FONTAINE ROUSSEAU VINCENT "
        "MULLER LEFEVRE FAURE ANDRE MERCIER BLANC GUERIN BOYER GARNIER CHEVALIER FRANCOIS LEGRAND GAUTHIER "
        "GARCIA PERRIN ROBIN CLEMENT MORIN NICOLAS HENRY ROUSSEL MATHIEU GAUTIER MASSON").split()
FIRST = ("Marie Jean Pierre Michel Claire Sophie Nathalie Isabelle Thomas Nicolas Julien Camille Léa Manon "
         "Hugo Louis Chloé Emma Élodie Céline Aurélie François Hélène Jérôme Stéphane Anaïs Benoît").split()
STREETS = (("R", "Rue"), ("AV", "Avenue"), ("BD", "Boulevard"), ("PL", "Place"), ("CHE", "Chemin"), ("IMP", "Impasse"))
STREET_NAMES = ("DE LA REPUBLIQUE", "VICTOR HUGO", "JEAN JAURES", "DE PARIS", "DU GENERAL DE GAULLE", "DE METZ",
                "PASTEUR", "DES LILAS", "NATIONALE", "DE LA GARE", "DU MARCHE", "GAMBETTA")


def weighted(rng: random.Random, items, weight_index: int):
    return rng.choices(items, weights=[i[weight_index] for i in items])[0]


def load_communes() -> dict[str, list[tuple[str, str, str]]]:
    """departement -> [(insee, name, postal code)]"""
    by_dep: dict[str, list[tuple[str, str, str]]] = {}
    with open(COMMUNES_CSV, encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            postal = (row["codes_postaux"].split() or [""])[0].split(",")[0]
            by_dep.setdefault(row["departement"], []).append((row["code_insee"], row["nom"], postal))
    return by_dep


def generate(path: Path, lines: int, seed: int = 2026, idf_share: float = 0.8, bad_share: float = 0.001) -> None:
    rng = random.Random(seed)
    communes = load_communes()
    idf = ("75", "77", "78", "91", "92", "93", "94", "95")
    elsewhere = ("44", "49", "13", "69", "33", "59", "31", "67", "35", "06")
    next_id = [10_000_000]
    sites: list[dict] = []  # recent practices, reused for group practices
    written = 0
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write(format_header() + "\n")
        while written < lines:
            next_id[0] += 1
            rpps = luhn_complete(f"1{next_id[0]:09d}")
            code, label, _, specialties = weighted(rng, PROFESSIONS, 2)
            last, first = rng.choice(LAST), rng.choice(FIRST)
            civility = rng.choice((("", "M"), ("", "MME"), ("DR", "M"), ("DR", "MME")))
            spec = weighted(rng, specialties, 2) if specialties else ("", "", 0)
            for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
                if written >= lines:
                    break
                mode = weighted(rng, MODES, 2)
                if sites and rng.random() < 0.25:
                    site = rng.choice(sites)  # a group practice
                else:
                    dep = rng.choice(idf) if rng.random() < idf_share else rng.choice(elsewhere)
                    insee, city, postal = rng.choice(communes[dep])
                    street_type = rng.choice(STREETS)
                    next_id[0] += 1
                    site = {
                        "Identifiant technique de la structure": f"R1{next_id[0]:013d}",
                        "Raison sociale site": rng.choice(("", "", "CABINET MEDICAL", "CABINET DE GROUPE",
                                                           f"CABINET {last}")),
                        "Numéro Voie (coord. structure)": str(rng.randint(1, 180)),
                        "Code type de voie (coord. structure)": street_type[0],
                        "Libellé type de voie (coord. structure)": street_type[1],
                        "Libellé Voie (coord. structure)": rng.choice(STREET_NAMES),
                        "Code postal (coord. structure)": postal,
                        "Code commune (coord. structure)": insee,
                        "Libellé commune (coord. structure)": city,
                        "Code pays (coord. structure)": "99000",
                        "Libellé pays (coord. structure)": "France",
                        "Téléphone (coord. structure)": f"0{rng.randint(1, 9)}{rng.randint(10_000_000, 99_999_999)}",
                        "Adresse e-mail (coord. structure)": rng.choice(("", f"cabinet{next_id[0]}@example.fr")),
                        "Code Département (structure)": rng.choice(("", insee[:2])),
                    }
                    sites.append(site)
                    if len(sites) > 5000:
                        sites.pop(0)
                values = {
                    "Type d'identifiant PP": "8", "Identifiant PP": rpps, "Identification nationale PP": "8" + rpps,
                    "Code civilité d'exercice": civility[0],
                    "Libellé civilité d'exercice": "Docteur" if civility[0] else "", "Code civilité": civility[1], "Nom d'exercice": last, "Prénom d'exercice": first,
                    "Code profession": code, "Libellé profession": label,
                    "Code catégorie professionnelle": "C", "Libellé catégorie professionnelle": "Civil",
                    "Code type savoir-faire": "S" if spec[0] else "", "Code savoir-faire": spec[0],
                    "Libellé savoir-faire": spec[1], "Code mode exercice": mode[0], "Libellé mode exercice": mode[1],
                    "Autorité d'enregistrement": "CNOMK/CNOMK/ARS",
                    **site,
                }
                line = format_line(values)
                if rng.random() < bad_share:
                    line = corrupt(rng, line, values)
                out.write(line + "\n")
                written += 1


def corrupt(rng: random.Random, line: str, values: dict) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return line.rsplit("|", 5)[0] + "|"  # columns missing
    if kind == 1:
        rpps = values["Identifiant PP"]
        bad = rpps[:-1] + str((int(rpps[-1]) + 1) % 10)  # wrong Luhn digit
        return format_line({**values, "Identifiant PP": bad, "Identification nationale PP": "8" + bad})
    if kind == 2:
        return format_line({**values, "Nom d'exercice": ""})
    return format_line({**values, "Type d'identifiant PP": "3"})


def reset_database(url: str, keep_data: bool) -> None:
    from sqlalchemy import create_engine, text

    from services.common.db import ensure_database
    from services.common.migrations import upgrade_all

    ensure_database(url)
    upgrade_all(url)
    if not keep_data:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE offers.offers, offers.practitioner_attachments, offers.capacities, "
                              "offers.structures, offers.professionals RESTART IDENTITY CASCADE"))
        engine.dispose()


def run_import(path: Path, url: str, batch_size: int) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB of the import process, its output)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ror"), "import", "rpps", str(path), "--region", "idf", "--url", url,
         "--batch-size", str(batch_size), "--show", "5"],
        capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        sys.exit(f"import failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    # ru_maxrss of children is the max over all children: runs are ordered, so report the max so far
    return seconds, max(peak_kb, before) / 1024, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--file", type=Path, default=None, help="Where to write the generated file "
                        "(default var/bench/rpps-<lines>.txt; reused when it exists).")
    parser.add_argument("--url", default=os.environ.get("ROR_BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--runs", type=int, default=2, help="1 = first import; 2 adds a re-import (all unchanged).")
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--keep-data", action="store_true", help="Do not empty the benchmark database first.")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    path = args.file or ROOT / "var" / "bench" / f"rpps-{args.lines}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        started = time.perf_counter()
        generate(path, args.lines, seed=args.seed)
        print(f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s")
    reset_database(args.url, args.keep_data)

    results = []
    for run in range(1, args.runs + 1):
        seconds, peak_mb, output = run_import(path, args.url, args.batch_size)
        rate = args.lines / seconds
        results.append((run, seconds, rate, peak_mb))
        print(output.rstrip())
        print(f"run {run}: {args.lines} lines in {seconds:.1f} s = {rate:,.0f} lines/s, peak memory {peak_mb:.0f} MB\n")
    ok = all(rate >= 20_000 and peak < 300 for _, _, rate, peak in results)
    for run, seconds, rate, peak in results:
        label = "first import" if run == 1 and not args.keep_data else "re-import"
        print(f"RESULT run {run} ({label}): {rate:,.0f} lines/s, {seconds:.1f} s, peak {peak:.0f} MB")
    print("TARGET (>= 20,000 lines/s, < 300 MB):", "met" if ok else "MISSED")


if __name__ == "__main__":
    main()

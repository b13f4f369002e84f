"""Demo activation codes: `ror demo load` calls `load(region)` after the offers demo.

Codes are stored hashed, so the clear codes live only in `var/demo/activation-codes-<region>.csv`
(mode 600). Reloading is idempotent: a code of that file that is still usable (checked against its
hash) is kept; a professional without one gets a new code (which revokes any older one); activated
professionals are left out. At most DEMO_LIMIT professionals get a demo code: once a real RPPS extract
is imported, codes for everyone are an operator's decision (`ror accounts issue-codes`).

The demo user `cpts.directeur` is also made directeur of the demo CPTS (its EG, found in the offers
service's répertoire tree), so that structure-scoped actions can be tried with it.
"""

from __future__ import annotations

from pathlib import Path

from services.common.config import var_dir

DEMO_LIMIT = 20
DEMO_DIRECTOR = "cpts.directeur"


def codes_file(region: str) -> Path:
    return var_dir() / "demo" / f"activation-codes-{region}.csv"


def load(region: str) -> str:
    from services.accounts.cli import read_codes_csv, write_private
    from services.accounts.directory import directory_for
    from services.accounts.offers_client import SuiteNotRunning, national_professionals
    from services.accounts.operations import codes
    from services.common.config import setting
    from services.common.db import session_scope

    try:
        professionals = national_professionals(region)
    except SuiteNotRunning as exc:
        return f"activation codes not issued ({exc}); run `ror demo load` again once the suite is up"
    path = codes_file(region)
    previous = {row["rpps"]: row for row in read_codes_csv(path)} if path.exists() else {}
    kept, to_issue = [], []
    with session_scope() as session:
        for person in professionals:
            row = previous.get(str(person.get("rpps")))
            if (row and len(kept) < DEMO_LIMIT
                    and codes.live_code_matches(session, region, row["rpps"], row["code"])):
                kept.append(row)
            else:
                to_issue.append(person)
        result = codes.issue_codes(session, region, to_issue, "demo", directory_for(region),
                                   days=int(setting("ROR_ACTIVATION_CODE_DAYS")),
                                   limit=DEMO_LIMIT - len(kept))
    codes = sorted(kept + result.issued, key=lambda c: c["rpps"])
    write_private(path, codes)
    return (f"{_director(region)}; "
            f"{len(codes)} activation code(s) in {path} ({len(kept)} kept, {len(result.issued)} new, "
            f"{len(result.skipped)} professional(s) already activated or invalid"
            + (f"; {result.not_reached} more in the national data: use `ror accounts issue-codes`)"
               if result.not_reached else ")"))


def _walk(nodes: list[dict]):
    for node in nodes:
        yield node
        yield from _walk(node.get("children", []))


def _director(region: str) -> str:
    """cpts.directeur: directeur habilitation on the demo CPTS site (idempotent)."""
    from services.accounts.directory import directory_for
    from services.accounts.offers_client import structure_tree
    from services.accounts.operations import habilitations
    from services.common.actor import Actor
    from services.common.db import session_scope
    from services.common.errors import Conflict, NotFound

    sites = [n for n in _walk(structure_tree(region)["roots"])
             if n["kind"] == "site" and (n.get("type") or "").upper() == "CPTS"]
    if not sites:
        return "no CPTS site in the répertoire: no demo habilitation"
    site = min(sites, key=lambda n: n["id"])
    demo = Actor(subject="demo", username="demo", region=region, roles=frozenset({"region_admin"}))
    with session_scope() as session:
        try:
            habilitations.grant_habilitation(
                session, region, {"username": DEMO_DIRECTOR, "role": "directeur", "structure_id": site["id"]},
                demo, directory_for(region), structure_exists=None)
        except Conflict:
            return f"{DEMO_DIRECTOR} already directeur of {site['name']} ({site['id']})"
        except NotFound:
            return f"no user {DEMO_DIRECTOR} in the realm: no demo habilitation"
    return f"{DEMO_DIRECTOR} made directeur of {site['name']} ({site['id']})"

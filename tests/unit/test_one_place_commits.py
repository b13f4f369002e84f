"""One place commits: the domain modules of every service only flush; entrypoints (and the few places
that own a unit of work of their own, listed below with their reason) commit or roll back.

Read from the source (AST), so that a `session.commit()` slipped into a domain function fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Ending a transaction, by method (`session.commit()`), by helper (`commit(session)`, `transaction(…)`,
# `session_scope(…)` of services.common.db) or handed over as a callback (`commit=self.db.commit`).
ENDING = {"commit", "rollback", "transaction", "session_scope"}

# Entrypoints: nameko services and their RPC mixins, the gateway's HTTP routes, command-line drivers.
ENTRYPOINT_NAMES = {"service.py", "cli.py", "demo.py"}
ENTRYPOINT_SUFFIXES = ("_rpc.py", "_cli.py")
# Places that own their unit of work, each with why.
OWN_UNIT_OF_WORK = {
    "services/common/db.py": "the pattern itself: transaction, commit, rollback",
    "services/common/migrations.py": "Alembic runner: the migration is its own transaction",
    "services/common/dependencies.py": "Database ends a worker's leftover transaction; OutboxRelay's pass",
    "services/offers/dependencies.py": "the national push relay: a loop with a unit of work per pass",
    "services/notifications/courier.py": "webhook deliveries: the lease committed before the HTTP call",
    "gateway/edge.py": "HTTP entrypoint plumbing: rate counters and idempotency claims committed "
                       "before the RPC runs",
}
OWN_UNIT_OF_WORK_DIRS = {
    "services/offers/importers/": "import batches: one commit per batch, a refused batch retried row by row",
    "gateway/routes/": "HTTP entrypoints (mixins of gateway/service.py)",
}


def endings(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ENDING:
            found.append((node.lineno, f".{node.attr}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ENDING:
            found.append((node.lineno, f"{node.func.id}()"))
    return sorted(found)


def is_domain(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    if name in ENTRYPOINT_NAMES or name.endswith(ENTRYPOINT_SUFFIXES) or "/migrations/" in rel:
        return False
    return rel not in OWN_UNIT_OF_WORK and not rel.startswith(tuple(OWN_UNIT_OF_WORK_DIRS))


def modules() -> list[str]:
    return sorted(p.relative_to(ROOT).as_posix() for top in ("services", "gateway")
                  for p in (ROOT / top).rglob("*.py"))


def test_domain_modules_never_commit_nor_roll_back():
    offenders = {}
    for rel in modules():
        if is_domain(rel):
            found = endings(ast.parse((ROOT / rel).read_text(), rel))
            if found:
                offenders[rel] = found
    assert offenders == {}, (
        "domain functions flush; the entrypoint commits (services.common.db.transaction, keeping_changes, "
        f"on_rollback): {offenders}")


def test_the_exceptions_still_exist():
    """A place listed as owning its unit of work that moved or vanished must leave the list too."""
    for rel in OWN_UNIT_OF_WORK:
        assert (ROOT / rel).is_file(), rel
    for folder in OWN_UNIT_OF_WORK_DIRS:
        assert (ROOT / folder).is_dir(), folder


def test_the_check_sees_every_way_of_ending_a_transaction():
    source = """
def save(session, rows, commit):
    session.add_all(rows)
    session.commit()

def undo(session):
    session.rollback()

def helper(session):
    with transaction(session):
        pass

def handed_over(session, run):
    run(done=session.commit)

def callback(commit):
    commit()

def fine(session):
    with session.begin_nested():
        session.flush()
"""
    assert [line for line, _ in endings(ast.parse(source))] == [4, 7, 10, 14, 17]
    assert is_domain("services/accounts/self_service.py") and is_domain("services/notifications/webhooks.py")
    assert not is_domain("services/accounts/self_service_rpc.py") and not is_domain("services/offers/service.py")

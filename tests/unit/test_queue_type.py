"""One setting switches every service queue between classic (dev) and quorum (production cluster)."""

import ast
from pathlib import Path

import pytest

from services.common.entrypoints import queue_arguments, queue_type

ROOT = Path(__file__).resolve().parents[2]


def test_classic_by_default_and_quorum_for_durable_shared_queues_only():
    assert queue_arguments({}) == {}
    prod = {"ROR_QUEUE_TYPE": "quorum"}
    assert queue_arguments(prod) == {"x-queue-type": "quorum"}
    # broadcast (exclusive) and auto-delete queues cannot be quorum queues
    assert queue_arguments(prod, exclusive=True) == {}
    assert queue_arguments(prod, auto_delete=True) == {}
    assert queue_arguments(prod, durable=False) == {}


def test_an_unknown_queue_type_is_refused():
    with pytest.raises(ValueError, match="ROR_QUEUE_TYPE"):
        queue_type({"ROR_QUEUE_TYPE": "stream"})


def test_services_declare_their_queues_through_the_common_entrypoints():
    """nameko's own `rpc` / `event_handler` would ignore ROR_QUEUE_TYPE."""
    offenders = []
    for path in [*ROOT.glob("services/**/*.py"), *ROOT.glob("gateway/**/*.py")]:
        if path.name == "entrypoints.py" and path.parent.name == "common":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module in ("nameko.rpc", "nameko.events"):
                bad = [a.name for a in node.names if a.name in ("rpc", "event_handler", "Rpc", "EventHandler")]
                if bad:
                    offenders.append(f"{path.relative_to(ROOT)}: {', '.join(bad)}")
    assert offenders == []

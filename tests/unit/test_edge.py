"""Input limits of the gateway's edge (gateway.edge): refused with the field named, never a crash."""

from __future__ import annotations

import pytest

from gateway import edge
from services.common.errors import InvalidInput


@pytest.mark.parametrize("raw, field", [
    (b"[" * 100_000 + b"]" * 100_000, "body"),
    (b'{"a": {"b": ' * 40 + b"1" + b"}}" * 40, "body"),
    (b'{"comment": "\\ud800"}', "comment"),
    (b'{"steps": [{"comment": "a\\u0000"}]}', "steps.0.comment"),
    (b'{"offset": 1000000000000000000000000000000}', "offset"),
    (b'{"x": 1e400}', "x"),
    (b'{"\\u0000": 1}', "body"),
    (b'{"a": ', "body"),
])
def test_hostile_json_is_refused_naming_the_field(raw, field):
    with pytest.raises(InvalidInput) as err:
        edge.parse_json(raw)
    assert field in err.value.fields


def test_ordinary_json_passes():
    data = {"age_min": 18, "comment": "Rééducation « pédiatrique »", "list": [1, 2.5, None, True]}
    import json

    assert edge.parse_json(json.dumps(data).encode()) == data


def test_brackets_inside_strings_do_not_count_as_nesting():
    raw = b'{"comment": "' + b"[" * 500 + b'"}'
    assert edge.parse_json(raw) == {"comment": "[" * 500}


def test_query_integers_beyond_the_database_range_are_refused():
    with pytest.raises(InvalidInput) as err:
        edge.check_query({"offset": 10**30, "mine": True})
    assert "offset" in err.value.fields
    assert edge.check_query({"offset": 10, "mine": True}) == {"offset": 10, "mine": True}


def test_every_gateway_route_goes_through_the_shaped_http_server():
    """nameko's own `http` would start a second web server on the same port (eventlet binds with
    SO_REUSEPORT), answering HTML 404s at random and skipping the edge's checks."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = []
    for path in [*root.glob("gateway/**/*.py"), *root.glob("services/**/*.py")]:
        if path.name == "edge.py" and path.parent.name == "gateway":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "nameko.web.handlers":
                offenders.append(str(path.relative_to(root)))
    assert offenders == []

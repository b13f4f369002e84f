"""The gateway speaks to the services through their contracts only: importing it loads no service's
models, domain modules or reference data (issue 7)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What the gateway may load of the services: the shared plumbing, the packages, and the contract modules.
ALLOWED = re.compile(r"^services(\.common(\..+)?|(\.\w+)*\.contracts)?$")


def _modules_after_import(module: str) -> list[str]:
    """Modules of `services` that importing `module` loads in a fresh interpreter, packages left out
    (their __init__ would show by what it imports)."""
    code = f"import json, sys, warnings; warnings.simplefilter('ignore'); import {module}; " \
           "print(json.dumps(sorted(m for m, mod in list(sys.modules.items()) " \
           "if m.startswith('services') and not hasattr(mod, '__path__'))))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_gateway_pulls_in_no_model_domain_module_or_data_of_a_service():
    loaded = _modules_after_import("gateway.service")
    assert "services.offers.contracts" in loaded and "services.accounts.contracts" in loaded
    assert not [m for m in loaded if m.endswith(".models")], loaded
    assert not [m for m in loaded if not ALLOWED.match(m)], loaded


def test_the_rule_catches_a_route_that_imports_models():
    # the check itself is not vacuous: a module importing the offers models is seen
    loaded = _modules_after_import("services.offers.models")
    assert "services.offers.models" in loaded and not all(ALLOWED.match(m) for m in loaded)


def test_models_and_steps_take_their_vocabularies_from_the_contract():
    from services.offers import contracts, models, steps

    assert models.DISCIPLINES is contracts.DISCIPLINES and models.STRUCTURE_KINDS is contracts.STRUCTURE_KINDS
    assert steps.STEPS is contracts.STEPS and steps.CHANNELS is contracts.CHANNELS


def test_every_json_endpoint_declares_its_response_schema():
    """No exemption: every JSON answer is dumped through a declared schema (non-JSON answers declare their
    media type), so /openapi.json documents what really comes back and schemathesis checks it."""
    import gateway.service  # noqa: F401  (registers the routes)
    from gateway.api import ENDPOINTS, JSON

    missing = sorted(ep.name for ep in ENDPOINTS if ep.produces == JSON and ep.response_schema is None)
    assert not missing, f"declare a response schema (or the media type of a non-JSON answer) for {missing}"


def test_a_key_the_schema_would_drop_is_caught_in_strict_mode():
    from marshmallow import Schema, fields

    from gateway.api import Endpoint, UndeclaredField, dropped_keys, to_response

    class Item(Schema):
        id = fields.Integer()

    class Answer(Schema):
        items = fields.List(fields.Nested(Item))

    assert sorted(dropped_keys({"items": [{"id": 1, "secret": 2}], "x": 1}, {"items": [{"id": 1}]})) == [
        "items[0].secret", "x"]
    ep = Endpoint("GET", "/x", "anonymous", "", None, Answer, 200, (), "x")
    body = {"items": [{"id": 1, "extra": "lost"}]}
    assert to_response(body, 200, ep).get_json() == {"items": [{"id": 1}]}  # production: dropped quietly
    try:
        to_response(body, 200, ep, strict=True)
    except UndeclaredField as exc:
        assert "items[0].extra" in str(exc)
    else:
        raise AssertionError("strict mode let a dropped key through")

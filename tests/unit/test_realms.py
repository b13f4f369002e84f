"""The committed realm files are exactly what deploy/keycloak/gen_realms.py generates from the region
files and the role list (one source): a change to either that is not regenerated fails here. The test
never imports anything into the running Keycloak."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEYCLOAK_DIR = ROOT / "deploy" / "keycloak"


@pytest.fixture(scope="module")
def gen():
    spec = importlib.util.spec_from_file_location("gen_realms", KEYCLOAK_DIR / "gen_realms.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _committed(name: str) -> dict:
    return json.loads((KEYCLOAK_DIR / name).read_text(encoding="utf-8"))


def test_each_regional_realm_file_is_the_generated_one(gen):
    from services.common.regions import REGIONS

    for code, region in REGIONS.items():
        assert _committed(f"{region.realm}.json") == gen.regional_realm(code), (
            f"deploy/keycloak/{region.realm}.json differs from gen_realms.py's output: "
            "run .venv/bin/python deploy/keycloak/gen_realms.py")


def test_the_psc_realm_and_the_demo_account_list_are_the_generated_ones(gen):
    assert _committed("psc.json") == gen.psc_realm()
    assert (ROOT / "deploy" / "demo-accounts.txt").read_text(encoding="utf-8") == gen.demo_accounts()


def test_the_realms_define_the_roles_the_services_know(gen):
    from services.common import roles
    from services.common.regions import REGIONS

    for region in REGIONS.values():
        realm_roles = {r["name"] for r in _committed(f"{region.realm}.json")["roles"]["realm"]}
        assert set(roles.ROLES) <= realm_roles

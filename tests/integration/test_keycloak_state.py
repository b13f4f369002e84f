"""Keycloak: the issuer is pinned (a forged Host header changes nothing, and the gateway accepts only its
configured issuer); its state lives in PostgreSQL, realm file changes reach the live realms without
deleting anyone, and a restart keeps every activated professional with her ROR account and
habilitations.

The restart test restarts the shared Keycloak through deploy/keycloak/stop.sh and start.sh (about a
minute): it runs only with ROR_TEST_KEYCLOAK_RESTART=1.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from services.accounts.directory import directory_for
from services.common.config import ROOT, setting
from tests.accounts_support import fresh_rpps, import_national
from tests.helpers import KEYCLOAK_URL, password_token
from tests.integration.test_accounts import PASSWORD, activate, created, issue, verification_link

pytestmark = pytest.mark.integration

REALM_FILES = [ROOT / "deploy" / "keycloak" / f"{name}.json" for name in ("ror-idf", "ror-pdl", "psc")]


def claims(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))


def token_request(host: str | None = None, base: str = KEYCLOAK_URL, **kwargs) -> dict:
    resp = requests.post(f"{base}/realms/ror-idf/protocol/openid-connect/token", timeout=30,
                         headers={"Host": host} if host else {}, **kwargs,
                         data={"grant_type": "password", "client_id": "ror-gateway", "username": "kine.demo",
                               "password": setting("ROR_DEMO_PASSWORD")})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_a_forged_host_header_cannot_make_a_token_the_gateway_accepts(api):
    # Keycloak keeps its host whatever the Host header says …
    forged = token_request(host="evil.example")["access_token"]
    assert claims(forged)["iss"].startswith("http://127.0.0.1")
    # … its port follows the request; the gateway accepts only its configured issuers.
    for host in ("evil.example", "127.0.0.1:9999"):
        token = token_request(host=host)["access_token"]
        resp = api.get("/api/idf/me", token=token)
        assert resp.status_code == 401, (host, claims(token)["iss"], resp.text)
        assert resp.json()["error"]["fields"] == {"authorization": "unexpected token issuer"}
    # The two real URLs: passwords on 8080, CPS cards on 8443 (same user, both accepted).
    plain = token_request()["access_token"]
    assert claims(plain)["iss"] == f"{KEYCLOAK_URL}/realms/ror-idf"
    assert api.get("/api/idf/me", token=plain).status_code == 200
    # (curl: eventlet's patched ssl recurses when this process opens a fresh TLS context)
    answer = subprocess.run(
        ["curl", "-s", "--cacert", str(Path(setting("ROR_VAR_DIR")) / "pki" / "ca.pem"),
         "-d", "grant_type=password", "-d", "client_id=ror-gateway", "-d", "username=kine.demo",
         "-d", f"password={setting('ROR_DEMO_PASSWORD')}",
         f"{setting('ROR_KEYCLOAK_TLS_URL')}/realms/ror-idf/protocol/openid-connect/token"],
        check=True, capture_output=True, timeout=60)
    tls = json.loads(answer.stdout)["access_token"]
    assert claims(tls)["iss"] == f"{setting('ROR_KEYCLOAK_TLS_URL')}/realms/ror-idf"
    assert api.get("/api/idf/me", token=tls).status_code == 200


def test_the_gateway_accepts_only_its_configured_issuer(api, suite_config):
    token = token_request()["access_token"]
    assert api.get("/api/idf/me", token=token).status_code == 200
    saved = suite_config.get("ROR_KEYCLOAK_ISSUER_URL")
    suite_config["ROR_KEYCLOAK_ISSUER_URL"] = "http://keycloak.example"  # another Keycloak URL
    try:
        resp = api.get("/api/idf/me", token=token)
    finally:
        suite_config["ROR_KEYCLOAK_ISSUER_URL"] = saved
    assert resp.status_code == 401 and resp.json()["error"]["fields"] == {"authorization": "unexpected token issuer"}


def test_keycloak_keeps_its_state_in_postgresql():
    from sqlalchemy import create_engine, text

    engine = create_engine("postgresql+psycopg2://keycloak:keycloak@127.0.0.1:5432/keycloak")
    try:
        with engine.connect() as conn:
            realms = set(conn.execute(text("SELECT name FROM realm")).scalars())
    finally:
        engine.dispose()
    assert {"ror-idf", "ror-pdl", "psc"} <= realms


def _deploy_env() -> dict:
    return {**os.environ, "ROR_DEPLOY_VAR": setting("ROR_VAR_DIR"), "ROR_VENV": str(Path(sys.prefix))}


def _sync(files: list[Path]) -> None:
    subprocess.run([sys.executable, str(ROOT / "deploy" / "keycloak" / "sync_realms.py"), *map(str, files)],
                   check=True, timeout=300, env=_deploy_env(), capture_output=True)


def _admin_realm(realm: str) -> dict:
    token = requests.post(f"{KEYCLOAK_URL}/realms/master/protocol/openid-connect/token", timeout=30, data={
        "grant_type": "password", "client_id": "admin-cli", "username": "admin", "password": "admin"}).json()
    return requests.get(f"{KEYCLOAK_URL}/admin/realms/{realm}", timeout=30,
                        headers={"Authorization": f"Bearer {token['access_token']}"}).json()


@pytest.mark.skipif(os.environ.get("ROR_TEST_KEYCLOAK_RESTART") != "1",
                    reason="restarts the shared Keycloak: set ROR_TEST_KEYCLOAK_RESTART=1")
def test_a_professional_survives_a_realm_change_and_a_restart(api, tokens, db_url, tmp_path, unit_of_rpps):
    rpps, email = fresh_rpps(), f"survivor-{int(time.time())}@example.org"
    import_national(db_url, "idf", [rpps], tmp_path)
    try:
        created(activate(api, rpps, issue(api, tokens, rpps), email))
        api.post("/api/idf/accounts/verify-email", json={"token": verification_link(email).split("token=")[1]})
        token = password_token("idf", rpps, PASSWORD)["access_token"]
        assert api.post("/api/idf/me/ror-account", token=token).status_code == 201
        unit = unit_of_rpps(rpps)
        granted = api.post("/api/idf/habilitations", token=tokens("idf", "admin"),
                           json={"username": rpps, "role": "structure_editor", "structure_id": unit})
        assert granted.status_code == 201, granted.text
        subject = claims(password_token("idf", rpps, PASSWORD)["access_token"])["sub"]

        # A realm setting changes in the realm file: applied to the live realm, nobody deleted.
        changed = tmp_path / "ror-idf.json"
        realm = json.loads(REALM_FILES[0].read_text(encoding="utf-8"))
        realm["displayName"] = f"{realm.get('displayName', 'ROR')} (modifié)"
        changed.write_text(json.dumps(realm), encoding="utf-8")
        _sync([changed])
        assert _admin_realm("ror-idf")["displayName"] == realm["displayName"]

        # Keycloak restarted through the project's scripts.
        for script in ("stop.sh", "start.sh"):
            subprocess.run(["bash", str(ROOT / "deploy" / "keycloak" / script)], check=True, timeout=600,
                           env=_deploy_env(), capture_output=True)

        token = password_token("idf", rpps, PASSWORD)["access_token"]
        assert claims(token)["sub"] == subject
        me = api.get("/api/idf/me", token=token).json()
        assert me["ror_account"] and me["ror_account"]["rpps"] == rpps
        assert [(h["role"], h["structure_id"]) for h in me["habilitations"]] == [("structure_editor", unit)]
        assert password_token("idf", "kine.demo")["access_token"]  # the demo users are there too
    finally:
        _sync(REALM_FILES)  # the realm as its files say
        directory = directory_for("idf")
        for user in [directory.find_by_username(rpps), *directory.find_by_rpps(rpps)]:
            if user:
                directory.delete_user(user["id"], quiet=True)


@pytest.fixture
def unit_of_rpps(api, tokens, suite_config):
    from nameko.standalone.rpc import ClusterRpcProxy

    def find(rpps, region="idf"):
        with ClusterRpcProxy(suite_config, timeout=30) as cluster:
            [person] = cluster.offers.national_professionals(region, rpps=rpps)
        offer = api.get(f"/api/{region}/offers/{person['offer_ids'][0]}", token=tokens(region, "validateur"))
        return offer.json()["unit_id"]

    return find

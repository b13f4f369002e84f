"""A third region by configuration alone: Bretagne (`bre`) gets one file in a temporary regions folder
and a realm generated from it, imported into the running Keycloak; the unchanged code, started on that
folder, serves it — a kiné of Rennes activates her account and publishes her offer — and the two demo
regions keep working."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import requests
import yaml
from keycloak import KeycloakAdmin, KeycloakOpenIDConnection
from sqlalchemy.engine import make_url

from services.common.config import setting
from services.common.db import ensure_database
from services.common.migrations import upgrade_all
from services.common.regions import DEFAULT_DIR, parse_region
from tests.accounts_support import PASSWORD, activate, fresh_rpps, import_national, issue, verification_link
from tests.conftest import GATEWAY_ADDRESS, RABBIT_MGMT, TEST_VHOST, Api
from tests.helpers import KEYCLOAK_URL, demo_totp
from tests.offers_support import KINE_STEPS

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
VHOST = f"{TEST_VHOST}_bre"  # per run: parallel runs must not delete each other's vhost
MODULES = ("services.accounts.service", "services.offers.service", "services.dossiers.service",
           "services.anomalies.service", "services.notifications.service", "gateway.service:GatewayService")
PLACEHOLDER = re.compile(r"\$\{([A-Z_]+):([^}]*)\}")


def bretagne(idf_text: str) -> str:
    """bre.toml as an operator writes it: idf.toml with Bretagne's own settings."""
    data = tomllib.loads(idf_text)
    lines = idf_text.splitlines()
    replace = {
        "code": '"bre"', "label": '"ROR Bretagne"', "realm": '"ror-bre"', "realm_display": '"ROR Bretagne"',
        "insee_region": '"53"', "departements": '["22", "29", "35", "56"]',
    }
    out = []
    for line in lines:
        key = line.split("=", 1)[0].strip()
        if "=" in line and key in replace and not line.startswith(" "):
            line = f"{key} = {replace.pop(key)}"
        out.append(line)
    text = "\n".join(out) + "\n"
    text = text.replace(data["support"]["phone"], "02 99 00 00 00").replace(data["support"]["email"],
                                                                              "support@ror-bretagne.example.fr")
    # no demo professionals of IdF in Bretagne
    return text.split("[[demo.professionals]]")[0]


def resolved(realm: dict) -> dict:
    """`${NAME:default}` placeholders as Keycloak's start-up import resolves them (env, else default)."""
    text = PLACEHOLDER.sub(lambda m: os.environ.get(m.group(1), m.group(2)), json.dumps(realm))
    return json.loads(text)


def keycloak_master() -> KeycloakAdmin:
    return KeycloakAdmin(connection=KeycloakOpenIDConnection(
        server_url=KEYCLOAK_URL, realm_name="master", user_realm_name="master",
        username=setting("ROR_KEYCLOAK_ADMIN"), password=setting("ROR_KEYCLOAK_ADMIN_PASSWORD"), timeout=60))


def wait_until_serving(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"the suite exited: {log.read_text()[-3000:]}"
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, f"the suite did not answer: {log.read_text()[-3000:]}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def regions_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("regions")
    for path in DEFAULT_DIR.glob("*.toml"):
        shutil.copy(path, folder)
    (folder / "bre.toml").write_text(bretagne((DEFAULT_DIR / "idf.toml").read_text("utf-8")), "utf-8")
    return folder


@pytest.fixture(scope="module")
def bre_realm(regions_dir):
    """The realm generated from bre.toml, imported into the running Keycloak (removed at the end)."""
    from deploy.keycloak.gen_realms import regional_realm

    region = parse_region(tomllib.loads((regions_dir / "bre.toml").read_text("utf-8")), "bre.toml")
    realm = resolved(regional_realm("bre", region=region))
    admin = keycloak_master()
    if "ror-bre" in {r["realm"] for r in admin.get_realms()}:
        admin.delete_realm("ror-bre")
    admin.create_realm(realm, skip_exists=False)
    yield region
    keycloak_master().delete_realm("ror-bre")


@pytest.fixture(scope="module")
def bre_db(db_url):
    url = make_url(db_url)
    url = url.set(database=f"{url.database}_bre").render_as_string(hide_password=False)
    ensure_database(url)
    upgrade_all(url)
    return url


@pytest.fixture(scope="module")
def bre_api(regions_dir, bre_realm, bre_db, tmp_path_factory):
    """The unchanged suite, started by `nameko run` on the regions folder that knows Bretagne."""
    base = RABBIT_MGMT.rstrip("/")
    requests.delete(f"{base}/api/vhosts/{VHOST}", timeout=10)
    requests.put(f"{base}/api/vhosts/{VHOST}", timeout=10).raise_for_status()
    requests.put(f"{base}/api/permissions/{VHOST}/guest", json={"configure": ".*", "write": ".*", "read": ".*"},
                 timeout=10).raise_for_status()
    host, port = GATEWAY_ADDRESS.rsplit(":", 1)
    address = f"{host}:{int(port) + 200}"
    work = tmp_path_factory.mktemp("bre-suite")
    config = work / "suite.yaml"
    config.write_text(yaml.safe_dump({
        "AMQP_URI": f"amqp://guest:guest@127.0.0.1:5672/{VHOST}", "WEB_SERVER_ADDRESS": address,
        "ROR_DATABASE_URL": bre_db, "ROR_PUBLIC_URL": f"http://{address}", "serializer": "json",
        "max_workers": 10,
    }))
    log = work / "suite.log"
    env = {**os.environ, "ROR_REGIONS_DIR": str(regions_dir), "PYTHONPATH": str(ROOT)}
    nameko = Path(sys.executable).parent / "nameko"
    with log.open("w") as out:
        proc = subprocess.Popen([str(nameko), "run", "--config", str(config), *MODULES], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(f"http://{address}/openapi.json", proc, log)
        yield Api(f"http://{address}")
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        requests.delete(f"{base}/api/vhosts/{VHOST}", timeout=10)


def bre_token(username: str, password: str | None = None, totp: bool = False) -> str:
    data = {"grant_type": "password", "client_id": "ror-gateway", "username": username, "scope": "openid",
            "password": password or setting("ROR_DEMO_PASSWORD")}
    if totp:
        data["totp"] = demo_totp()
    resp = requests.post(f"{KEYCLOAK_URL}/realms/ror-bre/protocol/openid-connect/token", data=data, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


def test_a_kine_of_rennes_activates_and_publishes_in_the_new_region(bre_api, bre_db, regions_dir, unique,
                                                                     tmp_path_factory, monkeypatch):
    # national data of Bretagne, imported like any region's (`ror import rpps --region bre`)
    monkeypatch.setenv("ROR_REGIONS_DIR", str(regions_dir))
    rpps = fresh_rpps()
    import_national(bre_db, "bre", [rpps], tmp_path_factory.mktemp("rpps"))

    # the region admin of the new realm issues her code; she activates and validates her e-mail
    code = issue(bre_api, None, rpps, region="bre", admin_token=bre_token("admin", totp=True))
    email = f"kine-rennes-{unique}@example.org"
    resp = activate(bre_api, rpps, code, email, region="bre")
    assert resp.status_code == 201, resp.text
    link = verification_link(email)
    assert link.startswith(f"{bre_api.base}/api/bre/accounts/verify-email?token=")
    assert requests.get(link, timeout=30).status_code == 200

    # first connection, then the six steps and the publication, in Bretagne
    token = bre_token(rpps, PASSWORD)
    account = bre_api.post("/api/bre/me/ror-account", token=token)
    assert account.status_code == 201, account.text
    [offer_id] = account.json()["offer_ids"]
    resp = bre_api.get(f"/api/bre/offers/{offer_id}", token=token)
    etag = resp.headers["ETag"]
    steps = {**KINE_STEPS, "modalities": {"reception_modalities": ["05"],
                                          "intervention_communes": ["35238", "35047"]}}  # Rennes, Bruz
    for step, body in steps.items():
        resp = bre_api.put(f"/api/bre/offers/{offer_id}/steps/{step}", token=token, json=body,
                           headers={"If-Match": etag})
        assert resp.status_code == 200, (step, resp.text)
        etag = resp.headers["ETag"]
    resp = bre_api.post(f"/api/bre/offers/{offer_id}/publish", token=token, headers={"If-Match": etag})
    assert resp.status_code == 200, resp.text
    public = bre_api.get(f"/api/bre/offers/{offer_id}").json()
    assert public["published"]["modalities"]["intervention_communes"] and public["region"] == "bre"

    # communes are national, those of the region's configuration (INSEE region 53) first
    assert bre_api.get("/api/bre/communes", params={"q": "rennes"}).json()[0]["code"] == "35238"
    saints = bre_api.get("/api/bre/communes", params={"q": "saint"}).json()
    assert saints and all(c["departement"] in ("22", "29", "35", "56") for c in saints[:5]), saints[:5]


def test_the_demo_regions_keep_working_next_to_the_new_one(bre_api, tokens):
    for region in ("idf", "pdl"):
        me = bre_api.get(f"/api/{region}/me", token=tokens(region, "kine.demo"))
        assert me.status_code == 200 and me.json()["region"] == region, me.text
    # a token of one realm is refused in another region, the new one included
    refused = bre_api.get("/api/bre/me", token=tokens("idf", "kine.demo"))
    assert refused.status_code in (401, 403), refused.text

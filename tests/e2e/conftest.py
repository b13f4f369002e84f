"""Browser fixtures: headless Chromium from Debian's packages driven by Playwright (no browser download),
axe-core (vendored from npm by deploy/web/build.sh) run on every page visited, screenshots under
var/e2e/. The suite (the six services) runs as `nameko run` processes (tests/faults.py `PrivateSuite`,
with the settings of tests/conftest.py `suite_config`), and this pytest process runs without eventlet
(`ROR_TEST_EVENTLET=0`, deploy/test.sh): Playwright's sync driver hangs under its monkey patching.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest
import requests

from services.common.config import ROOT, setting
from tests import green
from tests.conftest import GATEWAY_ADDRESS, TEST_VHOST

CHROMIUM = os.environ.get("ROR_CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / "gateway" / "web" / "static" / "vendor" / "axe.min.js"
OUT = Path(setting("ROR_VAR_DIR")) / "e2e"
BLOCKING = ("serious", "critical")
WIDTH = 360  # the guides' users are often on a phone: every scenario runs at 360 px wide


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.integration)


def _admin_token() -> str:
    resp = requests.post(f"{setting('ROR_KEYCLOAK_URL')}/realms/master/protocol/openid-connect/token", timeout=30,
                         data={"grant_type": "password", "client_id": "admin-cli",
                               "username": setting("ROR_KEYCLOAK_ADMIN"),
                               "password": setting("ROR_KEYCLOAK_ADMIN_PASSWORD")})
    resp.raise_for_status()
    return resp.json()["access_token"]


@pytest.fixture(scope="session")
def login_redirects():
    """The realms accept the gateway origins of `make up` (deploy/keycloak/gen_realms.py); a test gateway
    listens elsewhere, so its origin is added to the client `ror-gateway` (idempotent, additive). The
    login pages must be the ROR theme's (realms imported before it existed get it on the client)."""
    origin = f"http://{GATEWAY_ADDRESS}"
    kc = setting("ROR_KEYCLOAK_URL").rstrip("/")
    headers = {"Authorization": f"Bearer {_admin_token()}"}
    info = requests.get(f"{kc}/admin/serverinfo", headers=headers, timeout=30).json()
    assert "ror" in [t["name"] for t in info["themes"]["login"]], \
        "login theme « ror » missing in Keycloak: deploy/keycloak/start.sh copies deploy/keycloak/themes"
    for realm in ("ror-idf", "ror-pdl"):
        base = f"{kc}/admin/realms/{realm}/clients"
        [client] = requests.get(base, params={"clientId": "ror-gateway"}, headers=headers, timeout=30).json()
        uris = client.get("redirectUris") or []
        attributes = client.get("attributes", {})
        logout = attributes.get("post.logout.redirect.uris", "")
        if f"{origin}/*" in uris and f"{origin}/*" in logout.split("##") and attributes.get("login_theme") == "ror":
            continue
        client.setdefault("attributes", {})["login_theme"] = "ror"
        client["redirectUris"] = sorted(set(uris) | {f"{origin}/*"})
        client["webOrigins"] = sorted(set(client.get("webOrigins") or []) | {origin})
        client.setdefault("attributes", {})["post.logout.redirect.uris"] = "##".join(
            sorted(set(filter(None, logout.split("##"))) | {f"{origin}/*"}))
        requests.put(f"{base}/{client['id']}", json=client, headers=headers, timeout=30).raise_for_status()
    return origin


@pytest.fixture(scope="session")
def suite(suite_config):
    """Overrides the in-process suite of tests/conftest.py for the browser tests: the same settings,
    database and gateway address, a vhost of its own, each service a process of its own (logs in
    var/e2e/logs/)."""
    if green.patched():
        pytest.fail("the browser tests run without eventlet: ROR_TEST_EVENTLET=0 pytest tests/e2e "
                    "(make e2e; make test runs them so)", pytrace=False)
    from tests.faults import PrivateSuite

    settings = dict(suite_config)
    settings.pop("AMQP_URI")  # a vhost of its own: nothing the main run left in its queues comes in
    shutil.rmtree(OUT / "logs", ignore_errors=True)
    processes = PrivateSuite(settings.pop("ROR_DATABASE_URL"), f"{TEST_VHOST}_e2e", GATEWAY_ADDRESS,
                             log_dir=OUT / "logs", **settings).start()
    yield processes
    processes.stop()


@pytest.fixture(scope="session")
def playwright_browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} missing: apt-get install chromium (deploy/bootstrap.sh)"
    assert AXE.exists(), f"{AXE} missing: bash deploy/web/build.sh"
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--no-sandbox", "--disable-dev-shm-usage"])
    yield browser
    browser.close()
    playwright.stop()


class Axe:
    """Counts of axe-core violations by impact over every page a scenario visits."""

    def __init__(self):
        self.pages: list[dict] = []

    def totals(self) -> dict:
        out: dict[str, int] = {}
        for p in self.pages:
            for v in p["violations"]:
                out[v["impact"] or "unknown"] = out.get(v["impact"] or "unknown", 0) + 1
        return out


@pytest.fixture(scope="session")
def axe_report():
    report = Axe()
    yield report
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "axe-report.json").write_text(json.dumps({"pages": report.pages, "totals": report.totals()},
                                                    ensure_ascii=False, indent=2), encoding="utf-8")


class Browser:
    """A visitor's browser tab: `check(name)` screenshots the page, runs axe-core and the 360 px check."""

    def __init__(self, page, folder: Path, axe: Axe, base: str):
        self.page = page
        self.folder = folder
        self.axe = axe
        self.base = base
        self.step = 0
        self.started = time.monotonic()

    def goto(self, path: str):
        self.page.goto(path if path.startswith("http") else self.base + path)
        return self.page

    def check(self, name: str) -> None:
        page = self.page
        page.wait_for_load_state("load")
        self.step += 1
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        page.screenshot(path=str(self.folder / f"{self.step:02d}-{slug}.png"), full_page=True)
        if not page.evaluate("() => typeof window.axe !== 'undefined'"):
            page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
        result = page.evaluate("""async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                           targets: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
        }""")
        self.axe.pages.append({"step": f"{self.folder.name}/{self.step:02d}-{slug}", "url": page.url,
                               "seconds": round(time.monotonic() - self.started, 1),  # since the test began
                               "violations": result})
        blocking = [v for v in result if v["impact"] in BLOCKING]
        assert not blocking, f"axe-core on « {name} » ({page.url}): {json.dumps(blocking, ensure_ascii=False)}"
        overflow = page.evaluate("() => document.documentElement.scrollWidth")
        assert overflow <= WIDTH + 1, f"« {name} » is {overflow} px wide at {WIDTH} px ({page.url})"


@pytest.fixture
def browser(request, suite, login_redirects, playwright_browser, axe_report):
    folder = OUT / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    # bypass_csp: axe-core is injected into pages whose CSP (ours, Keycloak's) forbids inline scripts.
    context = playwright_browser.new_context(viewport={"width": WIDTH, "height": 800}, locale="fr-FR",
                                             bypass_csp=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    started = time.monotonic()
    yield Browser(page, folder, axe_report, login_redirects)
    (folder / "duration.txt").write_text(f"{time.monotonic() - started:.1f} s\n")
    context.close()

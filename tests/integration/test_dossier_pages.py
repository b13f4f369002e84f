"""The dossier collaboratif pages over HTTP (the browser scenario is tests/e2e/test_cpts_dossier.py):
every one asks for a login first, and a form without the session's CSRF token changes nothing."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import GATEWAY_ADDRESS

pytestmark = pytest.mark.integration
BASE = f"http://{GATEWAY_ADDRESS}"


@pytest.mark.parametrize("path", ["/idf/dossiers", "/idf/dossiers/1", "/idf/dossiers/1/fiches/2",
                                  "/idf/dossiers/1/historique", "/idf/dossiers/1/export.pdf"])
def test_dossier_pages_send_an_anonymous_visitor_to_the_login(suite, path):
    resp = requests.get(BASE + path, allow_redirects=False, timeout=30)
    assert resp.status_code == 303 and resp.headers["Location"] == f"/idf/connexion?next={path}"


def test_a_dossier_form_without_its_csrf_token_is_refused(suite):
    resp = requests.post(f"{BASE}/idf/dossiers/1", data={"action": "send", "etag": "x"}, timeout=30)
    assert resp.status_code == 403 and "Formulaire expiré" in resp.text

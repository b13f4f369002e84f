"""The web front's plumbing over HTTP (no browser): session cookie flags, CSRF on every form, login
redirects with PKCE, security headers, static files, and errors as French pages that change nothing."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from tests.conftest import GATEWAY_ADDRESS

pytestmark = pytest.mark.integration
BASE = f"http://{GATEWAY_ADDRESS}"


def _csrf(session: requests.Session, path: str) -> str:
    page = session.get(BASE + path, timeout=30)
    assert page.status_code == 200, page.text[:300]
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def test_pages_are_french_with_a_server_side_session_cookie_and_strict_headers(suite):
    resp = requests.get(f"{BASE}/idf/", timeout=30)
    assert resp.status_code == 200 and '<html lang="fr">' in resp.text
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "ror_session=" in cookie
    assert "Secure" not in cookie  # plain http on loopback; https public URLs get Secure
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert requests.get(f"{BASE}/zz/", timeout=30).status_code == 404


def test_a_form_without_its_csrf_token_or_from_another_site_is_refused_and_changes_nothing(suite):
    http = requests.Session()
    token = _csrf(http, "/idf/support")
    body = {"category": "autre", "subject": "Bonjour", "body": "Test", "contact_email": "a@example.org"}
    missing = http.post(f"{BASE}/idf/support", data=body, timeout=30)
    assert missing.status_code == 403 and "Formulaire expiré" in missing.text
    forged = http.post(f"{BASE}/idf/support", data={**body, "csrf": token}, timeout=30,
                       headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    other = requests.Session()  # another visitor's token is worthless
    assert other.post(f"{BASE}/idf/support", data={**body, "csrf": _csrf(http, "/idf/support")},
                      timeout=30).status_code == 403


def test_activation_errors_are_shown_next_to_their_fields(suite):
    http = requests.Session()
    token = _csrf(http, "/idf/activation")
    resp = http.post(f"{BASE}/idf/activation", timeout=30, data={
        "csrf": token, "rpps": "123", "activation_code": "", "email": "pas-une-adresse",
        "password": "court", "password_confirmation": "court"})
    assert resp.status_code == 400
    for field in ("rpps", "activation_code", "email", "password"):
        assert f'id="f-{field}-err"' in resp.text, field
        assert re.search(rf'id="f-{field}"[^>]*aria-invalid="true"', resp.text), field
    assert 'value="123"' in resp.text and "court" not in resp.text.split("<main")[1]  # no password echoed


def test_protected_pages_send_to_the_login_with_pkce_and_a_stale_callback_is_refused(suite):
    http = requests.Session()
    resp = http.get(f"{BASE}/idf/mon-offre", allow_redirects=False, timeout=30)
    assert resp.status_code == 303 and resp.headers["Location"] == "/idf/connexion?next=/idf/mon-offre"
    login = http.get(BASE + resp.headers["Location"], allow_redirects=False, timeout=30)
    target = urlparse(login.headers["Location"])
    query = parse_qs(target.query)
    assert target.path == "/realms/ror-idf/protocol/openid-connect/auth"
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["redirect_uri"] == [f"{BASE}/idf/auth/callback"] and query["state"][0]
    forged = http.get(f"{BASE}/idf/auth/callback?state=forged&code=x", timeout=30)
    assert forged.status_code == 400 and "expiré" in forged.text
    assert http.get(f"{BASE}/idf/support/tickets", allow_redirects=False, timeout=30).status_code == 303


def test_static_files_are_served_locally_and_never_outside_their_folder(suite):
    assert requests.get(f"{BASE}/static/ror.css", timeout=30).headers["Content-Type"].startswith("text/css")
    assert requests.get(f"{BASE}/static/vendor/htmx.min.js", timeout=30).status_code == 200
    for path in ("/static/../service.py", "/static/%2e%2e/service.py", "/static/vendor/../../render.py"):
        assert requests.get(BASE + path, timeout=30).status_code == 404, path


def test_commune_suggestions_by_name_or_postal_code(suite):
    by_name = requests.get(f"{BASE}/idf/ui/communes?q=meulan", timeout=30).text
    assert 'value="78401"' in by_name and "Meulan-en-Yvelines (78250)" in by_name
    assert 'value="78361"' in requests.get(f"{BASE}/idf/ui/communes?q=78200", timeout=30).text

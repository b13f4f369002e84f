"""The four ways in, against the real Keycloak configured by deploy/keycloak/ (no mocks):

(a) password (direct grant on ror-gateway), (b) password + TOTP for privileged roles (and for whoever
configured an OTP), (c) CPS card: X.509 client certificate over mutual TLS on port 8443 (client
ror-cps), (d) e-CPS: authorization code + PKCE through the `psc` realm playing Pro Santé Connect,
linked to the existing user by RPPS, refused unless the PSC ID token carries acr eidas1. Plus the realm settings other parts rely on (unverified e-mail
refused, SMTP sink, least-privilege service account of the accounts service).

Keycloak must be running (deploy/keycloak/start.sh): when it is not reachable the tests fail.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import secrets
import time
import uuid
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qs, quote, urlencode, urljoin, urlparse

import jwt
import pytest
import requests
from bs4 import BeautifulSoup

from services.accounts import pki
from services.common.config import ROOT, setting
from services.common.identifiers import is_valid_rpps, luhn_check_digit
from tests.helpers import demo_totp, wait_for_mail

pytestmark = pytest.mark.integration

KEYCLOAK_URL = setting("ROR_KEYCLOAK_URL").rstrip("/")
KEYCLOAK_TLS_URL = os.environ.get("ROR_KEYCLOAK_TLS_URL", "https://127.0.0.1:8443")
PKI_DIR = Path(setting("ROR_VAR_DIR")) / "pki"
REALM_DIR = ROOT / "deploy" / "keycloak"
REDIRECT_URI = "http://127.0.0.1:8000/auth/callback"
PASSWORD = setting("ROR_DEMO_PASSWORD")
TOTP_SECRET = setting("ROR_DEMO_TOTP_SECRET")
TIMEOUT = 30


# ---- helpers ----------------------------------------------------------------------------------


def realm_file_user(realm: str, username: str) -> dict:
    """A demo user as declared in the committed realm file (the source of truth for demo data)."""
    data = json.loads((REALM_DIR / f"{realm}.json").read_text(encoding="utf-8"))
    return next(u for u in data["users"] if u["username"] == username)


def demo_rpps(realm: str, username: str = "kine.demo") -> str:
    return realm_file_user(realm, username)["attributes"]["rpps"][0]


def totp_now(secret: str = TOTP_SECRET) -> str:
    return demo_totp(secret)


def token_endpoint(realm: str, base: str = KEYCLOAK_URL) -> str:
    return f"{base}/realms/{realm}/protocol/openid-connect/token"


def direct_grant(realm: str, username: str, password: str = PASSWORD, client_id: str = "ror-gateway",
                 **extra) -> requests.Response:
    data = {"grant_type": "password", "client_id": client_id, "username": username, "password": password,
            "scope": "openid", **extra}
    return requests.post(token_endpoint(realm), data=data, timeout=TIMEOUT)


_JWKS: dict[str, jwt.PyJWKSet] = {}


def claims_of(token: str, realm: str) -> dict:
    """Verified claims of an access token of `realm` (signature checked against the realm's JWKS)."""
    if realm not in _JWKS:
        certs = requests.get(f"{KEYCLOAK_URL}/realms/{realm}/protocol/openid-connect/certs", timeout=TIMEOUT)
        certs.raise_for_status()
        _JWKS[realm] = jwt.PyJWKSet.from_dict(certs.json())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in _JWKS[realm].keys if k.key_id == kid)
    return jwt.decode(token, key=key, algorithms=["RS256"], options={"verify_aud": False})


def assert_refused(resp: requests.Response, status: tuple[int, ...] = (400, 401)) -> dict:
    assert resp.status_code in status, f"expected a refusal, got {resp.status_code}: {resp.text[:300]}"
    body = resp.json()
    assert "access_token" not in body
    return body


class Admin:
    """Keycloak admin REST API as the bootstrap admin of the master realm."""

    def __init__(self) -> None:
        self.http = requests.Session()
        self._token, self._expires = "", 0.0

    def _auth(self) -> dict:
        if time.monotonic() > self._expires:
            resp = requests.post(token_endpoint("master"), timeout=TIMEOUT, data={
                "grant_type": "password", "client_id": "admin-cli",
                "username": setting("ROR_KEYCLOAK_ADMIN"), "password": setting("ROR_KEYCLOAK_ADMIN_PASSWORD")})
            resp.raise_for_status()
            body = resp.json()
            self._token, self._expires = body["access_token"], time.monotonic() + body["expires_in"] - 10
        return {"Authorization": f"Bearer {self._token}"}

    def call(self, method: str, path: str, expect: tuple[int, ...] = (200, 201, 204), **kw) -> requests.Response:
        resp = self.http.request(method, f"{KEYCLOAK_URL}/admin/realms/{path}", headers=self._auth(),
                                 timeout=TIMEOUT, **kw)
        assert resp.status_code in expect, f"{method} {path}: {resp.status_code} {resp.text[:300]}"
        return resp

    def user(self, realm: str, username: str) -> dict | None:
        found = self.call("GET", f"{realm}/users", params={"username": username, "exact": "true"}).json()
        return found[0] if found else None

    def users_with_rpps(self, realm: str, rpps: str) -> list[dict]:
        return self.call("GET", f"{realm}/users", params={"q": f"rpps:{rpps}", "max": 10}).json()

    def count(self, realm: str) -> int:
        return self.call("GET", f"{realm}/users/count").json()

    def import_user(self, realm: str, user: dict) -> str:
        """Create a user with credentials (incl. OTP), as the realm import does."""
        self.call("POST", f"{realm}/partialImport", json={"ifResourceExists": "OVERWRITE", "users": [user]})
        return self.user(realm, user["username"])["id"]

    def delete_user(self, realm: str, user_id: str) -> None:
        self.call("DELETE", f"{realm}/users/{user_id}", expect=(204, 404))


def temp_user(roles: list[str], otp: bool = False, email_verified: bool = True) -> dict:
    name = f"test-{uuid.uuid4().hex[:10]}"
    creds = [{"type": "password", "value": PASSWORD, "temporary": False}]
    if otp:
        creds.append({
            "type": "otp", "userLabel": "test",
            "secretData": json.dumps({"value": TOTP_SECRET}),
            "credentialData": json.dumps({"subType": "totp", "digits": 6, "counter": 0, "period": 30,
                                          "algorithm": "HmacSHA1", "secretEncoding": "BASE32"}),
        })
    return {"username": name, "enabled": True, "email": f"{name}@test.ror.local", "emailVerified": email_verified,
            "firstName": "Test", "lastName": "Utilisateur", "credentials": creds, "realmRoles": roles}


class Professional(NamedTuple):
    rpps: str
    national_id: str            # username in the psc realm (8 + RPPS)
    username: str | None        # in the regional realm, None when the professional has no account there
    user_id: str | None


@pytest.fixture
def professionals(admin):
    """Fresh professionals known to Pro Santé Connect (a user of the psc realm), with or without an
    account in a regional realm, removed afterwards: e-CPS logins write to the users they link
    (federated identity, psc_* attributes), so the tests never use the demo users for them."""
    made: list[tuple[str, str]] = []  # (realm, rpps)

    def make(realm: str | None = None) -> Professional:
        base = f"18{secrets.randbelow(10**8):08d}"
        rpps = base + luhn_check_digit(base)
        national_id = pki.national_id(rpps)
        admin.import_user("psc", {
            "username": national_id, "enabled": True, "emailVerified": True,
            "email": f"psc-{rpps}@test.ror.local", "firstName": "Test", "lastName": "Professionnel",
            "attributes": {"national_id": [national_id], "rpps": [rpps], "SubjectRefPro": [json.dumps({
                "codeCivilite": "M", "exercices": [{"codeProfession": "70", "codeCategorieProfessionnelle": "C",
                                                    "nomDexercice": "PROFESSIONNEL", "prenomDexercice": "Test",
                                                    "activities": []}]})]},
            "credentials": [{"type": "password", "value": PASSWORD, "temporary": False}]})
        made.append(("psc", rpps))
        username = user_id = None
        if realm:
            user = temp_user(["professional"])
            user["attributes"] = {"rpps": [rpps]}
            username, user_id = user["username"], admin.import_user(realm, user)
        for regional in ("ror-idf", "ror-pdl"):  # e-CPS logins may create users there too
            made.append((regional, rpps))
        return Professional(rpps, national_id, username, user_id)

    yield make
    for realm, rpps in made:
        for user in admin.users_with_rpps(realm, rpps):
            admin.delete_user(realm, user["id"])


class Browser:
    """A browser-like HTTP client: follows redirects one by one, keeps cookies, reads forms.

    Keycloak sets its cookies `Secure` even over http; browsers send them to http://127.0.0.1
    (a secure context), http.cookiejar does not: the flag is dropped for loopback hosts.
    """

    def __init__(self, **request_options) -> None:
        self.http = requests.Session()
        self.options = request_options  # e.g. cert=, verify= (per request: a Session's verify loses to
        self.trail: list[str] = []      # REQUESTS_CA_BUNDLE from the environment)

    def go(self, url: str, data: dict | None = None, stop_at: str = REDIRECT_URI) -> tuple[str, requests.Response | None]:
        """GET (or POST `data`) then follow redirects; returns (final url, page) or (redirect uri, None)."""
        method = "POST" if data is not None else "GET"
        for _ in range(20):
            resp = self.http.request(method, url, data=data, allow_redirects=False, timeout=TIMEOUT,
                                     **self.options)
            self.trail.append(f"{resp.status_code} {method} {url.split('?')[0]}")
            for cookie in self.http.cookies:
                if cookie.domain in ("127.0.0.1", "localhost"):
                    cookie.secure = False
            if resp.status_code not in (301, 302, 303, 307, 308):
                return url, resp
            url, method, data = urljoin(url, resp.headers["Location"]), "GET", None
            if url.startswith(stop_at):
                self.trail.append(f"-> {url.split('?')[0]}")
                return url, None
        raise AssertionError(f"too many redirects: {self.trail}")

    @staticmethod
    def form(page: requests.Response, form_id: str) -> tuple[str, dict]:
        soup = BeautifulSoup(page.text, "html.parser")
        form = soup.find("form", id=form_id)
        assert form is not None, f"no form #{form_id} in page {soup.title.string if soup.title else ''!r}: " \
                                 f"{soup.get_text(' ', strip=True)[:300]}"
        fields = {i["name"]: i.get("value", "") for i in form.find_all("input") if i.get("name")}
        return form["action"], fields


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_url(realm: str, challenge: str, **extra) -> str:
    params = {"client_id": "ror-gateway", "redirect_uri": REDIRECT_URI, "response_type": "code",
              "scope": "openid", "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
              "code_challenge": challenge, "code_challenge_method": "S256", **extra}
    return f"{KEYCLOAK_URL}/realms/{realm}/protocol/openid-connect/auth?{urlencode(params)}"


def exchange_code(realm: str, redirect: str, verifier: str) -> dict:
    query = parse_qs(urlparse(redirect).query)
    assert "code" in query, f"no code in {redirect}"
    resp = requests.post(token_endpoint(realm), timeout=TIMEOUT, data={
        "grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": REDIRECT_URI,
        "client_id": "ror-gateway", "code_verifier": verifier})
    assert resp.status_code == 200, resp.text
    return resp.json()


class BrokerLogin(NamedTuple):
    url: str                          # where it stopped: the redirect URI, or the page shown
    page: requests.Response | None    # None when it reached the redirect URI
    verifier: str                     # PKCE code verifier, for the code exchange
    browser: Browser
    psc_query: dict[str, list[str]]   # query of the authorization request the regional realm sent to psc


def psc_broker_login(realm: str, national_id: str, idp: str = "psc") -> BrokerLogin:
    """ror-gateway → kc_idp_hint=<idp> → psc login form (national id + password) → back to `realm`."""
    browser = Browser()
    verifier, challenge = pkce()
    url, page = browser.go(authorize_url(realm, challenge, kc_idp_hint=idp))
    assert page is not None and urlparse(url).path == "/realms/psc/protocol/openid-connect/auth", browser.trail
    psc_query = parse_qs(urlparse(url).query)
    action, fields = browser.form(page, "kc-form-login")
    fields.update(username=national_id, password=PASSWORD)
    url, page = browser.go(action, data=fields)
    return BrokerLogin(url, page, verifier, browser, psc_query)


def ecps_login(realm: str, national_id: str) -> tuple[dict, Browser]:
    """e-CPS: ror-gateway → kc_idp_hint=psc → psc login form → back to `realm` → code → tokens."""
    redirect, page, verifier, browser, psc_query = psc_broker_login(realm, national_id)
    assert psc_query.get("acr_values") == ["eidas1"], psc_query
    assert page is None, f"stopped on a page ({browser.trail}): " \
                         f"{BeautifulSoup(page.text, 'html.parser').get_text(' ', strip=True)[:400]}"
    return exchange_code(realm, redirect, verifier), browser


ACR_REFUSED = ("Connexion Pro Santé Connect refusée : le niveau d’authentification « eidas1 » (e-CPS) est exigé, "
               "l’identité transmise porte le niveau « 1 ».")


def ecps_login_without_eidas1(realm: str, national_id: str) -> tuple[requests.Response, Browser]:
    """Through the hidden identity provider psc-no-eidas: no acr_values, the psc ID token carries acr "1"."""
    url, page, _, browser, psc_query = psc_broker_login(realm, national_id, idp="psc-no-eidas")
    assert "acr_values" not in psc_query and psc_query["client_id"] == ["ror-no-eidas"], psc_query
    assert page is not None, f"not refused: reached {url} ({browser.trail})"
    return page, browser


def assert_acr_refused(page: requests.Response, browser: Browser, flow: str) -> None:
    """The error page of ror-idp-require-acr: 403, the French message (realm default locale), no code."""
    assert page.status_code == 403, (page.status_code, browser.trail)
    assert browser.trail[-1].startswith("403 GET ") and browser.trail[-1].endswith(f"/login-actions/{flow}"), \
        browser.trail
    text = BeautifulSoup(page.text, "html.parser").get_text(" ", strip=True)
    assert ACR_REFUSED in text, text[:500]
    assert not any(step.startswith("-> ") for step in browser.trail), browser.trail


# ---- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def keycloak():
    """Keycloak must be up: a test of the login methods never skips."""
    try:
        for realm in ("ror-idf", "ror-pdl", "psc"):
            requests.get(f"{KEYCLOAK_URL}/realms/{realm}/.well-known/openid-configuration",
                         timeout=10).raise_for_status()
    except requests.RequestException as exc:
        pytest.fail(f"Keycloak is not reachable at {KEYCLOAK_URL} with realms ror-idf, ror-pdl, psc "
                    f"(start it with deploy/keycloak/start.sh): {exc}")


@pytest.fixture(scope="module")
def admin() -> Admin:
    return Admin()


@pytest.fixture
def cps_dir(tmp_path) -> Path:
    pki.ensure_ca(PKI_DIR)  # start.sh created it; the same CA signs the server certificate
    return tmp_path


def cps_token(cert: pki.CertFiles, realm: str = "ror-idf") -> requests.Response:
    return requests.post(token_endpoint(realm, KEYCLOAK_TLS_URL), timeout=TIMEOUT,
                         data={"grant_type": "password", "client_id": "ror-cps"},
                         cert=(str(cert.cert), str(cert.key)), verify=str(PKI_DIR / pki.CA_CERT_FILE))


def assert_cps_refused(cert: pki.CertFiles, realm: str = "ror-idf") -> str:
    """The certificate gets no token: refused by TLS (untrusted chain) or by the X.509 authenticator."""
    try:
        resp = cps_token(cert, realm)
    except requests.exceptions.RequestException as exc:  # TLS alert "certificate unknown"
        assert "certificate" in str(exc).lower() or isinstance(exc, requests.exceptions.ConnectionError), exc
        return "tls"
    assert_refused(resp)
    return f"http {resp.status_code}"


# ---- (a) password -----------------------------------------------------------------------------


@pytest.mark.parametrize("realm", ["ror-idf", "ror-pdl"])
def test_password_login_gives_professional_role_and_rpps(realm):
    resp = direct_grant(realm, "kine.demo")
    assert resp.status_code == 200, resp.text
    claims = claims_of(resp.json()["access_token"], realm)
    assert claims["iss"] == f"{KEYCLOAK_URL}/realms/{realm}"
    assert claims["azp"] == "ror-gateway" and claims["typ"] == "Bearer"
    assert claims["preferred_username"] == "kine.demo"
    assert "professional" in claims["realm_access"]["roles"]
    assert claims["rpps"] == demo_rpps(realm)
    assert is_valid_rpps(claims["rpps"])


def test_demo_professionals_have_distinct_rpps_per_region():
    assert demo_rpps("ror-idf") != demo_rpps("ror-pdl")
    assert demo_rpps("ror-idf", "sf.demo") != demo_rpps("ror-pdl", "sf.demo")


def test_wrong_password_is_refused(admin):
    # a fresh user: failed logins count towards the realm's brute-force lockout of that user
    user = temp_user(["professional"])
    user_id = admin.import_user("ror-idf", user)
    try:
        body = assert_refused(direct_grant("ror-idf", user["username"], password="Wrong-Password1"))
        assert body["error"] == "invalid_grant"
    finally:
        admin.delete_user("ror-idf", user_id)


def test_login_by_email_is_allowed():
    email = realm_file_user("ror-idf", "sf.demo")["email"]
    resp = direct_grant("ror-idf", email)
    assert resp.status_code == 200, resp.text
    assert claims_of(resp.json()["access_token"], "ror-idf")["preferred_username"] == "sf.demo"


def test_unverified_email_is_refused_with_a_clear_message(admin):
    user = temp_user(["professional"], email_verified=False)
    user_id = admin.import_user("ror-idf", user)
    try:
        body = assert_refused(direct_grant("ror-idf", user["username"]), status=(400,))
        assert body == {"error": "invalid_grant", "error_description": "Account is not fully set up"}
    finally:
        admin.delete_user("ror-idf", user_id)


# ---- (b) one-time code ------------------------------------------------------------------------


@pytest.mark.parametrize("username,role", [("admin", "region_admin"), ("cpts.directeur", "directeur"),
                                           ("validateur", "regional_validator"), ("support", "support_agent")])
def test_privileged_roles_need_a_totp(admin, username, role):
    # Refusals are played on a fresh user with the role (they count towards the brute-force lockout of
    # the user, which must never hit the demo users a running suite relies on) ...
    user = temp_user([role], otp=True)
    user_id = admin.import_user("ror-idf", user)
    try:
        body = assert_refused(direct_grant("ror-idf", user["username"]))
        assert body["error"] == "invalid_grant"
        # Once, a second failure 31 ms after the first locked the user for 60 s (Keycloak logged
        # user_temporarily_disabled, its quick-login lockout, although quickLoginCheckMilliSeconds is 0):
        # the second refusal comes a second later.
        time.sleep(1.1)
        wrong = "000000" if totp_now() != "000000" else "111111"
        assert_refused(direct_grant("ror-idf", user["username"], totp=wrong))
        resp = direct_grant("ror-idf", user["username"], totp=totp_now())
        assert resp.status_code == 200, resp.text
        assert role in claims_of(resp.json()["access_token"], "ror-idf")["realm_access"]["roles"]
    finally:
        admin.delete_user("ror-idf", user_id)
    # ... and the demo user of that role has its OTP and logs in with it.
    demo = admin.user("ror-idf", username)
    credentials = admin.call("GET", f"ror-idf/users/{demo['id']}/credentials").json()
    assert "otp" in {c["type"] for c in credentials}
    resp = direct_grant("ror-idf", username, totp=totp_now())
    assert resp.status_code == 200, resp.text
    claims = claims_of(resp.json()["access_token"], "ror-idf")
    assert role in claims["realm_access"]["roles"] and claims["azp"] == "ror-gateway"


def test_totp_also_accepted_as_otp_parameter():
    resp = direct_grant("ror-pdl", "admin", otp=totp_now())
    assert resp.status_code == 200, resp.text


def test_privileged_user_without_otp_configured_is_refused_by_direct_grant(admin):
    user = temp_user(["directeur"], otp=False)
    user_id = admin.import_user("ror-idf", user)
    try:
        for extra in ({}, {"totp": totp_now()}):
            body = assert_refused(direct_grant("ror-idf", user["username"], **extra), status=(400,))
            assert body["error"] == "invalid_grant"
            assert body["error_description"].startswith("Account is not fully set up"), body
    finally:
        admin.delete_user("ror-idf", user_id)


def test_professional_who_configured_an_otp_needs_it(admin):
    user = temp_user(["professional"], otp=True)
    user_id = admin.import_user("ror-pdl", user)
    try:
        assert_refused(direct_grant("ror-pdl", user["username"]))
        resp = direct_grant("ror-pdl", user["username"], totp=totp_now())
        assert resp.status_code == 200, resp.text
    finally:
        admin.delete_user("ror-pdl", user_id)


def test_browser_login_asks_the_otp_of_a_privileged_user():
    browser = Browser()
    verifier, challenge = pkce()
    _, page = browser.go(authorize_url("ror-idf", challenge))
    action, fields = browser.form(page, "kc-form-login")
    _, page = browser.go(action, data={**fields, "username": "admin", "password": PASSWORD})
    action, fields = browser.form(page, "kc-otp-login-form")
    redirect, page = browser.go(action, data={**fields, "otp": totp_now()})
    assert page is None, browser.trail
    tokens = exchange_code("ror-idf", redirect, verifier)
    assert "region_admin" in claims_of(tokens["access_token"], "ror-idf")["realm_access"]["roles"]


def test_browser_login_makes_a_privileged_user_without_otp_configure_one(admin):
    user = temp_user(["support_agent"], otp=False)
    user_id = admin.import_user("ror-idf", user)
    try:
        browser = Browser()
        _, challenge = pkce()
        _, page = browser.go(authorize_url("ror-idf", challenge))
        action, fields = browser.form(page, "kc-form-login")
        _, page = browser.go(action, data={**fields, "username": user["username"], "password": PASSWORD})
        assert page is not None and page.status_code == 200, browser.trail
        browser.form(page, "kc-totp-settings-form")  # CONFIGURE_TOTP: scan the QR code, type a code
    finally:
        admin.delete_user("ror-idf", user_id)


# ---- (c) CPS card (X.509 over mutual TLS) ------------------------------------------------------


def test_cps_card_logs_in_without_username_or_password(cps_dir):
    rpps = demo_rpps("ror-idf")
    cert = pki.issue_cps_cert(PKI_DIR, rpps, cps_dir, first_name="Julien", last_name="Dubois")
    resp = cps_token(cert)
    assert resp.status_code == 200, resp.text
    claims = claims_of(resp.json()["access_token"], "ror-idf")
    assert claims["rpps"] == rpps
    assert claims["preferred_username"] == "kine.demo"
    assert claims["azp"] == "ror-cps"
    assert claims["iss"] == f"{KEYCLOAK_TLS_URL}/realms/ror-idf"  # issuer follows the URL used (8443)
    assert "professional" in claims["realm_access"]["roles"]


def test_cps_card_in_the_browser_after_a_confirmation_page(cps_dir):
    cert = pki.issue_cps_cert(PKI_DIR, demo_rpps("ror-pdl", "sf.demo"), cps_dir)
    browser = Browser(cert=(str(cert.cert), str(cert.key)), verify=str(PKI_DIR / pki.CA_CERT_FILE))
    verifier, challenge = pkce()
    _, page = browser.go(authorize_url("ror-pdl", challenge).replace(KEYCLOAK_URL, KEYCLOAK_TLS_URL))
    action, fields = browser.form(page, "kc-x509-login-info")  # "you will be logged in as sf.demo"
    assert "sf.demo" in page.text
    redirect, page = browser.go(action, data={"login": fields["login"]})
    assert page is None, browser.trail
    query = parse_qs(urlparse(redirect).query)
    resp = requests.post(token_endpoint("ror-pdl", KEYCLOAK_TLS_URL), timeout=TIMEOUT,
                         verify=str(PKI_DIR / pki.CA_CERT_FILE),
                         data={"grant_type": "authorization_code", "code": query["code"][0],
                               "redirect_uri": REDIRECT_URI, "client_id": "ror-gateway", "code_verifier": verifier})
    assert resp.status_code == 200, resp.text
    claims = claims_of(resp.json()["access_token"], "ror-pdl")
    assert claims["preferred_username"] == "sf.demo" and claims["rpps"] == demo_rpps("ror-pdl", "sf.demo")


def test_cps_card_of_unknown_rpps_is_refused(cps_dir):
    base = f"18{secrets.randbelow(10**8):08d}"
    cert = pki.issue_cps_cert(PKI_DIR, base + luhn_check_digit(base), cps_dir)
    assert assert_cps_refused(cert) == "http 400"


def test_cps_card_is_only_valid_in_its_region(cps_dir):
    cert = pki.issue_cps_cert(PKI_DIR, demo_rpps("ror-idf"), cps_dir)
    assert assert_cps_refused(cert, realm="ror-pdl") == "http 400"


def test_expired_cps_card_is_refused(cps_dir):
    now = dt.datetime.now(dt.UTC)
    cert = pki.issue_cps_cert(PKI_DIR, demo_rpps("ror-idf"), cps_dir, days=1,
                              not_before=now - dt.timedelta(days=10), name="expired")
    assert pki.load_cert(cert.cert).not_valid_after_utc < now
    assert_cps_refused(cert)


def test_cps_card_from_another_ca_is_refused(tmp_path):
    other_ca = tmp_path / "other-ca"
    pki.ensure_ca(other_ca)  # same name "TEST AC IGC-SANTE", different key
    cert = pki.issue_cps_cert(other_ca, demo_rpps("ror-idf"), tmp_path / "out")
    assert assert_cps_refused(cert) == "tls"


def test_ror_cps_without_certificate_is_refused():
    resp = requests.post(token_endpoint("ror-idf", KEYCLOAK_TLS_URL), timeout=TIMEOUT,
                         verify=str(PKI_DIR / pki.CA_CERT_FILE),
                         data={"grant_type": "password", "client_id": "ror-cps", "username": "kine.demo",
                               "password": PASSWORD})
    body = assert_refused(resp)
    assert body["error_description"] == "X509 client certificate is missing."


def test_https_without_certificate_still_serves_password_logins():
    """Client auth is `request`: no certificate is fine for the other clients."""
    resp = requests.post(token_endpoint("ror-idf", KEYCLOAK_TLS_URL), timeout=TIMEOUT,
                         verify=str(PKI_DIR / pki.CA_CERT_FILE),
                         data={"grant_type": "password", "client_id": "ror-gateway", "username": "kine.demo",
                               "password": PASSWORD})
    assert resp.status_code == 200, resp.text


# ---- (d) e-CPS through Pro Santé Connect (realm psc) -------------------------------------------


def test_ecps_login_links_the_existing_user_by_rpps(admin, professionals):
    realm = "ror-idf"
    pro = professionals(realm)  # has an account (e.g. activated with a letter), never linked to PSC
    rpps, national_id = pro.rpps, pro.national_id

    tokens, browser = ecps_login(realm, national_id)

    claims = claims_of(tokens["access_token"], realm)
    assert claims["rpps"] == rpps and claims["preferred_username"] == pro.username, claims
    assert claims["azp"] == "ror-gateway" and "professional" in claims["realm_access"]["roles"]
    assert any("first-broker-login" in step for step in browser.trail), browser.trail
    # the acr check of the post broker login flow also runs after a first broker login
    assert any("/login-actions/post-broker-login" in step for step in browser.trail), browser.trail
    # no second user: the PSC identity is linked to the existing one
    assert [u["username"] for u in admin.users_with_rpps(realm, rpps)] == [pro.username]
    links = admin.call("GET", f"{realm}/users/{pro.user_id}/federated-identity").json()
    assert [(link["identityProvider"], link["userName"]) for link in links] == [("psc", national_id)]
    # what the psc id token carried, imported by the identity provider mappers
    attributes = admin.user(realm, pro.username)["attributes"]
    assert attributes["psc_acr"] == ["eidas1"]
    assert attributes["psc_national_id"] == [national_id]

    # second login: already linked, no first broker login
    tokens, browser = ecps_login(realm, national_id)
    assert claims_of(tokens["access_token"], realm)["preferred_username"] == pro.username
    assert not any("first-broker-login" in step for step in browser.trail), browser.trail
    assert any("/login-actions/post-broker-login" in step for step in browser.trail), browser.trail


def psc_id_token(national_id: str, client_id: str, idp: str, broker_realm: str, **extra) -> dict:
    """Direct look at what the psc realm (Pro Santé Connect stand-in) issues to a broker client."""
    browser = Browser()
    verifier, challenge = pkce()
    params = {"client_id": client_id, "response_type": "code", "scope": "openid scope_all",
              "redirect_uri": f"{KEYCLOAK_URL}/realms/{broker_realm}/broker/{idp}/endpoint", "state": "s",
              "nonce": "n", "code_challenge": challenge, "code_challenge_method": "S256", **extra}
    _, page = browser.go(f"{KEYCLOAK_URL}/realms/psc/protocol/openid-connect/auth?{urlencode(params)}")
    action, fields = browser.form(page, "kc-form-login")
    redirect, page = browser.go(action, data={**fields, "username": national_id, "password": PASSWORD},
                                stop_at=params["redirect_uri"])
    assert page is None, browser.trail
    code = parse_qs(urlparse(redirect).query)["code"][0]
    resp = requests.post(token_endpoint("psc"), timeout=TIMEOUT, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": params["redirect_uri"],
        "client_id": client_id, "client_secret": os.environ.get("ROR_PSC_CLIENT_SECRET", "psc-dev-secret"), "code_verifier": verifier})
    assert resp.status_code == 200, resp.text
    return claims_of(resp.json()["id_token"], "psc")


def test_psc_id_token_carries_acr_eidas1_and_psc_claims():
    rpps = demo_rpps("ror-pdl", "sf.demo")
    id_token = psc_id_token(pki.national_id(rpps), "ror-pdl", "psc", "ror-pdl", acr_values="eidas1")
    assert id_token["acr"] == "eidas1"
    assert id_token["SubjectNameID"] == pki.national_id(rpps)
    assert id_token["SubjectRefPro"]["exercices"][0]["codeProfession"] == "50"
    assert id_token["given_name"] == "Élodie" and id_token["family_name"] == "Moreau"


def test_psc_issues_another_acr_to_the_test_client_without_eidas1():
    """The psc client of psc-no-eidas has its own acr.loa.map: its ID tokens carry acr "1", not eidas1."""
    national_id = pki.national_id(demo_rpps("ror-pdl", "sf.demo"))
    for extra in ({}, {"acr_values": "eidas1"}):  # asking does not help: this client has no eidas1 level
        id_token = psc_id_token(national_id, "ror-no-eidas", "psc-no-eidas", "ror-pdl", **extra)
        assert id_token["acr"] == "1", (extra, id_token["acr"])
        assert id_token["SubjectNameID"] == national_id


def test_ecps_login_without_eidas1_is_refused_at_the_first_broker_login(admin, professionals):
    """Refused before linking or creating anybody: neither the existing user nor an unknown professional."""
    realm = "ror-idf"
    existing, unknown = professionals(realm), professionals()  # the second has no account in ror-idf
    for pro in (existing, unknown):
        page, browser = ecps_login_without_eidas1(realm, pro.national_id)
        assert_acr_refused(page, browser, "first-broker-login")

    assert admin.users_with_rpps(realm, unknown.rpps) == []
    assert [u["username"] for u in admin.users_with_rpps(realm, existing.rpps)] == [existing.username]
    links = admin.call("GET", f"{realm}/users/{existing.user_id}/federated-identity").json()
    assert links == []


def test_ecps_login_without_eidas1_is_refused_at_every_later_login(admin, professionals):
    """An identity already linked (post broker login flow): still refused, no code for the application."""
    realm = "ror-pdl"
    pro = professionals(realm)
    psc_user = admin.user("psc", pro.national_id)
    admin.call("POST", f"{realm}/users/{pro.user_id}/federated-identity/psc-no-eidas", json={
        "identityProvider": "psc-no-eidas", "userId": psc_user["id"], "userName": pro.national_id})
    page, browser = ecps_login_without_eidas1(realm, pro.national_id)
    assert_acr_refused(page, browser, "post-broker-login")
    assert not any("first-broker-login" in step for step in browser.trail), browser.trail


@pytest.mark.parametrize("realm", ["ror-idf", "ror-pdl"])
def test_every_psc_identity_provider_requires_acr_eidas1(admin, realm):
    """Both broker flows of every identity provider start with the acr check (eidas1); psc-no-eidas is hidden."""
    def required_acr(flow: str) -> str:
        executions = admin.call("GET", f"{realm}/authentication/flows/{quote(flow)}/executions").json()
        first = executions[0]  # top level, lowest priority
        assert first["providerId"] == "ror-idp-require-acr" and first["requirement"] == "REQUIRED", executions
        config = admin.call("GET", f"{realm}/authentication/config/{first['authenticationConfig']}").json()
        return config["config"]["ror.acr.required"]

    idps = {idp["alias"]: idp for idp in admin.call("GET", f"{realm}/identity-provider/instances").json()}
    assert set(idps) == {"psc", "psc-no-eidas"}
    for idp in idps.values():
        assert required_acr(idp["firstBrokerLoginFlowAlias"]) == "eidas1", idp
        assert required_acr(idp["postBrokerLoginFlowAlias"]) == "eidas1", idp
    assert idps["psc"]["config"]["authorizationUrl"].endswith("?acr_values=eidas1")
    assert not idps["psc"]["hideOnLogin"] and idps["psc-no-eidas"]["hideOnLogin"]
    _, page = Browser().go(authorize_url(realm, pkce()[1]))
    assert "/broker/psc/login" in page.text and "psc-no-eidas" not in page.text


def test_ecps_login_of_an_unknown_professional_creates_a_user(admin, professionals):
    """A professional with no account in ror-idf: one is created, with the RPPS and role professional."""
    realm = "ror-idf"
    pro = professionals()
    tokens, _ = ecps_login(realm, pro.national_id)
    claims = claims_of(tokens["access_token"], realm)
    assert claims["rpps"] == pro.rpps and claims["preferred_username"] == pro.national_id
    assert "professional" in claims["realm_access"]["roles"]
    created = admin.users_with_rpps(realm, pro.rpps)
    assert [u["username"] for u in created] == [pro.national_id]
    assert created[0]["emailVerified"] and created[0]["attributes"]["psc_acr"] == ["eidas1"]


# ---- realm settings other components rely on ---------------------------------------------------


def test_keycloak_mail_lands_in_the_smtp_sink(admin):
    user = temp_user(["professional"])
    user_id = admin.import_user("ror-pdl", user)
    try:
        admin.call("PUT", f"ror-pdl/users/{user_id}/execute-actions-email", json=["UPDATE_PASSWORD"])
        messages = wait_for_mail(user["email"])
        assert messages, f"no mail for {user['email']} in var/mail (is the SMTP sink on 127.0.0.1:1025 up?)"
        assert "noreply@ror.local" in str(messages[-1]["From"])
    finally:
        admin.delete_user("ror-pdl", user_id)


def test_accounts_service_account_is_least_privilege():
    """ror-accounts manages users of its own realm and maps realm roles, nothing more."""
    from keycloak import KeycloakAdmin, KeycloakOpenIDConnection
    from keycloak.exceptions import KeycloakError

    def admin_of(realm: str) -> KeycloakAdmin:
        return KeycloakAdmin(connection=KeycloakOpenIDConnection(
            server_url=KEYCLOAK_URL, realm_name=realm, client_id="ror-accounts",
            client_secret_key=setting("ROR_ACCOUNTS_CLIENT_SECRET"), timeout=TIMEOUT))

    idf = admin_of("ror-idf")
    name, rpps = f"test-{uuid.uuid4().hex[:10]}", f"18{secrets.randbelow(10**9):09d}"
    user_id = idf.create_user({"username": name, "email": f"{name}@test.ror.local", "enabled": True,
                               "firstName": "Test", "lastName": "Compte", "attributes": {"rpps": [rpps]}})
    try:
        professional = next(r for r in idf.get_available_realm_roles_of_user(user_id) if r["name"] == "professional")
        idf.assign_realm_roles(user_id, [professional])
        assert "professional" in {r["name"] for r in idf.get_realm_roles_of_user(user_id)}
        assert idf.get_user(user_id)["attributes"]["rpps"] == [rpps]
        with pytest.raises(KeycloakError) as denied:
            idf.get_realm_role("professional")  # needs view-realm, not granted
        assert denied.value.response_code == 403
        with pytest.raises(KeycloakError) as denied:
            idf.get_clients()
        assert denied.value.response_code == 403
    finally:
        idf.delete_user(user_id)
    # the service account of one region cannot read the other region's users
    token = idf.connection.token["access_token"]
    resp = requests.get(f"{KEYCLOAK_URL}/admin/realms/ror-pdl/users", timeout=TIMEOUT,
                        headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code in (401, 403)

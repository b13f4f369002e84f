"""Issue 15 end to end through the gateway, against the real Keycloak, RabbitMQ, PostgreSQL and the SMS
gateway stand-in: a kiné registers on the regional portal (captcha, SMS code, CGU), validates her e-mail,
logs in; with a CPS card; without a verifiable RPPS (limited account + support ticket); "Mon compte";
linking a ROR account a region admin prepared. Every Keycloak user made here is deleted at the end."""

from __future__ import annotations

import json
import urllib.parse

import pytest
import requests

from services.accounts.directory import directory_for
from services.accounts.registration import solve_captcha
from services.accounts.self_service import DUPLICATE_RPPS
from tests.accounts_support import PASSWORD, fresh_national, fresh_rpps, login, outbox_event
from tests.helpers import demo_totp, password_token

pytestmark = pytest.mark.integration
REGION = "idf"


@pytest.fixture(scope="module")
def national(db_url, tmp_path_factory):
    return fresh_national(db_url, REGION, 6, tmp_path_factory.mktemp("rpps"))


@pytest.fixture
def phone(unique):
    """A fresh mobile number (each test has its own SMS rate-limit counters)."""
    return "07" + f"{abs(hash(unique)) % 10**8:08d}"


def captcha(api):
    resp = api.get(f"/api/{REGION}/registration/captcha")
    assert resp.status_code == 200, resp.text
    return solve_captcha(resp.json())


def sms_code(api, sms_gateway, phone):
    resp = api.post(f"/api/{REGION}/registration/sms-code", json={"mobile_phone": phone})
    assert resp.status_code == 201, resp.text
    return sms_gateway.last_code("+33" + phone[1:])


def form(api, sms_gateway, phone, username, **over):
    body = {
        "civility": "MME", "last_name": "Dupont", "first_name": "Claire", "email": f"{username}@example.org",
        "email_confirmation": f"{username}@example.org", "profession": "Masseur-kinésithérapeute",
        "mobile_phone": phone, "landline_phone": "01 30 00 00 00", "comment": "Cabinet à Versailles",
        "username": username, "password": PASSWORD, "password_confirmation": PASSWORD,
        "cgu_accepted": True, "cgu_version": "2026-01",
    }
    body.update(over)
    if "altcha" not in body:
        body["altcha"] = captcha(api)
    if "sms_code" not in body:
        body["sms_code"] = sms_code(api, sms_gateway, phone)
    return body


def verify(api, db_url, username):
    event = outbox_event(db_url, "accounts.registered", username=username)
    assert event["recipients"] == [{"email": event["email"]}]
    resp = requests.get(event["verification_url"], timeout=30)
    assert resp.status_code == 200 and "validée" in resp.text


def token_of(username, password=PASSWORD):
    return password_token(REGION, username, password)["access_token"]


# --------------------------------------------------------------------------- registration

def test_a_kine_registers_with_her_rpps_validates_her_email_and_logs_in(api, db_url, sms_gateway, national,
                                                                       made, phone, unique):
    rpps = national[0]
    username = f"kine-{unique}"
    made.append(username)
    body = form(api, sms_gateway, phone, username, last_name=f"test{rpps[-4:]}", first_name="claire",
                national_id=rpps)
    [sms] = sms_gateway.messages("+33" + phone[1:])
    assert body["sms_code"] in sms["text"] and "code d'inscription" in sms["text"]

    resp = api.post(f"/api/{REGION}/registration", json=body)
    assert resp.status_code == 201, resp.text
    answer = resp.json()
    assert answer["status"] == "professional" and answer["national_id_source"] == "checked"
    assert answer["ticket_id"] is None and "Je valide mon adresse mail" in answer["message"]

    assert login(REGION, username).status_code == 400  # e-mail not validated yet
    verify(api, db_url, username)
    token = token_of(username)
    me = api.get(f"/api/{REGION}/me", token=token).json()
    assert me["rpps"] == rpps and "professional" in me["roles"]
    assert me["cgu_required"] is False and me["cgu_version"] == "2026-01"

    # The same SMS code and the same captcha solution do not serve twice.
    again = api.post(f"/api/{REGION}/registration", json={**body, "username": f"again-{unique}"})
    assert again.status_code == 400 and "altcha" in again.json()["error"]["fields"]

    # Somebody else registering with the same RPPS gets the guide's message.
    other = f"dup-{unique}"
    dup = api.post(f"/api/{REGION}/registration", json=form(
        api, sms_gateway, phone, other, last_name=f"TEST{rpps[-4:]}", national_id=rpps))
    assert dup.status_code == 409 and dup.json()["error"]["message"] == DUPLICATE_RPPS
    assert directory_for(REGION).find_by_username(other) is None


def test_captcha_form_rules_and_sms_code_are_enforced(api, sms_gateway, made, phone, unique):
    username = f"rules-{unique}"
    made.append(username)
    body = form(api, sms_gateway, phone, username, altcha="bm90IGEgc29sdXRpb24=")
    resp = api.post(f"/api/{REGION}/registration", json=body)
    assert resp.status_code == 400 and resp.json()["error"]["fields"] == {"altcha": "invalid solution"}

    bad = api.post(f"/api/{REGION}/registration", json={
        **body, "email_confirmation": "other@example.org", "password_confirmation": "Other2026",
        "cgu_accepted": False, "mobile_phone": "0130000000"})
    assert bad.status_code == 400
    assert {"email_confirmation", "password_confirmation", "cgu_accepted", "mobile_phone"} <= set(
        bad.json()["error"]["fields"])

    # Wrong SMS codes: refused, then the code is burnt (5 tries) and the right one no longer works.
    right = body["sms_code"]
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(4):
        refused = api.post(f"/api/{REGION}/registration", json={**body, "altcha": captcha(api), "sms_code": wrong})
        assert refused.status_code == 400 and refused.json()["error"]["fields"]["sms_code"] == "wrong code"
    burnt = api.post(f"/api/{REGION}/registration", json={**body, "altcha": captcha(api), "sms_code": wrong})
    assert burnt.status_code == 429
    late = api.post(f"/api/{REGION}/registration", json={**body, "altcha": captcha(api), "sms_code": right})
    assert late.status_code == 400 and "sms_code" in late.json()["error"]["fields"]
    assert directory_for(REGION).find_by_username(username) is None

    # SMS codes per number are limited (3 per 15 minutes; one was sent by form()).
    for _ in range(2):
        assert api.post(f"/api/{REGION}/registration/sms-code", json={"mobile_phone": phone}).status_code == 201
    limited = api.post(f"/api/{REGION}/registration/sms-code", json={"mobile_phone": phone})
    assert limited.status_code == 429 and "retry_after" in limited.json()["error"]["fields"]
    assert api.post(f"/api/{REGION}/registration/sms-code", json={"mobile_phone": "0130000000"}).status_code == 400


def test_without_a_verifiable_rpps_the_account_is_limited_and_a_ticket_is_opened(api, db_url, sms_gateway,
                                                                                 national, made, phone, unique):
    username = f"limited-{unique}"
    made.append(username)
    # RPPS of the national data, but not her name.
    resp = api.post(f"/api/{REGION}/registration", json=form(
        api, sms_gateway, phone, username, last_name="Martin", national_id=national[1]))
    assert resp.status_code == 201, resp.text
    answer = resp.json()
    assert answer["status"] == "limited" and "nom" in answer["refusal_reason"]
    assert answer["ticket_id"] is not None
    ticket = api.get(f"/api/{REGION}/tickets/{answer['ticket_id']}", token=password_token(
        REGION, "support", totp=demo_totp())["access_token"])
    assert ticket.status_code == 200, ticket.text
    assert ticket.json()["category"] == "account_creation" and username in ticket.json()["subject"]

    verify(api, db_url, username)
    token = token_of(username)
    me = api.get(f"/api/{REGION}/me", token=token).json()
    assert "professional" not in me["roles"] and me["rpps"] is None
    # Can read, cannot own offers: no ROR account without a checked RPPS.
    assert api.post(f"/api/{REGION}/me/ror-account", token=token).status_code == 400


def test_with_a_cps_card_the_national_id_comes_from_the_card(api, db_url, sms_gateway, made, phone, unique,
                                                             tmp_path, monkeypatch):
    from services.accounts.pki import default_pki_dir, issue_cps_cert

    monkeypatch.setenv("ROR_TLS_PROXY_ADDRESSES", "127.0.0.1")  # the test plays the TLS front
    rpps = fresh_rpps()
    card = issue_cps_cert(default_pki_dir(), rpps, tmp_path).cert.read_text()
    header = {"X-SSL-Client-Cert": urllib.parse.quote(card)}
    username = f"card-{unique}"
    made.append(username)

    typed = api.post(f"/api/{REGION}/registration", headers=header,
                     json=form(api, sms_gateway, phone, username, national_id=fresh_rpps()))
    assert typed.status_code == 400 and "national_id" in typed.json()["error"]["fields"]

    resp = api.post(f"/api/{REGION}/registration", headers=header, json=form(api, sms_gateway, phone, username))
    assert resp.status_code == 201, resp.text
    assert resp.json()["status"] == "professional" and resp.json()["national_id_source"] == "card"
    verify(api, db_url, username)
    assert api.get(f"/api/{REGION}/me", token=token_of(username)).json()["rpps"] == rpps


# --------------------------------------------------------------------------- CGU, "Mon compte", linking

@pytest.fixture
def registered(api, db_url, sms_gateway, national, made, unique):
    """A registered, verified professional: (username, rpps)."""
    def make(rpps):
        username = f"me-{unique}-{rpps[-4:]}"
        made.append(username)
        phone = "06" + rpps[-8:]
        resp = api.post(f"/api/{REGION}/registration", json=form(
            api, sms_gateway, phone, username, last_name=f"TEST{rpps[-4:]}", national_id=rpps))
        assert resp.status_code == 201, resp.text
        verify(api, db_url, username)
        return username
    return make


def test_a_new_cgu_version_asks_again(api, registered, national, monkeypatch):
    username = registered(national[2])
    token = token_of(username)
    assert api.get(f"/api/{REGION}/me", token=token).json()["cgu_required"] is False
    monkeypatch.setenv("ROR_CGU_VERSION", "2026-09")  # a new version is a deployment: no cached /me survives it
    me = api.get(f"/api/{REGION}/me", token=token, headers={"Cache-Control": "no-cache"}).json()
    assert me["cgu_required"] is True and me["cgu_version"] == "2026-09"
    old = api.post(f"/api/{REGION}/me/cgu", token=token, json={"version": "2026-01"})
    assert old.status_code == 400 and "version" in old.json()["error"]["fields"]
    ok = api.post(f"/api/{REGION}/me/cgu", token=token, json={"version": "2026-09"})
    assert ok.status_code == 200 and ok.json()["cgu_required"] is False and ok.json()["cgu_accepted_at"]
    assert api.get(f"/api/{REGION}/me", token=token).json()["cgu_required"] is False


def test_mon_compte(api, db_url, registered, national, unique):
    username = registered(national[3])
    token = token_of(username)
    resp = api.get(f"/api/{REGION}/me/account", token=token)
    assert resp.status_code == 200, resp.text
    account, etag = resp.json(), resp.headers["ETag"]
    assert account["national"]["rpps"] == national[3] and account["mobile_phone"] == "06" + national[3][-8:]
    assert account["landline_phone"] == "0130000000" and account["otp_devices"] == []
    assert account["sessions"], "the login above opened a session"

    url = f"/api/{REGION}/me/account"
    assert api.patch(url, token=token, json={"mobile_phone": "0711223344"}).status_code == 428
    locked = api.patch(url, token=token, headers={"If-Match": etag}, json={"last_name": "Autre"})
    assert locked.status_code == 400 and "last_name" in locked.json()["error"]["fields"]
    changed = api.patch(url, token=token, headers={"If-Match": etag}, json={"mobile_phone": "07 11 22 33 44"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["mobile_phone"] == "0711223344"
    stale = api.patch(url, token=token, headers={"If-Match": etag}, json={"landline_phone": None})
    assert stale.status_code == 412
    etag = changed.headers["ETag"]

    # E-mail change: pending until the link sent to the new address is opened.
    new_email = f"new-{unique}@example.org"
    resp = api.patch(url, token=token, headers={"If-Match": etag}, json={"email": new_email})
    assert resp.status_code == 200 and resp.json()["pending_email"] == new_email
    assert resp.json()["email"] != new_email
    event = outbox_event(db_url, "accounts.email_change_requested", email=new_email)
    assert requests.get(event["verification_url"], timeout=30).status_code == 200
    assert directory_for(REGION).find_by_username(username)["email"] == new_email
    etag = api.get(url, token=token).headers["ETag"]

    # Password change needs the current password.
    wrong = api.patch(url, token=token, headers={"If-Match": etag}, json={
        "current_password": "Wrong2026", "password": "Nouveau2027", "password_confirmation": "Nouveau2027"})
    assert wrong.status_code == 400 and "current_password" in wrong.json()["error"]["fields"]
    ok = api.patch(url, token=token, headers={"If-Match": etag}, json={
        "current_password": PASSWORD, "password": "Nouveau2027", "password_confirmation": "Nouveau2027"})
    assert ok.status_code == 200 and ok.json()["changes"]["password_changed"] is True
    assert login(REGION, username).status_code == 401 or login(REGION, username).status_code == 400
    token = token_of(username, "Nouveau2027")

    # OTP devices: adding one is Keycloak's enrolment at next login; unknown device -> 404.
    assert api.post(f"{url}/otp-devices", token=token).status_code == 400  # {"type": "totp"} expected
    assert api.post(f"{url}/otp-devices", token=token, json={"type": "totp"}).status_code == 202
    assert "CONFIGURE_TOTP" in directory_for(REGION).find_by_username(username)["requiredActions"]
    assert api.delete(f"{url}/otp-devices/nope", token=token).status_code == 404

    # Log out everywhere closes every session.
    assert api.post(f"{url}/logout-everywhere", token=token).status_code == 400  # confirmation required
    assert api.post(f"{url}/logout-everywhere", token=token, json={"confirm": True}).status_code == 200
    user = directory_for(REGION).find_by_username(username)
    assert directory_for(REGION).sessions(user["id"]) == []


def test_a_privileged_role_cannot_remove_its_last_otp_device(api, made, unique):
    """A regional validator with one TOTP device (fresh user, not a demo one)."""
    import pyotp

    directory = directory_for(REGION)
    secret = pyotp.random_base32()
    username = f"valid-{unique}"
    made.append(username)
    user_id = directory.admin.create_user({
        "username": username, "enabled": True, "emailVerified": True, "email": f"{username}@example.org",
        "firstName": "Val", "lastName": "Idateur",
        "credentials": [{"type": "password", "value": PASSWORD, "temporary": False},
                        {"type": "otp", "userLabel": "Téléphone",
                         "secretData": json.dumps({"value": secret}),
                         "credentialData": json.dumps({"subType": "totp", "digits": 6, "counter": 0,
                                                       "period": 30, "algorithm": "HmacSHA1",
                                                       "secretEncoding": "BASE32"})}]})
    directory.add_realm_role(user_id, "regional_validator")
    token = password_token(REGION, username, PASSWORD, totp=pyotp.TOTP(secret).now())["access_token"]
    account = api.get(f"/api/{REGION}/me/account", token=token).json()
    assert account["otp_required"] is True and len(account["otp_devices"]) == 1
    device = account["otp_devices"][0]["id"]
    refused = api.delete(f"/api/{REGION}/me/account/otp-devices/{device}", token=token)
    assert refused.status_code == 409 and "device_id" in refused.json()["error"]["fields"]
    assert len(directory.otp_devices(user_id)) == 1


def test_linking_a_ror_account_prepared_by_the_region_admin(api, db_url, tokens, registered, national, unique):
    username = registered(national[4])
    token = token_of(username)
    prepared = f"cabinet-{unique}"
    resp = api.post(f"/api/{REGION}/ror-accounts", token=tokens(REGION, "admin"),
                    json={"username": prepared, "email": f"{prepared}@example.org"})
    assert resp.status_code == 201, resp.text
    assert api.post(f"/api/{REGION}/ror-accounts", token=token,
                    json={"username": "x" + prepared, "email": "x@example.org"}).status_code == 403

    unknown = api.post(f"/api/{REGION}/me/ror-account/link", token=token, json={"username": "nobody-" + unique})
    assert unknown.status_code == 404
    sent = api.post(f"/api/{REGION}/me/ror-account/link", token=token, json={"username": prepared})
    assert sent.status_code == 202 and sent.json()["email"].startswith("c***@")
    event = outbox_event(db_url, "accounts.link_code_sent", username=prepared)
    assert event["recipients"] == [{"email": f"{prepared}@example.org"}]

    code = event["code"]
    wrong = api.post(f"/api/{REGION}/me/ror-account/link/confirm", token=token,
                     json={"username": prepared, "code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 400
    linked = api.post(f"/api/{REGION}/me/ror-account/link/confirm", token=token,
                      json={"username": prepared, "code": code})
    assert linked.status_code == 201, linked.text
    assert linked.json()["rpps"] == national[4] and linked.json()["offer_ids"]
    me = api.get(f"/api/{REGION}/me", token=token).json()
    assert me["ror_account"]["rpps"] == national[4]
    again = api.post(f"/api/{REGION}/me/ror-account", token=token)
    assert again.status_code == 409 and again.json()["error"]["message"] == DUPLICATE_RPPS

"""The pages of issue 15 over HTTP (no browser): a kiné registers on the portal's form (the ALTCHA widget
served locally, the SMS code, the conditions of use), validates her e-mail, logs in and uses « Mon compte »;
at her first connection she links the ROR account the region admin prepared; she adds a trainee to the
« Personnes ressources » of her offer. Errors come back next to their fields and change nothing."""

from __future__ import annotations

import pytest
import requests

from services.accounts.directory import directory_for
from services.accounts.registration import solve_captcha
from services.common.config import setting
from tests.accounts_support import PASSWORD, fresh_national, fresh_rpps, outbox_event
from tests.e2e.conftest import login_redirects  # noqa: F401  (the test gateway's origin in the realms' client)
from tests.helpers import sql
from tests.offers_support import complete_draft, make_offer, subject_of
from tests.web_support import BASE, WebClient

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("login_redirects")]
REGION = "idf"


@pytest.fixture(scope="module")
def national(db_url, tmp_path_factory):
    return fresh_national(db_url, REGION, 3, tmp_path_factory.mktemp("rpps-web"))


def _form(rpps: str, username: str, phone: str) -> dict:
    return {"civility": "MME", "last_name": f"test{rpps[-4:]}", "first_name": "Claire",
            "email": f"{username}@example.org", "email_confirmation": f"{username}@example.org",
            "profession": "Masseur-kinésithérapeute", "specialty": "", "national_id": rpps,
            "mobile_phone": phone, "landline_phone": "", "comment": "Cabinet à Meulan", "username": username,
            "password": PASSWORD, "password_confirmation": PASSWORD, "cgu_accepted": "yes",
            "cgu_version": "2026-01", "action": "register"}


def register(web: WebClient, api, sms_gateway, db_url, rpps: str | None, username: str, phone: str) -> str:
    """The whole form as a visitor fills it; then the link of « Validation de votre inscription »."""
    web.go(f"/{REGION}/inscription")
    fragment = web.post(f"/{REGION}/inscription/sms", {"mobile_phone": phone})
    assert fragment.status_code == 200 and "code" in fragment.text, fragment.text
    body = _form(rpps or "0000", username, phone)
    if rpps is None:
        body["national_id"] = ""
    body["sms_code"] = sms_gateway.last_code("+33" + phone[1:])
    body["altcha"] = solve_captcha(api.get(f"/api/{REGION}/registration/captcha").json())
    resp = web.post(f"/{REGION}/inscription", body)
    assert resp.status_code == 200 and "Inscription enregistrée" in resp.text, web.main()[:500]
    registered = web.main()
    event = outbox_event(db_url, "accounts.registered", username=username)
    landing = requests.get(event["verification_url"], timeout=30)
    assert landing.status_code == 200 and "validée" in landing.text
    return registered


def test_the_registration_form_shows_each_mistake_next_to_its_field_then_registers(api, db_url, sms_gateway,
                                                                                  national, made, unique):
    web = WebClient()
    page = web.go(f"/{REGION}/inscription")
    assert page.status_code == 200
    # the guide's fields, and the captcha widget with its scripts served by the gateway (no CDN)
    for name in ("civility", "last_name", "first_name", "email", "email_confirmation", "profession", "specialty",
                 "national_id", "mobile_phone", "landline_phone", "comment", "username", "password",
                 "password_confirmation", "sms_code", "cgu_accepted"):
        assert f'name="{name}"' in page.text, name
    assert f'<altcha-widget challenge="/api/{REGION}/registration/captcha"' in page.text
    for asset in ("/static/vendor/altcha/altcha.min.js", "/static/vendor/altcha/sha.js",
                  "/static/vendor/altcha/fr-fr.js", "/static/vendor/altcha/altcha.css", "/static/altcha-setup.js"):
        assert requests.get(BASE + asset, timeout=30).status_code == 200, asset
    assert "cdn" not in page.text.lower()

    # a first try: e-mails and passwords that differ, no code, no captcha, conditions not accepted
    username = f"web-{unique}"
    made.append(username)
    phone = "07" + unique[:8].translate(str.maketrans("abcdef", "123456"))
    wrong = {**_form(national[0], username, phone), "email_confirmation": "autre@example.org",
             "password_confirmation": PASSWORD + "x", "cgu_accepted": "", "sms_code": "", "altcha": ""}
    resp = web.post(f"/{REGION}/inscription", wrong)
    assert resp.status_code == 400
    for name in ("email_confirmation", "password_confirmation", "cgu_accepted", "sms_code", "altcha"):
        assert web.field_error(name), name
    assert PASSWORD not in resp.text  # passwords are never sent back
    assert web.value("username") == username and web.value("mobile_phone") == phone  # the rest is kept
    assert directory_for(REGION).find_by_username(username) is None

    # « Recevoir le code par SMS » without JavaScript: the whole form again, with the status line
    resp = web.post(f"/{REGION}/inscription", {**_form(national[0], username, phone), "action": "sms"})
    assert resp.status_code == 200 and "SMS" in web.notices()
    bad_phone = web.post(f"/{REGION}/inscription/sms", {"mobile_phone": "0130000000"})
    assert "mobile" in bad_phone.text

    register(web, api, sms_gateway, db_url, national[0], username, phone)
    assert "Je valide mon adresse mail" in web.main()


def test_mon_compte_changes_phones_refuses_a_wrong_password_and_a_stale_form(api, db_url, sms_gateway, national,
                                                                           made, unique):
    web = WebClient()
    username = f"mc-{unique}"
    made.append(username)
    phone = "06" + unique[:8].translate(str.maketrans("abcdef", "123456"))
    register(web, api, sms_gateway, db_url, national[1], username, phone)
    web.login(REGION, username, PASSWORD, next_path=f"/{REGION}/mon-compte")
    assert "Mon compte" in web.main() and national[1] in web.main()  # national data, read-only
    assert 'name="rpps"' not in web.page.text
    old_etag = web.value("etag", f"/{REGION}/mon-compte/coordonnees")

    resp = web.post(f"/{REGION}/mon-compte/coordonnees", {"etag": old_etag, "email": f"{username}@example.org",
                                                         "mobile_phone": phone, "landline_phone": "01.30.00"})
    assert resp.status_code == 400 and "Numéro de téléphone invalide" in web.field_error("landline_phone")
    resp = web.post(f"/{REGION}/mon-compte/coordonnees", {"etag": old_etag, "email": f"{username}@example.org",
                                                         "mobile_phone": phone, "landline_phone": "01 30 00 00 01"})
    assert resp.status_code == 200 and "téléphone sont enregistrés" in web.notices()
    assert web.value("landline_phone") == "0130000001"
    # the form read before that change is stale: a clear message, nothing changed
    resp = web.post(f"/{REGION}/mon-compte/coordonnees", {"etag": old_etag, "email": f"{username}@example.org",
                                                         "mobile_phone": phone, "landline_phone": "0130000002"})
    assert "modifié entre-temps" in web.notices() and web.value("landline_phone") == "0130000001"

    etag = web.value("etag", f"/{REGION}/mon-compte/mot-de-passe")
    resp = web.post(f"/{REGION}/mon-compte/mot-de-passe", {"etag": etag, "current_password": "Faux2026x",
                                                          "password": "Nouveau2026", "password_confirmation":
                                                          "Nouveau2026"})
    assert resp.status_code == 400 and web.field_error("current_password")
    web.post(f"/{REGION}/mon-compte/codes/ajouter", {})
    assert "QR code" in web.notices()  # Keycloak enrols the TOTP application at the next login
    user = directory_for(REGION).find_by_username(username)
    assert "CONFIGURE_TOTP" in directory_for(REGION).get_user(user["id"]).get("requiredActions", [])
    confirm = web.post(f"/{REGION}/mon-compte/deconnexion-partout", {})
    assert confirm.status_code == 400 and web.field_error("confirm")
    assert "sessions" in web.main().lower()
    web.post(f"/{REGION}/mon-compte/deconnexion-partout", {"confirm": "yes"})
    assert "Toutes vos sessions ont été fermées" in web.notices()
    assert directory_for(REGION).sessions(directory_for(REGION).find_by_username(username)["id"]) == []
    web.go(f"/{REGION}/mon-compte")
    assert "/realms/ror-idf/" in web.url  # this browser too must log in again


def test_first_connection_links_the_prepared_ror_account_with_the_emailed_code(api, db_url, tokens, sms_gateway,
                                                                              national, made, unique):
    web = WebClient()
    username = f"lk-{unique}"
    made.append(username)
    phone = "06" + unique[2:10].translate(str.maketrans("abcdef", "123456"))
    register(web, api, sms_gateway, db_url, national[2], username, phone)
    prepared = f"cabinet-{unique}"
    resp = api.post(f"/api/{REGION}/ror-accounts", token=tokens(REGION, "admin"),
                    json={"username": prepared, "email": f"{prepared}@example.org"})
    assert resp.status_code == 201, resp.text

    web.login(REGION, username, PASSWORD)
    assert web.url.endswith(f"/{REGION}/premiere-connexion")
    assert "Créer un nouveau compte ROR" in web.main() and "Se connecter avec un compte ROR existant" in web.main()
    unknown = web.post(f"/{REGION}/premiere-connexion/lier", {"ror_username": "personne-" + unique})
    assert unknown.status_code == 404 and web.field_error("ror_username")
    sent = web.post(f"/{REGION}/premiere-connexion/lier", {"ror_username": prepared})
    assert sent.status_code == 200 and "c***@example.org" in web.notices()
    code = outbox_event(db_url, "accounts.link_code_sent", username=prepared)["code"]
    wrong = web.post(f"/{REGION}/premiere-connexion/lier/confirmer",
                     {"ror_username": prepared, "link_code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 400 and web.field_error("link_code")
    web.post(f"/{REGION}/premiere-connexion/lier/confirmer", {"ror_username": prepared, "link_code": code})
    assert f"rattachée au compte ROR « {prepared} »" in web.notices()
    assert sql(db_url, "SELECT linked_subject IS NOT NULL FROM accounts.provisioned_accounts WHERE username = :u",
               u=prepared).scalar() is True


def test_resource_persons_of_an_offer_are_added_with_their_errors_inline_and_removed(api, tokens, db_url, unique):
    owner = tokens(REGION, "sf.demo")
    offer_id = make_offer(db_url, owner_subject=subject_of(owner), draft=complete_draft(),
                          last_name=f"RP{unique[:4].upper()}")
    etag = api.get(f"/api/{REGION}/offers/{offer_id}", token=owner).headers["ETag"]
    published = api.post(f"/api/{REGION}/offers/{offer_id}/publish", token=owner, headers={"If-Match": etag})
    assert published.status_code == 200, published.text
    web = WebClient()
    web.login(REGION, "sf.demo", setting("ROR_DEMO_PASSWORD"),
              next_path=f"/{REGION}/mon-offre/{offer_id}/personnes-ressources")
    assert "Aucune personne ressource" in web.main()
    path = f"/{REGION}/mon-offre/{offer_id}/personnes-ressources"
    bad = web.post(path, {"kind": "trainee", "last_name": "Martin", "first_name": "Léa", "starts_on": "2026-12-01",
                          "ends_on": "2026-11-01", "rpps": "123", "phone": "01.02", "contact_visibility": "public"})
    assert bad.status_code == 400
    for name in ("rpps", "phone"):
        assert web.field_error(name), name
    assert web.value("last_name") == "Martin"
    backwards = web.post(path, {"kind": "trainee", "last_name": "Martin", "first_name": "Léa",
                                "starts_on": "2026-12-01", "ends_on": "2026-11-01", "contact_visibility": "public"})
    assert backwards.status_code == 400 and "précède" in web.field_error("ends_on")
    web.post(path, {"kind": "trainee", "last_name": "Martin", "first_name": "Léa", "role": "Stagiaire 3e année",
                    "starts_on": "2026-12-01", "ends_on": "2027-02-28", "phone": "0102030405",
                    "contact_visibility": "professional"})
    assert "Léa Martin est ajouté(e)" in web.notices() and "Stagiaire" in web.main()
    public = api.get(f"/api/{REGION}/offers/{offer_id}/resource-persons").json()
    public = public["resource_persons"]
    assert [p["last_name"] for p in public] == ["Martin"] and public[0]["phone"] is None  # professionals only
    sheet = requests.get(f"{BASE}/{REGION}/offres/{offer_id}", timeout=30).text  # the public sheet
    assert "Léa Martin — Stagiaire" in sheet and "0102030405" not in sheet
    web.go(f"/{REGION}/offres/{offer_id}")  # a professional sees the contact meant for professionals
    assert "Léa Martin — Stagiaire" in web.main() and "0102030405" in web.main()
    person_id = public[0]["id"]
    web.post(f"{path}/{person_id}/retirer", {})
    assert "retiré(e)" in web.notices() and "Aucune personne ressource" in web.main()
    other = WebClient()  # someone else's offer is not found
    other.login(REGION, "kine.demo", setting("ROR_DEMO_PASSWORD"), next_path=path)
    assert other.page.status_code == 404


def test_hostile_input_on_the_registration_form_gives_a_french_page_never_a_500(api):
    web = WebClient()
    web.go(f"/{REGION}/inscription")
    hostile = [
        {"last_name": "Dupont\x00", "username": "a" * 5000, "comment": "x" * 20000, "mobile_phone": "9" * 400},
        {"email": "é" * 300 + "@example.org", "national_id": "1" * 10000, "sms_code": "\x00", "altcha": "%%%"},
    ]
    for fields in hostile:
        resp = web.post(f"/{REGION}/inscription", {**_form(fresh_rpps(), "x", "0612345678"), **fields})
        assert resp.status_code == 400 and '<html lang="fr">' in resp.text, resp.text[:300]
    # undecodable bytes (a lone surrogate in UTF-8) in the form body
    raw = f"csrf={web.csrf()}&last_name=%ED%A0%80&action=register".encode()
    resp = web.http.post(f"{BASE}/{REGION}/inscription", data=raw, timeout=30,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code < 500, resp.text[:300]
    sms = web.post(f"/{REGION}/inscription/sms", {"mobile_phone": "\x00" * 50})
    assert sms.status_code == 200 and "field-error" in sms.text


def test_a_limited_account_links_first_then_a_new_cgu_version_and_a_new_email_are_asked(
        api, db_url, sms_gateway, made, unique, monkeypatch):
    web = WebClient()
    username = f"lim-{unique}"
    made.append(username)
    phone = "06" + unique[1:9].translate(str.maketrans("abcdef", "123456"))
    shown = register(web, api, sms_gateway, db_url, None, username, phone)  # no national identifier
    assert "Limité" in shown and "Demande de vérification n°" in shown  # a ticket for the regional team
    web.login(REGION, username, PASSWORD)
    assert web.url.endswith(f"/{REGION}/premiere-connexion")  # may link a ROR account prepared for her
    assert "Créer un nouveau compte ROR" not in web.main()  # no checked RPPS, no ROR account of her own

    # the e-mail changes only once the link sent to the new address is opened
    web.go(f"/{REGION}/mon-compte")
    new = f"nouvelle-{unique}@example.org"
    web.post(f"/{REGION}/mon-compte/coordonnees", {"etag": web.value("etag", f"/{REGION}/mon-compte/coordonnees"),
                                                  "email": new, "mobile_phone": phone, "landline_phone": ""})
    assert f"Un e-mail de validation a été envoyé à {new}" in web.notices()
    assert f"En attente de validation : {new}" in web.main() and web.value("email") == f"{username}@example.org"
    link = outbox_event(db_url, "accounts.email_change_requested", email=new)["verification_url"]
    assert "validée" in requests.get(link, timeout=30).text
    web.go(f"/{REGION}/mon-compte")
    assert web.value("email") == new

    # a new version of the conditions of use: said at login, accepted on their page
    monkeypatch.setenv("ROR_CGU_VERSION", "2026-09")
    again = WebClient()
    again.login(REGION, username, PASSWORD, next_path=f"/{REGION}/mon-compte")
    assert "conditions d'utilisation du Portail ont changé" in again.notices()
    assert "La version 2026-09 des conditions d'utilisation n'est pas encore acceptée" in again.main()
    again.go(f"/{REGION}/conditions-utilisation?next=/{REGION}/mon-compte")
    refused = again.post(f"/{REGION}/conditions-utilisation", {"next": f"/{REGION}/mon-compte"})
    assert refused.status_code == 400 and again.field_error("accept")
    again.post(f"/{REGION}/conditions-utilisation", {"accept": "yes", "next": f"/{REGION}/mon-compte"})
    assert again.url.endswith(f"/{REGION}/mon-compte") and "Merci" in again.notices()
    assert "Version 2026-09 acceptée" in again.main()


def test_with_a_cps_card_the_form_does_not_ask_the_national_identifier(api, db_url, sms_gateway, made, unique,
                                                                       tmp_path, monkeypatch):
    from urllib.parse import quote

    from services.accounts.pki import default_pki_dir, issue_cps_cert

    rpps = fresh_rpps()
    card = {"X-SSL-Client-Cert": quote(issue_cps_cert(default_pki_dir(), rpps, tmp_path).cert.read_text())}
    web = WebClient()
    web.go(f"/{REGION}/inscription", headers=card)
    assert 'name="national_id"' in web.page.text  # the header alone proves nothing: not from the TLS front
    monkeypatch.setenv("ROR_TLS_PROXY_ADDRESSES", "127.0.0.1")  # the test plays the TLS front
    web.go(f"/{REGION}/inscription", headers=card)
    assert 'name="national_id"' not in web.page.text and "celui de votre carte CPS" in web.main()
    username = f"carte-{unique}"
    made.append(username)
    phone = "06" + unique[2:10].translate(str.maketrans("abcdef", "654321"))
    web.post(f"/{REGION}/inscription/sms", {"mobile_phone": phone}, headers=card)
    body = {**_form(rpps, username, phone), "national_id": "", "sms_code": sms_gateway.last_code("+33" + phone[1:]),
            "altcha": solve_captcha(api.get(f"/api/{REGION}/registration/captcha").json())}
    resp = web.post(f"/{REGION}/inscription", body, headers=card)
    assert resp.status_code == 200 and "Professionnel de santé" in web.main(), web.main()[:400]
    assert sql(db_url, "SELECT national_id_source FROM accounts.registrations WHERE username = :u",
               u=username).scalar() == "card"

"""Accounts end to end through the gateway, against the real Keycloak, RabbitMQ, PostgreSQL and SMTP server.

Fresh professionals (random Luhn-valid RPPS, prefix 19) are put into the national data with the offers
importer (`ror import rpps`), exactly as a real RPPS extract would be; the Keycloak users the tests
create are deleted at the end of the module.
"""

from __future__ import annotations

import time

import pytest
import requests

from services.accounts.directory import directory_for
from services.accounts.operations.ror_account import ROR_ACCOUNT_EXISTS
from tests.accounts_support import (
    PASSWORD,
    activate,
    created,
    fresh_rpps,
    import_national,
    issue,
    login,
    mails_for,
    verification_link,
)
from tests.helpers import demo_rpps, password_token, wait_for_mail

pytestmark = pytest.mark.integration

@pytest.fixture(scope="module")
def national(db_url, tmp_path_factory):
    """Fresh professionals in the national data: {"idf": [rpps, ...], "pdl": [rpps]}."""
    people = {"idf": [fresh_rpps() for _ in range(10)], "pdl": [fresh_rpps()]}
    for region, numbers in people.items():
        import_national(db_url, region, numbers, tmp_path_factory.mktemp("rpps"))
    yield people
    for region, numbers in people.items():  # clean up the Keycloak users the tests made
        directory = directory_for(region)
        for rpps in numbers:
            for user in [directory.find_by_username(rpps), *directory.find_by_rpps(rpps)]:
                if user:
                    directory.delete_user(user["id"], quiet=True)


@pytest.fixture(scope="module")
def pool(national):
    """Hands each test its own professional(s) of the fresh national data."""
    available = {region: list(numbers) for region, numbers in national.items()}
    return lambda region="idf": available[region].pop()


@pytest.fixture(scope="module")
def unit_of(api, tokens, suite_config):
    """rpps -> id of the unit (structure) of the offer the RPPS import generated for that professional."""
    from nameko.standalone.rpc import ClusterRpcProxy

    def find(rpps, region="idf"):
        with ClusterRpcProxy(suite_config, timeout=30) as cluster:
            [person] = cluster.offers.national_professionals(region, rpps=rpps)
        offer = api.get(f"/api/{region}/offers/{person['offer_ids'][0]}", token=tokens(region, "validateur"))
        assert offer.status_code == 200, offer.text
        return offer.json()["unit_id"]

    return find


# --------------------------------------------------------------------------- the whole path

def test_activation_to_first_connection(api, tokens, pool, unique):
    """Code issued by the region admin → activation → login refused until the e-mail link is followed →
    login → ROR account created once (the guide's message the second time)."""
    rpps, email = pool(), f"pro-{unique}@example.org"
    code = issue(api, tokens, rpps)

    resp = activate(api, rpps, code.lower().replace("-", " "), email, phone="0612345678")  # as typed by hand
    assert resp.status_code == 201, resp.text
    assert resp.json()["username"] == rpps and resp.json()["email_verified"] is False

    refused = login("idf", rpps)
    assert refused.status_code == 400
    assert refused.json() == {"error": "invalid_grant", "error_description": "Account is not fully set up"}

    link = verification_link(email)
    assert link.startswith(f"{api.base}/api/idf/accounts/verify-email?token=")
    page = requests.get(link, timeout=30)
    assert page.status_code == 200 and "validée avec succès" in page.text
    assert "text/html" in page.headers["Content-Type"]
    again = requests.get(link, timeout=30)  # single use
    assert again.status_code == 400 and "invalide ou expiré" in again.text

    token = password_token("idf", rpps, PASSWORD)["access_token"]  # professionals have no OTP
    me = api.get("/api/idf/me", token=token).json()
    assert me["rpps"] == rpps and "professional" in me["roles"] and me["email"] == email
    assert me["first_name"] == "Claire" and me["ror_account"] is None and me["habilitations"] == []

    created = api.post("/api/idf/me/ror-account", token=token)
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["rpps"] == rpps and account["offer_ids"], account  # the draft offer from the RPPS data
    dup = api.post("/api/idf/me/ror-account", token=token)
    assert dup.status_code == 409
    assert dup.json()["error"]["message"] == ROR_ACCOUNT_EXISTS
    me = api.get("/api/idf/me", token=token).json()
    assert me["ror_account"]["offer_ids"] == account["offer_ids"] and me["ror_account"]["created_at"]

    # the same person cannot activate twice, even with the code (now used) in hand
    used = activate(api, rpps, code, f"again-{unique}@example.org")
    assert used.status_code == 400


def test_verify_email_by_post_and_bad_tokens(api, tokens, pool, unique):
    rpps, email = pool(), f"post-{unique}@example.org"
    created(activate(api, rpps, issue(api, tokens, rpps), email))
    token = verification_link(email).split("token=")[1]
    for bad in ("nope", token[:-2]):
        resp = api.post("/api/idf/accounts/verify-email", json={"token": bad})
        assert resp.status_code == 400 and resp.json()["error"]["fields"] == {"token": resp.json()["error"]["message"]}
    assert api.post("/api/pdl/accounts/verify-email", json={"token": token}).status_code == 400  # other region
    ok = api.post("/api/idf/accounts/verify-email", json={"token": token})
    assert ok.status_code == 200 and ok.json()["email_verified"] is True
    assert login("idf", rpps).status_code == 200
    assert api.post("/api/idf/accounts/verify-email", json={"token": token}).status_code == 400


# --------------------------------------------------------------------------- refusals

def test_five_wrong_codes_then_429(api, tokens, pool, unique):
    rpps = pool()
    code = issue(api, tokens, rpps)
    messages = set()
    for _ in range(5):
        resp = activate(api, rpps, "AAAAA-BBBBB", f"w-{unique}@example.org")
        assert resp.status_code == 400
        messages.add(resp.json()["error"]["message"])
    assert messages == {"Numéro RPPS ou code d'activation invalide (un code ne sert qu'une seule fois)."}
    blocked = activate(api, rpps, code, f"w-{unique}@example.org")  # even the right code, for an hour
    assert blocked.status_code == 429 and blocked.json()["error"]["code"] == "too_many_requests"
    assert blocked.json()["error"]["fields"]["retry_after"] > 3000  # seconds


def test_unknown_rpps_answers_like_a_wrong_code(api, tokens, pool):
    rpps = pool()
    issue(api, tokens, rpps)
    wrong = activate(api, rpps, "AAAAA-BBBBB", "x@example.org").json()
    unknown = activate(api, fresh_rpps(), "AAAAA-BBBBB", "x@example.org").json()
    assert wrong == unknown


def test_rpps_already_having_an_account_is_409(api, tokens, pool, unique):
    """E.g. an account made at a first e-CPS login: the valid code then learns that an account exists."""
    rpps = pool()
    code = issue(api, tokens, rpps)
    directory = directory_for("idf")
    directory.admin.create_user({"username": f"psc-{unique}", "enabled": True, "firstName": "Claire",
                                 "lastName": "Test", "email": f"psc-{unique}@example.org",
                                 "attributes": {"rpps": [rpps]}})
    resp = activate(api, rpps, code, f"c-{unique}@example.org")
    assert resp.status_code == 409 and resp.json()["error"]["fields"] == {"rpps": "already activated"}
    assert activate(api, rpps, "AAAAA-BBBBB", f"c-{unique}@example.org").status_code == 400


def test_issuing_skips_activated_professionals(api, tokens):
    resp = api.post("/api/idf/accounts/activation-codes", token=tokens("idf", "admin"),
                    json={"rpps": demo_rpps("idf", "kine.demo")})  # who has an account
    assert resp.status_code == 201 and resp.json()["codes"] == []


@pytest.mark.parametrize("field, value, words", [
    ("password", "secret2026", "majuscule"), ("password", "Sec1", "8 caractères"),
    ("rpps", "10101234565", "contrôle"), ("rpps", "1234", "11 chiffres"),
    ("email", "not-an-email", "e-mail"), ("phone", "06.12.34.56.78", "10 chiffres"),
])
def test_invalid_input_is_400_naming_the_field(api, field, value, words):
    body = {"rpps": demo_rpps("idf", "kine.demo"), "activation_code": "AAAAA-BBBBB", "password": PASSWORD,
            "email": "x@example.org", field: value}
    resp = api.post("/api/idf/accounts/activate", json=body)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "invalid_input" and list(error["fields"]) == [field]
    assert words in " ".join(error["fields"][field])


# --------------------------------------------------------------------------- password renewal

def test_password_reset_always_202_and_mails_when_the_account_exists(api, tokens, pool, unique):
    rpps, email = pool(), f"reset-{unique}@example.org"
    created(activate(api, rpps, issue(api, tokens, rpps), email))
    api.post("/api/idf/accounts/verify-email", json={"token": verification_link(email).split("token=")[1]})

    for who in (email, f"nobody-{unique}@example.org", f"nobody-{unique}"):
        resp = api.post("/api/idf/accounts/password-reset", json={"username_or_email": who})
        assert resp.status_code == 202 and resp.json() == {
            "message": "Si un compte correspond, un e-mail permettant de choisir un nouveau mot de passe "
                       "vient d'être envoyé."}
    mails = mails_for(email, at_least=2)
    assert len(mails) == 2, [m["Subject"] for m in mails]  # verification + Keycloak's reset link
    assert "login-actions/action-token" in str(mails[-1].get_body(("plain", "html")).get_content())
    assert wait_for_mail(f"nobody-{unique}@example.org", timeout=2) == []

    # the support desk triggers it for a requester
    resp = api.post(f"/api/idf/accounts/{rpps}/password-reset", token=tokens("idf", "support"))
    assert resp.status_code == 202, resp.text
    assert len(mails_for(email, at_least=3)) == 3
    assert api.post(f"/api/idf/accounts/nobody-{unique}/password-reset",
                    token=tokens("idf", "support")).status_code == 404
    assert api.post(f"/api/idf/accounts/{rpps}/password-reset",
                    token=tokens("idf", "validateur")).status_code == 403


# --------------------------------------------------------------------------- habilitations

def test_habilitation_grant_shows_in_the_next_token_and_revoke_removes_it(api, tokens, pool, unique, unit_of):
    rpps, email = pool(), f"hab-{unique}@example.org"
    unit = unit_of(rpps)
    created(activate(api, rpps, issue(api, tokens, rpps), email))
    api.post("/api/idf/accounts/verify-email", json={"token": verification_link(email).split("token=")[1]})
    admin = tokens("idf", "admin")

    # structure_editor: a role without OTP, so the test can log in with the password alone
    granted = api.post("/api/idf/habilitations", token=admin,
                       json={"username": rpps, "role": "structure_editor", "structure_id": unit})
    assert granted.status_code == 201, granted.text
    hab = granted.json()
    assert hab["role"] == "structure_editor" and hab["structure_id"] == unit and hab["granted_by"] == "admin"
    assert api.post("/api/idf/habilitations", token=admin,
                    json={"username": rpps, "role": "structure_editor", "structure_id": unit}).status_code == 409

    token = password_token("idf", rpps, PASSWORD)["access_token"]
    me = api.get("/api/idf/me", token=token).json()
    assert "structure_editor" in me["roles"]
    assert [(h["role"], h["structure_id"]) for h in me["habilitations"]] == [("structure_editor", unit)]
    listed = api.get(f"/api/idf/habilitations?username={rpps}", token=tokens("idf", "validateur"))
    assert listed.status_code == 200 and [h["id"] for h in listed.json()["habilitations"]] == [hab["id"]]
    # other region: invisible and untouchable
    assert api.get(f"/api/pdl/habilitations?username={rpps}",
                   token=tokens("pdl", "admin")).json()["habilitations"] == []
    assert api.delete(f"/api/pdl/habilitations/{hab['id']}", token=tokens("pdl", "admin")).status_code == 404

    revoked = api.delete(f"/api/idf/habilitations/{hab['id']}", token=admin)
    assert revoked.status_code == 200 and revoked.json()["id"] == hab["id"]
    token = password_token("idf", rpps, PASSWORD)["access_token"]
    me = api.get("/api/idf/me", token=token).json()
    assert "structure_editor" not in me["roles"] and me["habilitations"] == []
    assert api.delete(f"/api/idf/habilitations/{hab['id']}", token=admin).status_code == 404


def test_a_habilitation_works_on_the_next_request_and_a_revoked_one_stops_within_a_second(
        api, tokens, pool, unique, unit_of, suite_config):
    """The gateway caches habilitations (no RPC per request): a grant through it works at once, and a
    revocation made elsewhere (here straight on the accounts service, as another gateway instance would)
    reaches it by the accounts.role_revoked event within a second."""
    from nameko.standalone.rpc import ClusterRpcProxy

    editor, colleague, email = pool(), pool(), f"cache-{unique}@example.org"
    created(activate(api, editor, issue(api, tokens, editor), email))
    api.post("/api/idf/accounts/verify-email", json={"token": verification_link(email).split("token=")[1]})
    token = password_token("idf", editor, PASSWORD)["access_token"]
    with ClusterRpcProxy(suite_config, timeout=30) as cluster:
        [person] = cluster.offers.national_professionals("idf", rpps=colleague)
    offer, unit = person["offer_ids"][0], unit_of(colleague)

    # the colleague's draft is not hers: a professional sees no unpublished offer (and her empty
    # habilitations are now cached by the gateway)
    assert api.get(f"/api/idf/offers/{offer}", token=token).status_code == 404
    granted = api.post("/api/idf/habilitations", token=tokens("idf", "admin"),
                       json={"username": editor, "role": "structure_editor", "structure_id": unit})
    assert granted.status_code == 201, granted.text
    resp = api.get(f"/api/idf/offers/{offer}", token=token)  # same token: habilitations are not in it
    assert resp.status_code == 200 and resp.json()["audience"] == "owner", resp.text

    admin = {"subject": "test-admin", "username": "admin", "region": "idf", "roles": ["region_admin"]}
    with ClusterRpcProxy(suite_config, timeout=30) as cluster:
        cluster.accounts.revoke_habilitation("idf", granted.json()["id"], admin)
    revoked_at = time.monotonic()
    while api.get(f"/api/idf/offers/{offer}", token=token).status_code != 404:
        assert time.monotonic() - revoked_at < 1.0, "the revoked habilitation still works after 1 s"
        time.sleep(0.05)


def test_grant_to_an_unknown_user_or_structure_is_404(api, tokens, unique):
    resp = api.post("/api/idf/habilitations", token=tokens("idf", "admin"),
                    json={"username": f"nobody-{unique}", "role": "directeur", "structure_id": 1})
    assert resp.status_code == 404 and "username" in resp.json()["error"]["fields"]
    resp = api.post("/api/idf/habilitations", token=tokens("idf", "admin"),
                    json={"username": "kine.demo", "role": "directeur", "structure_id": 987654321})
    assert resp.status_code == 404 and "structure_id" in resp.json()["error"]["fields"]


def test_codes_and_activation_of_the_other_region(api, tokens, pool, unique):
    rpps = pool("pdl")
    code = issue(api, tokens, rpps, region="pdl")
    assert activate(api, rpps, code, f"idf-{unique}@example.org", region="idf").status_code == 400
    created(activate(api, rpps, code, f"pdl-{unique}@example.org", region="pdl"))
    assert directory_for("idf").find_by_username(rpps) is None
    assert directory_for("pdl").find_by_username(rpps)["attributes"]["rpps"] == [rpps]

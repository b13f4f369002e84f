"""One place commits, for the self-service accounts (issue 7 item 5): the domain functions only flush and
the entrypoint's `transaction` commits. What a failing request must keep is kept (a wrong code, a refused
look-up counted); what it must not leave behind is not (a Keycloak user without its registration, a
changed password, an SMS code nobody received). Against the real PostgreSQL, Keycloak and gateway; the
domain functions run inside `transaction` here when the failure to show is one no HTTP request can cause.
"""

from __future__ import annotations

import socket

import pytest

from services.accounts import registration as rules
from services.accounts import self_service as ops
from services.accounts.contracts import AccountPatchSchema, RegistrationSchema
from services.accounts.directory import directory_for
from services.accounts.sms import HttpSmsGateway
from services.common.actor import Actor
from services.common.config import setting
from services.common.db import session_factory, transaction
from services.common.errors import Unavailable
from tests.accounts_support import PASSWORD, outbox_event
from tests.helpers import sql
from tests.integration import test_registration as registration
from tests.integration.test_registration import REGION, form, token_of

# The registration scenarios' fixtures (national RPPS records, fresh phone numbers, users deleted at the end).
national, phone, registered = registration.national, registration.phone, registration.registered

pytestmark = pytest.mark.integration


class LaterStepFailed(Exception):
    """Whatever fails after the domain function returned, before the entrypoint commits."""


@pytest.fixture
def session(db_url):
    s = session_factory(db_url)()
    yield s
    s.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_registration_that_does_not_commit_leaves_no_keycloak_user(api, db_url, session, sms_gateway, made,
                                                                     phone, unique):
    username = f"undone-{unique}"
    made.append(username)
    body = form(api, sms_gateway, phone, username)
    directory = directory_for(REGION)
    with pytest.raises(LaterStepFailed), transaction(session):
        ops.register(session, REGION, RegistrationSchema().load(body), directory=directory,
                     captcha_secret=setting("ROR_CAPTCHA_SECRET"), client_ip=None, card_rpps=None,
                     national=lambda rpps: [], cgu_version=setting("ROR_CGU_VERSION"),
                     public_url="http://127.0.0.1")
        assert directory.find_by_username(username) is not None  # created in Keycloak meanwhile
        raise LaterStepFailed
    assert directory.find_by_username(username) is None
    assert sql(db_url, "SELECT count(*) FROM accounts.registrations WHERE username = :u", u=username).scalar() == 0
    # Nothing was used up either: the same captcha solution and SMS code register through the gateway.
    resp = api.post(f"/api/{REGION}/registration", json=body)
    assert resp.status_code == 201, resp.text
    assert directory.find_by_username(username) is not None


def test_an_sms_the_gateway_refused_leaves_no_code_and_costs_no_try(db_url, session, phone):
    down = HttpSmsGateway(f"http://127.0.0.1:{closed_port()}/messages", timeout=2)
    with pytest.raises(Unavailable), transaction(session):
        ops.send_sms_code(session, REGION, phone, "127.0.0.9", down.send, "Île-de-France")
    assert sql(db_url, "SELECT count(*) FROM accounts.sms_codes WHERE phone = :p", p=phone).scalar() == 0
    assert sql(db_url, "SELECT count(*) FROM accounts.rate_counters WHERE key LIKE :k",
               k=f"sms:{REGION}:%{phone}").scalar() == 0


def test_wrong_link_codes_and_refused_lookups_count_although_each_request_fails(api, db_url, tokens, registered,
                                                                                national, unique):
    token = token_of(registered(national[0]))
    prepared = f"cabinet-tx-{unique}"
    assert api.post(f"/api/{REGION}/ror-accounts", token=tokens(REGION, "admin"),
                    json={"username": prepared, "email": f"{prepared}@example.org"}).status_code == 201
    assert api.post(f"/api/{REGION}/me/ror-account/link", token=token, json={"username": prepared}).status_code == 202
    code = outbox_event(db_url, "accounts.link_code_sent", username=prepared)["code"]
    wrong = "000000" if code != "000000" else "111111"
    confirm = f"/api/{REGION}/me/ror-account/link/confirm"
    for _ in range(rules.MAX_CODE_FAILURES):
        refused = api.post(confirm, token=token, json={"username": prepared, "code": wrong})
        assert refused.status_code == 400 and refused.json()["error"]["fields"] == {"code": "wrong code"}
    # The code is burnt: the right one comes too late.
    late = api.post(confirm, token=token, json={"username": prepared, "code": code})
    assert late.status_code == 400 and late.json()["error"]["fields"] == {"code": "no live code"}

    # Five link requests per hour, unknown names included (one used above): guessing names is limited too.
    for _ in range(4):
        unknown = api.post(f"/api/{REGION}/me/ror-account/link", token=token, json={"username": f"x-{unique}"})
        assert unknown.status_code == 404
    limited = api.post(f"/api/{REGION}/me/ror-account/link", token=token, json={"username": prepared})
    assert limited.status_code == 429 and "retry_after" in limited.json()["error"]["fields"]


def test_a_password_change_that_does_not_commit_is_undone_in_keycloak(db_url, session, registered, national):
    rpps = national[1]
    username = registered(rpps)
    directory = directory_for(REGION)
    user = directory.find_by_username(username)
    actor = Actor(subject=user["id"], username=username, region=REGION, rpps=rpps)
    _, etag = ops.get_account(session, actor, directory, lambda rpps: [], setting("ROR_CGU_VERSION"))
    patch = AccountPatchSchema().load({"current_password": PASSWORD, "password": "Nouveau2027",
                                       "password_confirmation": "Nouveau2027", "mobile_phone": "0799887766"})
    with pytest.raises(LaterStepFailed), transaction(session):
        changes = ops.update_account(session, actor, patch, etag, directory, "http://127.0.0.1")
        assert changes["password_changed"] and directory.password_matches(username, "Nouveau2027")
        raise LaterStepFailed
    assert directory.password_matches(username, PASSWORD)
    assert not directory.password_matches(username, "Nouveau2027")
    assert sql(db_url, "SELECT mobile_phone FROM accounts.contact_details WHERE subject = :s",
               s=user["id"]).scalar() == "06" + rpps[-8:]


def test_a_link_that_does_not_commit_takes_back_the_structure_editor_role(api, db_url, session, tokens, registered,
                                                                          national, unique):
    """The prepared account is for a structure: linking gives the realm role structure_editor. Offers not
    answering (attach_owner) fails the link after the role was given: the role is taken back."""
    rpps = national[2]
    username = registered(rpps)
    token = token_of(username)
    prepared = f"cabinet-eg-{unique}"
    assert api.post(f"/api/{REGION}/ror-accounts", token=tokens(REGION, "admin"),
                    json={"username": prepared, "email": f"{prepared}@example.org", "structure_id": 1}).status_code == 201
    assert api.post(f"/api/{REGION}/me/ror-account/link", token=token, json={"username": prepared}).status_code == 202
    code = outbox_event(db_url, "accounts.link_code_sent", username=prepared)["code"]
    directory = directory_for(REGION)
    user = directory.find_by_username(username)
    actor = Actor(subject=user["id"], username=username, region=REGION, rpps=rpps)
    given: list[bool] = []

    def offers_down(*args):
        given.append(directory.has_realm_role(user["id"], "structure_editor"))
        raise Unavailable("Le service offers ne répond pas")

    with pytest.raises(Unavailable), transaction(session):
        ops.confirm_link(session, actor, prepared, code, directory, offers_down)
    assert given == [True]  # the role was given before offers was asked
    assert not directory.has_realm_role(user["id"], "structure_editor")
    assert sql(db_url, "SELECT count(*) FROM accounts.habilitations WHERE subject = :s", s=user["id"]).scalar() == 0
    # Nothing was used up: with offers answering, the same code links the account, role included.
    linked = api.post(f"/api/{REGION}/me/ror-account/link/confirm", token=token,
                      json={"username": prepared, "code": code})
    assert linked.status_code == 201, linked.text
    assert linked.json()["structure_id"] == 1 and directory.has_realm_role(user["id"], "structure_editor")

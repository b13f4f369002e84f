"""The web front's plain modules: sessions, PKCE, error mapping, step forms → API payloads."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool
from werkzeug.datastructures import MultiDict

from gateway.models import Base as GatewayBase
from gateway.models import WebSession
from gateway.web import oidc
from gateway.web.errors import field_id, flatten
from gateway.web.framework import safe_next
from gateway.web.offer_pages import hours_payload, remap_errors, step_payload
from gateway.web.sessions import SessionStore, _key


@pytest.fixture
def store_factory():
    """The gateway's tables on SQLite (schema `gateway` mapped to the main database)."""
    engine = create_engine("sqlite://", execution_options={"schema_translate_map": {"gateway": None}},
                           poolclass=StaticPool, connect_args={"check_same_thread": False})
    GatewayBase.metadata.create_all(engine)
    return sessionmaker(engine, expire_on_commit=False)


def test_a_session_expires_when_idle_and_a_login_rotates_its_id_and_csrf_secret(store_factory):
    now = [1_000_000.0]
    store = SessionStore(store_factory, idle=60, clock=lambda: now[0])
    session = store.create()
    session.tokens = {"access_token": "secret-token"}
    store.save(session)
    old_id, old_csrf = session.id, session.csrf
    now[0] += 30
    again = store.get(old_id)
    assert again.tokens == {"access_token": "secret-token"} and again.csrf == old_csrf
    store.rotate(again)
    store.save(again)
    assert store.get(old_id) is None and again.id != old_id and again.csrf != old_csrf
    assert again.check_csrf(again.csrf) and not again.check_csrf(old_csrf) and not again.check_csrf(None)
    now[0] += 70
    assert store.get(again.id) is None  # idle for 70 s > 60 s


def test_another_gateway_process_sees_the_session_and_a_logout_ends_it_everywhere(store_factory):
    one, two = SessionStore(store_factory), SessionStore(store_factory)
    session = one.create()
    session.region, session.flash = "idf", ["Vous êtes connecté."]
    one.save(session)
    seen = two.get(session.id)
    assert seen.region == "idf" and seen.flash == ["Vous êtes connecté."]
    two.drop(seen)
    two.save(seen)  # the end of the logout request does not store it again
    assert one.get(session.id) is None


def test_the_table_holds_neither_the_cookie_nor_the_tokens_and_a_forged_row_is_refused(store_factory):
    store = SessionStore(store_factory)
    session = store.create()
    session.tokens = {"refresh_token": "refresh-secret"}
    store.save(session)
    with store_factory() as db:
        (row,) = db.scalars(select(WebSession)).all()
    assert session.id not in row.key and b"refresh-secret" not in row.sealed
    other = store.create()
    store.save(other)
    with store_factory.begin() as db:  # one session's content copied under another's row does not open
        db.get(WebSession, _key(other.id)).sealed = row.sealed
        db.get(WebSession, row.key).sealed = row.sealed[:-1] + bytes([row.sealed[-1] ^ 1])  # tampered
    assert store.get(session.id) is None and store.get(other.id) is None
    assert store.get(None) is None and store.get("x" * 500) is None


def test_idle_sessions_are_purged(store_factory):
    now = [1_000_000.0]
    store = SessionStore(store_factory, idle=60, clock=lambda: now[0])
    for _ in range(5):
        store.save(store.create())
    now[0] += 61
    fresh = store.create()
    store.save(fresh)
    assert store.purge() == 5 and store.get(fresh.id) is not None


def test_pkce_challenge_is_the_s256_of_the_verifier_and_the_authorization_url_carries_it():
    verifier, challenge = oidc.pkce_pair()
    assert 43 <= len(verifier) <= 128
    assert challenge == base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    url = oidc.authorization_url("http://kc", "ror-idf", "http://gw/idf/auth/callback", "st", "no", challenge,
                                 idp_hint="psc")
    query = parse_qs(urlparse(url).query)
    assert urlparse(url).path == "/realms/ror-idf/protocol/openid-connect/auth"
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"] == [challenge]
    assert query["kc_idp_hint"] == ["psc"] and query["client_id"] == ["ror-gateway"]
    assert "kc_idp_hint" not in oidc.authorization_url("http://kc", "r", "u", "s", "n", "c", idp_hint="evil")


def test_next_is_only_ever_a_local_path():
    assert safe_next("/idf/mon-offre?x=1", "/") == "/idf/mon-offre?x=1"
    for bad in ("https://evil.example/", "//evil.example/x", "/\\evil", "javascript:alert(1)", None, ""):
        assert safe_next(bad, "/idf/") == "/idf/"


def test_api_errors_are_flattened_to_the_ids_of_the_inputs():
    errors = {"age_max": ["Trop petit."], "contacts": {"0": {"value": ["10 chiffres."]}}, "_schema": ["x"]}
    assert flatten(errors) == {"age_max": "Trop petit.", "contacts.0.value": "10 chiffres.", "_schema": "x"}
    assert field_id("contacts.0.value") == "f-contacts-0-value"
    assert field_id("age_max") == "f-age_max"


def test_step_forms_become_the_api_payloads_and_errors_come_back_to_the_right_row():
    form = MultiDict([("rows", "3"), ("contacts.0.channel", "phone"), ("contacts.0.value", "01.02"),
                      ("contacts.0.visibility", "public"), ("contacts.1.value", ""),
                      ("contacts.2.channel", "email"), ("contacts.2.value", "a@b.fr"),
                      ("contacts.2.visibility", "professional")])
    data, rename = step_payload("contacts", form)
    assert [c["value"] for c in data["contacts"]] == ["01.02", "a@b.fr"]  # the empty row is dropped
    assert rename({"contacts": {"1": {"value": ["Adresse invalide."]}}}) == {"contacts.2.value": "Adresse invalide."}

    hours = MultiDict([("hours.1.0.start", "14:30"), ("hours.1.0.end", "19:00"), ("hours.1.0.kind", "appointment"),
                       ("hours.3.1.start", "09:00"), ("hours.3.1.end", "08:00"), ("hours.3.1.kind", "walk_in"),
                       ("closure.start_date", "2027-08-01"), ("closure.end_date", "2027-08-15")])
    data, index = hours_payload(hours)
    assert data["weekly"] == [{"day": 1, "start": "14:30", "end": "19:00", "kind": "appointment"},
                              {"day": 3, "start": "09:00", "end": "08:00", "kind": "walk_in"}]
    assert data["temporary_closure"] == [{"start_date": "2027-08-01", "end_date": "2027-08-15", "comment": None}]
    assert remap_errors({"weekly": {"1": {"end": ["Fin après début."]}}}, "weekly", index, "") == {
        "hours.3.1.end": "Fin après début."}

    description, _ = step_payload("description", MultiDict([("age_min", "18"), ("age_max", "abc"),
                                                            ("operational_activities", "339")]))
    assert description["age_min"] == 18 and description["age_max"] == "abc"  # the API names the bad number
    assert description["operational_activities"] == ["339"]
    assert step_payload("national", MultiDict([("acknowledged", "yes")]))[0] == {"acknowledged": True}

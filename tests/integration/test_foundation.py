"""The suite runs for real: health, OpenAPI, identity from Keycloak tokens, an event across the bus."""

import uuid

import pytest
from nameko.containers import ServiceContainer
from nameko.standalone.events import event_dispatcher
from openapi_spec_validator import validate

from gateway.service import GatewayService
from services.common.events import make_event
from services.notifications.service import NotificationsService
from tests.conftest import TEST_VHOST, _ensure_vhost
from tests.helpers import wait_for_mail

pytestmark = pytest.mark.integration

COMPONENTS = {"accounts", "offers", "dossiers", "anomalies", "notifications", "rabbitmq", "postgresql",
              "keycloak"}


def test_health_lists_every_service_and_component(api):
    resp = api.get("/health")
    body = resp.json()
    assert resp.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["components"]) == COMPONENTS
    components = body["components"]
    # a service reports what it does; one with no capability yet is "empty", never "ok", and not down
    for name in ("accounts", "offers", "notifications"):
        assert components[name]["status"] == "ok" and components[name]["capabilities"], components[name]
    for name in ("dossiers", "anomalies"):
        assert components[name]["status"] == ("ok" if components[name]["capabilities"] else "empty")
    assert all(components[n]["status"] == "ok" for n in ("rabbitmq", "postgresql", "keycloak"))
    assert body["down"] == []


def test_health_is_503_naming_the_services_that_are_down(suite_config):
    """A gateway alone on an empty vhost: no service answers, /health says which."""
    _ensure_vhost(f"{TEST_VHOST}_empty")  # derived from the run's vhost: parallel runs do not share it
    config = dict(suite_config, AMQP_URI=suite_config["AMQP_URI"].rsplit("/", 1)[0] + f"/{TEST_VHOST}_empty",
                  WEB_SERVER_ADDRESS="127.0.0.1:8002")
    container = ServiceContainer(GatewayService, config)
    container.start()
    try:
        import requests

        resp = requests.get("http://127.0.0.1:8002/health", timeout=30)
        body = resp.json()
        assert resp.status_code == 503
        assert {"accounts", "offers", "dossiers", "anomalies", "notifications"} <= set(body["down"])
        assert body["components"]["rabbitmq"]["status"] == "ok"
    finally:
        container.stop()


def test_openapi_document_is_valid(api):
    resp = api.get("/openapi.json")
    assert resp.status_code == 200
    spec = resp.json()
    validate(spec)
    assert "/api/{region}/me" in spec["paths"]


def test_me_gives_identity_from_a_real_keycloak_token(api, tokens):
    resp = api.get("/api/idf/me", token=tokens("idf", "kine.demo"))
    assert resp.status_code == 200, resp.text
    me = resp.json()
    assert me["username"] == "kine.demo" and me["region"] == "idf"
    assert "professional" in me["roles"] and len(me["rpps"]) == 11


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer not.a.token", "Basic a2luZTpwdw=="])
def test_me_without_a_valid_token_is_401_in_the_error_shape(api, header):
    resp = api.get("/api/idf/me", headers={"Authorization": header} if header else {})
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "unauthorized"
    assert "authorization" in resp.json()["error"]["fields"]


def test_token_of_another_region_is_403(api, tokens):
    resp = api.get("/api/idf/me", token=tokens("pdl", "kine.demo"))
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "forbidden"


def test_unknown_region_is_404_before_any_token_check(api):
    resp = api.get("/api/bzh/me")
    assert resp.status_code == 404
    assert resp.json()["error"]["fields"] == {"region": "unknown region 'bzh'"}


def test_an_event_crosses_the_bus_and_a_redelivery_acts_once(suite_config, api):
    """accounts.activated dispatched twice (same event id) -> notifications sends one e-mail."""
    recipient = f"kine-{uuid.uuid4().hex[:8]}@example.org"
    event = make_event("accounts.activated", "idf", "accounts", username="10000000008", email=recipient,
                       first_name="Paule", last_name="Test",
                       verification_url="http://127.0.0.1:8000/verify?token=abc",
                       recipients=[{"email": recipient}], mail_category="security")
    dispatch = event_dispatcher(suite_config)
    dispatch("accounts", "accounts.activated", event)
    dispatch("accounts", "accounts.activated", event)
    mails = wait_for_mail(recipient)
    assert len(mails) == 1
    assert "Je valide mon adresse mail" in mails[0].get_body(("plain",)).get_content()
    import time

    time.sleep(1.5)  # give the duplicate every chance to be (wrongly) processed
    assert len(wait_for_mail(recipient)) == 1


@pytest.mark.parametrize("method,path", [("GET", "/nope"), ("POST", "/api/idf/nothing-here"), ("DELETE", "/x/y/z")])
def test_unknown_paths_answer_in_the_error_shape(api, method, path):
    resp = api.request(method, path)
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "not_found"


def test_an_event_published_while_its_consumer_is_down_is_handled_when_it_comes_back(suite_config):
    """The notifications service restarts mid-way: its durable queue keeps the fact until it is back.
    (On a vhost of its own, so the suite's notifications service does not take the event.)"""
    import time

    _ensure_vhost(f"{TEST_VHOST}_restart")  # derived from the run's vhost: parallel runs do not share it
    config = dict(suite_config, AMQP_URI=suite_config["AMQP_URI"].rsplit("/", 1)[0] + f"/{TEST_VHOST}_restart")
    first = ServiceContainer(NotificationsService, config)
    first.start()  # declares its durable queue, as a deployed service did once
    first.stop()

    recipient = f"sf-{uuid.uuid4().hex[:8]}@example.org"
    event = make_event("accounts.activated", "idf", "accounts", username="10000000016", email=recipient,
                       first_name="Sarah", last_name="Test",
                       verification_url="http://127.0.0.1:8000/verify?token=def",
                       recipients=[{"email": recipient}], mail_category="security")
    event_dispatcher(config)("accounts", "accounts.activated", event)
    time.sleep(1.5)
    assert wait_for_mail(recipient, timeout=0.5) == []  # nobody to send it yet

    back = ServiceContainer(NotificationsService, config)
    back.start()
    try:
        assert len(wait_for_mail(recipient)) == 1
    finally:
        back.stop()

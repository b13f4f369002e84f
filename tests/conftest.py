"""Fixtures: the whole suite runs in-process against the real RabbitMQ, PostgreSQL and Keycloak.

Isolation from a suite started by `make up`: its own RabbitMQ vhost (`ror_test`), its own database
(`ror_test`), and the gateway on port 8001. Keycloak and the SMTP server are shared (tests use
fresh RPPS numbers and addresses).
"""

from __future__ import annotations

import os
import re
import time
import uuid

import pytest
import requests

from tests.helpers import demo_totp, password_token

TEST_DB_URL = os.environ.get("ROR_TEST_DATABASE_URL", "postgresql+psycopg2://ror:ror@127.0.0.1:5432/ror_test")
TEST_VHOST = os.environ.get("ROR_TEST_VHOST", "ror_test")
GATEWAY_ADDRESS = os.environ.get("ROR_TEST_GATEWAY_ADDRESS", "127.0.0.1:8001")
RABBIT_MGMT = os.environ.get("ROR_RABBIT_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:15672")


def _ensure_vhost(vhost: str) -> None:
    base = RABBIT_MGMT.rstrip("/")
    requests.put(f"{base}/api/vhosts/{vhost}", timeout=10).raise_for_status()
    requests.put(
        f"{base}/api/permissions/{vhost}/guest",
        json={"configure": ".*", "write": ".*", "read": ".*"}, timeout=10,
    ).raise_for_status()


@pytest.fixture(scope="session")
def db_url():
    from services.common.db import ensure_database
    from services.common.migrations import upgrade_all

    ensure_database(TEST_DB_URL)
    upgrade_all(TEST_DB_URL)
    return TEST_DB_URL


@pytest.fixture(scope="session")
def amqp_uri():
    _ensure_vhost(TEST_VHOST)
    return f"amqp://guest:guest@127.0.0.1:5672/{TEST_VHOST}"


@pytest.fixture(scope="session")
def private_broker():
    """A RabbitMQ node of this test session's own (its own node name, ports and files), for the tests
    that stop or restart the broker: never the shared one. See tests/brokers.py for how to use it."""
    from services.common.config import var_dir
    from tests.brokers import PrivateBroker, reap_orphans

    reap_orphans(var_dir() / "test-brokers")
    broker = PrivateBroker(var_dir() / "test-brokers", re.sub(r"[^A-Za-z0-9_]", "_", f"{TEST_VHOST}_{os.getpid()}"))
    broker.start()
    yield broker
    broker.remove()


@pytest.fixture(scope="session")
def national_ror(tmp_path_factory):
    """The national ROR stand-in for this test session (own port and folder)."""
    from tests.national_support import NationalStandIn

    standin = NationalStandIn(tmp_path_factory.mktemp("national"))
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture(scope="session")
def sms_gateway(tmp_path_factory):
    """The SMS gateway stand-in for this test session (own port; messages in its own folder)."""
    from tests.sms_support import SmsStandIn

    standin = SmsStandIn(tmp_path_factory.mktemp("sms"))
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture(scope="session")
def suite_config(db_url, amqp_uri, national_ror, sms_gateway):
    return {
        "ROR_SMS_URL": sms_gateway.url,
        "ROR_CAPTCHA_COST": 100,  # a real proof of work, solved quickly by the tests
        "ROR_SMS_PER_IP_HOUR": 10000, "ROR_REGISTRATIONS_PER_IP_HOUR": 10000,  # every test comes from 127.0.0.1
        "ROR_NATIONAL_URL": national_ror.url,
        "ROR_NATIONAL_PUSH_INTERVAL": 0.5,
        "AMQP_URI": amqp_uri,
        "WEB_SERVER_ADDRESS": GATEWAY_ADDRESS,
        "ROR_DATABASE_URL": db_url,
        "ROR_PUBLIC_URL": f"http://{GATEWAY_ADDRESS}",
        "serializer": "json",
        "max_workers": 10,
        # Webhook receivers of the tests listen on loopback; retries come within seconds, not hours.
        "ROR_WEBHOOK_ALLOW_LOOPBACK": "1",
        "ROR_WEBHOOK_SCHEDULE": "0,1,2,3,5,8",
        # The suite's tests make many anonymous writes from 127.0.0.1; tests of the limits lower it.
        "ROR_RATE_LIMIT_FACTOR": "100",
        # An answer with a key its response schema would drop fails (500): every test checks the schemas.
        "ROR_STRICT_RESPONSES": "1",
    }


@pytest.fixture(scope="session")
def suite(suite_config):
    """All five services and the gateway, started once for the session."""
    from nameko.runners import ServiceRunner

    from gateway.service import GatewayService
    from services.accounts.service import AccountsService
    from services.anomalies.service import AnomaliesService
    from services.dossiers.service import DossiersService
    from services.notifications.service import NotificationsService
    from services.offers.service import OffersService

    runner = ServiceRunner(suite_config)
    for cls in (AccountsService, OffersService, DossiersService, AnomaliesService, NotificationsService,
                GatewayService):
        runner.add_service(cls)
    runner.start()
    yield runner
    runner.stop()


class Api:
    """A tiny HTTP client for the in-process gateway."""

    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()

    def request(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {}) or {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


@pytest.fixture(scope="session")
def api(suite):
    return Api(f"http://{GATEWAY_ADDRESS}")


@pytest.fixture(scope="session")
def tokens():
    """Access tokens of the demo users, per (region, username), fetched again when about to expire
    (the whole suite lasts longer than an access token)."""

    cache: dict[tuple[str, str], tuple[str, float]] = {}
    privileged = {"cpts.directeur", "validateur", "support", "admin"}

    def get(region: str, username: str) -> str:
        key = (region, username)
        if key not in cache or time.monotonic() > cache[key][1]:
            totp = demo_totp() if username in privileged else None
            answer = password_token(region, username, totp=totp)
            cache[key] = (answer["access_token"], time.monotonic() + int(answer.get("expires_in", 300)) - 60)
        return cache[key][0]

    return get


@pytest.fixture(scope="module")
def made():
    """Usernames of the Keycloak users (idf) a test module creates, deleted at the end of the module."""
    from tests.accounts_support import delete_users

    names: list[str] = []
    yield names
    delete_users("idf", names)


@pytest.fixture
def unique():
    return uuid.uuid4().hex[:10]


@pytest.fixture
def db_session(db_url):
    from services.common.db import session_factory

    session = session_factory(db_url)()
    yield session
    session.rollback()
    session.close()

"""Abuse: a stranger flooding activation from another address cannot lock a real professional out, the
gateway limits anonymous writes per client IP and for everyone (429 + Retry-After, nothing stored), and
a password-reset flood sends one e-mail per account per 5 minutes (always 202)."""

from __future__ import annotations

import time

import pytest
import requests
from requests.adapters import HTTPAdapter

from services.accounts.directory import directory_for
from tests.accounts_support import fresh_rpps, import_national
from tests.conftest import GATEWAY_ADDRESS
from tests.helpers import sql
from tests.integration.test_accounts import activate, created, issue, mails_for, verification_link

pytestmark = pytest.mark.integration


class SourceAdapter(HTTPAdapter):
    """Connect from another loopback address: another client IP for the gateway."""

    def __init__(self, source: str):
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def client_from(source: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", SourceAdapter(source))
    return session


def post_from(source: str, path: str, body: dict) -> requests.Response:
    return client_from(source).post(f"http://{GATEWAY_ADDRESS}{path}", json=body, timeout=30)


@pytest.fixture(scope="module")
def people(db_url, tmp_path_factory):
    numbers = [fresh_rpps() for _ in range(2)]
    import_national(db_url, "idf", numbers, tmp_path_factory.mktemp("rpps"))
    yield numbers
    directory = directory_for("idf")
    for rpps in numbers:  # the Keycloak users made here
        for user in [directory.find_by_username(rpps), *directory.find_by_rpps(rpps)]:
            if user:
                directory.delete_user(user["id"], quiet=True)


@pytest.fixture
def limits(api, suite_config, db_url):
    """The gateway's real limits (the session runs with them raised), counters from zero."""
    sql(db_url, "DELETE FROM gateway.rate_counters")
    saved = suite_config["ROR_RATE_LIMIT_FACTOR"]

    def set_factor(value: str) -> None:
        suite_config["ROR_RATE_LIMIT_FACTOR"] = value

    set_factor("1")
    yield set_factor
    suite_config["ROR_RATE_LIMIT_FACTOR"] = saved
    sql(db_url, "DELETE FROM gateway.rate_counters")


def test_a_stranger_cannot_lock_a_professional_out(api, tokens, people, unique):
    rpps = people[0]
    code = issue(api, tokens, rpps)
    body = {"rpps": rpps, "activation_code": "AAAAA-BBBBB", "password": "Secret2026",
            "email": f"stranger-{unique}@example.org"}
    for _ in range(5):
        assert post_from("127.0.0.2", "/api/idf/accounts/activate", body).status_code == 400
    locked = post_from("127.0.0.2", "/api/idf/accounts/activate", {**body, "activation_code": code})
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "too_many_requests"
    assert int(locked.headers["Retry-After"]) > 0
    # The professional, from her own address, with the code of her letter: activated.
    created(activate(api, rpps, code, f"pro-{unique}@example.org"))


def test_anonymous_writes_are_limited_per_client_ip_with_retry_after(limits, db_url):
    before = sql(db_url, "SELECT count(*) FROM accounts.activation_attempts").scalar()
    bad = {"rpps": "123", "activation_code": "x", "password": "x", "email": "x"}
    answers = [post_from("127.0.0.3", "/api/idf/accounts/activate", bad) for _ in range(11)]
    assert [r.status_code for r in answers[:10]] == [400] * 10
    refused = answers[10]
    assert refused.status_code == 429, refused.text
    assert set(refused.json()["error"]) == {"code", "message", "fields"}
    assert 0 < int(refused.headers["Retry-After"]) <= 600
    # Another client is not concerned; nothing reached the accounts service for the refused one.
    assert post_from("127.0.0.4", "/api/idf/accounts/activate", bad).status_code == 400
    assert sql(db_url, "SELECT count(*) FROM accounts.activation_attempts").scalar() == before


def test_a_global_limit_holds_across_client_addresses(limits):
    limits("0.01")  # password reset: 1 per IP, 1 for everyone per minute
    body = {"username_or_email": "nobody@example.org"}
    first = post_from("127.0.0.5", "/api/idf/accounts/password-reset", body)
    assert first.status_code == 202, first.text
    other = post_from("127.0.0.6", "/api/idf/accounts/password-reset", body)
    assert other.status_code == 429 and int(other.headers["Retry-After"]) <= 60


def test_password_reset_mails_once_per_account_per_five_minutes(api, tokens, people, unique):
    rpps, email = people[1], f"reset-{unique}@example.org"
    created(activate(api, rpps, issue(api, tokens, rpps), email))
    api.post("/api/idf/accounts/verify-email", json={"token": verification_link(email).split("token=")[1]})
    for _ in range(4):
        resp = api.post("/api/idf/accounts/password-reset", json={"username_or_email": email})
        assert resp.status_code == 202
    assert mails_for(email, at_least=2)
    time.sleep(3)  # the later requests had time to send theirs, if they were going to
    assert len(mails_for(email, at_least=3, timeout=2)) == 2  # the verification link + one renewal e-mail

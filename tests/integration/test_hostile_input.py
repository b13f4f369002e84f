"""No input yields a 500: every operation of /openapi.json receives hostile bodies, query strings and
path values (deep nesting, NUL, lone surrogates, huge numbers, a body over the size limit) and answers a
4xx in the contract's error shape, changing nothing. Also what the HTTP server answers by itself
(unknown methods, over-long URL or headers) comes in the error shape."""

from __future__ import annotations

import re
import socket

import pytest

from tests.conftest import GATEWAY_ADDRESS
from tests.helpers import sql

pytestmark = pytest.mark.integration

DEEP = b"[" * 5000 + b"]" * 5000
HOSTILE_BODIES = {
    "deep nesting": DEEP,
    "deep object": b'{"a":' * 2000 + b"1" + b"}" * 2000,
    "lone surrogate": b'{"comment": "\\ud800", "username_or_email": "\\udfff@x.org", "token": "\\ud800"}',
    "NUL": b'{"comment": "a\\u0000b", "username": "ad\\u0000min", "token": "x\\u0000"}',
    "huge integer": b'{"structure_id": 1000000000000000000000000000000, "days": 1e400, "age_min": 99999999999}',
    "key with NUL": b'{"\\u0000": 1}',
    "too large": b'{"comment": "' + b"x" * (1024 * 1024 + 10) + b'"}',
}
# Refused by every operation (a NUL anywhere in the query string) …
NUL_QUERIES = ["q=%00", "username=ad%00min", "%00=1", "token=x%00"]
# … refused where the parameter exists, ignored elsewhere; never a 5xx.
ODD_QUERIES = ["offset=1000000000000000000000000000000", "limit=1e30&offset=-1e30", "q=%ED%A0%80",
               "q=____", "limit=-1", "status=%F0%9F%92%A9"]
HOSTILE_PATH_VALUES = {"string": ["%00", "a%00b"], "integer": ["1000000000000000000000000000000",
                                                                "99999999999"]}


def stored_state(db_url) -> dict:
    """What a write would change: every outbox (each write records its event with it) and the rows a
    write of accounts or offers makes."""
    counts = {}
    for schema in ("accounts", "offers", "dossiers", "anomalies", "notifications"):
        counts[f"{schema}.outbox"] = sql(db_url, f"SELECT count(*) FROM {schema}.outbox").scalar()
    for table in ("accounts.activation_codes", "accounts.ror_accounts", "accounts.habilitations",
                  "accounts.activation_attempts", "offers.offers", "offers.structures"):
        counts[table] = sql(db_url, f"SELECT count(*) FROM {table}").scalar()
    counts["offers.updated"] = str(sql(db_url, "SELECT max(updated_at) FROM offers.offers").scalar())
    return counts


def operations(api):
    spec = api.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            params = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "path"}
            yield method.upper(), path, params, op


def fill(path: str, params: dict, hostile: str | None = None, kind: str | None = None) -> str:
    def value(match):
        name = match.group(1)
        if name == "region":
            return "idf"
        typ = params.get(name, {}).get("schema", {}).get("type", "string")
        if hostile is not None and typ == kind:
            return hostile
        return "1" if typ == "integer" else "demo"
    return re.sub(r"\{(\w+)\}", value, path)


def assert_error_shape(resp, what):
    assert 400 <= resp.status_code < 500, (what, resp.status_code, resp.text[:300])
    body = resp.json()
    if body.get("resourceType") == "OperationOutcome":  # the FHIR API answers in FHIR's own error shape
        return
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, (what, body)


@pytest.fixture(scope="module")
def admin(tokens):
    return tokens("idf", "admin")


def test_every_operation_refuses_hostile_input_with_a_4xx_and_stores_nothing(api, admin, db_url):
    before = stored_state(db_url)
    tried = 0
    for method, path, params, op in operations(api):
        token = admin if op.get("security") != [] else None
        headers = {"Content-Type": "application/json", "If-Match": '"x"'}
        # hostile path values (a path without any is tried with the other payloads)
        for kind, values in HOSTILE_PATH_VALUES.items():
            if any(p.get("schema", {}).get("type") == kind for n, p in params.items() if n != "region"):
                for hostile in values:
                    url = fill(path, params, hostile, kind)
                    assert_error_shape(api.request(method, url, token=token, headers=headers), (method, url))
                    tried += 1
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            for name, payload in HOSTILE_BODIES.items():
                url = fill(path, params)  # a plain path: the body alone must be refused
                resp = api.request(method, url, token=token, headers=headers, data=payload)
                assert_error_shape(resp, (method, path, name))
                if name == "too large":
                    assert resp.status_code == 413
                tried += 1
        for query in NUL_QUERIES:
            url = fill(path, params, "1000000000000000000000000000000", "integer") + "?" + query
            assert_error_shape(api.request(method, url, token=token, headers=headers), (method, url))
            tried += 1
        if method == "GET":
            for query in ODD_QUERIES:
                url = fill(path, params) + "?" + query
                resp = api.request(method, url, token=token, headers=headers)
                assert resp.status_code < 500, (url, resp.status_code, resp.text[:300])
                # (the e-mail verification link answers a page for the browser, by design)
                if resp.status_code >= 400 and "text/html" not in resp.headers.get("Content-Type", ""):
                    assert_error_shape(resp, url)
                tried += 1
    assert tried > 100
    assert stored_state(db_url) == before


def test_queries_in_range_still_work_and_wildcards_match_nothing(api, tokens):
    kine = tokens("idf", "kine.demo")
    resp = api.get("/api/idf/offers?offset=1000000000000000000000000000000", token=kine)
    assert resp.status_code == 400 and "offset" in resp.json()["error"]["fields"]
    assert api.get("/api/idf/offers?offset=0", token=kine).status_code == 200
    assert api.get("/api/idf/communes?q=____").json() == []
    assert api.get("/api/idf/communes?q=%25").json() == []
    assert api.get("/api/idf/communes?q=mantes").json()


def test_a_nul_in_a_path_is_named(api, tokens):
    resp = api.post("/api/idf/accounts/%00/password-reset", token=tokens("idf", "support"))
    assert resp.status_code == 400 and resp.json()["error"]["fields"] == {"username": "contains a NUL character"}


def raw_http(request: bytes) -> bytes:
    host, port = GATEWAY_ADDRESS.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


@pytest.mark.parametrize("request_bytes, status", [
    (b"TRACE /api/idf/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"405"),
    (b"FOO /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"405"),
    (b"GET /api/idf/communes?q=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"414"),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\nConnection: close\r\n\r\n", b"431"),
])
def test_what_the_server_answers_by_itself_is_in_the_error_shape(api, request_bytes, status):
    answer = raw_http(request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == status, answer[:300]
    assert b"application/json" in head.lower()
    assert b'"error"' in body and b'"code"' in body

"""A Keycloak admin call that timed out is not sent again when it changes something: Keycloak may have
acted already (a password-reset e-mail went out twice). Reads are retried once."""

from __future__ import annotations

import json
import socket
import threading

import pytest
from keycloak.exceptions import KeycloakConnectionError

from services.accounts.directory import _admin_connection

TOKEN = json.dumps({"access_token": "t", "expires_in": 300, "refresh_expires_in": 1800,
                    "refresh_token": "r", "token_type": "Bearer"}).encode()


@pytest.fixture
def silent_server():
    """Hands out a token, then accepts the admin requests and never answers them; counts them."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    seen: list[bytes] = []
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        held = []
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            request = conn.recv(65536)
            if b"/protocol/openid-connect/token" in request.split(b"\r\n", 1)[0]:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                             b"Connection: close\r\n\r\n%s" % (len(TOKEN), TOKEN))
                conn.close()
                continue
            seen.append(request.split(b" ", 1)[0])
            held.append(conn)
        for conn in held:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", seen
    stop.set()
    thread.join(2)
    listener.close()


@pytest.mark.parametrize("method", ["raw_put", "raw_post", "raw_delete"])
def test_a_write_that_timed_out_is_sent_once(silent_server, method):
    url, seen = silent_server
    connection = _admin_connection(url, "ror-idf", "secret", timeout=1)
    call = getattr(connection, method)
    with pytest.raises(KeycloakConnectionError):
        call(f"{url}/admin/realms/ror-idf/users/x/execute-actions-email", data="[]") if method != "raw_delete" \
            else call(f"{url}/admin/realms/ror-idf/users/x")
    assert len(seen) == 1, seen


def test_a_read_that_timed_out_is_tried_twice(silent_server):
    url, seen = silent_server
    connection = _admin_connection(url, "ror-idf", "secret", timeout=1)
    with pytest.raises(KeycloakConnectionError):
        connection.raw_get(f"{url}/admin/realms/ror-idf/users")
    assert seen == [b"GET", b"GET"]

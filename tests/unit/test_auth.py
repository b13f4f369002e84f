"""Offline token verification: what the gateway accepts and refuses, with a self-made signing key."""

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.auth import JwksCache, bearer_token, verify
from services.common.errors import Forbidden, NotFound, Unauthorized


def _keypair(kid):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
    return key, jwk


@pytest.fixture(scope="module")
def keys():
    return {"idf": _keypair("idf-1"), "pdl": _keypair("pdl-1"), "rogue": _keypair("idf-1")}


@pytest.fixture
def cache(keys):
    calls = []

    def fetch(realm):
        calls.append(realm)
        region = realm.removeprefix("ror-")
        return {"keys": [keys[region][1]]}

    c = JwksCache("http://kc", min_refresh=0, fetch=fetch)
    c.calls = calls
    return c


def token(key, kid, realm="ror-idf", **over):
    now = int(time.time())
    claims = {"iss": f"http://127.0.0.1:8080/realms/{realm}", "sub": "u-1", "iat": now, "exp": now + 300,
              "typ": "Bearer", "azp": "ror-gateway", "preferred_username": "kine.demo",
              "realm_access": {"roles": ["professional"]}, "rpps": "10000000008"}
    claims.update(over)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def test_a_valid_token_gives_the_identity(keys, cache):
    ident = verify(token(keys["idf"][0], "idf-1"), "idf", cache)
    assert ident.username == "kine.demo" and ident.rpps == "10000000008" and ident.region == "idf"
    assert "professional" in ident.roles


def test_keys_are_cached_and_refetched_only_for_an_unknown_kid(keys, cache):
    for _ in range(3):
        verify(token(keys["idf"][0], "idf-1"), "idf", cache)
    assert cache.calls == ["ror-idf"]
    with pytest.raises(Unauthorized):
        verify(token(keys["idf"][0], "idf-2"), "idf", cache)
    assert cache.calls == ["ror-idf", "ror-idf"]


@pytest.mark.parametrize("bad", ["", "abc", "a.b.c", "Bearer"])
def test_malformed_tokens_are_401(bad, cache):
    with pytest.raises(Unauthorized):
        verify(bad, "idf", cache)


def test_expired_token_is_401(keys, cache):
    now = int(time.time())
    with pytest.raises(Unauthorized, match="expirée"):
        verify(token(keys["idf"][0], "idf-1", iat=now - 600, exp=now - 60), "idf", cache)


def test_wrongly_signed_token_is_401(keys, cache):
    with pytest.raises(Unauthorized):
        verify(token(keys["rogue"][0], "idf-1"), "idf", cache)


def test_token_of_another_region_is_403(keys, cache):
    with pytest.raises(Forbidden):
        verify(token(keys["pdl"][0], "pdl-1", realm="ror-pdl"), "idf", cache)


def test_token_of_a_foreign_realm_is_401(keys, cache):
    with pytest.raises(Unauthorized):
        verify(token(keys["idf"][0], "idf-1", realm="master"), "idf", cache)


def test_refresh_token_or_foreign_client_is_401(keys, cache):
    with pytest.raises(Unauthorized):
        verify(token(keys["idf"][0], "idf-1", typ="Refresh"), "idf", cache)
    with pytest.raises(Unauthorized):
        verify(token(keys["idf"][0], "idf-1", azp="admin-cli"), "idf", cache)


def test_unknown_region_is_404(keys, cache):
    with pytest.raises(NotFound):
        verify(token(keys["idf"][0], "idf-1"), "xyz", cache)


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer"])
def test_bearer_header_is_required(header):
    with pytest.raises(Unauthorized):
        bearer_token(header)


def test_domain_errors_keep_their_field_types_across_rpc_serialisation():
    """nameko stringifies exception args; the fields must come back as they were sent."""
    from nameko.exceptions import deserialize, serialize

    import services.common.dependencies  # noqa: F401  (registers the domain errors)
    from services.common.errors import TooManyRequests

    err = deserialize(serialize(TooManyRequests("Trop de tentatives", {"retry_after": 3600, "rpps": ["x"]})))
    assert isinstance(err, TooManyRequests)
    assert err.fields == {"retry_after": 3600, "rpps": ["x"]}
    assert err.to_dict()["error"]["message"] == "Trop de tentatives"


def test_a_verified_token_is_remembered_until_it_expires(keys, cache, monkeypatch):
    good = token(keys["idf"][0], "idf-1")
    first = verify(good, "idf", cache)
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: pytest.fail("verified again"))
    assert verify(good, "idf", cache) is first
    with pytest.raises(Forbidden):  # remembered for its region only
        monkeypatch.undo()
        verify(good, "pdl", cache)
    now = int(time.time())
    expired = token(keys["idf"][0], "idf-1", iat=now - 600, exp=now - 60)
    cache.remember(expired, "idf", first, now - 60)  # remembered when it was valid
    with pytest.raises(Unauthorized, match="expirée"):
        verify(expired, "idf", cache)


def test_an_expired_token_is_proven_expired_once(keys, cache, monkeypatch):
    now = int(time.time())
    expired = token(keys["idf"][0], "idf-1", iat=now - 600, exp=now - 60)
    with pytest.raises(Unauthorized, match="expirée"):
        verify(expired, "idf", cache)
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: pytest.fail("decoded again"))
    with pytest.raises(Unauthorized, match="expirée"):
        verify(expired, "idf", cache)
    monkeypatch.undo()
    forged = token(keys["rogue"][0], "idf-1", iat=now - 600, exp=now - 60)  # signature fails first
    with pytest.raises(Unauthorized, match="Jeton invalide"):
        verify(forged, "idf", cache)
    assert not cache.known_expired(forged)


def test_a_refused_token_is_not_remembered(keys, cache):
    rogue = token(keys["rogue"][0], "idf-1")
    for _ in range(2):
        with pytest.raises(Unauthorized):
            verify(rogue, "idf", cache)

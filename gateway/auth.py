"""Bearer tokens verified offline against the realm's JWKS (plain module, no nameko).

Keys are cached per realm and fetched again only when a token names an unknown `kid`
(Keycloak key rotation), at most once every `min_refresh` seconds per realm.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import jwt
import requests
from jwt import PyJWKSet

from services.common.config import setting
from services.common.errors import Forbidden, Unauthorized, Unavailable
from services.common.regions import REALM_TO_REGION, get_region

ACCEPTED_CLIENTS = {"ror-gateway", "ror-cps"}
MAX_VERIFIED = 20_000
EXPIRED = "Session expirée, veuillez vous reconnecter"


@dataclass(frozen=True)
class Identity:
    username: str
    subject: str
    region: str
    roles: frozenset[str]
    rpps: str | None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    claims: dict = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict:
        return {
            "username": self.username, "subject": self.subject, "region": self.region,
            "roles": sorted(self.roles), "rpps": self.rpps, "email": self.email,
            "first_name": self.first_name, "last_name": self.last_name,
        }


class JwksCache:
    def __init__(self, keycloak_url: str, min_refresh: float = 10.0, fetch=None):
        self.keycloak_url = keycloak_url.rstrip("/")
        self.min_refresh = min_refresh
        self._fetch = fetch or self._http_fetch
        self._keys: dict[str, dict[str, jwt.PyJWK]] = {}
        self._fetched_at: dict[str, float] = {}
        self._lock = threading.Lock()
        # (token, region) -> (exp, identity) of tokens verified once: a signature check costs about as
        # much as the whole RPC hop of a read, and a client sends the same token until it expires.
        self._verified: dict[tuple[str, str], tuple[float, Identity]] = {}
        # Genuine tokens found expired: a client keeps sending its old token, and proving it expired again
        # costs a decode and a signature check each time (a cheap way to load the gateway). Forged or
        # malformed tokens are not kept: they fail before the expiry is read.
        self._expired: set[str] = set()

    def remembered(self, token: str, region: str) -> Identity | None:
        hit = self._verified.get((token, region))
        if hit is not None and hit[0] > time.time():
            return hit[1]
        return None

    def remember(self, token: str, region: str, identity: Identity, expires_at: float) -> None:
        if len(self._verified) >= MAX_VERIFIED:
            self._verified.clear()
        self._verified[(token, region)] = (float(expires_at), identity)

    def known_expired(self, token: str) -> bool:
        return token in self._expired

    def remember_expired(self, token: str) -> None:
        if len(self._expired) >= MAX_VERIFIED:
            self._expired.clear()
        self._expired.add(token)

    def _http_fetch(self, realm: str) -> dict:
        url = f"{self.keycloak_url}/realms/{realm}/protocol/openid-connect/certs"
        try:
            resp = requests.get(url, timeout=5)
            resp.raise_for_status()
        except requests.RequestException as exc:
            raise Unavailable("Le service d'authentification ne répond pas", {"keycloak": str(exc)}) from exc
        return resp.json()

    def _refresh(self, realm: str) -> None:
        jwks = PyJWKSet.from_dict(self._fetch(realm))
        self._keys[realm] = {k.key_id: k for k in jwks.keys if k.key_id}
        self._fetched_at[realm] = time.monotonic()

    def key(self, realm: str, kid: str) -> jwt.PyJWK:
        with self._lock:
            keys = self._keys.get(realm)
            if keys is None or (
                kid not in keys and time.monotonic() - self._fetched_at.get(realm, 0) > self.min_refresh
            ):
                self._refresh(realm)
                keys = self._keys[realm]
        if kid not in keys:
            raise Unauthorized("Jeton invalide : clé de signature inconnue", {"authorization": "unknown kid"})
        return keys[kid]


def bearer_token(header: str | None) -> str:
    if not header:
        raise Unauthorized("Authentification requise", {"authorization": "missing bearer token"})
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authentification requise", {"authorization": "expected 'Bearer <token>'"})
    return token.strip()


def expected_issuers(realm: str, config: dict | None = None) -> set[str]:
    """The `iss` values accepted for `realm`: each URL of ROR_KEYCLOAK_ISSUER_URL (comma-separated;
    an entry may be a template with {realm}), by default Keycloak's two public URLs, ROR_KEYCLOAK_URL
    (http, passwords) and ROR_KEYCLOAK_TLS_URL (https, CPS cards), + /realms/<realm>. Keycloak runs with
    its hostname fixed, so a forged Host header cannot make it issue another issuer, and any other
    issuer is refused here."""
    configured = setting("ROR_KEYCLOAK_ISSUER_URL", config)
    bases = [b.strip() for b in configured.split(",") if b.strip()] if configured else [
        setting("ROR_KEYCLOAK_URL", config), setting("ROR_KEYCLOAK_TLS_URL", config)]
    return {b.format(realm=realm) if "{realm}" in b else f"{b.rstrip('/')}/realms/{realm}" for b in bases}


def verify(token: str, region_code: str, jwks: JwksCache, config: dict | None = None) -> Identity:
    """Identity carried by `token`, which must come from `region_code`'s realm, as issued by the
    configured Keycloak URL (a token verified once is remembered until it expires; only successes are)."""
    known = jwks.remembered(token, region_code)
    if known is not None:
        return known
    region = get_region(region_code)
    if jwks.known_expired(token):
        raise Unauthorized(EXPIRED, {"authorization": "token expired"})
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise Unauthorized("Jeton invalide", {"authorization": f"malformed token: {exc}"}) from exc
    issuer = str(unverified.get("iss", ""))
    realm = issuer.rstrip("/").rsplit("/realms/", 1)[-1] if "/realms/" in issuer else ""
    if realm not in REALM_TO_REGION:
        raise Unauthorized("Jeton invalide", {"authorization": "token not issued by a ROR realm"})
    if issuer not in expected_issuers(realm, config):
        raise Unauthorized("Jeton invalide", {"authorization": "unexpected token issuer"})
    kid = header.get("kid")
    if not kid:
        raise Unauthorized("Jeton invalide", {"authorization": "token has no kid"})
    key = jwks.key(realm, kid)
    try:
        claims = jwt.decode(
            token, key=key, algorithms=["RS256", "PS256", "ES256"], issuer=issuer,
            options={"verify_aud": False, "require": ["exp", "iat", "iss", "sub"]}, leeway=5,
        )
    except jwt.ExpiredSignatureError as exc:  # raised after the signature was checked: a genuine token
        jwks.remember_expired(token)
        raise Unauthorized(EXPIRED, {"authorization": "token expired"}) from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("Jeton invalide", {"authorization": str(exc)}) from exc
    if claims.get("typ", "Bearer") != "Bearer" or claims.get("azp") not in ACCEPTED_CLIENTS:
        raise Unauthorized("Jeton invalide", {"authorization": "not an access token of a ROR client"})
    if realm != region.realm:
        raise Forbidden(
            "Ce compte n'appartient pas à cette région", {"region": f"token from realm {realm}"}
        )
    identity = Identity(
        username=claims.get("preferred_username", claims["sub"]),
        subject=claims["sub"],
        region=region.code,
        roles=frozenset(claims.get("realm_access", {}).get("roles", [])),
        rpps=claims.get("rpps"),
        email=claims.get("email"),
        first_name=claims.get("given_name"),
        last_name=claims.get("family_name"),
        claims=claims,
    )
    jwks.remember(token, region_code, identity, claims["exp"])
    return identity

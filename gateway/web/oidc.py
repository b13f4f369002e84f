"""Authorization code + PKCE against a region's Keycloak realm (plain module, no nameko).

The browser is sent to Keycloak's authorization endpoint; the gateway exchanges the code at the token
endpoint server to server (public client `ror-gateway`, the PKCE verifier proves it started the flow).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import urlencode

import requests

from services.common.errors import Unauthorized, Unavailable

CLIENT_ID = "ror-gateway"
SCOPE = "openid profile email"
# Ways in shown by the theme; kc_idp_hint=psc goes straight to Pro Santé Connect.
IDP_HINTS = {"psc"}


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge) of RFC 7636."""
    verifier = secrets.token_urlsafe(64)[:96]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def realm_url(keycloak_url: str, realm: str) -> str:
    return f"{keycloak_url.rstrip('/')}/realms/{realm}/protocol/openid-connect"


def authorization_url(keycloak_url: str, realm: str, redirect_uri: str, state: str, nonce: str,
                      challenge: str, idp_hint: str | None = None) -> str:
    params = {"client_id": CLIENT_ID, "response_type": "code", "scope": SCOPE, "redirect_uri": redirect_uri,
              "state": state, "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256",
              "ui_locales": "fr"}
    if idp_hint in IDP_HINTS:
        params["kc_idp_hint"] = idp_hint
    return f"{realm_url(keycloak_url, realm)}/auth?{urlencode(params)}"


def _token_request(keycloak_url: str, realm: str, data: dict, verify=True) -> dict:
    try:
        resp = requests.post(f"{realm_url(keycloak_url, realm)}/token", data={"client_id": CLIENT_ID, **data},
                             timeout=10, verify=verify)
    except requests.RequestException as exc:
        raise Unavailable("Le service d'authentification ne répond pas", {"keycloak": str(exc)[:200]}) from exc
    if resp.status_code >= 500:
        raise Unavailable("Le service d'authentification ne répond pas", {"keycloak": resp.status_code})
    body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
    if resp.status_code != 200 or "access_token" not in body:
        raise Unauthorized("Connexion refusée, veuillez vous reconnecter",
                           {"keycloak": body.get("error_description") or body.get("error") or resp.status_code})
    return body


def exchange_code(keycloak_url: str, realm: str, code: str, verifier: str, redirect_uri: str,
                  verify=True) -> dict:
    return _token_request(keycloak_url, realm, {"grant_type": "authorization_code", "code": code,
                                                "code_verifier": verifier, "redirect_uri": redirect_uri},
                          verify=verify)


def refresh(keycloak_url: str, realm: str, refresh_token: str, verify=True) -> dict:
    return _token_request(keycloak_url, realm, {"grant_type": "refresh_token", "refresh_token": refresh_token},
                          verify=verify)


def end_session_url(keycloak_url: str, realm: str, id_token: str | None, post_logout_redirect_uri: str) -> str:
    """Front-channel logout: the browser goes to Keycloak, which ends its session and comes back."""
    params = {"client_id": CLIENT_ID, "post_logout_redirect_uri": post_logout_redirect_uri}
    if id_token:
        params["id_token_hint"] = id_token
    return f"{realm_url(keycloak_url, realm)}/logout?{urlencode(params)}"

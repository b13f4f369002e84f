"""The region's Keycloak realm seen through its admin API (plain module, no nameko).

Uses the service account of the confidential client `ror-accounts` of each regional realm (never the
master admin): it may manage users and realm roles of its own realm only. Keycloak failures become the
domain's errors, so that the gateway answers 4xx for what the caller did wrong and 503 when Keycloak
itself is down.
"""

from __future__ import annotations

import json
import logging
from functools import cache

import requests
from keycloak import KeycloakAdmin, KeycloakOpenIDConnection
from keycloak.exceptions import (
    KeycloakAuthenticationError,
    KeycloakConnectionError,
    KeycloakError,
)
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from services.common.config import setting
from services.common.errors import Conflict, InvalidInput, NotFound, Unavailable
from services.common.regions import get_region

log = logging.getLogger(__name__)

CLIENT_ID = "ror-accounts"
VERIFY_EMAIL = "VERIFY_EMAIL"


def _unavailable(exc: BaseException) -> Unavailable:
    return Unavailable("Le service d'authentification ne répond pas, réessayez plus tard",
                       {"keycloak": f"{type(exc).__name__}: {exc}"[:300]})


# A connection that failed before the request left is retried once, whatever the method; a request that
# may have reached Keycloak (read timeout, connection dropped mid-answer) is retried only when it reads.
# python-keycloak's own adapter retries POST and PUT after a read timeout: Keycloak had already acted, so
# a user was created twice or an e-mail sent twice while the caller was told it failed.
SAFE_RETRY = Retry(total=1, connect=1, read=1, status=0, other=0,
                   allowed_methods=frozenset({"GET", "HEAD", "OPTIONS"}), raise_on_status=False)


def _admin_connection(server_url: str, realm: str, client_secret: str, timeout: int) -> KeycloakOpenIDConnection:
    connection = KeycloakOpenIDConnection(server_url=server_url, realm_name=realm, client_id=CLIENT_ID,
                                          client_secret_key=client_secret, verify=True, timeout=timeout)
    for prefix in ("https://", "http://"):
        connection._s.mount(prefix, HTTPAdapter(max_retries=SAFE_RETRY))  # no public hook for the adapter
    return connection


class Directory:
    """Users and realm roles of one regional realm."""

    def __init__(self, server_url: str, realm: str, client_secret: str, timeout: int = 10):
        self.realm = realm
        self.admin = KeycloakAdmin(connection=_admin_connection(server_url, realm, client_secret, timeout))

    def _call(self, method: str, *args, not_found: type[Exception] | None = None, **kwargs):
        """Run an admin call; a 404 becomes `not_found` (or re-raises), transport trouble becomes 503."""
        try:
            return getattr(self.admin, method)(*args, **kwargs)
        except (KeycloakConnectionError, KeycloakAuthenticationError) as exc:
            # Authentication errors here are ours (client secret, service account), not the caller's.
            log.error("keycloak %s %s failed: %s", self.realm, method, exc)
            raise _unavailable(exc) from exc
        except KeycloakError as exc:
            if exc.response_code == 404 and not_found is not None:
                raise not_found() from exc
            if exc.response_code is None or exc.response_code >= 500 or exc.response_code in (401, 403):
                log.error("keycloak %s %s failed: %s", self.realm, method, exc)
                raise _unavailable(exc) from exc
            raise

    # ------------------------------------------------------------------ look-ups
    def find_by_username(self, username: str) -> dict | None:
        users = self._call("get_users", {"username": username, "exact": True, "max": 2})
        matches = [u for u in users if u.get("username", "").lower() == username.lower()]
        return matches[0] if matches else None

    def find_by_email(self, email: str) -> dict | None:
        users = self._call("get_users", {"email": email, "exact": True, "max": 2})
        matches = [u for u in users if (u.get("email") or "").lower() == email.lower()]
        return matches[0] if len(matches) == 1 else None

    def find_by_rpps(self, rpps: str) -> list[dict]:
        """Users carrying this RPPS (attribute `rpps`), whatever their username (demo, PSC-created)."""
        users = self._call("get_users", {"q": f"rpps:{rpps}", "max": 10})
        return [u for u in users if rpps in (u.get("attributes") or {}).get("rpps", [])]

    def rpps_has_account(self, rpps: str) -> bool:
        return self.find_by_username(rpps) is not None or bool(self.find_by_rpps(rpps))

    def find_by_id(self, user_id: str) -> dict | None:
        try:
            return self._call("get_user", user_id, not_found=_Gone)
        except _Gone:
            return None

    def users_page(self, first: int, size: int) -> list[dict]:
        return self._call("get_users", {"first": first, "max": size, "briefRepresentation": True})

    def realm_role_names(self, user_id: str) -> set[str]:
        """Effective realm roles; `GET /roles/{name}/users` would need view-realm, which we do not have."""
        try:
            roles = self._call("get_composite_realm_roles_of_user", user_id, not_found=_Gone)
        except _Gone:
            return set()
        return {r.get("name") for r in roles}

    # ------------------------------------------------------------------ users
    def create_professional(self, rpps: str, email: str, first_name: str, last_name: str,
                            password: str) -> str:
        """Create the user (username = RPPS) with its password, role `professional` and the e-mail to
        verify; returns the Keycloak user id. Nothing is left behind when a step fails."""
        payload = {
            "username": rpps, "email": email, "firstName": first_name, "lastName": last_name,
            "enabled": True, "emailVerified": False, "requiredActions": [VERIFY_EMAIL],
            "attributes": {"rpps": [rpps]},
            "credentials": [{"type": "password", "value": password, "temporary": False}],
        }
        try:
            user_id = self._call("create_user", payload)
        except KeycloakError as exc:
            raise _creation_error(exc) from exc
        try:
            self.add_realm_role(user_id, "professional")
        except BaseException:
            self.delete_user(user_id, quiet=True)
            raise
        return user_id

    def delete_user(self, user_id: str, quiet: bool = False) -> None:
        try:
            self._call("delete_user", user_id, not_found=_Gone)
        except _Gone:
            pass
        except Exception:
            if not quiet:
                raise
            log.exception("could not delete Keycloak user %s in %s (compensation)", user_id, self.realm)

    def mark_email_verified(self, user_id: str) -> None:
        """E-mail verified and the VERIFY_EMAIL required action gone: the user may log in."""
        user = self._call("get_user", user_id, not_found=_user_gone)
        # Full representation back: a partial PUT may reset what it omits under the user profile.
        user["emailVerified"] = True
        user["requiredActions"] = [a for a in user.get("requiredActions", []) if a != VERIFY_EMAIL]
        user.pop("access", None)
        user.pop("userProfileMetadata", None)
        self._call("update_user", user_id, user)

    def send_password_reset(self, user_id: str) -> None:
        """Keycloak's own e-mail with a link to choose a new password (realm SMTP settings)."""
        self._call("send_update_account", user_id, ["UPDATE_PASSWORD"], not_found=_user_gone)

    # ------------------------------------------------------------------ realm roles
    def has_realm_role(self, user_id: str, role: str) -> bool:
        roles = self._call("get_realm_roles_of_user", user_id, not_found=_user_gone)
        return any(r.get("name") == role for r in roles)

    # Role representations come from the user's own mappings: the service account may manage users
    # (manage-users) but not read the realm's roles (that would need view-realm).
    def add_realm_role(self, user_id: str, role: str) -> None:
        available = self._call("get_available_realm_roles_of_user", user_id, not_found=_user_gone)
        representation = next((r for r in available if r.get("name") == role), None)
        if representation is None:
            if self.has_realm_role(user_id, role):
                return  # already granted
            raise Unavailable("Rôle inconnu du service d'authentification", {"role": f"{role} not in {self.realm}"})
        self._call("assign_realm_roles", user_id, [representation], not_found=_user_gone)

    def remove_realm_role(self, user_id: str, role: str) -> None:
        try:
            assigned = self._call("get_realm_roles_of_user", user_id, not_found=_Gone)
            representation = next((r for r in assigned if r.get("name") == role), None)
            if representation is not None:
                self._call("delete_realm_roles_of_user", user_id, [representation], not_found=_Gone)
        except _Gone:
            pass  # user deleted meanwhile: nothing left to remove


    # ------------------------------------------------------------------ self-registration, "Mon compte"
    def create_registered_user(self, username: str, email: str, first_name: str, last_name: str,
                               password: str, rpps: str | None, roles: tuple[str, ...]) -> str:
        """A self-registered user (chosen username, e-mail to verify); `rpps` only once it was checked."""
        payload = {
            "username": username, "email": email, "firstName": first_name, "lastName": last_name,
            "enabled": True, "emailVerified": False, "requiredActions": [VERIFY_EMAIL],
            "attributes": {"rpps": [rpps]} if rpps else {},
            "credentials": [{"type": "password", "value": password, "temporary": False}],
        }
        try:
            user_id = self._call("create_user", payload)
        except KeycloakError as exc:
            error = _creation_error(exc)
            if exc.response_code == 409 and "email" not in error.fields:
                error = Conflict("Cet identifiant est déjà utilisé : choisissez-en un autre",
                                 {"username": "already used"})
            raise error from exc
        try:
            for role in roles:
                self.add_realm_role(user_id, role)
        except BaseException:
            self.delete_user(user_id, quiet=True)
            raise
        return user_id

    def get_user(self, user_id: str) -> dict:
        return self._call("get_user", user_id, not_found=_user_gone)

    def set_email(self, user_id: str, email: str) -> None:
        """A new e-mail address, already verified by its link."""
        user = self.get_user(user_id)
        user["email"], user["emailVerified"] = email, True
        user["requiredActions"] = [a for a in user.get("requiredActions", []) if a != VERIFY_EMAIL]
        user.pop("access", None)
        user.pop("userProfileMetadata", None)
        try:
            self._call("update_user", user_id, user)
        except KeycloakError as exc:
            raise _creation_error(exc) from exc

    def set_password(self, user_id: str, password: str) -> None:
        try:
            self._call("set_user_password", user_id, password, temporary=False)
        except KeycloakError as exc:
            raise _creation_error(exc) from exc

    def password_matches(self, username: str, password: str) -> bool:
        """Checks a password with a direct grant on the public client (no session is kept)."""
        url = f"{self.admin.connection.server_url.rstrip('/')}/realms/{self.realm}/protocol/openid-connect/token"
        try:
            resp = requests.post(url, timeout=10, data={"grant_type": "password", "client_id": "ror-gateway",
                                                         "username": username, "password": password})
        except requests.RequestException as exc:
            raise _unavailable(exc) from exc
        if resp.status_code >= 500:
            raise _unavailable(RuntimeError(f"HTTP {resp.status_code}"))
        if resp.status_code == 200:
            token = resp.json().get("refresh_token")
            if token:  # end the session the check opened
                requests.post(url.replace("/token", "/logout"), timeout=10,
                              data={"client_id": "ror-gateway", "refresh_token": token})
            return True
        # A second factor being asked means the password itself was right.
        return "otp" in resp.text.lower() or "not fully set up" in resp.text.lower()

    def otp_devices(self, user_id: str) -> list[dict]:
        credentials = self._call("get_credentials", user_id, not_found=_user_gone)
        return [{"id": c["id"], "label": c.get("userLabel") or "Application d'authentification",
                 "created_at": c.get("createdDate")} for c in credentials if c.get("type") == "otp"]

    def delete_credential(self, user_id: str, credential_id: str) -> None:
        self._call("delete_credential", user_id, credential_id, not_found=_credential_gone)

    def add_required_action(self, user_id: str, action: str) -> None:
        user = self.get_user(user_id)
        if action not in user.get("requiredActions", []):
            user["requiredActions"] = [*user.get("requiredActions", []), action]
            user.pop("access", None)
            user.pop("userProfileMetadata", None)
            self._call("update_user", user_id, user)

    def effective_realm_roles(self, user_id: str) -> set[str]:
        roles = self._call("get_composite_realm_roles_of_user", user_id, not_found=_user_gone)
        return {r.get("name") for r in roles}

    def sessions(self, user_id: str) -> list[dict]:
        found = self._call("get_sessions", user_id, not_found=_user_gone)
        return [{"id": s["id"], "ip_address": s.get("ipAddress"), "started_at": s.get("start"),
                 "last_access_at": s.get("lastAccess"), "clients": sorted((s.get("clients") or {}).values())}
                for s in found]

    def logout_everywhere(self, user_id: str) -> None:
        self._call("user_logout", user_id, not_found=_user_gone)


class _Gone(Exception):
    pass


def _credential_gone() -> NotFound:
    return NotFound("Appareil inconnu", {"device_id": "no such credential"})


def _user_gone() -> NotFound:
    return NotFound("Utilisateur inconnu dans cette région", {"username": "no such user"})


def _creation_error(exc: KeycloakError) -> Exception:
    body = (exc.response_body or b"").decode("utf-8", "replace")
    try:
        answer = json.loads(body)
        body = answer.get("error_description") or answer.get("errorMessage") or answer.get("error") or body
    except (ValueError, AttributeError):
        pass
    lowered = (body + str(exc.error_message)).lower()
    if exc.response_code == 409:
        if "email" in lowered:
            return Conflict("Cette adresse e-mail est déjà utilisée par un autre compte",
                            {"email": "already used"})
        return Conflict("Un compte existe déjà pour ce numéro RPPS", {"rpps": "already activated"})
    if exc.response_code == 400 and "password" in lowered:
        return InvalidInput("Le mot de passe ne respecte pas la politique de sécurité",
                            {"password": [body[:300]]})
    if exc.response_code == 400:
        return InvalidInput("Données refusées par le service d'authentification", {"keycloak": body[:300]})
    return _unavailable(exc)


@cache
def _directory(server_url: str, realm: str, secret: str) -> Directory:
    return Directory(server_url, realm, secret)


def directory_for(region: str, config: dict | None = None) -> Directory:
    """The (cached) directory of `region`'s realm, with settings from nameko config or the environment."""
    return _directory(setting("ROR_KEYCLOAK_URL", config), get_region(region).realm,
                      setting("ROR_ACCOUNTS_CLIENT_SECRET", config))

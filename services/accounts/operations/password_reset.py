"""Password renewal: "mot de passe oublié" (no enumeration) and the support's reset e-mail.
Keycloak sends the e-mail; nothing is stored here."""

from __future__ import annotations

from collections.abc import Callable

from services.accounts.operations.ports import Directory
from services.common.actor import Actor
from services.common.errors import Conflict, Forbidden, NotFound
from services.common.roles import SUPPORT_ROLES  # noqa: E402


def request_password_reset(region: str, username_or_email: str, directory: Directory,
                           allow: Callable[[str], bool] | None = None) -> bool:
    """Keycloak's reset e-mail when the account exists (and `allow(user_id)`, the per-account limit).
    The caller answers 202 whatever happens; the return value (sent or not) is for logs and tests only."""
    value = username_or_email.strip()
    user = directory.find_by_username(value) or (directory.find_by_email(value) if "@" in value else None)
    if user is None or not user.get("enabled", True) or not user.get("email"):
        return False
    if allow is not None and not allow(user["id"]):
        return False
    directory.send_password_reset(user["id"])
    return True


def support_password_reset(region: str, username: str, actor: Actor, directory: Directory) -> dict:
    if not actor.roles & SUPPORT_ROLES:
        raise Forbidden("Réservé au support et aux administrateurs de la région",
                        {"role": "requires support_agent or region_admin"})
    user = directory.find_by_username(username)
    if user is None:
        raise NotFound("Utilisateur inconnu dans cette région", {"username": username})
    if not user.get("email"):
        raise Conflict("Ce compte n'a pas d'adresse e-mail : le lien ne peut pas être envoyé",
                       {"email": "missing"})
    directory.send_password_reset(user["id"])
    return {"message": f"Un e-mail de renouvellement du mot de passe a été envoyé à {username}."}

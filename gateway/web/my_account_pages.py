"""« Mon compte » (issue 15): national data read-only, e-mail (validated by a link sent to the new
address), phones, password, one-time-code devices, active sessions and « Se déconnecter partout »,
conditions of use. Each form carries the account's ETag; a change made meanwhile gives a clear message."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from gateway.web.account_pages import PASSWORD_RULES
from gateway.web.framework import Web, page
from gateway.web.render import ENV, redirect
from services.common.errors import PreconditionFailed, PreconditionRequired, RorError

STALE = ("Votre compte a été modifié entre-temps (autre onglet ou autre appareil). "
         "La page a été rechargée avec les dernières informations : recommencez votre modification.")
CONTACT_FIELDS = ("email", "mobile_phone", "landline_phone")
PARIS = ZoneInfo("Europe/Paris")


def when(value) -> str:
    """Keycloak's times (epoch milliseconds) as « 01/12/2026 à 09:15 » (Paris time)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "—"
    try:
        moment = datetime.fromtimestamp(value / 1000, PARIS)
    except (OverflowError, OSError, ValueError):
        return "—"
    return moment.strftime("%d/%m/%Y à %H:%M")


ENV.filters.setdefault("when", when)


def contact_changes(form, account: dict) -> dict:
    """Only what differs from the account: an unchanged e-mail is not sent again for validation;
    an emptied phone is removed (None)."""
    data: dict = {}
    email = (form.get("email") or "").strip()
    if email and email.lower() != (account.get("email") or "").lower() and email != account.get("pending_email"):
        data["email"] = email
    for name in ("mobile_phone", "landline_phone"):
        value = (form.get(name) or "").strip()
        if value != (account.get(name) or ""):
            data[name] = value or None
    return data


class MyAccountPages:
    def _account(self, web: Web) -> tuple[dict, str]:
        answer = web.rpc("accounts", "get_account", web.region.code, web.actor())
        return answer["account"], answer["etag"]

    def _show(self, web: Web, status: int = 200, errors=None, error_message=None, values=None, section=None):
        account, etag = self._account(web)
        shown = values or {name: account.get(name) or "" for name in CONTACT_FIELDS}
        return web.page("account/my_account.html", "Mon compte", status=status, errors=errors,
                        error_message=error_message, account=account, etag=etag, values=shown,
                        rules=PASSWORD_RULES, section=section)

    @page("GET", "/<region>/mon-compte", login=True)
    def web_my_account(self, web: Web):
        return self._show(web)

    @page("POST", "/<region>/mon-compte/coordonnees", login=True)
    def web_my_account_contact(self, web: Web):
        account, _ = self._account(web)
        values = {name: (web.form.get(name) or "").strip() for name in CONTACT_FIELDS}
        data = contact_changes(web.form, account)
        if not data:
            web.flash("Aucune modification à enregistrer.", "info")
            return redirect(web.url("/mon-compte"))
        return self._patch(web, data, values, "coordonnees")

    @page("POST", "/<region>/mon-compte/mot-de-passe", login=True)
    def web_my_account_password(self, web: Web):
        data = {name: web.form.get(name) or "" for name in ("current_password", "password", "password_confirmation")}
        return self._patch(web, data, None, "mot-de-passe")

    def _patch(self, web: Web, data: dict, values: dict | None, section: str):
        try:
            answer = web.rpc("accounts", "update_account", web.region.code, data, web.form.get("etag") or "",
                             web.actor())
        except (PreconditionFailed, PreconditionRequired):
            web.flash(STALE, "error")
            return redirect(web.url("/mon-compte"))
        except RorError as exc:
            if exc.status >= 500:
                raise
            return self._show(web, status=exc.status, errors=exc.fields, error_message=exc.message, values=values,
                              section=section)
        changes = answer.get("changes") or {}
        said = []
        if changes.get("password_changed"):
            said.append("Votre mot de passe est modifié.")
        if "mobile_phone" in changes or "landline_phone" in changes:
            said.append("Vos numéros de téléphone sont enregistrés.")
        if changes.get("pending_email"):
            said.append(f"Un e-mail de validation a été envoyé à {changes['pending_email']} : votre nouvelle "
                        "adresse sera utilisée dès que vous aurez cliqué sur le lien qu'il contient.")
        web.flash(" ".join(said) or "Modifications enregistrées.")
        return redirect(web.url(f"/mon-compte#{section}"))

    @page("POST", "/<region>/mon-compte/codes/ajouter", login=True)
    def web_my_account_add_otp(self, web: Web):
        answer = web.rpc("accounts", "add_otp_device", web.region.code, web.actor())
        web.flash(answer["message"])
        return redirect(web.url("/mon-compte#codes"))

    @page("POST", "/<region>/mon-compte/codes/<device_id>/retirer", login=True)
    def web_my_account_remove_otp(self, web: Web, device_id: str):
        try:
            web.rpc("accounts", "remove_otp_device", web.region.code, device_id, web.actor())
        except RorError as exc:
            if exc.status >= 500:
                raise
            web.flash(exc.message, "error")
        else:
            web.flash("L'application de codes à usage unique est retirée de votre compte.")
        return redirect(web.url("/mon-compte#codes"))

    @page("POST", "/<region>/mon-compte/deconnexion-partout", login=True)
    def web_my_account_logout_everywhere(self, web: Web):
        if web.form.get("confirm") != "yes":
            return self._show(web, status=400, section="sessions",
                              errors={"confirm": "Cochez la case pour confirmer la fermeture de toutes vos sessions."},
                              error_message="Confirmation requise.")
        web.rpc("accounts", "logout_everywhere", web.region.code, web.actor())
        # This browser too: its Keycloak session is closed, so its tokens go (a new id for what remains).
        session = self.web_sessions.rotate(web.session)
        session.tokens = None
        web.flash("Toutes vos sessions ont été fermées, y compris celle-ci : reconnectez-vous pour continuer.")
        return redirect(web.url("/"))

"""Pages of the ways in: home, login (authorization code + PKCE), logout, account activation, e-mail
validation landing, first connection (ROR account)."""

from __future__ import annotations

import secrets
import time

from gateway.web import oidc
from gateway.web.framework import Web, page, safe_next, store_tokens, tls_verify
from gateway.web.render import redirect
from services.common.config import setting
from services.common.errors import Conflict, InvalidInput, RorError
from services.common.roles import STRUCTURE_ROLES, TEAM_ROLES

PASSWORD_RULES = ("au moins 8 caractères", "une lettre majuscule", "une lettre minuscule", "un chiffre")
MAX_PENDING_LOGINS = 5  # authorization requests in flight per session (several tabs)


def _callback_uri(web: Web) -> str:
    return f"{web.public_url}/{web.region.code}/auth/callback"


def _keycloak_base(web: Web, via: str | None) -> str:
    """CPS card: the same realm over https (port 8443), where Keycloak asks for the client certificate."""
    if via == "cps":
        return setting_tls(web)
    return web.keycloak_url


def setting_tls(web: Web) -> str:
    try:
        return setting("ROR_KEYCLOAK_TLS_URL", web.config).rstrip("/")
    except KeyError:
        return "https://127.0.0.1:8443"


def landing(web: Web) -> str:
    """Where a logged-in person starts: their offers for a professional, the répertoire for the others."""
    if web.has_role("professional"):
        profile = web.profile() or {}
        if not profile.get("ror_account"):
            return web.url("/premiere-connexion")
        return web.url("/mon-offre")
    if not web.identity.roles & (TEAM_ROLES | set(STRUCTURE_ROLES)) and not (web.profile() or {}).get("ror_account"):
        return web.url("/premiere-connexion")  # a limited account may link a ROR account prepared for it
    return web.url("/")


class AccountPages:
    @page("GET", "/")
    def web_root(self, web: Web):
        return web.page("choose_region.html", "Choisir votre région")

    @page("GET", "/<region>/")
    def web_home(self, web: Web):
        return web.page("home.html", web.region.label)

    # ------------------------------------------------------------------ login / logout
    @page("GET", "/<region>/connexion")
    def web_login(self, web: Web):
        """Send the browser to the realm's login page; `via=psc` goes straight to Pro Santé Connect."""
        via = web.request.args.get("via")
        if web.identity is not None and not via:
            return redirect(safe_next(web.request.args.get("next"), landing(web)))
        verifier, challenge = oidc.pkce_pair()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        pending = web.session.pending
        for old in sorted(pending, key=lambda s: pending[s]["at"])[: max(0, len(pending) - MAX_PENDING_LOGINS + 1)]:
            del pending[old]
        base = _keycloak_base(web, via)
        pending[state] = {"verifier": verifier, "nonce": nonce, "region": web.region.code, "at": time.time(),
                          "next": safe_next(web.request.args.get("next"), ""), "kc": base}
        return redirect(oidc.authorization_url(base, web.region.realm, _callback_uri(web), state, nonce,
                                               challenge, idp_hint=via), 302)

    @page("GET", "/<region>/auth/callback")
    def web_login_callback(self, web: Web):
        args = web.request.args
        pending = web.session.pending.pop(args.get("state") or "", None)
        if pending is None or pending["region"] != web.region.code or time.time() - pending["at"] > 600:
            return web.page("error.html", "Connexion", status=400,
                            message="Cette demande de connexion a expiré. Veuillez vous reconnecter.",
                            retry=web.url("/connexion"))
        if args.get("error"):
            return web.page("error.html", "Connexion", status=401, retry=web.url("/connexion"),
                            message="La connexion n'a pas abouti. Veuillez réessayer.")
        body = oidc.exchange_code(pending["kc"], web.region.realm, args.get("code") or "", pending["verifier"],
                                  _callback_uri(web), verify=tls_verify(web.config, pending["kc"]))
        if not _nonce_matches(body.get("id_token"), pending["nonce"]):
            return web.page("error.html", "Connexion", status=401, retry=web.url("/connexion"),
                            message="La réponse du service d'authentification est invalide. Veuillez réessayer.")
        session = self.web_sessions.rotate(web.session)  # no session fixation across login
        session.region = web.region.code
        session.tokens = store_tokens(body)
        session.tokens["kc"] = pending["kc"]
        if (web.profile() or {}).get("cgu_required"):  # a new version of the conditions of use asks again
            web.flash("Les conditions d'utilisation du Portail ont changé : merci de les lire et de les accepter "
                      "(« Mon compte », rubrique « Conditions d'utilisation »).", "info")
        return redirect(pending["next"] or landing(web))

    @page("POST", "/<region>/deconnexion")
    def web_logout(self, web: Web):
        tokens = web.session.tokens or {}
        self.web_sessions.drop(web.session)
        web.session.tokens = None
        return redirect(oidc.end_session_url(tokens.get("kc") or web.keycloak_url, web.region.realm,
                                             tokens.get("id_token"), f"{web.public_url}/{web.region.code}/"))

    # ------------------------------------------------------------------ activation
    @page("GET,POST", "/<region>/activation")
    def web_activation(self, web: Web):
        values = {"rpps": "", "activation_code": "", "email": "", "phone": ""}
        if web.request.method == "POST":
            form = web.form
            values = {k: (form.get(k) or "").strip() for k in values}
            data = {**values, "password": form.get("password") or "", "phone": values["phone"] or None}
            if data["password"] != (form.get("password_confirmation") or ""):
                return web.page("activation.html", "Activer mon compte", status=400, values=values,
                                rules=PASSWORD_RULES, errors={"password_confirmation":
                                                              ["Les deux mots de passe ne sont pas identiques."]},
                                error_message="Le formulaire comporte des erreurs.")
            try:
                result = web.rpc("accounts", "activate", web.region.code, data)
            except (InvalidInput, Conflict) as exc:
                return web.page("activation.html", "Activer mon compte", status=exc.status, values=values,
                                rules=PASSWORD_RULES, errors=exc.fields, error_message=exc.message)
            return web.page("message.html", "Compte activé", message=result["message"],
                            next_url=None)
        return web.page("activation.html", "Activer mon compte", values=values, rules=PASSWORD_RULES)

    # ------------------------------------------------------------------ first connection
    @page("GET,POST", "/<region>/premiere-connexion", login=True)
    def web_first_connection(self, web: Web):
        profile = web.profile() or {}
        if web.request.method == "POST":
            try:
                web.rpc("accounts", "create_ror_account", web.region.code, web.actor())
            except RorError as exc:
                return web.page("first_connection.html", "Première connexion", status=exc.status,
                                profile=profile, failure=exc.message)
            web.flash("Votre compte ROR est créé : vos offres sont rattachées à votre RPPS.")
            return redirect(web.url("/mon-offre"))
        if profile.get("ror_account"):
            return redirect(web.url("/mon-offre"))
        return web.page("first_connection.html", "Première connexion", profile=profile, failure=None)


def _nonce_matches(id_token: str | None, nonce: str) -> bool:
    """The ID token came back over TLS/loopback from the token endpoint: only its nonce is checked here."""
    if not id_token:
        return False
    import jwt

    try:
        claims = jwt.decode(id_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return secrets.compare_digest(str(claims.get("nonce", "")), nonce)

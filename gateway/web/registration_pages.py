"""Pages of a person without an account (issue 15, guide « kiné / sage-femme 78 » part II): the portal's
registration form (ALTCHA proof of work served locally, one-time code by SMS, conditions of use), the
conditions of use accepted again when their version changes, and « Se connecter avec un compte ROR
existant » at the first connection (code e-mailed to the ROR account's address).

Every call goes through the accounts RPCs the API routes use (gateway/routes/self_service.py); their
field errors are shown next to the form's inputs."""

from __future__ import annotations

from types import SimpleNamespace

from gateway.routes.self_service import _card_certificate
from gateway.web.account_pages import PASSWORD_RULES
from gateway.web.errors import field_id, flatten
from gateway.web.framework import Web, page, safe_next
from gateway.web.render import redirect, render
from services.common.config import setting
from services.common.errors import RorError

# The form of the guide (« Inscription »), in its order; passwords and codes are never sent back.
TEXT_FIELDS = ("civility", "last_name", "first_name", "email", "email_confirmation", "profession", "specialty",
               "national_id", "mobile_phone", "landline_phone", "comment", "username")
OPTIONAL = ("profession", "specialty", "national_id", "landline_phone", "comment")
CIVILITIES = (("MME", "Madame"), ("M", "Monsieur"))
PROFESSIONS = ("Masseur-kinésithérapeute", "Sage-femme", "Médecin", "Infirmier", "Pharmacien", "Chirurgien-dentiste",
               "Orthophoniste", "Orthoptiste", "Pédicure-podologue", "Psychologue", "Diététicien",
               "Ergothérapeute", "Psychomotricien", "Audioprothésiste", "Opticien-lunetier")
SMS_FAILED = "Le code n'a pas pu être envoyé."


def cgu_version(web: Web) -> str:
    return setting("ROR_CGU_VERSION", web.config)


def registration_payload(form) -> dict:
    """The API body of the registration form: empty optional fields absent, the checkbox as a boolean."""
    data = {name: (form.get(name) or "").strip() for name in TEXT_FIELDS}
    for name in OPTIONAL:
        if not data[name]:
            data[name] = None
    data.update(password=form.get("password") or "", password_confirmation=form.get("password_confirmation") or "",
                sms_code=(form.get("sms_code") or "").strip(), cgu_accepted=form.get("cgu_accepted") == "yes",
                cgu_version=form.get("cgu_version") or "", altcha=form.get("altcha") or "")
    return data


class RegistrationPages:
    # ------------------------------------------------------------------ « Je crée mon compte »
    @page("GET,POST", "/<region>/inscription")
    def web_registration(self, web: Web):
        values = {name: "" for name in TEXT_FIELDS}
        if web.request.method == "GET":
            return self._registration_form(web, values)
        form = web.form
        values = {name: (form.get(name) or "").strip() for name in TEXT_FIELDS}
        if form.get("action") == "sms":  # « Recevoir le code par SMS » without JavaScript: the whole form again
            sent, errors = _send_sms(web, values["mobile_phone"])
            return self._registration_form(web, values, errors=errors, sms_sent=sent,
                                           error_message=SMS_FAILED if errors else None,
                                           status=400 if errors else 200)
        data = registration_payload(form)
        card = _card_certificate(SimpleNamespace(request=web.request, service=web.service))
        try:
            result = web.rpc("accounts", "register", web.region.code, data, client_ip=web.request.remote_addr,
                             card_certificate=card, timeout=60)
        except RorError as exc:
            if exc.status >= 500:
                raise
            errors = exc.fields if isinstance(exc.fields, dict) else {}
            if exc.status == 429 and not errors:
                errors = {"sms_code": exc.message}
            return self._registration_form(web, values, errors=errors, error_message=exc.message,
                                           status=exc.status)
        return web.page("account/registered.html", "Inscription enregistrée", result=result)

    def _registration_form(self, web: Web, values: dict, errors=None, error_message=None, status: int = 200,
                           sms_sent: dict | None = None):
        # Through the TLS front with a CPS card, the national identifier is the card's: not typed here.
        card = _card_certificate(SimpleNamespace(request=web.request, service=web.service)) is not None
        return web.page("account/registration.html", "Inscription", status=status, errors=errors, card=card,
                        error_message=error_message, values=values, civilities=CIVILITIES, professions=PROFESSIONS,
                        rules=PASSWORD_RULES, cgu_version=cgu_version(web), sms_sent=sms_sent,
                        captcha_url=f"/api/{web.region.code}/registration/captcha")

    @page("POST", "/<region>/inscription/sms")
    def web_registration_sms(self, web: Web):
        """htmx: « Recevoir le code par SMS » answers with the status line only (the form keeps its input)."""
        sent, errors = _send_sms(web, (web.form.get("mobile_phone") or "").strip())
        # 200 either way: htmx swaps only successful answers, and the status line says what went wrong
        return render("account/_sms_status.html", sent=sent, errors=errors, field_id=field_id)

    # ------------------------------------------------------------------ conditions of use
    @page("GET,POST", "/<region>/conditions-utilisation")
    def web_cgu(self, web: Web):
        """The portal's conditions of use; a logged-in person whose accepted version is not the current one
        accepts them here (the landing page sends her here first)."""
        state = None
        if web.identity is not None:
            profile = web.profile() or {}
            state = {"required": profile.get("cgu_required"), "accepted_at": profile.get("cgu_accepted_at")}
        nxt = safe_next(web.request.values.get("next"), web.url("/"))
        if web.request.method == "POST":
            if web.identity is None:
                return redirect(web.url("/connexion?next=" + web.url("/conditions-utilisation")))
            if web.form.get("accept") != "yes":
                return web.page("account/cgu.html", "Conditions d'utilisation", status=400, state=state,
                                version=cgu_version(web), next_url=nxt,
                                errors={"accept": "Cochez la case pour accepter les conditions d'utilisation."},
                                error_message="Le formulaire comporte des erreurs.")
            web.rpc("accounts", "accept_cgu", web.region.code, {"version": cgu_version(web)}, web.actor())
            web.flash("Merci : vous avez accepté les conditions d'utilisation du Portail.")
            return redirect(nxt)
        return web.page("account/cgu.html", "Conditions d'utilisation", state=state, version=cgu_version(web),
                        next_url=nxt)

    # ------------------------------------------------------------------ « Se connecter avec un compte ROR existant »
    @page("POST", "/<region>/premiere-connexion/lier", login=True)
    def web_link_request(self, web: Web):
        username = (web.form.get("ror_username") or "").strip()
        try:
            sent = web.rpc("accounts", "request_link", web.region.code, {"username": username}, web.actor())
        except RorError as exc:
            if exc.status >= 500:
                raise
            return self._first_connection(web, exc.status, link_errors={"ror_username": exc.message},
                                          ror_username=username)
        return self._first_connection(web, 200, sent=sent, ror_username=username)

    @page("POST", "/<region>/premiere-connexion/lier/confirmer", login=True)
    def web_link_confirm(self, web: Web):
        username = (web.form.get("ror_username") or "").strip()
        code = (web.form.get("link_code") or "").strip()
        try:
            linked = web.rpc("accounts", "confirm_link", web.region.code, {"username": username, "code": code},
                             web.actor())
        except RorError as exc:
            if exc.status >= 500:
                raise
            return self._first_connection(web, exc.status, link_errors={"link_code": exc.message},
                                          ror_username=username, sent={"message": "", "email": ""})
        web.flash(f"Votre identité est rattachée au compte ROR « {linked['linked_from']} ».")
        web.session.tokens["expires_at"] = 0  # refreshed at the next page: the token then carries the new role
        return redirect(web.url("/mon-offre") if web.has_role("professional") else web.url("/"))

    def _first_connection(self, web: Web, status: int, **context):
        profile = web.profile() or {}
        errors = context.pop("link_errors", None)
        return web.page("first_connection.html", "Première connexion", status=status, profile=profile,
                        failure=None, errors=errors,
                        error_message="Le rattachement n'a pas abouti." if errors else None, **context)


def _send_sms(web: Web, mobile_phone: str) -> tuple[dict | None, dict]:
    try:
        sent = web.rpc("accounts", "send_sms_code", web.region.code, {"mobile_phone": mobile_phone},
                       client_ip=web.request.remote_addr)
    except RorError as exc:
        if exc.status >= 500:
            raise
        fields = exc.fields if isinstance(exc.fields, dict) and "mobile_phone" in exc.fields else {}
        return None, flatten(fields) or {"mobile_phone": exc.message}
    return sent, {}


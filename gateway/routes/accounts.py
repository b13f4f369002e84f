"""Routes of the accounts service: identity, activation, ROR account, habilitations, password renewal."""

from __future__ import annotations

from marshmallow import Schema, fields

from gateway import api, edge
from gateway.api import ADMIN, ANONYMOUS, AUTHENTICATED, REGIONAL_TEAM, Context, endpoint
from gateway.schemas import IdentitySchema
from services.accounts.contracts import (
    AcceptedSchema,
    ActivateSchema,
    ActivationResultSchema,
    GrantSchema,
    HabilitationSchema,
    IssueCodesSchema,
    IssuedCodeSchema,
    PasswordResetSchema,
    RorAccountSchema,
    VerifyEmailResultSchema,
    VerifyEmailSchema,
)
from services.common.errors import RorError
from services.common.regions import get_region

TAGS = ("accounts",)
RESET_ACCEPTED = ("Si un compte correspond, un e-mail permettant de choisir un nouveau mot de passe "
                  "vient d'être envoyé.")


class IssuedCodesSchema(Schema):
    codes = fields.List(fields.Nested(IssuedCodeSchema), required=True)


class HabilitationListSchema(Schema):
    habilitations = fields.List(fields.Nested(HabilitationSchema), required=True)


def _page(title: str, text: str, status: int, region: str | None = None, ok: bool = False):
    """The verification link is opened in a browser, not by an API client: a page of the web front."""
    from gateway.web.framework import message_page

    return message_page(region, title, text, status, login_link=ok)


class AccountsRoutes:
    @endpoint("GET", "/api/<region>/me", AUTHENTICATED, response=IdentitySchema, tags=TAGS, cache=True)
    def me(self, ctx: Context):
        """Who am I: identity from the token, roles, RPPS, ROR account and habilitations."""
        identity = ctx.identity.to_dict()
        extra = api.call(self.accounts, "profile", ctx.region, identity)
        return {**identity, **extra}

    # ------------------------------------------------------------------ activation
    @endpoint("POST", "/api/<region>/accounts/activation-codes", ADMIN, request=IssueCodesSchema,
              response=IssuedCodesSchema, status=201, tags=TAGS)
    def issue_activation_codes(self, ctx: Context):
        """Issue one-time activation codes (one RPPS or one profession); the clear codes are shown once."""
        data = ctx.json(IssueCodesSchema())
        codes = api.call(self.accounts, "issue_codes", ctx.region, data, ctx.actor(), timeout=120)
        return {"codes": codes}

    @endpoint("POST", "/api/<region>/accounts/activate", ANONYMOUS, request=ActivateSchema,
              response=ActivationResultSchema, status=201, tags=TAGS)
    def activate_account(self, ctx: Context):
        """Activate an account: RPPS + activation code + password + e-mail (to verify before login)."""
        data = ctx.json(ActivateSchema())
        # The client's address: wrong codes lock the RPPS for this client only (services.accounts).
        return api.call(self.accounts, "activate", ctx.region, data, client=edge.client_ip(ctx.request))

    @endpoint("POST", "/api/<region>/accounts/verify-email", ANONYMOUS, request=VerifyEmailSchema,
              response=VerifyEmailResultSchema, tags=TAGS)
    def verify_email(self, ctx: Context):
        """Validate the e-mail address with the token of the « Je valide mon adresse mail » link."""
        return api.call(self.accounts, "verify_email", ctx.region, ctx.json(VerifyEmailSchema()))

    @endpoint("GET", "/api/<region>/accounts/verify-email", ANONYMOUS, tags=TAGS, produces="text/html")
    def verify_email_link(self, ctx: Context):
        """The e-mail link itself (?token=...): an HTML page saying whether the address is validated."""
        label = get_region(ctx.region).label
        try:
            result = api.call(self.accounts, "verify_email", ctx.region, {"token": ctx.arg("token")})
        except RorError as exc:
            return _page("Validation de votre adresse mail", f"{exc.message} Contactez le support du {label}.",
                         exc.status, ctx.region)
        return _page("Validation de votre adresse mail", result["message"], 200, ctx.region, ok=True)

    # ------------------------------------------------------------------ password renewal
    @endpoint("POST", "/api/<region>/accounts/password-reset", ANONYMOUS, request=PasswordResetSchema,
              response=AcceptedSchema, status=202, tags=TAGS)
    def request_password_reset(self, ctx: Context):
        """Forgotten password: Keycloak e-mails a renewal link. Always 202 (no account enumeration)."""
        api.call(self.accounts, "request_password_reset", ctx.region, ctx.json(PasswordResetSchema()))
        return {"message": RESET_ACCEPTED}

    @endpoint("POST", "/api/<region>/accounts/<username>/password-reset", REGIONAL_TEAM,
              response=AcceptedSchema, status=202, tags=TAGS)
    def support_password_reset(self, ctx: Context, username: str):
        """Support desk: send the password renewal e-mail to a requester (support agent, region admin)."""
        return api.call(self.accounts, "support_password_reset", ctx.region, username, ctx.actor())

    # ------------------------------------------------------------------ ROR account
    @endpoint("POST", "/api/<region>/me/ror-account", AUTHENTICATED, response=RorAccountSchema, status=201,
              tags=TAGS)
    def create_ror_account(self, ctx: Context):
        """First connection: create my ROR account and link the offers generated from my RPPS data."""
        return api.call(self.accounts, "create_ror_account", ctx.region, ctx.actor())

    # ------------------------------------------------------------------ habilitations
    @endpoint("GET", "/api/<region>/habilitations", REGIONAL_TEAM, response=HabilitationListSchema, tags=TAGS)
    def list_habilitations(self, ctx: Context):
        """Habilitations of the region (?username= to filter)."""
        found = api.call(self.accounts, "list_habilitations", ctx.region, ctx.arg("username"), ctx.actor())
        return {"habilitations": found}

    @endpoint("POST", "/api/<region>/habilitations", ADMIN, request=GrantSchema, response=HabilitationSchema,
              status=201, tags=TAGS)
    def grant_habilitation(self, ctx: Context):
        """Grant a role on a structure (structure_editor, directeur); the user's next token carries it."""
        granted = api.call(self.accounts, "grant_habilitation", ctx.region, ctx.json(GrantSchema()), ctx.actor())
        self.habilitations.invalidate(ctx.region, granted["subject"])  # works on the user's next request
        return granted

    @endpoint("DELETE", "/api/<region>/habilitations/<int:habilitation_id>", ADMIN,
              response=HabilitationSchema, tags=TAGS)
    def revoke_habilitation(self, ctx: Context, habilitation_id: int):
        """Revoke a habilitation; the realm role goes with the user's last habilitation of that role."""
        revoked = api.call(self.accounts, "revoke_habilitation", ctx.region, habilitation_id, ctx.actor())
        self.habilitations.invalidate(ctx.region, revoked["subject"])  # stops at once on this gateway
        return revoked

"""Routes of issue 15: registration on the regional portal (captcha, SMS code, form), conditions of use,
"Mon compte" and linking an existing ROR account. The pages themselves are the portal's (gateway/web)."""

from __future__ import annotations

from urllib.parse import unquote

from marshmallow import Schema, fields

from gateway import api
from gateway.api import ADMIN, ANONYMOUS, AUTHENTICATED, Context, Reply, endpoint
from gateway.routes.accounts import _page
from services.accounts.contracts import (
    AcceptedSchema,
    AccountChangesSchema,
    AccountPatchSchema,
    AccountSchema,
    CaptchaChallengeSchema,
    CguAcceptSchema,
    CguStateSchema,
    ConfirmSchema,
    EmailConfirmSchema,
    LinkConfirmSchema,
    LinkedAccountSchema,
    LinkRequestSchema,
    LinkSentSchema,
    OtpAddSchema,
    OtpDeviceSchema,
    ProvisionedSchema,
    ProvisionSchema,
    RegistrationResultSchema,
    RegistrationSchema,
    SmsCodeRequestSchema,
    SmsCodeSentSchema,
)
from services.common.config import setting
from services.common.errors import RorError

TAGS = ("accounts",)
# Header where the TLS front (mutual TLS with the CPS card) forwards the client certificate, URL-escaped
# PEM (nginx $ssl_client_escaped_cert). Trusted only from the addresses in ROR_TLS_PROXY_ADDRESSES.
CARD_HEADER = "X-SSL-Client-Cert"


class AccountUpdateSchema(AccountSchema):
    changes = fields.Nested(AccountChangesSchema)


class OtpDevicesSchema(Schema):
    otp_devices = fields.List(fields.Nested(OtpDeviceSchema), required=True)


def _card_certificate(ctx: Context) -> str | None:
    value = ctx.request.headers.get(CARD_HEADER)
    if not value:
        return None
    trusted = {a.strip() for a in setting("ROR_TLS_PROXY_ADDRESSES", ctx.service.config).split(",") if a.strip()}
    if ctx.request.remote_addr not in trusted:
        return None  # anyone may send the header: only the TLS front's copy proves the card
    return unquote(value)[:20000]


def _account_reply(answer: dict, status: int = 200) -> Reply:
    return Reply(answer["account"] | ({"changes": answer["changes"]} if "changes" in answer else {}), status,
                 headers={"ETag": f'"{answer["etag"]}"'})


class SelfServiceRoutes:
    # ------------------------------------------------------------------ registration
    @endpoint("GET", "/api/<region>/registration/captcha", ANONYMOUS, response=CaptchaChallengeSchema, tags=TAGS)
    def registration_captcha(self, ctx: Context):
        """A proof-of-work challenge for the ALTCHA widget of the registration form (self-hosted)."""
        return api.call(self.accounts, "captcha_challenge", ctx.region)

    @endpoint("POST", "/api/<region>/registration/sms-code", ANONYMOUS, request=SmsCodeRequestSchema,
              response=SmsCodeSentSchema, status=201, tags=TAGS)
    def registration_sms_code(self, ctx: Context):
        """Send the one-time code of the registration form by SMS (rate-limited per number and address)."""
        ctx.json(SmsCodeRequestSchema())  # 400 before any RPC; the service loads the raw body again
        return api.call(self.accounts, "send_sms_code", ctx.region, ctx.json(), client_ip=ctx.request.remote_addr)

    @endpoint("POST", "/api/<region>/registration", ANONYMOUS, request=RegistrationSchema,
              response=RegistrationResultSchema, status=201, tags=TAGS)
    def register(self, ctx: Context):
        """Register on the regional portal (form of the guide + SMS code + CGU + captcha); then the e-mail
        « Validation de votre inscription ». With a CPS card the national identifier comes from the card."""
        ctx.json(RegistrationSchema())  # 400 before any RPC
        return api.call(self.accounts, "register", ctx.region, ctx.json(), client_ip=ctx.request.remote_addr,
                        card_certificate=_card_certificate(ctx), timeout=60)

    # ------------------------------------------------------------------ conditions of use
    @endpoint("POST", "/api/<region>/me/cgu", AUTHENTICATED, request=CguAcceptSchema, response=CguStateSchema,
              tags=TAGS)
    def accept_cgu(self, ctx: Context):
        """Accept the current version of the portal's conditions of use (GET /me says cgu_required)."""
        return api.call(self.accounts, "accept_cgu", ctx.region, ctx.json(CguAcceptSchema()), ctx.actor())

    # ------------------------------------------------------------------ "Mon compte"
    @endpoint("GET", "/api/<region>/me/account", AUTHENTICATED, response=AccountSchema, tags=TAGS)
    def my_account(self, ctx: Context):
        """Mon compte: national data (read-only), e-mail, phones, OTP devices, sessions, CGU; ETag."""
        return _account_reply(api.call(self.accounts, "get_account", ctx.region, ctx.actor()))

    @endpoint("PATCH", "/api/<region>/me/account", AUTHENTICATED, request=AccountPatchSchema,
              response=AccountUpdateSchema, tags=TAGS)
    def update_my_account(self, ctx: Context):
        """Change phones, e-mail (validated by a link sent to the new address) or password (If-Match)."""
        if_match = ctx.if_match()
        ctx.json(AccountPatchSchema())
        return _account_reply(api.call(self.accounts, "update_account", ctx.region, ctx.json(), if_match,
                                       ctx.actor()))

    @endpoint("GET", "/api/<region>/me/account/confirm-email", ANONYMOUS, tags=TAGS, produces="text/html")
    def confirm_email_link(self, ctx: Context):
        """The link of the e-mail sent to a new address (?token=...): an HTML page."""
        try:
            result = api.call(self.accounts, "confirm_email_change", ctx.region, ctx.arg("token") or "")
        except RorError as exc:
            return _page("Validation de votre adresse mail", exc.message, exc.status)
        return _page("Validation de votre adresse mail", result["message"], 200)

    @endpoint("POST", "/api/<region>/me/account/confirm-email", ANONYMOUS, request=EmailConfirmSchema,
              response=AcceptedSchema, tags=TAGS)
    def confirm_email(self, ctx: Context):
        """Validate a new e-mail address with the token of its link."""
        token = ctx.json(EmailConfirmSchema())["token"]
        return api.call(self.accounts, "confirm_email_change", ctx.region, token)

    @endpoint("POST", "/api/<region>/me/account/otp-devices", AUTHENTICATED, request=OtpAddSchema,
              response=AcceptedSchema, status=202, tags=TAGS)
    def add_otp_device(self, ctx: Context):
        """Add a one-time-code application: Keycloak shows its QR code at the next login."""
        ctx.json(OtpAddSchema())
        return api.call(self.accounts, "add_otp_device", ctx.region, ctx.actor())

    @endpoint("DELETE", "/api/<region>/me/account/otp-devices/<device_id>", AUTHENTICATED,
              response=OtpDevicesSchema, tags=TAGS)
    def remove_otp_device(self, ctx: Context, device_id: str):
        """Remove a one-time-code device (not the last one of a role that requires it)."""
        return api.call(self.accounts, "remove_otp_device", ctx.region, device_id, ctx.actor())

    @endpoint("POST", "/api/<region>/me/account/logout-everywhere", AUTHENTICATED, request=ConfirmSchema,
              response=AcceptedSchema, tags=TAGS)
    def logout_everywhere(self, ctx: Context):
        """Close every session of my account (all browsers and devices); body {"confirm": true}."""
        ctx.json(ConfirmSchema())
        return api.call(self.accounts, "logout_everywhere", ctx.region, ctx.actor())

    # ------------------------------------------------------------------ linking an existing ROR account
    @endpoint("POST", "/api/<region>/ror-accounts", ADMIN, request=ProvisionSchema, response=ProvisionedSchema,
              status=201, tags=TAGS)
    def provision_ror_account(self, ctx: Context):
        """Region admin: prepare a ROR account (e.g. for a structure) that a person will link to."""
        return api.call(self.accounts, "provision_account", ctx.region, ctx.json(ProvisionSchema()), ctx.actor())

    @endpoint("POST", "/api/<region>/me/ror-account/link", AUTHENTICATED, request=LinkRequestSchema,
              response=LinkSentSchema, status=202, tags=TAGS, errors=(429,))  # 5 codes an hour
    def request_ror_account_link(self, ctx: Context):
        """« Se connecter avec un compte ROR existant »: a code is e-mailed to that account's address."""
        return api.call(self.accounts, "request_link", ctx.region, ctx.json(LinkRequestSchema()), ctx.actor())

    @endpoint("POST", "/api/<region>/me/ror-account/link/confirm", AUTHENTICATED, request=LinkConfirmSchema,
              response=LinkedAccountSchema, status=201, tags=TAGS)
    def confirm_ror_account_link(self, ctx: Context):
        """Confirm the link with the e-mailed code: the ROR account becomes mine."""
        return api.call(self.accounts, "confirm_link", ctx.region, ctx.json(LinkConfirmSchema()), ctx.actor())

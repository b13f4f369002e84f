"""Routes of the accounts service: identity, activation, ROR account, habilitations."""

from __future__ import annotations

from gateway import api
from gateway.api import AUTHENTICATED, Context, endpoint
from gateway.schemas import IdentitySchema


class AccountsRoutes:
    @endpoint("GET", "/api/<region>/me", AUTHENTICATED, response=IdentitySchema, tags=("accounts",))
    def me(self, ctx: Context):
        """Who am I: identity from the token, roles, RPPS, ROR account and habilitations."""
        identity = ctx.identity.to_dict()
        extra = api.call(self.accounts, "profile", ctx.region, identity)
        return IdentitySchema().dump({**identity, **extra})



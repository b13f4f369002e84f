"""Web pages of the ROR served by the gateway: server-rendered Jinja2 templates (French, RGAA-minded),
a little htmx, login by authorization code + PKCE against the region's realm, server-side sessions.

The page handlers call the same RPCs as the HTTP API (gateway.api.call); they never call the API over
the network. Routes live in mixins composed by gateway.service.GatewayService.
"""

"""Routes of the notifications service: a person's e-mail history and preferences; webhooks."""

from __future__ import annotations

from gateway import api
from gateway.api import ADMIN, AUTHENTICATED, Context, Reply, endpoint
from services.notifications.contracts import (
    DeliveryListSchema,
    DeliveryQuerySchema,
    DeliverySchema,
    HistoryQuerySchema,
    MailListSchema,
    PreferencesSchema,
    ReplayResultSchema,
    ReplaySinceSchema,
    WebhookCreateSchema,
    WebhookListSchema,
    WebhookSchema,
    WebhookUpdateSchema,
)

TAGS = ("notifications",)
WEBHOOK_TAGS = ("webhooks",)


def _me(ctx: Context) -> dict:
    return {"subject": ctx.identity.subject, "email": ctx.identity.email}


class NotificationsRoutes:
    @endpoint("GET", "/api/<region>/notifications", AUTHENTICATED, response=MailListSchema, tags=TAGS,
              query=HistoryQuerySchema)
    def list_notifications(self, ctx: Context):
        """My e-mail history, newest first (?limit=, ?before= to page), with each mail's status."""
        return api.call(self.notifications, "history", ctx.region, _me(ctx), ctx.query())

    @endpoint("GET", "/api/<region>/notifications/preferences", AUTHENTICATED, response=PreferencesSchema,
              tags=TAGS)
    def get_notification_preferences(self, ctx: Context):
        """Which e-mails I receive: reminders can be refused, security and information mails cannot."""
        return api.call(self.notifications, "preferences", ctx.region, _me(ctx))

    @endpoint("PUT", "/api/<region>/notifications/preferences", AUTHENTICATED, request=PreferencesSchema,
              response=PreferencesSchema, tags=TAGS)
    def set_notification_preferences(self, ctx: Context):
        """`{"reminders": false}` stops update reminders; security mails cannot be refused (400)."""
        return api.call(self.notifications, "set_preferences", ctx.region, _me(ctx),
                        ctx.json(PreferencesSchema()))


def _with_etag(sub: dict, status: int = 200) -> Reply:
    return Reply(sub, status, headers={"ETag": sub["etag"]})


class WebhooksRoutes:
    @endpoint("POST", "/api/<region>/webhooks", ADMIN, request=WebhookCreateSchema, response=WebhookSchema,
              status=201, tags=WEBHOOK_TAGS)
    def create_webhook(self, ctx: Context):
        """Register a connected tool's endpoint; the `whsec_…` signing secret is shown in this answer only."""
        data = ctx.json(WebhookCreateSchema())
        return _with_etag(api.call(self.notifications, "create_webhook", ctx.region, data, ctx.actor()), 201)

    @endpoint("GET", "/api/<region>/webhooks", ADMIN, response=WebhookListSchema, tags=WEBHOOK_TAGS)
    def list_webhooks(self, ctx: Context):
        """The region's webhook subscriptions (secrets are never shown again)."""
        return {"webhooks": api.call(self.notifications, "list_webhooks", ctx.region, ctx.actor())}

    @endpoint("GET", "/api/<region>/webhooks/<int:webhook_id>", ADMIN, response=WebhookSchema,
              tags=WEBHOOK_TAGS)
    def get_webhook(self, ctx: Context, webhook_id: int):
        """One subscription, with its ETag for PATCH and rotation."""
        return _with_etag(api.call(self.notifications, "get_webhook", ctx.region, webhook_id, ctx.actor()))

    @endpoint("PATCH", "/api/<region>/webhooks/<int:webhook_id>", ADMIN, request=WebhookUpdateSchema,
              response=WebhookSchema, tags=WEBHOOK_TAGS)
    def update_webhook(self, ctx: Context, webhook_id: int):
        """Disable (`{"active": false}`), enable, or change url / events / description (If-Match)."""
        data = ctx.json(WebhookUpdateSchema())
        return _with_etag(api.call(self.notifications, "update_webhook", ctx.region, webhook_id, data,
                                   ctx.if_match(), ctx.actor()))

    @endpoint("POST", "/api/<region>/webhooks/<int:webhook_id>/rotate-secret", ADMIN, response=WebhookSchema,
              tags=WEBHOOK_TAGS)
    def rotate_webhook_secret(self, ctx: Context, webhook_id: int):
        """New secret (shown once); for 24 h every delivery carries both signatures (If-Match)."""
        return _with_etag(api.call(self.notifications, "rotate_webhook_secret", ctx.region, webhook_id,
                                   ctx.if_match(), ctx.actor()))

    @endpoint("GET", "/api/<region>/webhooks/<int:webhook_id>/deliveries", ADMIN, response=DeliveryListSchema,
              tags=WEBHOOK_TAGS, query=DeliveryQuerySchema)
    def list_webhook_deliveries(self, ctx: Context, webhook_id: int):
        """Delivery log, newest first (?status=pending|delivered|failed, ?limit=, ?before=)."""
        return api.call(self.notifications, "webhook_deliveries", ctx.region, webhook_id, ctx.query(),
                        ctx.actor())

    @endpoint("POST", "/api/<region>/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/replay", ADMIN,
              response=DeliverySchema, status=202, tags=WEBHOOK_TAGS)
    def replay_webhook_delivery(self, ctx: Context, webhook_id: int, delivery_id: int):
        """Send one delivery again (same webhook-id), e.g. one parked as failed."""
        return api.call(self.notifications, "replay_delivery", ctx.region, webhook_id, delivery_id, ctx.actor())

    @endpoint("POST", "/api/<region>/webhooks/<int:webhook_id>/replay", ADMIN, request=ReplaySinceSchema,
              response=ReplayResultSchema, status=202, tags=WEBHOOK_TAGS)
    def replay_webhook_since(self, ctx: Context, webhook_id: int):
        """Send again every delivery created since `since` (a receiver that lost data)."""
        return api.call(self.notifications, "replay_webhook_since", ctx.region, webhook_id,
                        ctx.json(ReplaySinceSchema()), ctx.actor())

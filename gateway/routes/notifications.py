"""Routes of the notifications service: a person's e-mail history and preferences."""

from __future__ import annotations

from gateway import api
from gateway.api import AUTHENTICATED, Context, endpoint
from services.notifications.schemas import HistoryQuerySchema, MailListSchema, PreferencesSchema

TAGS = ("notifications",)


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

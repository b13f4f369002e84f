"""Webhooks for connected tools, after the Standard Webhooks specification (plain module, no nameko).

A region admin registers a URL and the event types it wants; each matching event becomes one
delivery row (unique per subscription and event: never twice), whose body is fixed once and signed at
each attempt: headers `webhook-id` (stable across retries), `webhook-timestamp`, `webhook-signature`
= `v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>` — one signature per live secret, so during a
rotation the receiver may verify with the old or the new one. Only 2xx counts; retries follow
SCHEDULE with jitter (a `Retry-After` answer is honoured); 410 disables the subscription; after the
last attempt the delivery is parked as `failed` until someone replays it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import random
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.common.errors import Conflict, InvalidInput, NotFound, PreconditionFailed, PreconditionRequired
from services.common.outbox import utcnow
from services.notifications.contracts import WEBHOOK_EVENTS
from services.notifications.models import Delivery, Subscription

# Envelope fields that are for the notifications service itself, not for receivers.
PRIVATE_FIELDS = ("recipients", "mail_category")
# Standard Webhooks' suggested schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.2  # ± 20 % of each delay, so that receivers coming back are not hit all at once
TIMEOUT = 15.0
ROTATION_OVERLAP = timedelta(hours=24)
MAX_RETRY_AFTER = timedelta(hours=24)
LEASE = timedelta(seconds=60)  # a delivery being attempted is invisible to other senders this long
ATTEMPT_LOG_SIZE = 20


# ------------------------------------------------------------------ signing
def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    digest = hmac.new(_key(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secrets_: list[str], msg_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets_),
        "user-agent": "ROR-Webhooks/1.0",
    }


def live_secrets(sub: Subscription, now: datetime | None = None) -> list[str]:
    now = now or utcnow()
    keys = [sub.secret]
    if sub.previous_secret and sub.previous_secret_until and sub.previous_secret_until > now:
        keys.append(sub.previous_secret)
    return keys


# ------------------------------------------------------------------ SSRF
def check_url(url: str, allow_loopback: bool = False, allow_private: bool = False,
              resolve: Callable = socket.getaddrinfo) -> None:
    """Refuse what is not http(s) to a public address. Checked at registration and before every
    attempt (a name may be re-pointed to an internal address after registration)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("URL invalide", {"url": "expected an http(s) URL with a host"})
    if parts.username or parts.password:
        raise InvalidInput("URL invalide", {"url": "credentials in the URL are not accepted"})
    try:
        infos = resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                        proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidInput("Adresse inconnue", {"url": f"host {parts.hostname!r} does not resolve"}) from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if address.is_loopback:
            if allow_loopback or allow_private:
                continue
            raise InvalidInput("Adresse refusée", {"url": f"{address} is a loopback address"})
        if address.is_private or address.is_link_local or address.is_reserved or address.is_multicast \
                or address.is_unspecified or not address.is_global:
            if allow_private:
                continue
            raise InvalidInput("Adresse refusée", {"url": f"{address} is not a public address"})


# ------------------------------------------------------------------ schedule
def next_delay(attempts: int, schedule: tuple[float, ...] = SCHEDULE,
               rand: Callable[[], float] = random.random) -> timedelta | None:
    """Delay before attempt `attempts + 1` (attempts already made), None when none is left."""
    if attempts >= len(schedule):
        return None
    base = schedule[attempts]
    return timedelta(seconds=base * (1 + JITTER * (2 * rand() - 1)))


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """`Retry-After`: seconds or an HTTP date; capped at a day."""
    if not value:
        return None
    value = value.strip()
    try:
        delay = timedelta(seconds=max(0, int(value)))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        delay = max(timedelta(0), when - now)
    return min(delay, MAX_RETRY_AFTER)


# ------------------------------------------------------------------ subscriptions
def etag(sub: Subscription) -> str:
    return f'"{sub.id}-{int(sub.updated_at.timestamp() * 1_000_000)}"'


def check_etag(sub: Subscription, if_match: str | None) -> None:
    if if_match is None:
        raise PreconditionRequired("En-tête If-Match requis (ETag de la version lue)", {"If-Match": "missing"})
    if if_match.strip().strip('"') != etag(sub).strip('"'):
        raise PreconditionFailed("L'abonnement a été modifié entre-temps : relisez-le",
                                 {"If-Match": f"stale, current is {etag(sub)}"})


def view(sub: Subscription, secret: str | None = None) -> dict:
    data = {
        "id": sub.id, "url": sub.url, "events": list(sub.events), "description": sub.description,
        "active": sub.active, "disabled_reason": sub.disabled_reason, "created_by": sub.created_by,
        "created_at": sub.created_at, "updated_at": sub.updated_at,
        "rotation_ends_at": sub.previous_secret_until if sub.previous_secret else None,
        "etag": etag(sub),
    }
    if secret is not None:
        data["secret"] = secret  # shown once: at creation and at rotation
    return data


def get(session: Session, region: str, sub_id: int, lock: bool = False) -> Subscription:
    stmt = select(Subscription).where(Subscription.id == sub_id, Subscription.region == region)
    if lock:
        stmt = stmt.with_for_update()
    sub = session.scalars(stmt).first()
    if sub is None:
        raise NotFound("Abonnement inconnu", {"webhook_id": sub_id})
    return sub


def create(session: Session, region: str, data: dict, created_by: str, url_check: Callable[[str], None]) -> dict:
    url_check(data["url"])
    sub = Subscription(region=region, url=data["url"], events=sorted(set(data["events"])),
                       description=data.get("description") or "", secret=new_secret(), active=True,
                       created_by=created_by, created_at=utcnow(), updated_at=utcnow())
    session.add(sub)
    session.flush()
    return view(sub, secret=sub.secret)


def update_subscription(session: Session, region: str, sub_id: int, data: dict, if_match: str | None,
                        url_check: Callable[[str], None]) -> dict:
    sub = get(session, region, sub_id, lock=True)
    check_etag(sub, if_match)
    if "url" in data:
        url_check(data["url"])
        sub.url = data["url"]
    if "events" in data:
        sub.events = sorted(set(data["events"]))
    if "description" in data:
        sub.description = data["description"] or ""
    if "active" in data and data["active"] != sub.active:
        sub.active = data["active"]
        sub.disabled_reason = None if sub.active else "désactivé par un administrateur"
    sub.updated_at = utcnow()
    session.flush()
    return view(sub)


def rotate(session: Session, region: str, sub_id: int, if_match: str | None,
           overlap: timedelta = ROTATION_OVERLAP) -> dict:
    """New secret (shown once); the old one keeps signing alongside it for `overlap`."""
    sub = get(session, region, sub_id, lock=True)
    check_etag(sub, if_match)
    now = utcnow()
    sub.previous_secret, sub.previous_secret_until = sub.secret, now + overlap
    sub.secret = new_secret()
    sub.updated_at = now
    session.flush()
    return view(sub, secret=sub.secret)


def listing(session: Session, region: str) -> list[dict]:
    return [view(s) for s in session.scalars(select(Subscription).where(Subscription.region == region)
                                             .order_by(Subscription.id))]


# ------------------------------------------------------------------ deliveries
def body_of(event: dict) -> str:
    data = {k: v for k, v in event.items() if k not in PRIVATE_FIELDS}
    return json.dumps({"type": event["event_type"], "timestamp": event.get("occurred_at"), "data": data},
                      ensure_ascii=False, separators=(",", ":"), default=str)


def enqueue(session: Session, event: dict) -> list[tuple[int, int]]:
    """One delivery per active subscription of the event's region that wants its type; returns the
    new (delivery id, subscription id)."""
    if event["event_type"] not in WEBHOOK_EVENTS or not event.get("region"):
        return []
    subs = session.scalars(select(Subscription).where(Subscription.region == event["region"],
                                                      Subscription.active.is_(True)))
    body = body_of(event)
    created = []
    for sub in subs:
        if event["event_type"] not in sub.events:
            continue
        new_id = session.execute(
            pg_insert(Delivery).values(
                subscription_id=sub.id, event_id=event["event_id"], event_type=event["event_type"],
                message_id=f"msg_{event['event_id']}", body=body, status="pending", attempts=0,
                next_attempt_at=utcnow(), attempt_log=[], created_at=utcnow())
            .on_conflict_do_nothing(constraint="uq_deliveries_subscription_event").returning(Delivery.id)
        ).scalar()
        if new_id is not None:
            created.append((new_id, sub.id))
    return created


def due(session: Session, per_subscription: dict[int, int], limit_each: int,
        now: datetime | None = None) -> list[tuple[int, int]]:
    """(delivery id, subscription id) due now, at most `limit_each - in flight` per subscription,
    oldest first within each: one busy subscription never takes the others' turn."""
    now = now or utcnow()
    ranked = (select(Delivery.id, Delivery.subscription_id,
                     func.row_number().over(partition_by=Delivery.subscription_id,
                                            order_by=Delivery.next_attempt_at).label("rank"))
              .join(Subscription, Subscription.id == Delivery.subscription_id)
              .where(Delivery.status == "pending", Delivery.next_attempt_at <= now,
                     Subscription.active.is_(True))
              .subquery())
    rows = session.execute(select(ranked.c.id, ranked.c.subscription_id)
                           .where(ranked.c.rank <= limit_each).order_by(ranked.c.rank)).all()
    picked = []
    for delivery_id, sub_id in rows:
        if per_subscription.get(sub_id, 0) < limit_each:
            per_subscription[sub_id] = per_subscription.get(sub_id, 0) + 1
            picked.append((delivery_id, sub_id))
    return picked


@dataclass
class Attempt:
    delivery_id: int
    subscription_id: int
    url: str
    headers: dict
    body: str
    attempts: int  # this one included
    attempt_log: list


def begin(session: Session, delivery_id: int, url_check: Callable[[str], None],
          now: datetime | None = None, schedule: tuple[float, ...] = SCHEDULE) -> Attempt | None:
    """Take the delivery for one attempt (a lease: other senders skip it meanwhile) and sign it, in one
    statement; the caller commits the lease before calling the receiver. None when it is not ours to send
    (taken, not due, subscription disabled, or its address now refused: that outcome is recorded)."""
    now = now or utcnow()
    row = session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == "pending", Delivery.next_attempt_at <= now,
               Delivery.subscription_id == Subscription.id, Subscription.active.is_(True))
        .values(next_attempt_at=now + LEASE, attempts=Delivery.attempts + 1)
        .returning(Delivery.subscription_id, Delivery.message_id, Delivery.body, Delivery.attempts,
                   Delivery.attempt_log, Subscription.url, Subscription.secret, Subscription.previous_secret,
                   Subscription.previous_secret_until)
    ).first()
    if row is None:
        return None
    attempt = Attempt(delivery_id, row.subscription_id, row.url,
                      headers(live_secrets(row, now), row.message_id, int(now.timestamp()), row.body), row.body,
                      row.attempts, list(row.attempt_log or []))
    try:
        url_check(row.url)
    except InvalidInput as exc:  # the name now points inside: do not call it, record why
        finish(session, attempt, None, None, f"refused: {exc.fields.get('url')}", 0.0, schedule=schedule)
        return None
    return attempt


def finish(session: Session, attempt: Attempt, status_code: int | None, retry_after_header: str | None,
           error: str | None, elapsed_ms: float, now: datetime | None = None,
           schedule: tuple[float, ...] = SCHEDULE, rand: Callable[[], float] = random.random) -> str:
    """Record the attempt's outcome (the lease makes the row ours; the caller commits). Returns the new
    status."""
    now = now or utcnow()
    entry = {"at": now.isoformat(), "status_code": status_code, "error": error, "ms": round(elapsed_ms)}
    values: dict = {"attempt_log": [*attempt.attempt_log, entry][-ATTEMPT_LOG_SIZE:],
                    "last_status_code": status_code, "last_error": error}
    if status_code is not None and 200 <= status_code < 300:
        values.update(status="delivered", delivered_at=now)
    elif status_code == 410:  # Gone: the receiver asks us to stop for good
        values.update(status="failed")
        session.execute(update(Subscription).where(Subscription.id == attempt.subscription_id).values(
            active=False, disabled_reason="le destinataire a répondu 410 Gone", updated_at=now))
    else:
        delay = next_delay(attempt.attempts, schedule, rand)
        if delay is None:
            values.update(status="failed")  # parked: replay brings it back
        else:
            asked = retry_after(retry_after_header, now)  # the receiver knows when it will be back
            values.update(status="pending", next_attempt_at=now + (asked if asked is not None else delay))
    session.execute(update(Delivery).where(Delivery.id == attempt.delivery_id).values(**values))
    return values["status"]


def deliveries(session: Session, region: str, sub_id: int, status: str | None, limit: int,
               before_id: int | None) -> list[Delivery]:
    get(session, region, sub_id)
    stmt = select(Delivery).where(Delivery.subscription_id == sub_id)
    if status:
        stmt = stmt.where(Delivery.status == status)
    if before_id:
        stmt = stmt.where(Delivery.id < before_id)
    return list(session.scalars(stmt.order_by(Delivery.id.desc()).limit(limit)))


def replay_one(session: Session, region: str, sub_id: int, delivery_id: int) -> Delivery:
    get(session, region, sub_id)
    delivery = session.scalars(select(Delivery).where(Delivery.id == delivery_id,
                                                      Delivery.subscription_id == sub_id).with_for_update()).first()
    if delivery is None:
        raise NotFound("Livraison inconnue", {"delivery_id": delivery_id})
    if delivery.status == "pending" and delivery.attempts == 0:
        raise Conflict("Cette livraison est déjà en attente d'envoi", {"status": delivery.status})
    _restart(delivery)
    session.flush()
    return delivery


def replay_since(session: Session, region: str, sub_id: int, since: datetime) -> int:
    """Every delivery of the subscription created since `since` is sent again (same webhook-id)."""
    get(session, region, sub_id)
    rows = list(session.scalars(select(Delivery).where(Delivery.subscription_id == sub_id,
                                                       Delivery.created_at >= since).with_for_update()))
    for delivery in rows:
        _restart(delivery)
    session.flush()
    return len(rows)


def _restart(delivery: Delivery) -> None:
    delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, utcnow()
    delivery.delivered_at = None

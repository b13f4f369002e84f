"""Push to the national ROR: an outbox of FHIR resources (`national_pushes`) and its relay.

- `enqueue_offer` / `enqueue_structure` are called by the writes that publish (offer publication and
  withdrawal, structure publication or in-place edit), in their transaction: the resources and the
  change are committed together or not at all. They flush, never commit.
- `relay` PUTs pending rows in order (`PUT <ROR_NATIONAL_URL>/<type>/<id>`, idempotent by id on the
  receiving side, `X-Request-Id` = the row's request id). 2xx: pushed. 408 / 425 / 429 / 5xx / no
  answer: the head row waits (exponential backoff with jitter, `Retry-After` honoured) and the queue
  behind it too, so the order of changes is kept. Any other 4xx: the row is parked as `failed` (a
  resource the national ROR refuses will not become acceptable by retrying) and the queue goes on.
  A row whose resource has a newer pending version is `superseded` (only the latest state is sent).

Plain module: the HTTP call is passed in (`send`), the nameko glue is in services/offers/dependencies.py.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from services.offers.fhir import exposure
from services.offers.models import NationalPush, Offer, Structure

log = logging.getLogger(__name__)

BASE_DELAY = 1.0  # seconds before the first retry
MAX_DELAY = 60.0  # the queue waits at most this long between two tries of a down endpoint
MAX_RETRY_AFTER = 3600.0
TRANSIENT = {408, 425, 429}


def utcnow() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------ enqueue (in the publication's transaction)

def _latest_versions(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
    """versionId of the last version pushed or waiting to be, per (type, id)."""
    if not keys:
        return {}
    last_ids = (select(func.max(NationalPush.id))
                .where(NationalPush.status.in_(("pending", "pushed")),
                       tuple_(NationalPush.resource_type, NationalPush.resource_id).in_(keys))
                .group_by(NationalPush.resource_type, NationalPush.resource_id))
    rows = session.scalars(select(NationalPush).where(NationalPush.id.in_(last_ids))).all()
    return {(r.resource_type, r.resource_id): (r.body.get("meta") or {}).get("versionId") for r in rows}


QUEUED = "national_push_queued"  # session.info flag: this transaction queued a push


def enqueue(session: Session, region: str, resources: list[dict], cause: str) -> int:
    """Queue the resources that the national ROR does not have (or is not about to get) in this version:
    publishing ten offers of one hospital sends its organisations once."""
    known = _latest_versions(session, [(r["resourceType"], r["id"]) for r in resources])
    count = 0
    for resource in resources:
        version = (resource.get("meta") or {}).get("versionId")
        if version and known.get((resource["resourceType"], resource["id"])) == version:
            continue
        session.add(NationalPush(request_id=str(uuid.uuid4()), region=region, resource_type=resource["resourceType"],
                                 resource_id=resource["id"], body=resource, cause=cause[:64], status="pending"))
        count += 1
    session.flush()
    if count:
        session.info[QUEUED] = True  # the relay has work: NationalPushRelay wakes after this worker
    return count


def enqueue_offer(session: Session, offer: Offer) -> int:
    """After a publication: the offer and everything it refers to. After a withdrawal: the offer and its
    practitioner roles, inactive. Professional contacts are pushed with their confidentiality level
    ("Accès restreint"): the national ROR enforces it for its own readers."""
    resources = exposure.offer_resources(session, offer, public=False)
    if offer.status == "published":
        items = resources.all()
    else:
        items = [resources.healthcare_service, *resources.practitioner_roles]
    return enqueue(session, offer.region, items, f"offer:{offer.id}:{offer.status}")


def enqueue_structure(session: Session, structure_id: int) -> int:
    """After a structure is published or edited in place (dossiers): its Organization (and Location for
    an EG); for a unit (UO), its published offer as well."""
    structure = session.get(Structure, structure_id)
    if structure is None:
        return 0
    items = exposure.structure_resources(session, structure)
    count = enqueue(session, structure.region, items, f"structure:{structure.id}") if items else 0
    offer = session.scalar(select(Offer).where(Offer.unit_id == structure.id, Offer.status == "published"))
    if offer is not None:
        count += enqueue_offer(session, offer)
    return count


# ------------------------------------------------------------------ relay

@dataclass
class Answer:
    """What the national endpoint said: an HTTP status (None: no answer) and its Retry-After, if any."""

    status: int | None
    retry_after: float | None = None
    detail: str = ""


@dataclass
class RelayResult:
    pushed: int = 0
    failed: int = 0
    superseded: int = 0
    waiting: bool = False  # the head row waits for its next attempt (endpoint down or throttling)
    wait_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
    delay = min(MAX_DELAY, BASE_DELAY * 2 ** max(0, attempts - 1)) * (rng or random).uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def _supersede(session: Session, rows: list[NationalPush]) -> set[int]:
    """Ids of rows that have a newer pending row for the same resource."""
    keys = {(r.resource_type, r.resource_id) for r in rows}
    if not keys:
        return set()
    latest = dict(((t, i), m) for t, i, m in session.execute(
        select(NationalPush.resource_type, NationalPush.resource_id, func.max(NationalPush.id))
        .where(NationalPush.status == "pending",
               tuple_(NationalPush.resource_type, NationalPush.resource_id).in_(list(keys)))
        .group_by(NationalPush.resource_type, NationalPush.resource_id)))
    return {r.id for r in rows if latest.get((r.resource_type, r.resource_id), r.id) > r.id}


def relay(session: Session, send: Callable[[NationalPush], Answer], batch: int = 50,
          now: Callable[[], datetime] = utcnow) -> RelayResult:
    """Push the due head of the queue in order and record the outcomes in one transaction (flushed
    here, committed by the caller: services.offers.dependencies.NationalPushRelay).

    The batch stays locked (SKIP LOCKED: a second relay takes the rows after it) while it is sent. If the
    relay dies before its commit, the rows it had sent are sent again with the same request id: the
    receiver recognises them (and a PUT by id is idempotent anyway)."""
    result = RelayResult()
    stmt = select(NationalPush).where(NationalPush.status == "pending").order_by(NationalPush.id).limit(batch)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = session.scalars(stmt).all()
    stale = _supersede(session, rows)
    try:
        for row in rows:
            if row.id in stale:
                row.status = "superseded"
                result.superseded += 1
                continue
            current = now()
            if row.next_attempt_at and row.next_attempt_at > current:
                result.waiting, result.wait_seconds = True, (row.next_attempt_at - current).total_seconds()
                break
            try:
                answer = send(row)
            except Exception as exc:  # no answer: connection refused, timeout, DNS…
                answer = Answer(None, None, f"{type(exc).__name__}: {exc}")
            row.attempts += 1
            row.last_status = answer.status
            if answer.status is not None and 200 <= answer.status < 300:
                row.status, row.pushed_at, row.last_error = "pushed", now(), None
                result.pushed += 1
                continue
            row.last_error = (answer.detail or f"HTTP {answer.status}")[:1000]
            if answer.status is None or answer.status >= 500 or answer.status in TRANSIENT:
                delay = backoff(row.attempts, answer.retry_after)
                row.next_attempt_at = now() + timedelta(seconds=delay)
                result.waiting, result.wait_seconds = True, delay
                result.errors.append(f"{row.resource_type}/{row.resource_id}: {row.last_error}")
                break
            row.status = "failed"  # refused as such: parked for a person to look at
            result.failed += 1
            log.error("national ROR refused %s/%s (push %s): %s", row.resource_type, row.resource_id, row.id,
                      row.last_error)
    finally:
        session.flush()  # the outcomes so far, even if a later row raised: the caller commits them
    return result


def pending_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(NationalPush).where(NationalPush.status == "pending"))

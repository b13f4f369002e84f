"""« Personnes ressources » of an offer (plain Python, no nameko): a trainee, colleague or replacement the
owner adds for a period, with an optional RPPS checked against the national data and a contact shown to
the public or to professionals only. A timer removes them once their period is over."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.common.actor import Actor
from services.common.errors import InvalidInput, NotFound
from services.common.events import make_event
from services.common.identifiers import rpps_error, same_person_name
from services.common.outbox import record, utcnow
from services.offers import access
from services.offers.contracts import RESOURCE_PERSON_KINDS as KINDS  # noqa: E402
from services.offers.fhir import mapping
from services.offers.models import Offer, Outbox, Professional, ResourcePerson


def check_rpps(session: Session, region: str, rpps: str, last_name: str, first_name: str) -> None:
    """Luhn, present in the imported national data, same name: else 400 naming `rpps`."""
    problem = rpps_error(rpps)
    if problem:
        raise InvalidInput(problem, {"rpps": problem})
    person = session.scalar(select(Professional).where(Professional.region == region, Professional.rpps == rpps))
    if person is None:
        raise InvalidInput("Ce numéro RPPS est absent des données nationales", {"rpps": "unknown RPPS"})
    if not same_person_name(last_name, first_name, person.last_name, person.first_name):
        raise InvalidInput("Le nom ne correspond pas à celui du numéro RPPS", {"rpps": "name does not match"})


def view(person: ResourcePerson, audience: str) -> dict:
    """What `audience` sees: the contact only when it is public or the viewer is a professional."""
    out = {"id": person.id, "offer_id": person.offer_id, "kind": person.kind, "kind_label": KINDS[person.kind],
           "last_name": person.last_name, "first_name": person.first_name, "role": person.role,
           "starts_on": person.starts_on.isoformat(),
           "ends_on": person.ends_on.isoformat() if person.ends_on else None, "rpps": person.rpps,
           "contact_visibility": person.contact_visibility}
    if person.contact_visibility == "public" or audience != access.PUBLIC:
        out["phone"], out["email"] = person.phone, person.email
    else:
        out["phone"] = out["email"] = None
    return out


def _not_over(today: date):
    return (ResourcePerson.ends_on.is_(None)) | (ResourcePerson.ends_on >= today)


def current(session: Session, offer_id: int, today: date | None = None) -> list[ResourcePerson]:
    """The persons whose period includes today (a future one is listed only to the owner)."""
    today = today or date.today()
    return list(session.scalars(select(ResourcePerson).where(
        ResourcePerson.offer_id == offer_id, _not_over(today)).order_by(ResourcePerson.id)))


def load_with_current(session: Session, region: str, offer_id: int,
                      today: date | None = None) -> tuple[Offer, list[ResourcePerson]]:
    """The offer and its current persons in one query (a sheet read is one round trip to the database,
    not two): access.load_offer's NotFound when there is no such offer in the region."""
    today = today or date.today()
    rows = session.execute(
        select(Offer, ResourcePerson)
        .outerjoin(ResourcePerson, (ResourcePerson.offer_id == Offer.id) & _not_over(today))
        .where(Offer.id == offer_id, Offer.region == region).order_by(ResourcePerson.id)).all()
    if not rows:
        return access.load_offer(session, region, offer_id), []  # raises NotFound
    return rows[0][0], [person for _offer, person in rows if person is not None]


def for_sheet(session: Session, offer: Offer, audience: str, today: date | None = None,
              people: list[ResourcePerson] | None = None) -> list[dict]:
    """The persons `audience` sees on the sheet (`people`: already loaded by load_with_current)."""
    today = today or date.today()
    if people is None:
        people = current(session, offer.id, today)
    if audience not in (access.OWNER, access.TEAM):
        people = [p for p in people if p.starts_on <= today]
    return [view(p, audience) for p in people]


def add(session: Session, offer: Offer, data: dict, actor: Actor, today: date | None = None) -> ResourcePerson:
    """`data` is ResourcePersonSchema-validated; the caller is an editor of the offer."""
    access.require_editor(session, actor, offer)
    today = today or date.today()
    if data.get("ends_on") and data["ends_on"] < today:
        raise InvalidInput("La période est déjà terminée", {"ends_on": "in the past"})
    if data.get("rpps"):
        check_rpps(session, offer.region, data["rpps"], data["last_name"], data["first_name"])
    person = ResourcePerson(region=offer.region, offer_id=offer.id, created_by=actor.username, **data)
    session.add(person)
    session.flush()
    record(session, Outbox, make_event("offers.resource_person_added", offer.region, actor.username,
                                       offer_id=offer.id, resource_person_id=person.id, kind=person.kind))
    return person


def remove(session: Session, offer: Offer, person_id: int, actor: Actor) -> dict:
    access.require_editor(session, actor, offer)
    person = session.scalar(select(ResourcePerson).where(ResourcePerson.id == person_id,
                                                         ResourcePerson.offer_id == offer.id))
    if person is None:
        raise NotFound("Personne ressource inconnue", {"resource_person_id": person_id})
    removed = view(person, access.OWNER)
    session.delete(person)
    record(session, Outbox, make_event("offers.resource_person_removed", offer.region, actor.username,
                                       offer_id=offer.id, resource_person_id=person_id, reason="removed"))
    return removed


def expire(session: Session, today: date | None = None) -> int:
    """Remove the persons whose period ended before `today` (the timer's work); how many."""
    today = today or date.today()
    ended = session.execute(delete(ResourcePerson).where(ResourcePerson.ends_on < today)
                            .returning(ResourcePerson.id, ResourcePerson.offer_id, ResourcePerson.region)).all()
    for person_id, offer_id, region in ended:
        record(session, Outbox, make_event("offers.resource_person_removed", region, "system",
                                           offer_id=offer_id, resource_person_id=person_id, reason="period_ended",
                                           at=utcnow().isoformat()))
    return len(ended)


def fhir_roles(session: Session, offer: Offer, provider, site, public: bool, listed: set[str],
               today: date | None = None) -> list[dict]:
    """PractitionerRoles of the resource persons that carry a (checked) RPPS, for the FHIR exposure:
    their period, and their contact only when it is public or the reader is a professional."""
    today = today or date.today()
    people = [p for p in current(session, offer.id, today) if p.rpps and p.starts_on <= today]
    if not people:
        return []
    found = {p.rpps: p for p in session.scalars(select(Professional).where(
        Professional.region == offer.region, Professional.rpps.in_([p.rpps for p in people])))}
    roles = []
    for person in people:
        professional = found.get(person.rpps)
        if professional is None:
            continue
        role = mapping.practitioner_role(offer, professional, None, provider, site)
        if role["id"] in listed:  # already there as owner or attached professional
            continue
        role["period"] = {"start": person.starts_on.isoformat(),
                          **({"end": person.ends_on.isoformat()} if person.ends_on else {})}
        if not public or person.contact_visibility == "public":
            telecom = [mapping.ror_telecom(channel, value, person.contact_visibility)
                       for channel, value in (("phone", person.phone), ("email", person.email)) if value]
            if telecom:
                role["telecom"] = telecom
        roles.append(mapping.with_version(role))
    return roles

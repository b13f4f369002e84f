"""Who may edit or read an offer, and what each write leaves behind, at the domain level (database, no
broker): owners by RPPS or account, editors by habilitation on the structure or an ancestor, the
regional team reading everything."""

import uuid

import pytest
from sqlalchemy import select

from services.common.actor import Actor
from services.common.errors import Conflict, Forbidden, InvalidInput, PreconditionFailed
from services.offers import access, directory, lifecycle, views
from services.offers.models import Offer, Outbox
from tests.offers_support import complete_draft, fresh_rpps, make_offer, structure

pytestmark = pytest.mark.integration


def actor(subject=None, rpps=None, roles=("professional",), habilitations=(), region="idf"):
    return Actor(subject=subject or str(uuid.uuid4()), username="someone", region=region,
                 roles=frozenset(roles), rpps=rpps, habilitations=frozenset(habilitations))


@pytest.fixture
def tree(db_url):
    ej = structure(db_url, "legal_entity", "EJ TEST", finess=str(uuid.uuid4().int)[:9])
    eg = structure(db_url, "site", "EG TEST", parent_id=ej)
    other = structure(db_url, "site", "AUTRE EG", parent_id=ej)
    offer_id = make_offer(db_url, parent_id=eg)
    return {"ej": ej, "eg": eg, "other": other, "offer_id": offer_id}


def load(db_session, offer_id) -> Offer:
    return access.load_offer(db_session, "idf", offer_id, for_update=True)


def test_owner_by_rpps_or_by_account(db_session, db_url):
    offer = load(db_session, make_offer(db_url))
    assert access.can_edit(db_session, actor(rpps=offer.owner_rpps), offer)
    assert not access.can_edit(db_session, actor(rpps=fresh_rpps()), offer)
    offer.owner_subject = subject = str(uuid.uuid4())
    assert access.can_edit(db_session, actor(subject=subject), offer)  # e.g. a password login, no RPPS
    assert not access.can_edit(db_session, actor(subject=subject, region="pdl"), offer)


@pytest.mark.parametrize("role,on,allowed", [
    ("structure_editor", "eg", True), ("directeur", "ej", True), ("structure_editor", "other", False),
    ("regional_validator", "ej", False),
])
def test_habilitation_on_the_structure_or_an_ancestor(db_session, tree, role, on, allowed):
    offer = load(db_session, tree["offer_id"])
    editor = actor(roles=("structure_editor",), habilitations=[(role, tree[on])])
    assert access.can_edit(db_session, editor, offer) is allowed


def test_regional_team_reads_drafts_but_does_not_edit(db_session, tree):
    offer = load(db_session, tree["offer_id"])
    team = actor(roles=("regional_validator",))
    assert access.audience(db_session, team, offer) == access.TEAM
    assert "draft" in views.view(offer, access.TEAM)
    with pytest.raises(Forbidden):
        lifecycle.save_step(db_session, offer, "national", {}, team, offer.etag)


def test_writes_bump_the_version_and_record_their_event(db_session, tree):
    offer = load(db_session, tree["offer_id"])
    owner = actor(rpps=offer.owner_rpps)
    lifecycle.save_step(db_session, offer, "national", {}, owner, f'"{offer.id}-1"')
    assert offer.version == 2 and offer.draft["validated"] == ["national"]
    with pytest.raises(PreconditionFailed):
        lifecycle.save_step(db_session, offer, "national", {}, owner, f'"{offer.id}-1"')
    with pytest.raises(PreconditionFailed):  # the ETag of another offer
        lifecycle.save_step(db_session, offer, "national", {}, owner, f'"{offer.id + 1}-2"')
    events = db_session.scalars(select(Outbox).where(Outbox.event_type == "offers.step_saved")).all()
    assert any(e.payload["offer_id"] == offer.id and e.payload["step"] == "national" for e in events)


def test_invalid_step_leaves_the_offer_untouched(db_session, tree):
    offer = load(db_session, tree["offer_id"])
    before = (offer.version, dict(offer.draft))
    with pytest.raises(InvalidInput):
        lifecycle.save_step(db_session, offer, "description", {"age_min": 200}, actor(rpps=offer.owner_rpps),
                            offer.etag)
    assert (offer.version, offer.draft) == before


def test_publish_unpublish_and_publish_again(db_session, db_url):
    offer = load(db_session, make_offer(db_url, draft=complete_draft()))
    owner = actor(rpps=offer.owner_rpps)
    lifecycle.publish(db_session, offer, owner, offer.etag)
    first = offer.published_at
    assert offer.status == "published" and set(offer.published) == {"description", "modalities", "contacts",
                                                                       "hours"}
    lifecycle.unpublish(db_session, offer, owner, offer.etag)
    assert offer.status == "unpublished" and offer.published  # content kept, not public
    with pytest.raises(Conflict):
        lifecycle.unpublish(db_session, offer, owner, offer.etag)
    lifecycle.publish(db_session, offer, owner, offer.etag)
    assert offer.status == "published" and offer.published_at >= first
    types = [e.event_type for e in db_session.scalars(select(Outbox)) if e.payload.get("offer_id") == offer.id]
    assert types.count("offers.published") == 2 and types.count("offers.unpublished") == 1


def test_publication_needs_a_contact_for_patients(db_session, db_url):
    draft = complete_draft()
    # stored before the rule existed, say: only professional contacts
    draft["steps"]["contacts"]["contacts"] = [c for c in draft["steps"]["contacts"]["contacts"]
                                              if c["visibility"] == "professional"]
    offer = load(db_session, make_offer(db_url, draft=draft))
    with pytest.raises(InvalidInput) as info:
        lifecycle.publish(db_session, offer, actor(rpps=offer.owner_rpps), offer.etag)
    assert "Au moins un contact à destination des patients est obligatoire" in str(info.value.fields)
    assert offer.status == "draft"


def test_my_offers_include_those_of_my_structures(db_session, tree):
    editor = actor(roles=("structure_editor",), habilitations=[("structure_editor", tree["ej"])])
    mine = directory.list_offers(db_session, "idf", editor, mine=True)
    assert tree["offer_id"] in [item["id"] for item in mine["items"]]
    stranger = actor()
    assert tree["offer_id"] not in [i["id"] for i in directory.list_offers(db_session, "idf", stranger,
                                                                           mine=True)["items"]]

"""The views of an offer given to each audience (owner, regional team, professional, public), its
summary in lists, and the published content carried by events: nomenclature codes rendered with their
labels, contacts filtered for the public.

Plain module, no database access: the caller decides the audience (services.offers.access).
"""

from __future__ import annotations

from services.common.errors import NotFound
from services.offers import reference, steps
from services.offers.access import OWNER, PUBLIC, TEAM
from services.offers.drafts import has_unpublished_changes, missing_for_publication, read_draft
from services.offers.models import Offer


def _labelled(name: str, codes) -> list[dict]:
    return [{"code": code, "label": reference.label_of(name, code)} for code in codes or []]


def render(content: dict | None, public: bool = False) -> dict | None:
    """Steps content with nomenclature labels; `public` drops contacts for professionals only."""
    if content is None:
        return None
    # Copies only the dicts it changes (a deep copy of the steps was ~40 % of an offer read's CPU); the
    # rest is shared with `content`: a view is serialized, never changed in place.
    out = dict(content)
    description = out.get("description")
    if description:
        description = out["description"] = dict(description)
        for key, name in (("operational_activities", "operational_activities"),
                          ("specific_acts_in_office", "specific_acts"),
                          ("specific_acts_outside_office", "specific_acts"),
                          ("equipments", "equipments"), ("specific_competences", "specific_competences")):
            if key in description:
                description[key] = _labelled(name, description[key])
        access = description.get("place_accessibility")
        if access:
            description["place_accessibility"] = {"code": access,
                                                  "label": reference.label_of("place_accessibility", access)}
    modalities = out.get("modalities")
    if modalities:
        modalities = out["modalities"] = dict(modalities)
        if "reception_modalities" in modalities:
            modalities["reception_modalities"] = _labelled("reception_modalities",
                                                           modalities["reception_modalities"])
        if "intervention_communes" in modalities:
            communes = []
            for code in modalities["intervention_communes"]:
                commune = reference.get_commune(code)
                communes.append(commune.to_dict() if commune else {"code": code, "name": code})
            modalities["intervention_communes"] = communes
    contacts = out.get("contacts")
    if contacts and public:
        out["contacts"] = {**contacts, "contacts": steps.public_contacts(contacts.get("contacts"))}
    return out


def published_content(offer: Offer) -> dict:
    """The published sheet as the events and the national exposure carry it."""
    return {
        "name": offer.name,
        "unit_type": {"code": offer.unit_type, "label": reference.label_of("unit_types", offer.unit_type)},
        "care_mode": ({"code": offer.care_mode, "label": reference.label_of("care_modes", offer.care_mode)}
                      if offer.care_mode else None),
        "commune_insee": offer.commune_insee,
        "national": offer.national or {},
        "published_at": offer.published_at.isoformat() if offer.published_at else None,
        **(render(offer.published) or {}),
    }


def _public_national(national: dict) -> dict:
    """What the public sheet shows of the national data (identity and place, not contacts)."""
    keep = ("civility", "last_name", "first_name", "profession", "specialty", "structure", "address",
            "convention_sector", "accepts_vitale", "rpps")
    return {k: v for k, v in (national or {}).items() if k in keep}


def view(offer: Offer, who: str) -> dict:
    """The offer as `who` (OWNER, TEAM, PROFESSIONAL, PUBLIC) may see it. NotFound when that audience
    may not see it at all (not published and not theirs)."""
    private = who in (OWNER, TEAM)
    visible_publication = offer.status == "published" and offer.published is not None
    if not private and not visible_publication:
        raise NotFound("Offre introuvable", {"offer_id": f"offer {offer.id} is not published"})
    base = {
        "id": offer.id,
        "region": offer.region,
        "name": offer.name,
        "unit_id": offer.unit_id,
        "unit_type": {"code": offer.unit_type, "label": reference.label_of("unit_types", offer.unit_type)},
        "care_mode": ({"code": offer.care_mode, "label": reference.label_of("care_modes", offer.care_mode)}
                      if offer.care_mode else None),
        "status": offer.status,
        "published_at": offer.published_at.isoformat() if offer.published_at else None,
        "commune_insee": offer.commune_insee,
        "departement": offer.departement,
        "version": offer.version,
        "etag": offer.etag,
        "audience": who,
    }
    base["published"] = render(offer.published, public=(who == PUBLIC)) if offer.published else None
    if private:
        draft = read_draft(offer)
        base.update({
            "national": offer.national or {},
            "draft": {"steps": render(draft["steps"]), "validated": draft["validated"],
                      "prefilled_from": draft.get("prefilled_from")},
            "has_unpublished_changes": has_unpublished_changes(offer),
            "missing_for_publication": missing_for_publication(offer),
            "owner_rpps": offer.owner_rpps,
            "owner_username": offer.owner_username,
            "unpublished_at": offer.unpublished_at.isoformat() if offer.unpublished_at else None,
            "updated_at": offer.updated_at.isoformat() if offer.updated_at else None,
        })
    else:
        base["national"] = _public_national(offer.national) if who == PUBLIC else (offer.national or {})
    return base


def summary(offer: Offer, who: str) -> dict:
    commune = reference.get_commune(offer.commune_insee) if offer.commune_insee else None
    item = {
        "id": offer.id, "name": offer.name, "status": offer.status, "version": offer.version,
        "etag": offer.etag,
        "unit_type": {"code": offer.unit_type, "label": reference.label_of("unit_types", offer.unit_type)},
        "published_at": offer.published_at.isoformat() if offer.published_at else None,
        "commune": commune.to_dict()["label"] if commune else None,
        "departement": offer.departement,
    }
    if who in (OWNER, TEAM):
        draft = read_draft(offer)
        item.update({"validated_steps": draft["validated"], "has_unpublished_changes": has_unpublished_changes(offer),
                     "owner_rpps": offer.owner_rpps})
    return item

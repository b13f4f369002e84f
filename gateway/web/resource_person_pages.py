"""« Personnes ressources » of an offer (issue 15, guide « kiné : activation, recherche, anomalie »): the
owner adds a trainee, a colleague or a replacement for a period (optional RPPS checked against the national
data), with a contact shown to the public or to professionals only, and removes them."""

from __future__ import annotations

from gateway.web import labels
from gateway.web.framework import Web, page
from gateway.web.render import redirect
from services.common.errors import NotFound, RorError
from services.offers.contracts import RESOURCE_PERSON_KINDS

FIELDS = ("kind", "last_name", "first_name", "role", "starts_on", "ends_on", "rpps", "phone", "email",
          "contact_visibility")
OPTIONAL = ("role", "ends_on", "rpps", "phone", "email")


def person_payload(form) -> dict:
    data = {name: (form.get(name) or "").strip() for name in FIELDS}
    for name in OPTIONAL:
        if not data[name]:
            data[name] = None
    return data


class ResourcePersonPages:
    def _own_offer(self, web: Web, offer_id: int) -> dict:
        offer = web.rpc("offers", "get_offer", web.region.code, offer_id, actor=web.actor())
        if offer.get("audience") not in ("owner", "team"):
            raise NotFound("Offre introuvable", {"offer_id": offer_id})
        return offer

    def _people_page(self, web: Web, offer: dict, status: int = 200, errors=None, error_message=None, values=None):
        people = web.rpc("offers", "list_resource_persons", web.region.code, offer["id"], actor=web.actor())
        values = values or {"kind": "trainee", "contact_visibility": "professional"}
        return web.page("offers/resource_persons.html", f"Personnes ressources — {offer['name']}", status=status,
                        errors=errors, error_message=error_message, offer=offer, people=people,
                        kinds=RESOURCE_PERSON_KINDS, visibilities=labels.VISIBILITIES,
                        values={name: values.get(name) or "" for name in FIELDS})

    @page("GET,POST", "/<region>/mon-offre/<int:offer_id>/personnes-ressources", login=True)
    def web_resource_persons(self, web: Web, offer_id: int):
        offer = self._own_offer(web, offer_id)
        if web.request.method == "GET":
            return self._people_page(web, offer)
        data = person_payload(web.form)
        try:
            added = web.rpc("offers", "add_resource_person", web.region.code, offer_id, data, web.actor())
        except RorError as exc:
            if exc.status >= 500:
                raise
            return self._people_page(web, offer, status=exc.status, errors=exc.fields, error_message=exc.message,
                                     values=data)
        web.flash(f"{added['first_name']} {added['last_name']} est ajouté(e) aux personnes ressources.")
        return redirect(web.url(f"/mon-offre/{offer_id}/personnes-ressources"))

    @page("POST", "/<region>/mon-offre/<int:offer_id>/personnes-ressources/<int:person_id>/retirer", login=True)
    def web_remove_resource_person(self, web: Web, offer_id: int, person_id: int):
        try:
            gone = web.rpc("offers", "remove_resource_person", web.region.code, offer_id, person_id, web.actor())
        except RorError as exc:
            if exc.status >= 500:
                raise
            web.flash(exc.message, "error")
        else:
            web.flash(f"{gone['first_name']} {gone['last_name']} est retiré(e) des personnes ressources.")
        return redirect(web.url(f"/mon-offre/{offer_id}/personnes-ressources"))

"""Répertoire (issue 10 item 4, guide « PDL : mise à jour établissement »): the tree by département and
discipline, an EJ found by name or FINESS, favourites; the sheet of a structure (EG, pôle, service, UF,
UO) with its administrative data form, and for a UO its operational activities, the persons of a
consultation (« Ajouter une personne ») and the capacities of full hospitalisation.

Every write carries the structure's ETag read when the page was shown: a change made meanwhile gives
the « modifiée entre-temps » message and the page is shown again with the current data. The API's
field errors are shown next to their inputs."""

from __future__ import annotations

from gateway.web.framework import Web, page, safe_next
from gateway.web.offer_pages import _int_or_raw
from gateway.web.render import redirect
from services.common.errors import InvalidInput, NotFound, PreconditionFailed, PreconditionRequired, RorError
from services.common.roles import PROFESSIONAL, STRUCTURE_ROLES, TEAM_ROLES
from services.offers.contracts import DISCIPLINES

READERS = (PROFESSIONAL, *STRUCTURE_ROLES, *sorted(TEAM_ROLES))
EDITORS = (*STRUCTURE_ROLES, "region_admin")
STALE = ("Cette fiche a été modifiée entre-temps (autre onglet ou autre personne). "
         "Elle a été rechargée avec les dernières informations : reprenez votre modification.")
DISCIPLINE_LABELS = {"MCO": "Médecine, chirurgie, obstétrique (MCO)", "MSS": "Médico-social",
                     "PSY": "Psychiatrie", "SLD": "Soins de longue durée",
                     "SMA": "Soins médicaux et de réadaptation", "SSR": "Soins de suite et de réadaptation",
                     "VIL": "Ville"}
KINDS = {"legal_entity": ("EJ", "Entité juridique"), "site": ("EG", "Entité géographique"), "pole": ("P", "Pôle"),
         "service": ("S", "Service"), "functional_unit": ("UF", "Unité fonctionnelle"),
         "unit": ("UO", "Unité opérationnelle")}
# The administrative form (« bloc-notes » of the guide): field, label, input type, required at that level.
ADMIN_FIELDS = (
    ("name", "Nom", "text"), ("address_line", "Adresse", "text"), ("address_complement", "Complément d'adresse", "text"),
    ("postal_code", "Code postal", "text"), ("commune_insee", "Code commune INSEE", "text"), ("city", "Commune", "text"),
    ("phone", "Téléphone", "tel"), ("fax", "Fax", "tel"), ("email", "Adresse e-mail", "email"),
    ("mssante", "Messagerie sécurisée de santé (MSSanté)", "email"), ("website", "Site internet", "url"),
    ("director_name", "Nom du directeur d'établissement", "text"),
)
REQUIRED_ADMIN = {"site": ("name", "phone")}  # elsewhere only the name (services/offers/structure_edits.py)
CONSULTATION_PREFIX = "ROR-UO-CS"
FULL_HOSPITALISATION = "ROR-UO-HC"
PERSON_FIELDS = ("rpps", "civility", "last_name", "first_name", "profession", "specialty", "convention_sector")


def required_admin(kind: str) -> tuple[str, ...]:
    return REQUIRED_ADMIN.get(kind, ("name",))


def admin_changes(form, structure: dict) -> dict:
    """The administrative fields that differ from the sheet (emptied ones as None)."""
    data = {}
    for name, _, _ in ADMIN_FIELDS:
        if name not in form:
            continue
        value = (form.get(name) or "").strip()
        if value != (structure.get(name) or ""):
            data[name] = value or None
    return data


def find_node(nodes: list[dict], structure_id: int, trail: tuple = ()) -> tuple[dict | None, tuple]:
    """The node of `structure_id` in the répertoire tree, and its ancestors."""
    for node in nodes:
        if node["id"] == structure_id:
            return node, trail
        found, path = find_node(node["children"], structure_id, (*trail, node))
        if found is not None:
            return found, path
    return None, ()


class RepertoirePages:
    # ------------------------------------------------------------------ the répertoire
    @page("GET", "/<region>/repertoire", login=True, roles=READERS)
    def web_repertoire(self, web: Web):
        args = web.request.args
        q = (args.get("q") or "").strip()[:200]
        departement = args.get("departement") or ""
        discipline = args.get("discipline") or ""
        errors: dict = {}
        found = None
        if q:
            try:
                found = web.rpc("offers", "repertoire_legal_entities", web.region.code, q, actor=web.actor())
            except InvalidInput as exc:
                errors.update({"q": exc.message})
        tree = None
        if departement and departement not in web.region.departements:
            errors["departement"] = "Département inconnu dans cette région."
        elif discipline and discipline not in DISCIPLINES:
            errors["discipline"] = "Discipline inconnue."
        elif departement or discipline:
            tree = web.rpc("offers", "structures", web.region.code, departement=departement or None,
                           discipline=discipline or None, timeout=60)
        favourites = web.rpc("offers", "favourites", web.region.code, web.actor())
        return web.page("repertoire/index.html", "Répertoire", status=400 if errors else 200, errors=errors,
                        error_message="La recherche comporte des erreurs." if errors else None, q=q, found=found,
                        tree=tree, departement=departement, discipline=discipline, favourites=favourites,
                        disciplines=DISCIPLINE_LABELS, kinds=KINDS)

    @page("POST", "/<region>/repertoire/favoris/<int:structure_id>", login=True, roles=READERS)
    def web_favourite(self, web: Web, structure_id: int):
        """« Ajouter aux favoris » / « Retirer des favoris », then back where the visitor was."""
        back = safe_next(web.form.get("next"), web.url("/repertoire"))
        if web.form.get("action") == "remove":
            try:
                web.rpc("offers", "remove_favourite", web.region.code, structure_id, web.actor())
            except NotFound:
                pass  # already gone (another tab): the wish is met
            web.flash("Structure retirée de vos favoris.")
        else:
            item = web.rpc("offers", "add_favourite", web.region.code, structure_id, web.actor())
            web.flash(f"« {item['name']} » est ajouté à vos favoris.")
        return redirect(back)

    # ------------------------------------------------------------------ one structure
    def _structure_page(self, web: Web, structure_id: int, status: int = 200, errors=None, error_message=None,
                        editing: bool = False, posted=None, section: str | None = None):
        structure = web.rpc("offers", "get_structure", web.region.code, structure_id, web.actor())
        # its place in the tree (ancestors for the breadcrumb, what hangs below): the part of the répertoire of
        # its département and discipline, not the whole region
        discipline = structure.get("discipline") if structure.get("discipline") in DISCIPLINES else None
        tree = web.rpc("offers", "structures", web.region.code, departement=structure.get("departement"),
                       discipline=discipline, timeout=60) if structure.get("departement") else {"roots": []}
        node, trail = find_node(tree["roots"], structure_id)
        offer = structure.get("offer") or {}
        unit_type = offer.get("unit_type") or ""
        context = {
            "structure": structure, "node": node, "trail": trail, "kinds": KINDS, "admin_fields": ADMIN_FIELDS,
            "required": required_admin(structure["kind"]), "editing": editing, "section": section,
            "can_edit": web.has_role(*EDITORS),
            "is_consultation": unit_type.startswith(CONSULTATION_PREFIX),
            "is_full_hospitalisation": unit_type == FULL_HOSPITALISATION,
            "values": posted if posted is not None else {name: structure.get(name) or "" for name, _, _ in ADMIN_FIELDS},
            "person": {name: "" for name in PERSON_FIELDS},
            "favourite": _is_favourite(web, structure_id),
        }
        if structure["kind"] == "unit":
            chosen = {a["code"] for a in structure.get("operational_activities") or []}
            context["activity_options"] = [c for c in web.rpc("offers", "nomenclature", "operational_activities")
                                           if c["code"] not in chosen and c.get("status") != "deprecated"]
            capacities = {c["type"]: c["count"] for c in structure.get("capacities") or []}
            context["capacities"] = capacities
        if section == "personne" and posted is not None:
            context["person"] = {name: posted.get(name) or "" for name in PERSON_FIELDS}
            context["values"] = {name: structure.get(name) or "" for name, _, _ in ADMIN_FIELDS}
        if section == "capacites" and posted is not None:
            context["capacities_posted"] = posted
            context["values"] = {name: structure.get(name) or "" for name, _, _ in ADMIN_FIELDS}
        title = f"{KINDS.get(structure['kind'], ('', ''))[1]} — {structure['name']}"
        return web.page("repertoire/structure.html", title, status=status, errors=errors,
                        error_message=error_message, **context)

    @page("GET", "/<region>/structures/<int:structure_id>", login=True, roles=READERS)
    def web_structure(self, web: Web, structure_id: int):
        return self._structure_page(web, structure_id, editing=web.request.args.get("modifier") == "1")

    def _write(self, web: Web, structure_id: int, method: str, data: dict, section: str, done: str,
               posted=None):
        try:
            web.rpc("offers", method, web.region.code, structure_id, data, web.actor(), web.form.get("etag"))
        except (PreconditionFailed, PreconditionRequired):
            web.flash(STALE, "error")
            suffix = "?modifier=1" if section == "administratif" else ""
            return redirect(web.url(f"/structures/{structure_id}{suffix}#{section}"))
        except RorError as exc:
            if exc.status >= 500 or exc.status in (403, 404):
                raise
            return self._structure_page(web, structure_id, status=exc.status, errors=exc.fields,
                                        error_message=exc.message, editing=section == "administratif",
                                        posted=posted, section=section)
        web.flash(done)
        return redirect(web.url(f"/structures/{structure_id}#{section}"))

    @page("POST", "/<region>/structures/<int:structure_id>/administratif", login=True, roles=READERS)
    def web_structure_admin(self, web: Web, structure_id: int):
        """« Modifier » then « Enregistrer » of the administrative data."""
        structure = web.rpc("offers", "get_structure", web.region.code, structure_id, web.actor())
        data = admin_changes(web.form, structure)
        if not data:
            web.flash("Aucune modification à enregistrer.", "info")
            return redirect(web.url(f"/structures/{structure_id}"))
        posted = {name: (web.form.get(name) or "").strip() for name, _, _ in ADMIN_FIELDS}
        return self._write(web, structure_id, "update_structure", data, "administratif",
                           "Informations administratives enregistrées.", posted)

    @page("POST", "/<region>/structures/<int:structure_id>/activites", login=True, roles=READERS)
    def web_structure_activities(self, web: Web, structure_id: int):
        """« Ajouter » an operational activity, or the red cross that removes one."""
        remove = web.form.get("remove")
        if remove:
            return self._write(web, structure_id, "set_structure_activities", {"remove": [remove]}, "activites",
                               "Activité opérationnelle retirée.")
        code = (web.form.get("activity") or "").strip()
        if not code:
            return self._structure_page(web, structure_id, status=400, section="activites",
                                        errors={"activity": "Sélectionnez une activité opérationnelle."},
                                        error_message="Aucune activité sélectionnée.")
        return self._write(web, structure_id, "set_structure_activities", {"add": [code]}, "activites",
                           "Activité opérationnelle ajoutée.")

    @page("POST", "/<region>/structures/<int:structure_id>/personnes", login=True, roles=READERS)
    def web_structure_person(self, web: Web, structure_id: int):
        """« Ajouter une personne » to a consultation: by RPPS, or name and profession."""
        posted = {name: (web.form.get(name) or "").strip() for name in PERSON_FIELDS}
        data = {name: value or None for name, value in posted.items()}
        return self._write(web, structure_id, "add_structure_practitioner", data, "personnes",
                           "La personne est rattachée à la consultation.", posted)

    @page("POST", "/<region>/structures/<int:structure_id>/personnes/<int:person_id>/retirer", login=True,
          roles=READERS)
    def web_structure_person_remove(self, web: Web, structure_id: int, person_id: int):
        try:
            web.rpc("offers", "remove_structure_practitioner", web.region.code, structure_id, person_id,
                    web.actor(), web.form.get("etag"))
        except (PreconditionFailed, PreconditionRequired):
            web.flash(STALE, "error")
        else:
            web.flash("La personne n'est plus rattachée à la consultation.")
        return redirect(web.url(f"/structures/{structure_id}#personnes"))

    @page("POST", "/<region>/structures/<int:structure_id>/capacites", login=True, roles=READERS)
    def web_structure_capacities(self, web: Web, structure_id: int):
        """Capacities in full hospitalisation: installed beds, available beds now."""
        posted = {name: (web.form.get(name) or "").strip() for name in ("installed_beds", "available_beds")}
        data = {name: _int_or_raw(value) for name, value in posted.items()}
        return self._write(web, structure_id, "set_structure_capacities", data, "capacites",
                           "Capacités enregistrées.", posted)


def _is_favourite(web: Web, structure_id: int) -> bool:
    try:
        web.rpc("offers", "favourite", web.region.code, structure_id, web.actor())
    except NotFound:
        return False
    return True

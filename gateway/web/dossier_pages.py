"""« Dossier collaboratif » (CPTS guide): my dossiers and the opening of one on an EG, the tree of sheets
with their grey / green icons and the legend, each sheet's form (« Enr. et mettre en attente » /
« Enr. et finaliser »), « Créer des unités » (type first), « Finaliser les fiches », « Envoyer en
validation », the Directeur's approval and the regional team's validation or refusal with a reason,
comments, history and the PDF export.

Every change goes through the dossiers RPCs with the ETag read when the page was displayed (a concurrent
change gives the « modifié entre-temps » message); the API's field errors are shown next to their inputs.
"""

from __future__ import annotations

import base64

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from gateway.web import labels
from gateway.web.errors import flatten
from gateway.web.framework import Web, page
from gateway.web.offer_pages import _codes, _int_or_raw, _opt, contacts_payload, form_rows, remap_errors
from gateway.web.render import redirect
from services.common.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    RorError,
)
from services.dossiers.contracts import EDITABLE, MANAGERS, MEMBERS, STATUS_LABELS

STALE = ("Le dossier a été modifié entre-temps (autre onglet ou autre personne). "
         "La page a été rechargée avec la dernière version : reprenez votre saisie.")
KINDS = {"eg": "Entité géographique", "pole": "Pôle", "service": "Service", "uf": "Unité fonctionnelle",
         "uo": "Unité opérationnelle"}
CODES = {"eg": "EG", "pole": "P", "service": "S", "uf": "UF", "uo": "UO"}
# Which unit may be created below which sheet (the dossiers service's rule), UO first in the pick-list:
# a CPTS's UO sits right under its EG.
CHILD_KINDS = {"eg": ("uo", "pole", "service", "uf"), "pole": ("uo", "service", "uf"), "service": ("uo", "uf"),
               "uf": ("uo",), "uo": ()}
# Administrative data of every sheet: (field, label, input type, autocomplete)
ADMIN_FIELDS = (
    ("name", "Nom", "text", None), ("address_line", "Adresse", "text", "street-address"),
    ("address_complement", "Complément d'adresse", "text", None), ("postal_code", "Code postal", "text", None),
    ("city", "Commune", "text", None), ("commune_insee", "Code commune INSEE", "text", None),
    ("phone", "Téléphone (10 chiffres, sans espaces)", "tel", None), ("fax", "Fax", "tel", None),
    ("email", "Adresse e-mail", "email", None), ("mssante", "Messagerie Sécurisée de Santé (MSSanté)", "email", None),
    ("website", "Site internet", "text", None), ("director_name", "Nom du directeur", "text", None),
)
REQUIRED_ADMIN = {"eg": ("name", "phone")}
ACTIONS = {  # transitions, as the buttons say them
    "send": "Envoyer en validation", "approve": "Approuver le dossier", "validate": "Valider et publier",
    "reject": "Refuser le dossier", "cancel": "Annuler le dossier", "retry": "Relancer la publication",
}
DONE = {"send": "Dossier envoyé en validation.", "approve": "Dossier approuvé : il part en validation régionale.",
        "validate": "Dossier validé.", "reject": "Dossier refusé : il revient en brouillon avec le motif.",
        "cancel": "Dossier annulé.", "retry": "Publication relancée."}
HISTORY = {
    "open": "Ouverture du dossier", "save_sheet": "Fiche enregistrée et mise en attente",
    "finalise_sheet": "Fiche finalisée", "create_sheet": "Unité créée", "remove_sheet": "Fiche marquée pour suppression",
    "rename": "Dossier renommé", "comment": "Commentaire", "add_collaborator": "Contributeur ajouté",
    "finalise": "Toutes les fiches finalisées", "reopen": "Retour en brouillon (fiche modifiée)",
    "send": "Envoyé en validation", "approve": "Approuvé par le Directeur", "reject": "Refusé",
    "validate": "Validé par l'équipe régionale", "publish": "Publié dans le répertoire",
    "publication_failed": "Échec de la publication", "retry": "Publication relancée", "cancel": "Annulé",
}
ROLES = {"directeur": "Directeur", "structure_editor": "Éditeur de la structure", "opener": "Ouvreur du dossier",
         "contributor": "Contributeur", "regional_validator": "Équipe régionale"}
STATUS_CLASS = {"draft": "draft", "finalised": "draft", "sent": "draft", "approved": "draft",
                "validated": "published", "published": "published", "cancelled": "unpublished"}
NAV_ROLES = ("directeur", "structure_editor", "regional_validator", "region_admin")


def _when(value: str | None) -> str:
    if not value:
        return "—"
    return f"{value[8:10]}/{value[5:7]}/{value[0:4]} {value[11:16]}"


def tree(dossier: dict) -> list[dict]:
    """The sheets as nested nodes (EG → … → UO), in the dossier's depth-first order."""
    nodes = {s["id"]: {**s, "children": []} for s in dossier["sheets"]}
    roots = []
    for sheet in dossier["sheets"]:
        node = nodes[sheet["id"]]
        parent = nodes.get(sheet["parent_id"])
        (parent["children"] if parent else roots).append(node)
    return roots


def can_edit(dossier: dict) -> bool:
    return dossier["status"] in EDITABLE and bool(MEMBERS & set(dossier.get("your_roles") or ()))


def sheet_payload(sheet: dict, form: MultiDict) -> tuple[dict, callable]:
    """The sheet's data from its form (parts not on the form are kept by the service's merge) and the
    function that renames the API's errors after the form's inputs."""
    data: dict = {name: _opt(form.get(name)) for name, *_ in ADMIN_FIELDS}
    if sheet["kind"] != "uo":
        return data, flatten
    stored = sheet.get("data") or {}
    description = dict(stored.get("description") or {})
    description.update({"age_min": _int_or_raw(form.get("description.age_min")),
                        "age_max": _int_or_raw(form.get("description.age_max")),
                        "operational_activities": form.getlist("description.operational_activities")})
    if description["age_min"] is None:
        description.pop("age_min")  # « Champ obligatoire » from the API
    modalities = dict(stored.get("modalities") or {})
    modalities.update({"intervention_communes": form.getlist("intervention_communes"),
                       "reception_modalities": form.getlist("modalities.reception_modalities")})
    contacts, index = contacts_payload(form, form_rows(form))
    data.update(description=description, modalities=modalities, contacts=contacts)
    return data, lambda errors: _sheet_errors(errors, index)


def _sheet_errors(errors: dict, index: dict | None = None) -> dict[str, str]:
    """Errors of a UO sheet: « contacts.contacts.2.value » → the form's « contacts.<row>.value »."""
    flat = flatten(errors)
    contacts = {k.removeprefix("contacts."): v for k, v in flat.items() if k.startswith("contacts.contacts.")}
    out = {k: v for k, v in flat.items() if not k.startswith("contacts.contacts.")}
    if index is None:  # stored errors: the rows are the stored contacts, in order
        index = {i: i for i in range(60)}
    out.update(remap_errors(contacts, "contacts", index, "contacts"))
    return out


class DossierPages:
    # ------------------------------------------------------------------ my dossiers, opening one
    @page("GET,POST", "/<region>/dossiers", login=True)
    def web_dossiers(self, web: Web):
        region = web.region.code
        errors, error_message, status = {}, None, 200
        chosen = web.request.values.get("structure_id") or ""
        if web.request.method == "POST":
            body = {"structure_id": int(chosen) if chosen.isascii() and chosen.isdigit() and len(chosen) < 12
                    else None}
            if _opt(web.form.get("name")):
                body["name"] = web.form.get("name").strip()
            try:
                if body["structure_id"] is None:
                    raise InvalidInput("Choisissez l'EG du dossier", {"structure_id": "Champ obligatoire."})
                dossier = web.rpc("dossiers", "open_dossier", region, body, web.actor(), timeout=60)
            except Conflict as exc:
                existing = (exc.fields or {}).get("dossier_id")
                if existing:
                    web.flash(exc.message, "error")
                    return redirect(web.url(f"/dossiers/{existing}"))
                errors, error_message, status = exc.fields, exc.message, exc.status
            except (InvalidInput, RorError) as exc:
                if exc.status >= 500:
                    raise
                errors, error_message, status = exc.fields, exc.message, exc.status
            else:
                web.flash(f"Dossier collaboratif « {dossier['name']} » créé.")
                return redirect(web.url(f"/dossiers/{dossier['id']}"))
        wanted = web.request.args.get("statut")
        dossiers = web.rpc("dossiers", "list_dossiers", region, web.actor(),
                           status=wanted if wanted in STATUS_LABELS else None)
        to_do = [d for d in dossiers if self._awaits(web, d)]
        return web.page("dossiers/list.html", "Dossiers collaboratifs", status=status, errors=errors,
                        error_message=error_message, dossiers=dossiers, to_do=to_do, sites=self._sites(web, chosen),
                        chosen=chosen, wanted=wanted, when=_when, status_class=STATUS_CLASS)

    @staticmethod
    def _awaits(web: Web, summary: dict) -> bool:
        """A dossier waiting for this person: sent, for a Directeur; approved, for the regional team."""
        if summary["status"] == "approved":
            return web.has_role("regional_validator")
        if summary["status"] == "sent":
            return web.has_role("directeur")
        return False

    @staticmethod
    def _sites(web: Web, chosen: str = "") -> list[dict]:
        """The EGs this person may open a dossier on: those of their directeur or editor habilitations,
        and the one chosen in the répertoire (`?structure_id=`; the service checks the rights on it)."""
        ids = [h["structure_id"] for h in (web.actor() or {}).get("habilitations", [])
               if h["role"] in ("directeur", "structure_editor")]
        if chosen.isascii() and chosen.isdigit() and len(chosen) < 12:
            ids.append(int(chosen))
        sites: dict[int, dict] = {}
        for structure_id in dict.fromkeys(ids):
            try:
                structure = web.rpc("offers", "get_structure", web.region.code, structure_id, web.actor())
            except RorError:
                continue
            if structure["kind"] == "site":
                sites[structure["id"]] = {"id": structure["id"], "name": structure.get("name") or f"EG {structure['id']}"}
        return sorted(sites.values(), key=lambda s: s["name"])

    # ------------------------------------------------------------------ the dossier
    def _dossier(self, web: Web, dossier_id: int) -> dict:
        return web.rpc("dossiers", "get_dossier", web.region.code, dossier_id, web.actor())

    @page("GET,POST", "/<region>/dossiers/<int:dossier_id>", login=True)
    def web_dossier(self, web: Web, dossier_id: int):
        region = web.region.code
        errors, error_message, status, invalid = {}, None, 200, []
        if web.request.method == "POST":
            action = web.form.get("action") or ""
            etag = web.form.get("etag")
            try:
                if action == "rename":
                    web.rpc("dossiers", "rename", region, dossier_id, (web.form.get("name") or "").strip(),
                            web.actor(), etag)
                    web.flash("Nom du dossier enregistré.")
                elif action == "finalise":
                    web.rpc("dossiers", "finalise_sheets", region, dossier_id, web.actor(), etag, timeout=60)
                    web.flash("Toutes les fiches sont finalisées.")
                elif action == "comment":
                    web.rpc("dossiers", "add_comment", region, dossier_id,
                            {"body": (web.form.get("body") or "").strip()}, web.actor())
                    web.flash("Commentaire ajouté.")
                elif action == "collaborator":
                    username = (web.form.get("username") or "").strip()
                    web.rpc("dossiers", "add_collaborator", region, dossier_id, username, web.actor(), etag)
                    web.flash(f"« {username} » contribue désormais au dossier.")
                elif action in ACTIONS:
                    web.rpc("dossiers", "transition", region, dossier_id, action,
                            _opt(web.form.get("comment")), web.actor(), etag, timeout=90)
                    web.flash(DONE[action])
                else:
                    raise InvalidInput("Action inconnue", {"action": action})
                return redirect(web.url(f"/dossiers/{dossier_id}"))
            except (PreconditionFailed, PreconditionRequired):
                web.flash(STALE, "error")
                return redirect(web.url(f"/dossiers/{dossier_id}"))
            except (InvalidInput, Conflict) as exc:
                fields = dict(exc.fields or {})
                if action == "finalise" and isinstance(fields.get("sheets"), dict):
                    invalid = [{"id": int(k), **v} for k, v in fields["sheets"].items()]
                    fields = {}
                elif action in ACTIONS and "comment" in fields:
                    fields = {f"{action}.comment": fields["comment"]}
                errors, error_message, status = fields, exc.message, exc.status
        dossier = self._dossier(web, dossier_id)
        return web.page("dossiers/dossier.html", dossier["name"], status=status, errors=errors,
                        error_message=error_message, **self._context(web, dossier, None), invalid=invalid)

    def _context(self, web: Web, dossier: dict, sheet: dict | None) -> dict:
        return {"dossier": dossier, "tree": tree(dossier), "sheet": sheet, "editable": can_edit(dossier),
                "manager": dossier["status"] not in ("published", "cancelled")
                and bool(MANAGERS & set(dossier.get("your_roles") or ())),
                "actions": ACTIONS, "kinds": KINDS, "codes": CODES, "when": _when, "status_class": STATUS_CLASS,
                "pending": [s for s in dossier["sheets"] if s["status"] != "finalised"],
                "comments": web.rpc("dossiers", "comments", web.region.code, dossier["id"], web.actor(),
                                    sheet_id=sheet["id"] if sheet else None)}

    # ------------------------------------------------------------------ one sheet
    @page("GET,POST", "/<region>/dossiers/<int:dossier_id>/fiches/<int:sheet_id>", login=True)
    def web_dossier_sheet(self, web: Web, dossier_id: int, sheet_id: int):
        region = web.region.code
        dossier = self._dossier(web, dossier_id)
        sheet = next((s for s in dossier["sheets"] if s["id"] == sheet_id), None)
        if sheet is None:
            raise NotFound("Fiche introuvable dans ce dossier", {"sheet_id": sheet_id})
        errors, error_message, status, posted = {}, None, 200, None
        if web.request.method == "POST":
            action = web.form.get("action") or ""
            etag = web.form.get("etag")
            rename = flatten
            try:
                if action in ("pending", "finalise", "add_contact"):
                    data, rename = sheet_payload(sheet, web.form)
                    if action == "add_contact":  # one more empty contact row, nothing saved
                        posted = {**sheet, "data": {**sheet["data"], **data}}
                        return self._sheet_page(web, dossier, posted, extra_rows=1)
                    web.rpc("dossiers", "save_sheet", region, dossier_id, sheet_id, data, action == "finalise",
                            web.actor(), etag)
                    web.flash("Fiche enregistrée et finalisée (icône verte)." if action == "finalise"
                              else "Fiche enregistrée et mise en attente (icône grise).")
                    return redirect(web.url(f"/dossiers/{dossier_id}/fiches/{sheet_id}"))
                if action == "create_unit":
                    body = {"parent_id": sheet_id, "kind": web.form.get("kind") or "",
                            "name": (web.form.get("unit_name") or "").strip(),
                            "unit_type": _opt(web.form.get("unit_type"))}
                    if body["kind"] != "uo":
                        body["unit_type"] = None
                    answer = web.rpc("dossiers", "add_sheet", region, dossier_id, body, web.actor(), etag)
                    web.flash(f"{KINDS.get(body['kind'], 'Unité')} « {body['name']} » créée : décrivez-la puis "
                              "« Enr. et finaliser ».")
                    return redirect(web.url(f"/dossiers/{dossier_id}/fiches/{answer['created_sheet_id']}"))
                if action == "remove":
                    web.rpc("dossiers", "remove_sheet", region, dossier_id, sheet_id, web.actor(), etag)
                    web.flash(f"« {sheet['name']} » est marquée pour suppression.")
                    return redirect(web.url(f"/dossiers/{dossier_id}"))
                if action == "comment":
                    web.rpc("dossiers", "add_comment", region, dossier_id,
                            {"body": (web.form.get("body") or "").strip(), "sheet_id": sheet_id}, web.actor())
                    web.flash("Commentaire ajouté.")
                    return redirect(web.url(f"/dossiers/{dossier_id}/fiches/{sheet_id}"))
                raise InvalidInput("Action inconnue", {"action": action})
            except (PreconditionFailed, PreconditionRequired):
                web.flash(STALE, "error")
                return redirect(web.url(f"/dossiers/{dossier_id}/fiches/{sheet_id}"))
            except (InvalidInput, Conflict) as exc:
                status, error_message = exc.status, exc.message
                if action == "create_unit":
                    errors = {f"new.{k}": v for k, v in flatten(exc.fields).items()}
                elif action in ("pending", "finalise"):
                    errors = rename(exc.fields)
                    posted = {**sheet, "data": {**sheet["data"], **data}}
                else:
                    errors = flatten(exc.fields)
        return self._sheet_page(web, dossier, posted or sheet, errors=errors, error_message=error_message,
                                status=status)

    def _sheet_page(self, web: Web, dossier: dict, sheet: dict, errors=None, error_message=None, status=200,
                    extra_rows: int = 0) -> Response:
        if errors is None and sheet["errors"] and sheet["status"] != "finalised":
            errors = _sheet_errors(sheet["errors"]) if sheet["kind"] == "uo" else flatten(sheet["errors"])
            error_message = "Fiche en attente : à compléter avant « Enr. et finaliser »."
        data = sheet.get("data") or {}
        context = self._context(web, dossier, sheet)
        context["admin_fields"] = ADMIN_FIELDS
        context["required"] = REQUIRED_ADMIN.get(sheet["kind"], ("name",))
        context["child_kinds"] = CHILD_KINDS[sheet["kind"]] if context["editable"] and sheet["action"] != "remove" \
            else ()
        if context["child_kinds"] or sheet["kind"] == "uo":
            context["unit_types"] = web.rpc("offers", "nomenclature", "unit_types")
        if sheet["kind"] == "uo":
            description = data.get("description") or {}
            modalities = data.get("modalities") or {}
            context["activities"] = web.rpc("offers", "nomenclature", "operational_activities")
            context["chosen_activities"] = set(_codes(description.get("operational_activities")))
            context["modalities"] = web.rpc("offers", "nomenclature", "reception_modalities")
            context["chosen_modalities"] = set(_codes(modalities.get("reception_modalities")))
            context["communes"] = [self._commune(web, c) for c in modalities.get("intervention_communes") or []]
            contacts = [dict(c) for c in (data.get("contacts") or {}).get("contacts") or []]
            contacts += [{"channel": "phone", "value": "", "visibility": "public", "purpose": ""}] * extra_rows
            context["contacts"] = contacts or [{"channel": "phone", "value": "", "visibility": "public",
                                                "purpose": ""}]
            context["description"] = description
            context["labels"] = labels
        title = f"{CODES[sheet['kind']]} {sheet['name']} — {dossier['name']}"
        return web.page("dossiers/sheet.html", title, status=status, errors=errors or {},
                        error_message=error_message, **context)

    @staticmethod
    def _commune(web: Web, item) -> dict:
        if isinstance(item, dict):
            return {"code": item.get("code"), "label": item.get("label") or item.get("name") or item.get("code")}
        code = str(item)
        found = web.rpc("offers", "communes", code, region=None, limit=1) if code.isalnum() else []
        match = next((c for c in found if c["code"] == code), None)
        return {"code": code, "label": match["label"] if match else code}

    # ------------------------------------------------------------------ history, PDF
    @page("GET", "/<region>/dossiers/<int:dossier_id>/historique", login=True)
    def web_dossier_history(self, web: Web, dossier_id: int):
        dossier = self._dossier(web, dossier_id)
        entries = web.rpc("dossiers", "history", web.region.code, dossier_id, web.actor())
        names = {s["id"]: f"{CODES[s['kind']]} {s['name']}" for s in dossier["sheets"]}
        return web.page("dossiers/history.html", f"Historique — {dossier['name']}", dossier=dossier,
                        entries=list(reversed(entries)), names=names, labels=HISTORY, roles=ROLES, when=_when,
                        statuses=STATUS_LABELS)

    @page("GET", "/<region>/dossiers/<int:dossier_id>/export.pdf", login=True)
    def web_dossier_pdf(self, web: Web, dossier_id: int):
        answer = web.rpc("dossiers", "pdf", web.region.code, dossier_id, web.actor(), timeout=60)
        return Response(base64.b64decode(answer["content_base64"]), mimetype="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{answer["filename"]}"'})


"""« Mon offre »: my offers, the six steps with their indicator, the recap, publish / unpublish / PDF.

Each step form is turned into the API's step payload and saved through the offers RPC `save_step`,
with the ETag read when the form was displayed (a concurrent change gives the 412 message). The API's
field errors are shown next to their inputs.
"""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from gateway.web import labels
from gateway.web.errors import flatten
from gateway.web.framework import Web, page
from gateway.web.render import redirect, render
from services.common.errors import Conflict, InvalidInput, NotFound, PreconditionFailed, PreconditionRequired

STALE = ("Votre fiche a été modifiée entre-temps (autre onglet ou autre personne). "
         "La page a été rechargée avec la dernière version : reprenez votre saisie.")


def _int_or_raw(value: str | None):
    text = (value or "").strip()
    if not text:
        return None
    # isascii: « ² » or « ٣ » are digits to str.isdigit() but not to int(); the API names a bad number
    return int(text) if text.isascii() and text.isdigit() and len(text) < 6 else text


def _opt(value: str | None):
    text = (value or "").strip()
    return text or None


def form_rows(form: MultiDict, most: int = 60) -> int:
    """How many contact rows the form says it has (at most `most`; nonsense counts as none)."""
    text = form.get("rows") or ""
    return min(int(text), most) if text.isascii() and text.isdigit() and len(text) < 6 else 0


def contacts_payload(form: MultiDict, rows: int) -> tuple[dict, dict[int, int]]:
    """Rows of the form (empty ones skipped) and the map API index -> row."""
    contacts, index = [], {}
    for row in range(rows):
        value = (form.get(f"contacts.{row}.value") or "").strip()
        if not value:
            continue
        index[len(contacts)] = row
        contacts.append({"channel": form.get(f"contacts.{row}.channel") or "", "value": value,
                         "visibility": form.get(f"contacts.{row}.visibility") or "",
                         "purpose": _opt(form.get(f"contacts.{row}.purpose"))})
    return {"contacts": contacts}, index


def hours_payload(form: MultiDict) -> tuple[dict, dict[int, str]]:
    weekly, index = [], {}
    for day in range(1, 8):
        for slot in range(labels.SLOTS_PER_DAY):
            prefix = f"hours.{day}.{slot}"
            start, end = (form.get(f"{prefix}.start") or "").strip(), (form.get(f"{prefix}.end") or "").strip()
            if not start and not end:
                continue
            index[len(weekly)] = prefix
            weekly.append({"day": day, "start": start, "end": end, "kind": form.get(f"{prefix}.kind") or ""})
    data: dict = {"weekly": weekly, "exceptional_hours": [], "temporary_closure": []}
    for key, prefix in (("exceptional_hours", "exceptional"), ("temporary_closure", "closure")):
        start, end = _opt(form.get(f"{prefix}.start_date")), _opt(form.get(f"{prefix}.end_date"))
        if start or end:
            period = {"start_date": start or "", "end_date": end or "", "comment": _opt(form.get(f"{prefix}.comment"))}
            if key == "exceptional_hours":
                slot_start, slot_end = _opt(form.get("exceptional.slot.start")), _opt(form.get("exceptional.slot.end"))
                period["slots"] = ([{"start": slot_start or "", "end": slot_end or "",
                                     "kind": form.get("exceptional.slot.kind") or "appointment"}]
                                   if slot_start or slot_end else [])
            data[key] = [period]
    return data, index


def remap_errors(errors: dict, key: str, index: dict, prefix: str) -> dict[str, str]:
    """API errors on list items (« weekly.3.end ») renamed after the form's inputs (« hours.2.0.end »)."""
    out = {}
    for name, message in flatten(errors).items():
        parts = name.split(".")
        if parts[0] == key and len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) in index:
            target = index[int(parts[1])]
            field = parts[2] if len(parts) > 2 else ("value" if key == "contacts" else "start")
            name = f"{prefix}.{target}.{field}" if prefix else f"{target}.{field}"
        elif parts[0] in ("exceptional_hours", "temporary_closure") and len(parts) >= 3:
            name = ("exceptional" if parts[0] == "exceptional_hours" else "closure") + "." + parts[-1]
            if "slots" in parts:
                name = "exceptional.slot." + parts[-1]
        out[name] = message
    return out


def step_payload(step: str, form: MultiDict) -> tuple[dict, callable]:
    """The API payload of one step and the function that renames its errors for the form."""
    if step == "national":
        return {"acknowledged": form.get("acknowledged") == "yes"}, flatten
    if step == "description":
        data = {"age_min": _int_or_raw(form.get("age_min")), "age_max": _int_or_raw(form.get("age_max")),
                "place_accessibility": _opt(form.get("place_accessibility")), "comment": _opt(form.get("comment"))}
        if data["age_min"] is None:
            data.pop("age_min")  # « Champ obligatoire » from the API
        for field, _, _ in labels.DESCRIPTION_LISTS:
            data[field] = form.getlist(field)
        return data, flatten
    if step == "modalities":
        return {"reception_modalities": form.getlist("reception_modalities"),
                "intervention_communes": form.getlist("intervention_communes")}, flatten
    if step == "contacts":
        data, index = contacts_payload(form, form_rows(form))
        return data, lambda errors: remap_errors(errors, "contacts", index, "contacts")
    if step == "hours":
        data, index = hours_payload(form)
        return data, lambda errors: remap_errors(errors, "weekly", index, "")
    raise NotFound("Étape inconnue", {"step": step})


def _codes(items) -> list[str]:
    return [i["code"] if isinstance(i, dict) else i for i in (items or [])]


class OfferPages:
    @page("GET", "/<region>/mon-offre", login=True)
    def web_my_offers(self, web: Web):
        offers = web.rpc("offers", "list_offers", web.region.code, web.actor(), mine=True, limit=200)
        return web.page("offers/list.html", "Mon offre", offers=offers["items"], status_labels=labels.STATUS)

    @page("GET", "/<region>/mon-offre/<int:offer_id>", login=True)
    def web_offer(self, web: Web, offer_id: int):
        offer = web.rpc("offers", "get_offer", web.region.code, offer_id, actor=web.actor())
        validated = set(offer.get("draft", {}).get("validated", []))
        first = next((s for s in labels.STEP_NAMES[:-1] if s not in validated), "recapitulatif")
        return redirect(web.url(f"/mon-offre/{offer_id}/{first}"))

    @page("GET,POST", "/<region>/mon-offre/<int:offer_id>/<step>", login=True)
    def web_offer_step(self, web: Web, offer_id: int, step: str):
        if step not in labels.STEP_NAMES:
            raise NotFound("Étape inconnue", {"step": step})
        region = web.region.code
        form = web.request.form
        errors: dict = {}
        error_message = None
        status = 200
        if web.request.method == "POST" and step != "recapitulatif":
            if form.get("action") == "add_contact":
                offer = web.rpc("offers", "get_offer", region, offer_id, actor=web.actor())
                return self._render_step(web, offer, step, form=form, extra_rows=1)
            data, rename = step_payload(step, form)
            try:
                web.rpc("offers", "save_step", region, offer_id, step, data, web.actor(), form.get("etag"))
            except (PreconditionFailed, PreconditionRequired):
                web.flash(STALE, "error")
                return redirect(web.url(f"/mon-offre/{offer_id}/{step}"))
            except (InvalidInput, Conflict) as exc:
                errors, error_message, status = rename(exc.fields), exc.message, exc.status
                offer = web.rpc("offers", "get_offer", region, offer_id, actor=web.actor())
                return self._render_step(web, offer, step, form=form, errors=errors,
                                         error_message=error_message, status=status)
            following = labels.STEP_NAMES[labels.STEP_NAMES.index(step) + 1]
            web.flash(f"Étape « {labels.STEP_LABELS[step]} » enregistrée.")
            return redirect(web.url(f"/mon-offre/{offer_id}/{following}"))
        offer = web.rpc("offers", "get_offer", region, offer_id, actor=web.actor())
        if offer.get("audience") not in ("owner", "team"):
            raise NotFound("Offre introuvable", {"offer_id": offer_id})
        return self._render_step(web, offer, step)

    def _render_step(self, web: Web, offer: dict, step: str, form: MultiDict | None = None, errors=None,
                     error_message=None, status: int = 200, extra_rows: int = 0):
        steps_content = offer.get("draft", {}).get("steps", {})
        content = steps_content.get(step) or {}
        context = {"offer": offer, "step": step, "steps": labels.STEPS, "labels": labels,
                   "validated": set(offer.get("draft", {}).get("validated", [])), "posted": form}
        if step == "description":
            context["lists"] = [
                (field, label, web.rpc("offers", "nomenclature", name),
                 set(form.getlist(field)) if form is not None else set(_codes(content.get(field))))
                for field, name, label in labels.DESCRIPTION_LISTS]
            context["accessibility"] = web.rpc("offers", "nomenclature", "place_accessibility")
            access = content.get("place_accessibility")
            context["values"] = form if form is not None else {
                "age_min": content.get("age_min"), "age_max": content.get("age_max"),
                "comment": content.get("comment"),
                "place_accessibility": access.get("code") if isinstance(access, dict) else access}
        elif step == "modalities":
            context["modalities"] = web.rpc("offers", "nomenclature", "reception_modalities")
            chosen = form.getlist("reception_modalities") if form is not None else _codes(
                content.get("reception_modalities"))
            context["chosen_modalities"] = set(chosen)
            if form is not None:
                codes = form.getlist("intervention_communes")
                context["communes"] = [_commune(web, c) for c in codes]
            else:
                context["communes"] = [{"code": c["code"], "label": c.get("label") or c.get("name")}
                                       for c in content.get("intervention_communes") or []]
        elif step == "contacts":
            if form is not None:
                rows = form_rows(form)
                contacts = [{k: form.get(f"contacts.{i}.{k}") or "" for k in ("channel", "value", "visibility",
                                                                                "purpose")}
                            for i in range(min(rows, 60))]
            else:
                contacts = [dict(c) for c in content.get("contacts") or []]
            contacts += [{"channel": "phone", "value": "", "visibility": "public", "purpose": ""}] * (
                extra_rows or (1 if form is None else 0))
            if not contacts:
                contacts = [{"channel": "phone", "value": "", "visibility": "public", "purpose": ""}]
            context["contacts"] = contacts
        elif step == "hours":
            context["grid"] = _hours_grid(content, form)
            context["periods"] = _periods(content, form)
        elif step == "recapitulatif":
            context["missing"] = _missing_by_step(offer.get("missing_for_publication") or {})
        return web.page(f"offers/step_{step}.html", f"{labels.STEP_LABELS[step]} — {offer['name']}",
                        status=status, errors=errors, error_message=error_message, **context)

    @page("POST", "/<region>/mon-offre/<int:offer_id>/action/<action>", login=True)
    def web_offer_action(self, web: Web, offer_id: int, action: str):
        """« Enregistrer » (publish) and « Dépublier »."""
        if action not in ("publier", "depublier"):
            raise NotFound("Action inconnue", {"action": action})
        method = "publish" if action == "publier" else "unpublish"
        try:
            web.rpc("offers", method, web.region.code, offer_id, web.actor(), web.form.get("etag"))
        except (PreconditionFailed, PreconditionRequired):
            web.flash(STALE, "error")
        except (InvalidInput, Conflict) as exc:
            web.flash(exc.message, "error")
        else:
            web.flash("Votre offre est publiée." if method == "publish" else "Votre offre est dépubliée.")
        return redirect(web.url(f"/mon-offre/{offer_id}/recapitulatif"))

    # ------------------------------------------------------------------ htmx fragments
    @page("GET", "/<region>/ui/communes")
    def web_commune_options(self, web: Web):
        """Communes matching « q » (name or postal code) as checkboxes for the modalities step."""
        q = (web.request.args.get("q") or "").strip()[:100]
        found = web.rpc("offers", "communes", q, region=web.region.code, limit=15) if len(q) >= 2 else []
        return render("offers/_commune_options.html", communes=found, q=q)


def _commune(web: Web, code: str) -> dict:
    found = web.rpc("offers", "communes", code, region=None, limit=1) if code.isalnum() else []
    match = next((c for c in found if c["code"] == code), None)
    return {"code": code, "label": match["label"] if match else code}


def _hours_grid(content: dict, form: MultiDict | None) -> list[dict]:
    grid = []
    weekly = content.get("weekly") or []
    for day in range(1, 8):
        if form is not None:
            slots = [{k: form.get(f"hours.{day}.{s}.{k}") or "" for k in ("start", "end", "kind")}
                     for s in range(labels.SLOTS_PER_DAY)]
        else:
            stored = [s for s in weekly if s.get("day") == day][: labels.SLOTS_PER_DAY]
            slots = [{"start": s.get("start", ""), "end": s.get("end", ""), "kind": s.get("kind", "")} for s in stored]
            slots += [{"start": "", "end": "", "kind": "appointment"}] * (labels.SLOTS_PER_DAY - len(slots))
        grid.append({"day": day, "label": labels.DAYS[day - 1], "slots": slots})
    return grid


def _periods(content: dict, form: MultiDict | None) -> dict:
    if form is not None:
        return {key: {f: form.get(f"{key}.{f}") or "" for f in ("start_date", "end_date", "comment")}
                | {"slot": {f: form.get(f"{key}.slot.{f}") or "" for f in ("start", "end", "kind")}}
                for key in ("exceptional", "closure")}
    out = {}
    for key, stored_key in (("exceptional", "exceptional_hours"), ("closure", "temporary_closure")):
        period = (content.get(stored_key) or [{}])[0]
        slot = (period.get("slots") or [{}])[0]
        out[key] = {"start_date": period.get("start_date") or "", "end_date": period.get("end_date") or "",
                    "comment": period.get("comment") or "",
                    "slot": {"start": slot.get("start", ""), "end": slot.get("end", ""), "kind": slot.get("kind", "")}}
    return out


def _missing_by_step(missing: dict) -> list[dict]:
    """What step 6 still needs, grouped by step, each with the link back to its step."""
    groups: dict[str, list[str]] = {}
    for key, message in missing.items():
        head = key.split(".")[0]
        step = key.split(".")[1] if head == "steps" else head
        if step not in labels.STEP_LABELS:
            step = "contacts" if head == "contacts" else "description"
        groups.setdefault(step, []).append(message)
    return [{"step": s, "label": labels.STEP_LABELS[s], "messages": groups[s]}
            for s in labels.STEP_NAMES if s in groups]

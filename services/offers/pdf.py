"""PDF export of a published offer sheet (reportlab), as the ROR and Maillage print it:
title, "Fiche mise à jour le", type d'unité, patientèle, offre, contacts, territoire, horaires.

Plain module: it renders the view `views.view()` gave for the caller's audience, so a public export
never contains contacts for professionals only.
"""

from __future__ import annotations

import io
from datetime import datetime
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from services.offers import steps

PARIS = ZoneInfo("Europe/Paris")


def _fr_datetime(iso: str | None) -> str:
    if not iso:
        return "—"
    return datetime.fromisoformat(iso).astimezone(PARIS).strftime("%d/%m/%Y %H:%M:%S")


def _fr_date(iso: str | None) -> str:
    return datetime.fromisoformat(iso).strftime("%d/%m/%Y") if iso else "—"


def _labels(items) -> list[str]:
    return [item["label"] if isinstance(item, dict) else str(item) for item in items or []]


def _patientele(description: dict) -> str:
    age_min, age_max = description.get("age_min"), description.get("age_max")
    if age_min is None:
        return "—"
    return f"De {age_min}a à {age_max if age_max is not None else 150}a"


def _address(national: dict) -> str:
    address = national.get("address") or {}
    parts = [address.get("line"), address.get("complement"),
             " ".join(p for p in (address.get("postal_code"), address.get("city")) if p)]
    return " - ".join(p for p in parts if p)


def _who(national: dict) -> str:
    structure = (national.get("structure") or {}).get("name")
    person = " ".join(p for p in (national.get("civility"), national.get("last_name"), national.get("first_name"))
                      if p)
    return person or structure or "—"


def render_pdf(sheet: dict) -> bytes:
    """`sheet` is `views.view(offer, audience)` of a published offer."""
    published = sheet.get("published") or {}
    national = sheet.get("national") or {}
    description = published.get("description") or {}
    modalities = published.get("modalities") or {}
    contacts = (published.get("contacts") or {}).get("contacts") or []
    hours = published.get("hours") or {}

    styles = getSampleStyleSheet()
    h1, h2, body = styles["Title"], styles["Heading2"], styles["BodyText"]
    small = ParagraphStyle("small", parent=body, textColor=colors.grey, fontSize=9)
    story: list = []

    def para(text: str, style=body):
        story.append(Paragraph(escape(text), style))

    def section(title: str, lines: list[str]):
        story.append(Paragraph(escape(title), h2))
        for line in lines or ["—"]:
            para(line)

    para(sheet.get("name") or "Offre", h1)
    para(f"Fiche mise à jour le : {_fr_datetime(sheet.get('published_at'))}", small)
    story.append(Spacer(1, 0.3 * cm))
    para(f"Structure / Professionnel : {_who(national)}")
    if _address(national):
        para(f"Adresse : {_address(national)}")

    section("Type d'unité", [(sheet.get("unit_type") or {}).get("label") or "—"])
    care_mode = (sheet.get("care_mode") or {}).get("label")
    section("Modalités de fonctionnement", [f"Mode de prise en charge : {care_mode}"] if care_mode else [])
    section("Public cible", [f"Patientèle : {_patientele(description)}"])

    offer_lines = []
    for title, key in (("Activités opérationnelles", "operational_activities"),
                       ("Actes spécifiques réalisés en cabinet", "specific_acts_in_office"),
                       ("Actes spécifiques réalisés hors cabinet", "specific_acts_outside_office"),
                       ("Équipements spécifiques", "equipments"),
                       ("Compétences spécifiques", "specific_competences")):
        labels = _labels(description.get(key))
        if labels:
            offer_lines.append(f"{title} :")
            offer_lines.extend(f"• {label}" for label in labels)
    access = description.get("place_accessibility")
    if access:
        offer_lines.append(f"Accessibilité du lieu : {access['label'] if isinstance(access, dict) else access}")
    if description.get("comment"):
        offer_lines.append(f"Commentaire : {description['comment']}")
    section("Offre", offer_lines)

    reception = _labels(modalities.get("reception_modalities"))
    communes = [c.get("label") or c.get("name") for c in modalities.get("intervention_communes") or []]
    section("Modalités d'accueil", [f"• {label}" for label in reception]
            + (["Communes du territoire d'intervention : " + ", ".join(communes)] if communes else []))

    section("Contacts", [
        f"{steps.CHANNEL_LABELS.get(c['channel'], c['channel'])}"
        f"{' (' + c['purpose'] + ')' if c.get('purpose') else ''} : {c['value']}"
        + ("" if c.get("visibility") == "public" else " — réservé aux professionnels")
        for c in contacts])

    story.append(Paragraph("Horaires", h2))
    rows = [["Jour", "Horaire", "Type"]]
    for slot in sorted(hours.get("weekly") or [], key=lambda s: (s["day"], s["start"])):
        rows.append([steps.DAY_LABELS[slot["day"] - 1].capitalize(), f"{slot['start']} – {slot['end']}",
                     steps.SLOT_KIND_LABELS[slot["kind"]]])
    if len(rows) > 1:
        table = Table(rows, colWidths=[3.5 * cm, 4 * cm, 8 * cm])
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                                   ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey)]))
        story.append(table)
    else:
        para("—")
    for period in hours.get("exceptional_hours") or []:
        para(f"Horaire exceptionnel du {_fr_date(period['start_date'])} au {_fr_date(period['end_date'])}"
             + "".join(f" ; {s['start']} – {s['end']} {steps.SLOT_KIND_LABELS[s['kind']]}"
                       for s in period.get("slots") or []))
    for period in hours.get("temporary_closure") or []:
        para(f"Fermeture temporaire du {_fr_date(period['start_date'])} au {_fr_date(period['end_date'])}"
             + (f" : {period['comment']}" if period.get("comment") else ""))

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, title=sheet.get("name") or "Offre", author="ROR",
                            leftMargin=2 * cm, rightMargin=2 * cm, topMargin=1.5 * cm, bottomMargin=1.5 * cm)
    doc.build(story)
    return buffer.getvalue()

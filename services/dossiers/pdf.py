"""PDF export of a dossier collaboratif (reportlab): the dossier, then every sheet with its status
(grey « en attente » / green « finalisée »), what the dossier does to it, and its data.
Plain module: renders `operations.view()`."""

from __future__ import annotations

import io
import json
from datetime import datetime
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

PARIS = ZoneInfo("Europe/Paris")
KINDS = {"eg": "EG", "pole": "Pôle", "service": "Service", "uf": "UF", "uo": "UO"}
SHEET_STATUS = {"pending": "En attente (gris)", "finalised": "Finalisée (vert)"}
ACTIONS = {"keep": "inchangée", "create": "à créer", "update": "modifiée", "remove": "à supprimer"}
FIELD_LABELS = {
    "name": "Nom", "address_line": "Adresse", "address_complement": "Complément", "postal_code": "Code postal",
    "commune_insee": "Commune (INSEE)", "city": "Ville", "phone": "Téléphone", "fax": "Fax", "email": "E-mail",
    "mssante": "MSSanté", "website": "Site internet", "director_name": "Directeur d'établissement",
    "description": "Description", "modalities": "Modalités et territoire d'intervention", "contacts": "Contacts",
    "hours": "Horaires", "practitioners": "Professionnels rattachés", "capacities": "Capacités",
    "care_mode": "Mode de prise en charge",
}


def _fr(iso: str | None) -> str:
    return datetime.fromisoformat(iso).astimezone(PARIS).strftime("%d/%m/%Y %H:%M") if iso else "—"


def _value(value) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)[:1500]
    return str(value)


def render_pdf(dossier: dict) -> bytes:
    styles = getSampleStyleSheet()
    h1, h2, body = styles["Title"], styles["Heading2"], styles["BodyText"]
    small = ParagraphStyle("small", parent=body, textColor=colors.grey, fontSize=8)
    story: list = [Paragraph(escape(dossier["name"]), h1),
                   Paragraph(escape(f"Dossier collaboratif n° {dossier['id']} — EG {dossier['structure_name']} — "
                                    f"statut : {dossier['status_label']}"), body),
                   Paragraph(escape(f"Ouvert par {dossier['opened_by']} le {_fr(dossier['created_at'])} ; "
                                    f"mis à jour le {_fr(dossier['updated_at'])}"), small)]
    if dossier.get("rejection_reason"):
        story.append(Paragraph(escape(f"Motif du dernier refus : {dossier['rejection_reason']}"), body))
    story.append(Spacer(1, 0.3 * cm))
    green, grey = colors.HexColor("#2e7d32"), colors.HexColor("#9e9e9e")
    for sheet in dossier["sheets"]:
        colour = green if sheet["status"] == "finalised" else grey
        title = f"{KINDS[sheet['kind']]} {sheet['name']}"
        story.append(Paragraph(escape(title), ParagraphStyle("h", parent=h2, textColor=colour)))
        story.append(Paragraph(escape(f"{SHEET_STATUS[sheet['status']]} — fiche {ACTIONS[sheet['action']]}"
                                      + (f" — type d'UO {sheet['unit_type']}" if sheet.get("unit_type") else "")
                                      + (f" — modifiée par {sheet['updated_by']} le {_fr(sheet['updated_at'])}"
                                         if sheet.get("updated_by") else "")), small))
        rows = [[Paragraph(escape(FIELD_LABELS.get(k, k)), small), Paragraph(escape(_value(v)), small)]
                for k, v in (sheet.get("data") or {}).items() if v not in (None, "", [], {})]
        for field, message in (sheet.get("errors") or {}).items():
            rows.append([Paragraph(escape(f"À corriger : {field}"), small), Paragraph(escape(str(message)), small)])
        if rows:
            table = Table(rows, colWidths=[4.5 * cm, 12 * cm])
            table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.lightgrey),
                                       ("VALIGN", (0, 0), (-1, -1), "TOP")]))
            story.append(table)
        story.append(Spacer(1, 0.2 * cm))
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4, title=dossier["name"], leftMargin=2 * cm, rightMargin=2 * cm).build(story)
    return buffer.getvalue()

"""The result list as an Excel workbook (openpyxl): one row per result, the columns of the list."""

from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

COLUMNS = (
    ("Nom", lambda r: r["name"]),
    ("Type", lambda r: "Offre (UO)" if r["type"] == "offer" else "Établissement"),
    ("Type d'UO", lambda r: (r["unit_type"] or {}).get("label")),
    ("Structure", lambda r: (r["structure"] or {}).get("name")),
    ("Entité juridique", lambda r: (r["legal_entity"] or {}).get("name")),
    ("Adresse", lambda r: r["address"]["line"]),
    ("Code postal", lambda r: r["address"]["postal_code"]),
    ("Commune", lambda r: r["address"]["city"]),
    ("Département", lambda r: r["address"]["departement"]),
    ("Téléphone", lambda r: r["phone"]),
    ("Distance en km", lambda r: r["distance_km"]),
    ("Temps de déplacement (min)", lambda r: r["travel_time_min"]),
    ("Patientèle", lambda r: r["patientele"]),
    ("Ouvert maintenant", lambda r: {True: "Ouvert", False: "Fermé"}.get(r["open_now"], "")),
    ("Intervient dans la commune recherchée", lambda r: "Oui" if r["serves_searched_commune"] else ""),
    ("Fiche mise à jour le", lambda r: (r["published_at"] or "")[:10]),
    ("Identifiant", lambda r: f"{r['type']}-{r['id']}"),
)


def _cell(value):
    # Formula injection: text starting with = + - @ would be evaluated by the spreadsheet.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def workbook(answer: dict, title: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "Résultats"
    ws.append([name for name, _ in COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for item in answer["results"]:
        ws.append([_cell(get(item)) for _, get in COLUMNS])
    for i, (name, _) in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(12, min(50, len(name) + 4))
    ws.freeze_panes = "A2"
    info = wb.create_sheet("Recherche")
    info.append(["Recherche", title])
    info.append(["Lieu", (answer.get("place") or {}).get("label") or "—"])
    info.append(["Résultats", answer["total"]])
    if answer["capped"]:
        info.append(["Limite", "200 résultats au plus : affinez la recherche"])
    out = BytesIO()
    wb.save(out)
    return out.getvalue()

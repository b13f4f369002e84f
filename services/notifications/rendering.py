"""E-mails rendered from Jinja2 templates named after the event type (plain module, no nameko).

`templates/<event_type>.subject.j2`, `<event_type>.txt.j2` and `<event_type>.html.j2`: adding an
e-mail for a new event needs only these three files. Context: `event` (the payload), `region`
(label, support_phone, support_email, code), `recipient` (email, name), `public_url`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.common.regions import REGIONS

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
PARTS = ("subject", "txt", "html")
PARIS = ZoneInfo("Europe/Paris")


def frdate(value) -> str:
    """ISO date or datetime -> "12/03/2026" (French civil date, Paris time)."""
    if not value:
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is not None:
        moment = moment.astimezone(PARIS)
    return moment.strftime("%d/%m/%Y")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@cache
def environment(directory: str = str(TEMPLATE_DIR)) -> Environment:
    # StrictUndefined: a template naming a field the event lacks fails loudly (the mail is parked as
    # failed with the error) rather than sending "Bonjour ," to someone.
    env = Environment(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["frdate"] = frdate
    return env


def has_templates(event_type: str, directory: str = str(TEMPLATE_DIR)) -> bool:
    return all((Path(directory) / f"{event_type}.{part}.j2").is_file() for part in PARTS)


def region_context(code: str | None) -> dict:
    region = REGIONS.get(code or "")
    if region is None:  # an event without a region: the platform's own wording
        return {"code": None, "label": "ROR", "support_phone": "", "support_email": ""}
    return {"code": region.code, "label": region.label, "support_phone": region.support_phone,
            "support_email": region.support_email}


def render(event: dict, recipient: dict, public_url: str, directory: str = str(TEMPLATE_DIR)) -> Rendered:
    env = environment(directory)
    context = {"event": event, "region": region_context(event.get("region")),
               "recipient": {"email": recipient["email"], "name": recipient.get("name") or ""},
               "public_url": public_url.rstrip("/")}
    event_type = event["event_type"]
    subject = env.get_template(f"{event_type}.subject.j2").render(context)
    text = env.get_template(f"{event_type}.txt.j2").render(context)
    html = env.get_template(f"{event_type}.html.j2").render(context)
    # A header cannot span lines; templates may wrap the subject for readability.
    return Rendered(" ".join(subject.split())[:300], text, html)

"""Jinja2 rendering of the pages (autoescaped) and the security headers every page carries."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from werkzeug.wrappers import Response

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
ENV.filters["extract"] = lambda key, mapping: mapping.get(key, key)  # codes → labels: list|map('extract', d)

# No inline script or style: everything comes from /static (served by the gateway itself).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: {tiles}; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self' {keycloak}")


def security_headers(keycloak_url: str, tiles: str = "") -> dict:
    return {
        "Content-Security-Policy": CSP.format(tiles=tiles, keycloak=keycloak_url).replace("  ", " "),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def render(template: str, status: int = 200, headers: dict | None = None, **context) -> Response:
    html = ENV.get_template(template).render(**context)
    return Response(html, status=status, mimetype="text/html", headers=headers or {})


def redirect(location: str, status: int = 303) -> Response:
    return Response("", status=status, headers={"Location": location})

"""Entity tags for optimistic concurrency (If-Match): `"<prefix><id>-<version>"`.

Plain module shared by the services whose writes are guarded like offers' (structures, dossiers).
"""

from __future__ import annotations

from services.common.errors import PreconditionFailed, PreconditionRequired


def make_etag(prefix: str, entity_id: int, version: int) -> str:
    return f'"{prefix}{entity_id}-{version}"'


def check_if_match(if_match: str | None, current: str, what: str = "La fiche") -> None:
    """412 when `if_match` is not the current ETag, 428 when it is missing (quotes and W/ ignored)."""
    if not if_match:
        raise PreconditionRequired("En-tête If-Match requis (ETag de la version lue)", {"If-Match": "missing"})
    given = if_match.strip().removeprefix("W/").strip('"')
    if given != current.strip('"'):
        raise PreconditionFailed(f"{what} a été modifiée entre-temps : rechargez-la avant de l'enregistrer",
                                 {"If-Match": f"stale {given!r}, current is {current}"})

"""Who an e-mail goes to: selectors of an event's `recipients` resolved to addresses (plain module).

Selectors (docs: HELPERS "E-mails from events"): {"subject": sub}, {"username": u}, {"email": e},
{"role": realm role, "structure_id": id | null}. With a structure id, the people holding that role on
that structure (habilitations); with null, everyone with that realm role in the region (Keycloak).
Accounts without an address or disabled are skipped; an unknown person is skipped, not an error
(the event is a fact, the mail is best effort for people who no longer exist).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Protocol

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.accounts.models import Habilitation
from services.accounts.schemas import ROLES as EDITOR_ROLES  # the roles held on a structure

PAGE = 100
ROLE_CACHE_SECONDS = 300.0
MAX_SELECTORS = 200
MAX_IDS = 5000


class Directory(Protocol):
    realm: str

    def find_by_id(self, user_id: str) -> dict | None: ...
    def find_by_username(self, username: str) -> dict | None: ...
    def find_by_email(self, email: str) -> dict | None: ...
    def users_page(self, first: int, size: int) -> list[dict]: ...
    def realm_role_names(self, user_id: str) -> set[str]: ...


class SelectorSchema(Schema):
    subject = fields.String(validate=validate.Length(min=1, max=64))
    username = fields.String(validate=validate.Length(min=1, max=255))
    email = fields.Email()
    role = fields.String(validate=validate.Length(min=1, max=64))
    structure_id = fields.Integer(allow_none=True, strict=True)

    @validates_schema
    def one_kind(self, data, **kwargs):
        kinds = [k for k in ("subject", "username", "email", "role") if k in data]
        if len(kinds) != 1:
            raise ValidationError("exactly one of subject, username, email, role")
        if "structure_id" in data and "role" not in data:
            raise ValidationError("structure_id goes with role", "structure_id")


def load_selectors(data) -> list[dict]:
    if not isinstance(data, list) or len(data) > MAX_SELECTORS:
        raise ValidationError(f"a list of at most {MAX_SELECTORS} selectors", "recipients")
    return SelectorSchema(many=True).load(data)


def _person(user: dict | None) -> dict | None:
    if not user or not user.get("email") or user.get("enabled") is False:
        return None
    name = " ".join(p for p in (user.get("firstName"), user.get("lastName")) if p).strip()
    return {"email": user["email"].lower(), "name": name or user.get("username", ""), "subject": user.get("id")}


class _RoleMembers:
    """Realm role -> users, from a scan of the realm (cached a few minutes per process)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, dict[str, set[str]], list[dict]]] = {}

    def members(self, directory: Directory, role: str) -> list[dict]:
        with self._lock:
            entry = self._cache.get(directory.realm)
            if entry is None or time.monotonic() - entry[0] > ROLE_CACHE_SECONDS:
                entry = (time.monotonic(), *self._scan(directory))
                self._cache[directory.realm] = entry
        _, roles_by_id, users = entry
        return [u for u in users if role in roles_by_id.get(u["id"], set())]

    @staticmethod
    def _scan(directory: Directory) -> tuple[dict[str, set[str]], list[dict]]:
        users: list[dict] = []
        first = 0
        while True:
            page = directory.users_page(first, PAGE)
            users.extend(page)
            if len(page) < PAGE:
                break
            first += PAGE
        return {u["id"]: directory.realm_role_names(u["id"]) for u in users}, users


ROLE_MEMBERS = _RoleMembers()


def resolve(session: Session, region: str, selectors: Iterable[dict], directory: Directory) -> list[dict]:
    """[{email, name, subject}] without duplicates, in the order of the selectors."""
    people: list[dict] = []
    for selector in selectors:
        if "email" in selector:
            known = _person(directory.find_by_email(selector["email"]))
            people.append(known or {"email": selector["email"].lower(), "name": "", "subject": None})
        elif "subject" in selector:
            people.append(_person(directory.find_by_id(selector["subject"])))
        elif "username" in selector:
            people.append(_person(directory.find_by_username(selector["username"])))
        elif selector.get("structure_id") is not None:
            subjects = session.scalars(select(Habilitation.subject).where(
                Habilitation.region == region, Habilitation.role == selector["role"],
                Habilitation.structure_id == selector["structure_id"]).order_by(Habilitation.id))
            people.extend(_person(directory.find_by_id(s)) for s in dict.fromkeys(subjects))
        else:
            people.extend(_person(u) for u in ROLE_MEMBERS.members(directory, selector["role"]))
    seen: set[str] = set()
    result = []
    for person in people:
        if person and person["email"] not in seen:
            seen.add(person["email"])
            result.append(person)
    return result


def structures_with_editors(session: Session, region: str, structure_ids: list[int]) -> list[int]:
    if not structure_ids:
        return []
    return sorted(set(session.scalars(select(Habilitation.structure_id).where(
        Habilitation.region == region, Habilitation.role.in_(EDITOR_ROLES),
        Habilitation.structure_id.in_(structure_ids)))))

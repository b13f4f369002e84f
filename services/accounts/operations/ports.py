"""What the operations need from outside the database, and the small helpers they share."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session


class Directory(Protocol):
    """What operations need from a realm (services.accounts.directory.Directory implements it)."""

    def find_by_username(self, username: str) -> dict | None: ...
    def find_by_email(self, email: str) -> dict | None: ...
    def rpps_has_account(self, rpps: str) -> bool: ...
    def create_professional(self, rpps: str, email: str, first_name: str, last_name: str,
                            password: str) -> str: ...
    def delete_user(self, user_id: str, quiet: bool = False) -> None: ...
    def mark_email_verified(self, user_id: str) -> None: ...
    def send_password_reset(self, user_id: str) -> None: ...
    def has_realm_role(self, user_id: str, role: str) -> bool: ...
    def add_realm_role(self, user_id: str, role: str) -> None: ...
    def remove_realm_role(self, user_id: str, role: str) -> None: ...


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def lock(session: Session, key: str) -> None:
    """Serialise work on one key until the transaction ends (activation attempts of one RPPS)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))

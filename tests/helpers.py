"""Helpers shared by the tests (not fixtures)."""

from __future__ import annotations

import email
import secrets
import time
from email import policy
from pathlib import Path

import requests
from sqlalchemy import text

from services.common.config import setting
from services.common.identifiers import luhn_check_digit

KEYCLOAK_URL = setting("ROR_KEYCLOAK_URL")
MAIL_DIR = Path(setting("ROR_VAR_DIR")) / "mail"


def password_token(region: str, username: str, password: str | None = None, totp: str | None = None,
                   client_id: str = "ror-gateway") -> dict:
    """Direct grant on the region's realm; raises with Keycloak's answer when refused."""
    from services.common.regions import REGIONS

    data = {"grant_type": "password", "client_id": client_id, "username": username,
            "password": password or setting("ROR_DEMO_PASSWORD"), "scope": "openid"}
    if totp:
        data["totp"] = totp
    resp = requests.post(
        f"{KEYCLOAK_URL}/realms/{REGIONS[region].realm}/protocol/openid-connect/token", data=data, timeout=30
    )
    if resp.status_code != 200:
        raise AssertionError(f"login of {username} refused: {resp.status_code} {resp.text}")
    return resp.json()


def demo_totp(secret: str | None = None) -> str:
    """Current TOTP code of the demo secret (base32, SHA-1, 6 digits, 30 s), as the realms seed it."""
    import pyotp

    return pyotp.TOTP(secret or setting("ROR_DEMO_TOTP_SECRET")).now()


def wait_for_mail(recipient: str, timeout: float = 20.0) -> list[email.message.EmailMessage]:
    """Messages the SMTP server stored for `recipient` (waits for at least one)."""
    deadline = time.monotonic() + timeout
    while True:
        found = []
        if MAIL_DIR.exists():
            for path in sorted(MAIL_DIR.glob("*.eml")):
                if path.name.startswith("."):
                    continue  # the sink's temporary file, renamed once the message is complete
                try:
                    data = path.read_bytes()
                except FileNotFoundError:  # renamed or removed meanwhile (other runs share the folder)
                    continue
                msg = email.message_from_bytes(data, policy=policy.default)
                if recipient.lower() in str(msg.get("To", "")).lower():
                    found.append(msg)
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def sql(db_url: str, statement: str, **params):
    from services.common.db import get_engine

    with get_engine(db_url).begin() as conn:
        return conn.execute(text(statement), params)


def fresh_rpps(prefix: str = "19") -> str:
    """A random Luhn-valid RPPS; each test family keeps its own prefix, none used by the demo data,
    so reruns and parallel families never collide."""
    payload = prefix + "".join(secrets.choice("0123456789") for _ in range(10 - len(prefix)))
    return payload + luhn_check_digit(payload)


def demo_rpps(region: str, username: str) -> str:
    """RPPS of a demo user, from its one source: the region file (deploy/regions/<region>.toml)."""
    from services.common.regions import REGIONS

    [rpps] = [p["rpps"] for p in REGIONS[region].demo_professionals if p["username"] == username]
    return rpps

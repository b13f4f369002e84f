"""Helpers shared by the tests (not fixtures)."""

from __future__ import annotations

import base64
import email
import hashlib
import hmac
import struct
import time
from email import policy
from pathlib import Path

import requests
from sqlalchemy import text

from services.common.config import setting

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


def demo_totp(at: float | None = None) -> str:
    """Current TOTP (RFC 6238: SHA-1, 6 digits, 30 s) of the demo secret, as the realm seeds it (base32).

    Computed here rather than with pyotp: pyotp >= 2.10 refuses secrets shorter than 112 bits, and the
    documented default ROR_DEMO_TOTP_SECRET (JBSWY3DPEHPK3PXP) has 80.
    """
    secret = setting("ROR_DEMO_TOTP_SECRET").replace(" ", "").upper()
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int(time.time() if at is None else at) // 30
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def wait_for_mail(recipient: str, timeout: float = 20.0) -> list[email.message.EmailMessage]:
    """Messages the SMTP server stored for `recipient` (waits for at least one)."""
    deadline = time.monotonic() + timeout
    while True:
        found = []
        if MAIL_DIR.exists():
            for path in sorted(MAIL_DIR.glob("*.eml")):
                msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
                if recipient.lower() in str(msg.get("To", "")).lower():
                    found.append(msg)
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def sql(db_url: str, statement: str, **params):
    from services.common.db import get_engine

    with get_engine(db_url).begin() as conn:
        return conn.execute(text(statement), params)

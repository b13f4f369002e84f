"""The health answer every service gives over RPC."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session


def service_health(name: str, session: Session) -> dict:
    try:
        session.execute(text("SELECT 1"))
        db = "ok"
    except Exception as exc:  # reported, not raised: the gateway decides what is down
        db = f"down: {type(exc).__name__}"
    return {"service": name, "status": "ok" if db == "ok" else "degraded", "database": db}
